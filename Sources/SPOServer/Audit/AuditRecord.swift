import SPOCore
import SPOJSON

/// Everything audited about one request, written in a single statement.
public struct AuditRecord: Sendable {
    /// Present when the request reached an existing service: a `service_execution` row.
    public struct Execution: Sendable {
        public var id: String
        public var serviceID: Int64
        public var serviceName: String
        public var parameters: JSONValue?
        public var status: ExecutionStatus
        public var httpStatus: Int
        public var errorCode: String?
        public var durationMilliseconds: Double
        public var user: String
        public var correlationID: String
        public var idempotencyKey: String?
        public var reprocessOf: String?
        public var attempts: [AttemptRecord]
    }

    /// Present when the answer was an error: a `service_error` row.
    public struct Failure: Sendable {
        public var reference: String
        public var serviceName: String?
        public var error: APIError
        /// The request's, for an error that belongs to no execution (an execution's error row
        /// takes the execution's).
        public var correlationID: String? = nil
    }

    public var execution: Execution?
    public var failure: Failure?
    /// Present when the execution held an `Idempotency-Key`: its answer is kept (or the key
    /// released) by the same statement.
    public var idempotency: IdempotencyCompletion? = nil
}
