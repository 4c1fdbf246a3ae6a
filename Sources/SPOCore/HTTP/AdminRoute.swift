/// The resource an administration endpoint reads or writes, with the name or id from its path.
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

    /// Whether the answer comes from the configuration tables (services, connections, retry policies).
    package var readsConfiguration: Bool {
        switch self {
        case .services, .service, .connections, .connection, .retryPolicies, .retryPolicy, .healthOfServices: true
        case .executions, .execution, .error: false
        }
    }

    /// The resource of an administration endpoint, from its id and path arguments.
    package init(_ id: Endpoint.ID, _ arguments: [String]) {
        let argument = arguments.first ?? ""
        switch id {
        case .listServices, .createService: self = .services
        case .getService, .replaceService, .deleteService: self = .service(argument)
        case .listConnections, .createConnection: self = .connections
        case .getConnection, .replaceConnection, .deleteConnection: self = .connection(argument)
        case .listRetryPolicies, .createRetryPolicy: self = .retryPolicies
        case .getRetryPolicy, .replaceRetryPolicy, .deleteRetryPolicy: self = .retryPolicy(argument)
        case .listExecutions: self = .executions
        case .getExecution: self = .execution(argument)
        case .getError: self = .error(argument)
        case .servicesHealth: self = .healthOfServices
        case .executeService, .executeEnvelope, .health, .openAPIDocument, .reprocessExecution, .metrics, .stats,
            .resetBreaker, .executionStatuses, .listSagas, .getSaga, .compensateSaga:
            preconditionFailure("\(id) is not an administration resource")
        }
    }
}
