import Foundation
import Glibc

/// A listening socket owned by the supervisor and handed to each worker it starts for that slot.
///
/// The supervisor keeps it open across worker restarts: connections nginx makes while a worker
/// is being replaced wait in the backlog instead of being refused.
public final class ListeningSocket {
    public let address: UpstreamBlock.Address
    public let descriptor: Int32

    public init(_ address: UpstreamBlock.Address, backlog: Int32 = 1024) throws {
        self.address = address
        switch address {
        case .unix(let path):
            descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            guard descriptor >= 0 else { throw ListeningSocket.failure("socket", address) }
            unlink(path)  // a socket file left by a previous run
            var socketAddress = sockaddr_un()
            socketAddress.sun_family = sa_family_t(AF_UNIX)
            let capacity = MemoryLayout.size(ofValue: socketAddress.sun_path)
            guard path.utf8.count < capacity else {
                Glibc.close(descriptor)
                throw POSIXError.message("unix socket path is longer than \(capacity - 1) bytes: \(path)")
            }
            withUnsafeMutableBytes(of: &socketAddress.sun_path) { buffer in
                buffer.copyBytes(from: path.utf8)
                buffer[path.utf8.count] = 0
            }
            let bound = withUnsafePointer(to: &socketAddress) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                }
            }
            guard bound == 0 else {
                Glibc.close(descriptor)
                throw ListeningSocket.failure("bind", address)
            }
            // nginx's workers run as another user; the directory's permissions guard access.
            chmod(path, 0o666)
        case .tcp(let host, let port):
            descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard descriptor >= 0 else { throw ListeningSocket.failure("socket", address) }
            var reuse: Int32 = 1
            setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
            var socketAddress = sockaddr_in()
            socketAddress.sin_family = sa_family_t(AF_INET)
            socketAddress.sin_port = port.bigEndian
            guard inet_pton(AF_INET, host == "localhost" ? "127.0.0.1" : host, &socketAddress.sin_addr) == 1 else {
                Glibc.close(descriptor)
                throw POSIXError.message("server \(host):\(port): use an IPv4 address")
            }
            let bound = withUnsafePointer(to: &socketAddress) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            guard bound == 0 else {
                Glibc.close(descriptor)
                throw ListeningSocket.failure("bind", address)
            }
        }
        guard listen(descriptor, backlog) == 0 else {
            Glibc.close(descriptor)
            throw ListeningSocket.failure("listen", address)
        }
    }

    /// Closes the socket and removes a unix socket's file.
    public func close() {
        Glibc.close(descriptor)
        if case .unix(let path) = address { unlink(path) }
    }

    private static func failure(_ call: String, _ address: UpstreamBlock.Address) -> Error {
        POSIXError.message("\(call) \(address): \(String(cString: strerror(errno)))")
    }
}

extension POSIXError {
    /// A system-call failure with a message for the operator.
    static func message(_ text: String) -> Error { SystemFailure(description: text) }
}

/// An operating-system failure, described for the operator.
public struct SystemFailure: Error, CustomStringConvertible {
    public var description: String
}
