import Foundation

/// The endpoints of the API, resolved from method and path.
public enum Route: Equatable, Sendable {
    case execute(service: String)
    case executeEnvelope
    case health
    case openAPI
    /// The path exists but not for this method; carries the `Allow` header value.
    case methodNotAllowed(allowed: String)
    case notFound

    /// Whether the route needs an API key (once keys exist). Liveness stays public for probes.
    public var needsKey: Bool {
        switch self {
        case .execute, .executeEnvelope: true
        case .health, .openAPI, .methodNotAllowed, .notFound: false
        }
    }

    public init(method: String, path: String) {
        let segments = path.split(separator: "/", omittingEmptySubsequences: true)
        guard segments.first == "api" else {
            self = .notFound
            return
        }
        let (route, allowed): (Route, String) =
            switch segments.dropFirst().map(String.init) {
            case let parts where parts.count == 3 && parts[0] == "services" && parts[2] == "execute":
                (.execute(service: parts[1]), "POST")
            case ["execute"]: (.executeEnvelope, "POST")
            case ["health"]: (.health, "GET, HEAD")
            case ["openapi.json"]: (.openAPI, "GET, HEAD")
            default: (.notFound, "")
            }
        // Plain string comparison: this runs on every request, and Foundation's trimming showed in profiles.
        if route == .notFound
            || allowed.split(separator: ",").contains(where: { $0.drop(while: { $0 == " " }) == method })
        {
            self = route
        } else {
            self = .methodNotAllowed(allowed: allowed)
        }
    }
}
