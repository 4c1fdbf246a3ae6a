import SPOJSON
import Testing

@testable import SPOCore
@testable import SPOServer

@Suite struct AuditLogTests {
    @Test func noAttemptsIsAnEmptyArray() {
        #expect(AuditLog.attemptsJSON([]) == "[]")
    }

    @Test func attemptsAreWrittenInOrderWithEveryFieldThatHasAValue() {
        let attempts = [
            AttemptRecord(
                attempt: 1, outcome: .failed, sqlstate: "40001", message: "could not serialize \"access\"",
                offsetMilliseconds: 0, connectMilliseconds: 1.5, executeMilliseconds: 12),
            AttemptRecord(
                attempt: 2, outcome: .succeeded, sqlstate: nil, message: nil, offsetMilliseconds: 63.25,
                connectMilliseconds: 0, executeMilliseconds: 7),
        ]
        #expect(
            AuditLog.attemptsJSON(attempts)
                == #"[{"attempt":1,"outcome":"failed","sqlstate":"40001","message":"could not serialize \"access\"","offset_ms":0,"connect_ms":1.5,"execute_ms":12},"#
                + #"{"attempt":2,"outcome":"succeeded","offset_ms":63.25,"connect_ms":0,"execute_ms":7}]"#
        )
    }

    @Test func attemptsJSONIsValidJSON() throws {
        let attempts = [
            AttemptRecord(
                attempt: 1, outcome: .timeout, sqlstate: "57014", message: "line1\nline2\u{1}",
                offsetMilliseconds: .nan, connectMilliseconds: .infinity, executeMilliseconds: 0.1)
        ]
        let parsed = try JSONValue.parse(AuditLog.attemptsJSON(attempts))
        #expect(parsed.arrayValue?.first?["message"] == .string("line1\nline2\u{1}"))
        #expect(parsed.arrayValue?.first?["offset_ms"] == .null)
        #expect(parsed.arrayValue?.first?["connect_ms"] == .null)
    }

    /// The request path writes ids it has just made: a plain INSERT, no speculative insertion.
    /// Replays and recoveries may meet a row already written and must leave it. (An
    /// `Idempotency-Key`'s completion is an upsert of the key's row by design: it writes a claim
    /// that a crash of PostgreSQL lost again.)
    @Test func onlyReplaysTolerateConflicts() {
        for statement in AuditLog.Statement.allCases {
            let audit = statement.sql(tolerant: false).replacingOccurrences(of: "ON CONFLICT (scope, key)", with: "")
            #expect(!audit.contains("ON CONFLICT"))
            #expect(statement.sql(tolerant: true).contains("DO NOTHING"))
            #expect(statement.name(tolerant: false) != statement.name(tolerant: true))
        }
    }

    /// The frame a worker hands the pool's writer is filled by the same function as the prepared
    /// statement's parameters: decoded, it is those values, whatever the record holds.
    @Test func aFrameCarriesExactlyTheStatementsValues() throws {
        let attempts = [
            AttemptRecord(
                attempt: 1, outcome: .succeeded, sqlstate: nil, message: nil, offsetMilliseconds: 0,
                connectMilliseconds: 0.25, executeMilliseconds: 1.5)
        ]
        let execution = AuditRecord.Execution(
            id: "0193a6f0-0000-7000-8000-000000000001", serviceID: 7, serviceName: "customer_get",
            parameters: .object(["p_id": .number("42"), "note": .string("é \"q\"\n")]), status: .succeeded,
            httpStatus: 200, errorCode: nil, durationMilliseconds: 2.125, user: "key:bench",
            correlationID: "c-1", idempotencyKey: nil, reprocessOf: nil, attempts: attempts)
        let failure = AuditRecord.Failure(
            reference: "0193a6f0-0000-7000-8000-000000000002", serviceName: "customer_get",
            error: APIError(.notFound, "no such customer"), correlationID: "c-2")
        let records = [
            AuditRecord(execution: execution, failure: nil),
            AuditRecord(execution: execution, failure: failure),
            AuditRecord(execution: nil, failure: failure),
            AuditRecord(
                execution: {
                    var bare = execution; bare.parameters = nil; bare.serviceID = 0; return bare
                }()),
        ]
        for record in records {
            let (statement, values) = try #require(AuditLog().statement(for: record))
            var frame = AuditWriterFrame.Builder(capacity: 16)
            #expect(AuditLog().statement(for: record, into: &frame) == statement)
            let bytes = frame.finished()
            #expect(AuditWriterFrame.bodyLength(bytes, at: 0) == bytes.count - 4)
            #expect(AuditWriterFrame.decode(bytes, 4..<bytes.count) == values)
            #expect(AuditWriterFrame.encode(values) == bytes)
        }
    }
}
