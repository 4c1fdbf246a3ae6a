import Foundation
import SPOPostgres
import Testing

@testable import SPOCore
@testable import SPOServer

/// `ConfigurationStore.fingerprint`: the same while the control tables are, different after any
/// change to one of them, and recorded with each snapshot.
@Suite struct ConfigurationFingerprintTests {
    @Test func aSnapshotRecordsTheFingerprintOfTheTablesItWasReadFrom() throws {
        let fixture = try Fixture()
        let fingerprint = try ConfigurationStore.fingerprint(on: fixture.database)
        #expect(fingerprint.split(separator: "/").count == 5)
        #expect(try ConfigurationStore.fingerprint(on: fixture.database) == fingerprint)
        #expect(try ConfigurationStore.load(from: fixture.database).fingerprint == fingerprint)
    }

    @Test func everyKindOfConfigurationChangeChangesIt() throws {
        let fixture = try Fixture()
        var seen = [try ConfigurationStore.fingerprint(on: fixture.database)]
        let changes = [
            "UPDATE spo.service SET description = 'another' WHERE name = 'customer_get'",
            // The same values again: a new row version, so a (harmless) change.
            "UPDATE spo.service SET description = 'another' WHERE name = 'customer_get'",
            """
            UPDATE spo.service_configuration SET public = NOT public
            WHERE service_id = (SELECT id FROM spo.service WHERE name = 'customer_get')
            """,
            "UPDATE spo.connection SET description = 'changed' WHERE name = 'demo'",
            "UPDATE spo.service_retry_policy SET max_attempts = 2 WHERE name = 'default'",
            "INSERT INTO spo.service_retry_policy (name) VALUES ('extra')",
            "DELETE FROM spo.service WHERE name = 'customer_count'",
        ]
        for change in changes {
            try fixture.database.execute(change)
            let now = try ConfigurationStore.fingerprint(on: fixture.database)
            #expect(!seen.contains(now), "unchanged after: \(change)")
            seen.append(now)
        }
        // Back to rows seen before (the inserted one deleted): the fingerprint of that state again.
        try fixture.database.execute("DELETE FROM spo.service_retry_policy WHERE name = 'extra'")
        let removed = try ConfigurationStore.fingerprint(on: fixture.database)
        #expect(removed != seen.last && removed.split(separator: "/")[1] == seen[5].split(separator: "/")[1])
        _ = try APIKeyStore.create(name: "another", role: .executor, grants: ["*"], on: fixture.database)
        let created = try ConfigurationStore.fingerprint(on: fixture.database)
        #expect(!seen.contains(created))
        _ = try APIKeyStore.revoke(name: "another", on: fixture.database)
        #expect(try ConfigurationStore.fingerprint(on: fixture.database) != created)
    }

    @Test func executionsAndTheirAuditDoNotChangeIt() throws {
        let fixture = try Fixture()
        let before = try ConfigurationStore.fingerprint(on: fixture.database)
        #expect(fixture.execute("customer_get", #"{"p_id": 1}"#).status == 200)
        #expect(fixture.execute("customer_get", #"{"p_id": "one"}"#).status == 400)
        #expect(try fixture.value("SELECT count(*) FROM spo.service_execution") == "2")
        #expect(try ConfigurationStore.fingerprint(on: fixture.database) == before)
    }
}
