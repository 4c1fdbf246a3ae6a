import Foundation
import SPOPostgres
import Testing

@testable import SPOCore
@testable import SPOServer

/// `spo.configuration_generation` (migration 16): the same while the control tables are, moved
/// forward by any change to one of them (by any client: psql too), and recorded with each snapshot.
@Suite struct ConfigurationGenerationTests {
    @Test func aSnapshotRecordsTheGenerationItWasReadAt() throws {
        let fixture = try Fixture()
        let generation = try ConfigurationStore.generation(on: fixture.database)
        #expect(try ConfigurationStore.generation(on: fixture.database) == generation)
        #expect(try ConfigurationStore.load(from: fixture.database).generation == generation)
    }

    @Test func everyKindOfConfigurationChangeMovesItForward() throws {
        let fixture = try Fixture()
        var last = try ConfigurationStore.generation(on: fixture.database)
        func expectMoved(_ what: String) throws {
            let now = try ConfigurationStore.generation(on: fixture.database)
            #expect(now > last, "unchanged after: \(what)")
            last = now
        }
        let changes = [
            "UPDATE spo.service SET description = 'another' WHERE name = 'customer_get'",
            // The same values again: a write all the same, so a (harmless) change.
            "UPDATE spo.service SET description = 'another' WHERE name = 'customer_get'",
            """
            UPDATE spo.service_configuration SET public = NOT public
            WHERE service_id = (SELECT id FROM spo.service WHERE name = 'customer_get')
            """,
            "UPDATE spo.connection SET description = 'changed' WHERE name = 'demo'",
            "UPDATE spo.service_retry_policy SET max_attempts = 2 WHERE name = 'default'",
            "INSERT INTO spo.service_retry_policy (name) VALUES ('extra')",
            "DELETE FROM spo.service WHERE name = 'customer_count'",
            "DELETE FROM spo.service_retry_policy WHERE name = 'extra'",
        ]
        for change in changes {
            try fixture.database.execute(change)
            try expectMoved(change)
        }
        _ = try APIKeyStore.create(name: "another", role: .executor, grants: ["*"], on: fixture.database)
        try expectMoved("a key created")
        _ = try APIKeyStore.revoke(name: "another", on: fixture.database)
        try expectMoved("a key revoked")
    }

    @Test func executionsAndTheirAuditDoNotMoveIt() throws {
        let fixture = try Fixture()
        let before = try ConfigurationStore.generation(on: fixture.database)
        #expect(fixture.execute("customer_get", #"{"p_id": 1}"#).status == 200)
        #expect(fixture.execute("customer_get", #"{"p_id": "one"}"#).status == 400)
        #expect(try fixture.value("SELECT count(*) FROM spo.service_execution") == "2")
        #expect(try ConfigurationStore.generation(on: fixture.database) == before)
    }
}
