import Foundation
import SPOPostgres
import Testing

@testable import SPOCore
@testable import SPOServer

/// A configuration change closes only the target connections whose own settings changed.
@Suite struct ReloadConnectionTests {
    /// The server process of the worker's connection to `demo`, after a call through it.
    private func demoBackend(_ fixture: Fixture) throws -> Int32 {
        #expect(fixture.execute("customer_get", #"{"p_id": 1}"#).status == 200)
        return try #require(fixture.handler.executor.connections.backendPID(of: "demo"))
    }

    private func backendIsGone(_ fixture: Fixture, _ pid: Int32) throws -> Bool {
        try eventually(within: 10) {
            try fixture.value("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", [String(pid)]) == "0"
        }
    }

    @Test func aChangeToAnotherServiceKeepsTheConnection() throws {
        let fixture = try Fixture()
        let before = try demoBackend(fixture)
        try fixture.database.execute("UPDATE spo.service SET description = 'another' WHERE name = 'customer_count'")
        try fixture.database.execute("UPDATE spo.connection SET description = 'documented' WHERE name = 'demo'")
        try fixture.reload()
        #expect(fixture.handler.configuration.services["customer_count"]?.description == "another")
        #expect(fixture.handler.executor.connections.backendPID(of: "demo") == before)
        #expect(try demoBackend(fixture) == before)
    }

    @Test func anotherConninfoReplacesIt() throws {
        let fixture = try Fixture()
        let before = try demoBackend(fixture)
        try fixture.database.execute(
            "UPDATE spo.connection SET conninfo = conninfo || ' connect_timeout=10' WHERE name = 'demo'")
        try fixture.reload()
        #expect(fixture.handler.executor.connections.backendPID(of: "demo") == nil)
        #expect(try backendIsGone(fixture, before))
        let after = try demoBackend(fixture)
        #expect(after != before)
        #expect(try fixture.value("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", [String(after)]) == "1")
    }

    @Test func aLongerServiceTimeoutReplacesItForItsServerTimeout() throws {
        let fixture = try Fixture()
        let before = try demoBackend(fixture)
        try fixture.database.execute("UPDATE spo.service SET timeout_ms = 45000 WHERE name = 'customer_count'")
        try fixture.reload()
        #expect(fixture.handler.executor.connections.backendPID(of: "demo") == nil)
        let after = try demoBackend(fixture)
        #expect(after != before)
        // Back to what it was: replaced again, since its server timeout was made for 45 s.
        try fixture.database.execute("UPDATE spo.service SET timeout_ms = 5000 WHERE name = 'customer_count'")
        try fixture.reload()
        #expect(try demoBackend(fixture) != after)
    }
}
