import Logging

/// The request being handled, for everything that happens meanwhile without being handed it:
/// every log line carries its correlation id (and its execution id and service once known), and
/// the call's database session is tagged with it.
///
/// Bound with `RequestScope.$current.withValue(_:)` around the handling of one request (a task
/// local, so concurrent handlers in one process — tests — never see each other's); a worker
/// handles one request at a time.
public final class RequestScope: @unchecked Sendable {
    // @unchecked: the fields change only on the thread handling the request, while it holds it.

    /// The request in hand, if any.
    @TaskLocal public static var current: RequestScope?

    public let correlationID: String
    public private(set) var executionID: String?
    public private(set) var service: String?

    public init(correlationID: String) {
        self.correlationID = correlationID
    }

    /// Names the execution the request became, from here on in every line.
    public func identify(executionID: String, service: String) {
        self.executionID = executionID
        self.service = service
    }

    /// The fields this scope adds to a log line.
    public var metadata: Logger.Metadata {
        var metadata: Logger.Metadata = ["correlation_id": .string(correlationID)]
        if let executionID { metadata["execution_id"] = .string(executionID) }
        if let service { metadata["service"] = .string(service) }
        return metadata
    }

    /// Adds the current request's fields to every line of the loggers that use it.
    public static let metadataProvider = Logger.MetadataProvider { RequestScope.current?.metadata ?? [:] }
}
