/// What the endpoint table makes of a request's method and path.
public enum EndpointMatch: Sendable, Equatable {
    /// The endpoint, with the values of its path parameters in order.
    case found(Endpoint, arguments: [String])
    /// The path exists but not for this method; carries the `Allow` header value.
    case methodNotAllowed(allowed: String)
    /// `OPTIONS` on the path of an endpoint browsers may call across origins (`isCrossOrigin`);
    /// carries the `Allow` value (OPTIONS included).
    case preflight(Endpoint, allowed: String)
    case notFound

    public static func == (lhs: EndpointMatch, rhs: EndpointMatch) -> Bool {
        switch (lhs, rhs) {
        case let (.found(a, x), .found(b, y)): a.id == b.id && x == y
        case let (.methodNotAllowed(a), .methodNotAllowed(b)): a == b
        case let (.preflight(a, x), .preflight(b, y)): a.id == b.id && x == y
        case (.notFound, .notFound): true
        default: false
        }
    }
}
