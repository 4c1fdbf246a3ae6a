import Foundation

/// The endpoints of the API, resolved from method and path.
public enum Route: Equatable, Sendable {
    case execute(service: String)
    case executeEnvelope
    case health
    case openAPI
    /// Read-only administration (admin keys only).
    case admin(AdminRoute)
    /// Changing configuration: POST on a collection, PUT or DELETE on an entry (admin keys only).
    case adminWrite(AdminRoute, method: String)
    /// `POST /api/executions/{id}/reprocess` (admin keys only).
    case reprocess(execution: String)
    /// The path exists but not for this method; carries the `Allow` header value.
    case methodNotAllowed(allowed: String)
    case notFound

    /// Whether the route needs an API key (once keys exist). Liveness stays public for probes.
    public var needsKey: Bool {
        switch self {
        case .execute, .executeEnvelope, .admin, .adminWrite, .reprocess: true
        case .health, .openAPI, .methodNotAllowed, .notFound: false
        }
    }

    public init(method: String, path: String) {
        if method == "POST", let service = Route.executedService(path) {
            self = .execute(service: service)
            return
        }
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
            case let parts where parts.count == 3 && parts[0] == "executions" && parts[2] == "reprocess":
                (.reprocess(execution: parts[1]), "POST")
            case let parts:
                AdminRoute(parts).map { resource in
                    (
                        method == "GET" || method == "HEAD" ? .admin(resource) : .adminWrite(resource, method: method),
                        resource.allowed
                    )
                } ?? (.notFound, "")
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

extension Route {
    /// The `{name}` of `/api/services/{name}/execute`, found without splitting the path: nearly
    /// every request takes this route, and splitting showed in profiles. Other spellings of the
    /// path (doubled slashes) take the general way.
    static func executedService(_ path: String) -> String? {
        let prefix = "/api/services/".utf8
        let suffix = "/execute".utf8
        let utf8 = path.utf8
        guard utf8.count > prefix.count + suffix.count, utf8.starts(with: prefix),
            utf8.suffix(suffix.count).elementsEqual(suffix)
        else { return nil }
        let name = utf8.dropFirst(prefix.count).dropLast(suffix.count)
        guard !name.contains(UInt8(ascii: "/")) else { return nil }
        return String(Substring(name))
    }
}

/// The administration endpoints (SPEC §4) served so far: reading configuration, executions and errors.
public enum AdminRoute: Equatable, Sendable {
    case services
    case service(String)
    case connections
    case connection(String)
    case retryPolicies
    case retryPolicy(String)
    case executions
    case execution(String)
    case error(String)
    case healthOfServices

    /// The methods the resource answers: collections of configuration take POST, their entries PUT
    /// and DELETE; the audit is read-only.
    var allowed: String {
        switch self {
        case .services, .connections, .retryPolicies: "GET, HEAD, POST"
        case .service, .connection, .retryPolicy: "GET, HEAD, PUT, DELETE"
        case .executions, .execution, .error, .healthOfServices: "GET, HEAD"
        }
    }

    /// Whether the answer comes from the configuration tables (services, connections, retry policies).
    var readsConfiguration: Bool {
        switch self {
        case .services, .service, .connections, .connection, .retryPolicies, .retryPolicy, .healthOfServices: true
        case .executions, .execution, .error: false
        }
    }

    init?(_ parts: [String]) {
        switch parts {
        case ["services"]: self = .services
        case let p where p.count == 2 && p[0] == "services": self = .service(p[1])
        case ["connections"]: self = .connections
        case let p where p.count == 2 && p[0] == "connections": self = .connection(p[1])
        case ["retry-policies"]: self = .retryPolicies
        case let p where p.count == 2 && p[0] == "retry-policies": self = .retryPolicy(p[1])
        case ["executions"]: self = .executions
        case let p where p.count == 2 && p[0] == "executions": self = .execution(p[1])
        case let p where p.count == 2 && p[0] == "errors": self = .error(p[1])
        case ["health", "services"]: self = .healthOfServices
        default: return nil
        }
    }
}
