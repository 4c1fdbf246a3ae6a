import Foundation
import SPOPostgres
import Testing

@testable import SPOServer

/// The control database behind PgBouncer in transaction mode (`SPO_CONTROL_POOLER`): statements go
/// through the pooler unnamed, so they work whichever server connection runs them; notifications
/// arrive on the listener, a direct session of its own.
@Suite(.serialized) struct PooledControlTests {
    /// Two clients take turns on PgBouncer's one server connection: named statements prepared by
    /// one are missing (or someone else's) for the other, unnamed ones always run.
    @Test func statementsThroughATransactionPoolerRunWhicheverServerConnectionTakesThem() throws {
        let database = try TestCluster.database()
        let bouncer = try PgBouncer(database: database)
        defer { bouncer.stop() }
        let first = ControlDatabase(conninfo: database, pooler: bouncer.conninfo)
        let second = ControlDatabase(conninfo: database, pooler: bouncer.conninfo)
        for round in 0..<5 {
            for control in [first, second] {
                let result = try control.withConnection { (connection: PGConnection) throws(PGError) in
                    try connection.executePrepared(
                        "spo_test_count_v\(round % 2)", sql: "SELECT count(*) + $1::int FROM spo.service", ["1"])
                }
                #expect(Int(result.value(0, 0) ?? "") ?? 0 > 1)
            }
        }
        // What named statements do there: one client's prepared statement is on the server
        // connection the next client gets, which then cannot prepare its own of that name (42P05).
        let named = try PGConnection(conninfo: bouncer.conninfo, options: .init(serverStatementTimeout: nil))
        let other = try PGConnection(conninfo: bouncer.conninfo, options: .init(serverStatementTimeout: nil))
        try named.executePrepared("spo_test_named", sql: "SELECT 1", [])
        try other.execute("SELECT 1")
        #expect(throws: PGError.self) {
            try other.executePrepared("spo_test_other", sql: "SELECT 2", [])
            try other.executePrepared("spo_test_named", sql: "SELECT 1", [])
        }
    }

    /// Behind a pooler, `onReconnect` runs on the listener (a direct session), which receives the
    /// notifications; the pooled connection is another one, with no session state set on it.
    @Test func theListenerIsADirectSessionThatReceivesNotifications() throws {
        let database = try TestCluster.database()
        let bouncer = try PgBouncer(database: database)
        defer { bouncer.stop() }
        let control = ControlDatabase(conninfo: database, pooler: bouncer.conninfo)
        var sessions: [Int32] = []
        control.onReconnect = { connection throws(PGError) in
            sessions.append(connection.backendPID)
            try connection.execute("LISTEN spo_test")
        }
        #expect(control.isPooled)
        let pooled = try control.open()
        let listener = try #require(control.listener)
        #expect(sessions == [listener.backendPID])
        #expect(pooled !== listener)
        try control.withConnection { (connection: PGConnection) throws(PGError) in
            _ = try connection.execute("SELECT pg_notify('spo_test', 'through the pooler')")
        }
        var received: [PGNotification] = []
        let deadline = ContinuousClock.now + .seconds(10)
        while received.isEmpty && ContinuousClock.now < deadline {
            received = listener.notifications(readingSocket: true)
            if received.isEmpty { usleep(10_000) }
        }
        #expect(received.map(\.payload) == ["through the pooler"])
        // Without a pooler the one connection is the listener.
        let direct = ControlDatabase(conninfo: database, pooler: nil)
        direct.onReconnect = { _ throws(PGError) in }
        let connection = try direct.open()
        #expect(direct.listener === connection)
    }

    /// A connection that names no statements leaves none prepared on the server.
    @Test func unnamedStatementsLeaveNothingPrepared() throws {
        let database = try TestCluster.database()
        var options = PGConnectOptions()
        options.namedStatements = false
        let unnamed = try PGConnection(conninfo: database, options: options)
        for _ in 0..<3 { try unnamed.executePrepared("spo_test_unnamed", sql: "SELECT $1::int", ["7"]) }
        #expect(try unnamed.execute("SELECT count(*) FROM pg_prepared_statements").value(0, 0) == "0")
        let named = try PGConnection(conninfo: database)
        try named.executePrepared("spo_test_named", sql: "SELECT $1::int", ["7"])
        #expect(try named.execute("SELECT count(*) FROM pg_prepared_statements").value(0, 0) == "1")
    }

    /// A pooled connection sends no startup `options` (PgBouncer refuses them) and names no statements.
    @Test func pooledConnectionsSendNoStartupOptionsAndNameNoStatements() {
        let options = ControlDatabase.pooledOptions(.seconds(3))
        #expect(options.serverStatementTimeout == nil)
        #expect(!options.namedStatements)
        #expect(options.statementTimeout == .seconds(3))
    }
}
