import Foundation
import SPOPostgres
import Testing

@testable import SPOCore

@Suite struct ExecutionStatusTests {
    /// The latest CHECK on `service_execution.status` (its domain's, from migration 18) admits
    /// exactly the enum's cases.
    @Test func theEnumIsWhatTheTableAdmits() throws {
        let check = "CHECK (VALUE IN ("
        let sql = try #require(Migration.all.last { $0.sql.contains(check) }?.sql)
        #expect(Migration.all.last { $0.sql.contains("CHECK (status IN (") }!.version < 18)
        let found = try #require(sql.range(of: check, options: .backwards))
        let list = sql[found.upperBound...].prefix { $0 != ")" }
        let admitted = list.split(separator: ",").map {
            $0.trimmingCharacters(in: .whitespacesAndNewlines).trimmingCharacters(in: ["'"])
        }
        #expect(Set(admitted) == Set(ExecutionStatus.allCases.map(\.rawValue)))
    }

    @Test func theStatusFollowsTheAnswer() {
        #expect(ExecutionStatus(answering: nil) == .succeeded)
        #expect(ExecutionStatus(answering: APIError(.timeout, "t")) == .timeout)
        #expect(ExecutionStatus(answering: .invalidParameters([])) == .rejected)
        #expect(ExecutionStatus(answering: APIError(.unsupportedMediaType, "x")) == .rejected)
        #expect(ExecutionStatus(answering: APIError(.spExecutionFailed, "x")) == .failed)
        #expect(ExecutionStatus(answering: APIError(.dbConnectionFailed, "x")) == .failed)
        #expect(ExecutionStatus(answering: APIError(.circuitOpen, "x")) == .circuitOpen)
    }

    @Test func onlyWhatMayNotHaveDoneItsWorkIsReprocessedWithoutForce() {
        #expect(ExecutionStatus.allCases.filter(\.isReprocessable) == [.failed, .timeout, .interrupted, .circuitOpen])
    }

    @Test func attemptOutcomesFollowTheErrorKind() {
        #expect(AttemptOutcome(PGError(kind: .timeout, sqlstate: "57014", message: "")) == .timeout)
        #expect(AttemptOutcome(PGError(kind: .connection, sqlstate: "08006", message: "")) == .connectionFailed)
        #expect(AttemptOutcome(PGError(kind: .server, sqlstate: "P0001", message: "")) == .failed)
        #expect(AttemptOutcome.connectionFailed.rawValue == "connection_failed")
    }

    @Test func openAPIListsTheEnums() {
        let schemas = OpenAPIDocument.make(Configuration())["components"]?["schemas"]
        #expect(schemas?["ExecutionStatus"]?["enum"] == .array(ExecutionStatus.allCases.map { .string($0.rawValue) }))
        #expect(
            schemas?["Attempt"]?["properties"]?["outcome"]?["enum"]
                == .array(AttemptOutcome.allCases.map { .string($0.rawValue) }))
    }
}
