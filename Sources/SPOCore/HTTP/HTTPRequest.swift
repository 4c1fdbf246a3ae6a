/// A request as the worker sees it: what nginx passed over FastCGI.
public struct HTTPRequest: Sendable {
    public var method: String
    /// The decoded, normalised path (nginx's `$document_uri`).
    public var path: String
    public var query: String
    /// Header names lowercased, `-` kept (`x-correlation-id`).
    public var headers: HTTPHeaders
    public var body: [UInt8]

    /// Largest body accepted, matching nginx's `client_max_body_size` in `nginx/spo.conf`.
    public static let maxBodyBytes = 1 << 20

    public init(method: String, path: String, query: String = "", headers: HTTPHeaders = [:], body: [UInt8] = []) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
    }

    /// The header named `name`, given in lowercase like the names (lowercasing it on every call
    /// allocated a string per lookup on the request path).
    public func header(_ name: String) -> String? { headers[name] }
}
