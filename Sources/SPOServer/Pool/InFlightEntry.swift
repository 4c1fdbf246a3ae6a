import Foundation
import SPOCore
import SPOJSON

/// What a worker's in-flight journal says of the execution it is running: enough for the
/// supervisor to audit it as `interrupted` should the worker die (`LeftoverRecovery`).
///
/// Stored as one JSON object per record, written here straight as bytes (building a tree of
/// members for it cost more than the rest of noting the execution) and read back here.
public struct InFlightEntry: Equatable, Sendable {
    public var executionID: String
    public var serviceID: Int64
    public var serviceName: String
    /// As the audit records them: sensitive values redacted.
    public var parameters: JSONValue
    public var user: String
    public var correlationID: String
    public var startedAtMilliseconds: Int64

    /// The entry of execution `executionID` of `service`, called with `parameters` (redacted here)
    /// and starting now.
    init(
        executionID: String, service: ServiceDefinition, parameters: JSONValue, user: String, correlationID: String
    ) {
        self.init(
            executionID: executionID, serviceID: service.id, serviceName: service.name,
            parameters: service.recordable(parameters), user: user, correlationID: correlationID,
            startedAtMilliseconds: Int64(Date().timeIntervalSince1970 * 1000))
    }

    public init(
        executionID: String, serviceID: Int64, serviceName: String, parameters: JSONValue, user: String,
        correlationID: String, startedAtMilliseconds: Int64
    ) {
        self.executionID = executionID
        self.serviceID = serviceID
        self.serviceName = serviceName
        self.parameters = parameters
        self.user = user
        self.correlationID = correlationID
        self.startedAtMilliseconds = startedAtMilliseconds
    }

    /// The entry a journal record holds; nil without an execution id. Absent fields read as
    /// empty, so a record of an older version is still audited.
    public init?(_ record: JSONValue) {
        guard let executionID = record[Key.executionID]?.stringValue else { return nil }
        self.init(
            executionID: executionID, serviceID: Int64(record[Key.serviceID]?.intValue ?? 0),
            serviceName: record[Key.serviceName]?.stringValue ?? "", parameters: record[Key.parameters] ?? .null,
            user: record[Key.user]?.stringValue ?? "anonymous",
            correlationID: record[Key.correlationID]?.stringValue ?? "",
            startedAtMilliseconds: Int64(record[Key.startedAt]?.doubleValue ?? Date().timeIntervalSince1970 * 1000))
    }

    /// The record's member names.
    private enum Key {
        static let executionID = "execution_id"
        static let serviceID = "service_id"
        static let serviceName = "service_name"
        static let parameters = "parameters"
        static let user = "user"
        static let correlationID = "correlation_id"
        static let startedAt = "started_at_ms"
    }

    /// Appends the record: a JSON object, the members in a fixed order.
    func write(to out: inout [UInt8]) {
        func key(_ name: String, first: Bool = false) {
            out.append(UInt8(ascii: first ? "{" : ","))
            JSONValue.writeString(name, to: &out)
            out.append(UInt8(ascii: ":"))
        }
        key(Key.executionID, first: true)
        JSONValue.writeString(executionID, to: &out)
        key(Key.serviceID)
        JSONValue.writeInteger(serviceID, to: &out)
        key(Key.serviceName)
        JSONValue.writeString(serviceName, to: &out)
        key(Key.parameters)
        parameters.write(to: &out)
        key(Key.user)
        JSONValue.writeString(user, to: &out)
        key(Key.correlationID)
        JSONValue.writeString(correlationID, to: &out)
        key(Key.startedAt)
        JSONValue.writeInteger(startedAtMilliseconds, to: &out)
        out.append(UInt8(ascii: "}"))
    }
}
