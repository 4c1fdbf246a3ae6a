import Foundation
import Glibc
import SPOCore

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
            var socketAddress = sockaddr_un()
            socketAddress.sun_family = sa_family_t(AF_UNIX)
            let capacity = MemoryLayout.size(ofValue: socketAddress.sun_path)
            guard path.utf8.count < capacity else {
                throw SystemFailure(description: "unix socket path is longer than \(capacity - 1) bytes: \(path)")
            }
            withUnsafeMutableBytes(of: &socketAddress.sun_path) { buffer in
                buffer.copyBytes(from: path.utf8)
                buffer[path.utf8.count] = 0
            }
            unlink(path)  // a socket file left by a previous run
            descriptor = try ListeningSocket.bound(AF_UNIX, &socketAddress, address, backlog: backlog)
            // Owner and group only: nginx's workers reach it through the group, which the socket
            // takes from its directory when that is set-group-ID (`spo dev`: the nginx user's
            // group; production: see nginx/spo.conf). Nobody else may connect.
            chmod(path, 0o660)
        case .tcp(let host, let port):
            var socketAddress = sockaddr_in()
            socketAddress.sin_family = sa_family_t(AF_INET)
            socketAddress.sin_port = port.bigEndian
            guard inet_pton(AF_INET, host == "localhost" ? "127.0.0.1" : host, &socketAddress.sin_addr) == 1 else {
                throw SystemFailure(description: "server \(host):\(port): use an IPv4 address")
            }
            descriptor = try ListeningSocket.bound(AF_INET, &socketAddress, address, backlog: backlog)
        }
    }

    /// A new socket of `family`, bound to `socketAddress` and listening.
    private static func bound<Address>(
        _ family: Int32, _ socketAddress: inout Address, _ address: UpstreamBlock.Address, backlog: Int32
    ) throws -> Int32 {
        // Close-on-exec: a child gets only the sockets it is handed on purpose.
        let descriptor = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw failure("socket", address) }
        var reuse: Int32 = 1
        if family == AF_INET {
            setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
        }
        let length = socklen_t(MemoryLayout<Address>.size)
        let result = withUnsafePointer(to: &socketAddress) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
        }
        guard result == 0, listen(descriptor, backlog) == 0 else {
            let error = failure(result == 0 ? "listen" : "bind", address)
            Glibc.close(descriptor)
            throw error
        }
        return descriptor
    }

    /// Makes `path` another name of this unix socket (a hard link): connecting to either reaches
    /// the same queue. Replaces a file left at `path` by a previous run.
    public func link(at path: String) throws {
        guard case .unix(let original) = address else {
            throw SystemFailure(description: "only a unix socket can have another path")
        }
        unlink(path)
        guard Glibc.link(original, path) == 0 else {
            throw SystemFailure(description: "link \(original) to \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// Closes the socket and removes a unix socket's file.
    public func close() {
        Glibc.close(descriptor)
        if case .unix(let path) = address { unlink(path) }
    }

    private static func failure(_ call: String, _ address: UpstreamBlock.Address) -> Error {
        SystemFailure(description: "\(call) \(address): \(String(cString: strerror(errno)))")
    }
}
