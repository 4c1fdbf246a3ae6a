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
}
