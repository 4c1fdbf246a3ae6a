import SPOJSON

/// One endpoint of the API, declared once in `EndpointTable`: its method and path, who may call
/// it, and how OpenAPI describes it. Routing, `Allow`, authorization and the document's paths are
/// all derived from the table; the server maps each `ID` to its handler in one exhaustive switch.
///
/// A class: the table's entries are shared, never copied (routing hands one out on every request).
public final class Endpoint: Sendable {
    /// Every endpoint by name; the raw value is its OpenAPI `operationId`.
    public enum ID: String, Sendable, CaseIterable {
        case executeService = "execute"
        case executeEnvelope
        case health
        case openAPIDocument
        case servicesHealth
        case listServices, createService, getService, replaceService, deleteService
        case listConnections, createConnection, getConnection, replaceConnection, deleteConnection
        case resetBreaker
        case listRetryPolicies, createRetryPolicy, getRetryPolicy, replaceRetryPolicy, deleteRetryPolicy
        case listExecutions, getExecution, reprocessExecution
        case executionStatuses = "getExecutionStatuses"
        case getError
        case listSagas, getSaga
        case metrics, stats
        case compensateSaga
    }

    /// Who may call an endpoint.
    public enum Access: Sendable {
        /// No key: probes and the API's own description.
        case anyone
        /// Executing a service: a key granted it, or no key for a service marked `"public": true`
        /// (checked per service, once the handler knows which).
        case service
        /// Any valid key; anonymous callers are refused.
        case caller
        /// Admin keys only, even while no key exists.
        case admin
    }

    /// The request body OpenAPI declares.
    public struct Body: Sendable {
        public var schema: JSONValue
        public var required: Bool
    }

    /// The answer when all goes well.
    public struct Success: Sendable {
        public var status: Int
        public var description: String
        /// Nil for answers without a body (204).
        public var schema: JSONValue?
        /// The body's media type.
        public var contentType = "application/json"
    }

    public let id: ID
    public let method: HTTPMethod
    public let path: PathPattern
    public let access: Access
    /// The OpenAPI tag: `services` for executions, `administration` for the rest.
    public let tag: String
    public let summary: String
    /// OpenAPI parameter objects (or references) besides the correlation header.
    public let parameters: [JSONValue]
    public let body: Body?
    public let success: Success
    /// The errors it can answer besides those every endpoint of its access level can.
    public let errors: [APIError.Code]

    init(
        _ id: ID, _ method: HTTPMethod, _ path: PathPattern, _ access: Access, tag: String = "administration",
        summary: String, parameters: [JSONValue] = [], body: Body? = nil, success: Success,
        errors: [APIError.Code] = []
    ) {
        self.id = id
        self.method = method
        self.path = path
        self.access = access
        self.tag = tag
        self.summary = summary
        self.parameters = parameters
        self.body = body
        self.success = success
        self.errors = errors
    }

    /// Whether browsers of other origins may call it (when a CORS policy allows their origin):
    /// what gateway clients call — executions and reading them back —, never administration.
    public var isCrossOrigin: Bool { access == .service || access == .caller }

    /// The errors any endpoint with `access` can answer: a key is checked, and administration
    /// reads and writes the control database on every call.
    public var commonErrors: [APIError.Code] {
        switch access {
        case .anyone: [.internalError, .rateLimited]
        case .service, .caller: [.unauthorized, .forbidden, .internalError, .rateLimited]
        case .admin: [.unauthorized, .forbidden, .internalError, .dbConnectionFailed, .rateLimited]
        }
    }
}
