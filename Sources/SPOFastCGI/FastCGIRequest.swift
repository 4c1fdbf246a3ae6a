internal import CFastCGI
import Glibc

/// One FastCGI request slot on a listening socket, reused from request to request.
///
/// Owns its `FCGX_Request` (libfcgi keeps pointers into it, so it lives at a fixed address).
/// Not thread-safe: a worker serves one request at a time.
public final class FastCGIRequest {
    private let request: UnsafeMutablePointer<FCGX_Request>
    /// Reused from request to request: allocating it each time showed in profiles.
    private var chunk = [UInt8](repeating: 0, count: 16_384)

    /// Prepares a slot for connections the caller accepts (see `accept(connection:)`).
    public init() {
        FastCGIRequest.initializeLibrary
        request = .allocate(capacity: 1)
        request.initialize(to: FCGX_Request())
        // No listening socket of its own: libfcgi would accept (blocking) on it whenever a
        // connection it was given turns out unusable; with none, it reports that instead.
        FCGX_InitRequest(request, -1, 0)
    }

    deinit {
        FCGX_Free(request, 1)
        request.deinitialize(count: 1)
        request.deallocate()
    }

    private static let initializeLibrary: Void = { _ = FCGX_Init() }()

    /// Reads the request arriving on `connection`, a socket the caller accepted (and which this
    /// slot now owns and closes). False when it carried no usable request; it is closed then.
    ///
    /// The caller accepts so that several listening sockets can be watched with one `poll(2)`
    /// and none blocks: libfcgi's own accept blocks on a single socket.
    public func accept(connection: Int32) -> Bool {
        request.pointee.ipcFd = connection
        // Tells libfcgi's accept to use this connection rather than close it first; the request
        // then sets it from nginx's begin record (no FCGI_KEEP_CONN: closed when finished).
        request.pointee.keepConnection = 1
        guard FCGX_Accept_r(request) >= 0 else { return false }
        // libfcgi takes a read that failed (the socket's receive timeout: a request that stopped
        // half-way) for the end of the parameters; such a request is dropped, not served.
        guard let input = request.pointee.in, FCGX_GetError(input) == 0 else {
            FCGX_Free(request, 1)
            return false
        }
        return true
    }

    /// Ends the current request: flushes the response and closes the connection to nginx.
    ///
    /// When the whole request was read, the connection is simply closed. Otherwise libfcgi's
    /// lingering close shuts down, then waits for nginx to close its end first: three system
    /// calls, and the worker idle until nginx gets the CPU, on every request. Unread input (a
    /// body refused as too large) keeps the lingering close, so nginx is never reset mid-send.
    public func finish() {
        if let input = request.pointee.in, FCGX_HasSeenEOF(input) == EOF {
            _ = FCGX_Detach(request)
        }
        FCGX_Finish_r(request)
    }

    /// A FastCGI parameter (`REQUEST_METHOD`, `DOCUMENT_URI`, `HTTP_X_CORRELATION_ID`, …).
    public func parameter(_ name: String) -> String? {
        guard let value = FCGX_GetParam(name, request.pointee.envp) else { return nil }
        return String(cString: value)
    }

    /// The values of several parameters (nil where absent), found in one pass over the request's
    /// parameters: `parameter(_:)` scans them all again for each name.
    public func values(of names: ParameterNames) -> [String?] {
        var values = [String?](repeating: nil, count: names.prefixes.count)
        guard var entry = request.pointee.envp else { return values }
        while let pair = entry.pointee {
            // Only names of the entry's length are compared: one comparison per entry, not one per name.
            if let equals = strchr(pair, Int32(UInt8(ascii: "="))) {
                let length = pair.distance(to: equals) + 1
                for (index, prefix) in names.prefixes.enumerated()
                where prefix.count == length && values[index] == nil && memcmp(pair, prefix, length) == 0 {
                    values[index] = String(cString: pair + length)
                    break
                }
            }
            entry += 1
        }
        return values
    }

    /// Reads the request body, up to `limit` bytes. Returns nil when the body is larger.
    public func readBody(limit: Int) -> [UInt8]? {
        var body: [UInt8] = []
        while true {
            let count = chunk.withUnsafeMutableBufferPointer { buffer in
                buffer.withMemoryRebound(to: CChar.self) {
                    FCGX_GetStr($0.baseAddress, Int32($0.count), request.pointee.in)
                }
            }
            if count <= 0 { return body }
            body.append(contentsOf: chunk[0..<Int(count)])
            if body.count > limit { return nil }
        }
    }

    /// Bounds each blocking write to the connection (`SO_SNDTIMEO`): a peer that stops reading
    /// fails the write after `timeout` instead of holding the worker.
    public func limitWrites(to timeout: Duration) {
        var value = timeval(
            tv_sec: Int(timeout.components.seconds), tv_usec: Int(timeout.components.attoseconds / 1_000_000_000_000))
        _ = setsockopt(request.pointee.ipcFd, SOL_SOCKET, SO_SNDTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Writes response bytes (CGI headers first, then a blank line, then the body).
    public func write(_ bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) {
                _ = FCGX_PutStr($0.baseAddress, Int32($0.count), request.pointee.out)
            }
        }
    }
}

/// Names of FastCGI parameters to read together with `FastCGIRequest.values(of:)`; made once.
public struct ParameterNames: Sendable {
    /// `NAME=` as C characters, the form of libfcgi's environment entries.
    fileprivate let prefixes: [[CChar]]

    public init(_ names: [String]) {
        prefixes = names.map { name in (name + "=").utf8.map { CChar(bitPattern: $0) } }
    }
}
