import Foundation
import SPOPostgres
import Testing

@testable import SPOCore
@testable import SPOServer

/// Migration 17 against a real PostgreSQL: `service_execution` partitioned by the day of its
/// (UUIDv7) ids, a default partition so that no insert fails for want of a day, retention that
/// drops whole days, and listings whose plans read only the days they ask for.
@Suite struct ExecutionPartitionTests {
    /// The UTC day `daysAgo` days before today, as `YYYYMMDD` and as `YYYY-MM-DD`.
    static func day(_ daysAgo: Int) -> (name: String, date: String) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let date = calendar.date(byAdding: .day, value: -daysAgo, to: Date())!
        let parts = calendar.dateComponents([.year, .month, .day], from: date)
        let text = String(format: "%04d-%02d-%02d", parts.year!, parts.month!, parts.day!)
        return (text.replacingOccurrences(of: "-", with: ""), text)
    }

    /// Inserts an execution made at noon (UTC) `daysAgo` days ago, its id made then; returns the id.
    @discardableResult
    static func insert(
        _ fixture: Fixture, daysAgo: Int, status: String = "succeeded", service: String = "old_service"
    ) throws -> String {
        let id = try #require(
            try fixture.value(
                """
                INSERT INTO spo.service_execution (id, service_name, status, started_at)
                SELECT (substr(replace(spo.execution_id_floor(t)::text, '-', ''), 1, 12) || '7'
                        || substr(md5(random()::text), 1, 3) || '8' || substr(md5(random()::text), 1, 15))::uuid,
                    $2, $3, t
                FROM (SELECT ($1::date + time '12:00') AT TIME ZONE 'UTC' AS t) AS noon
                RETURNING id
                """, [day(daysAgo).date, service, status]))
        return id
    }

    /// The partition holding execution `id`.
    static func partition(of id: String, _ fixture: Fixture) throws -> String? {
        try fixture.value("SELECT tableoid::regclass::text FROM spo.service_execution WHERE id = $1::uuid", [id])
    }

    @Test func anExecutionLandsInTheDayItsIdWasMadeOn() throws {
        let fixture = try Fixture()
        let reply = fixture.execute("customer_get", #"{"p_id": 1}"#)
        #expect(reply.status == 200, "\(reply.text)")
        let id = try #require(reply.json["execution_id"]?.stringValue)
        #expect(try Self.partition(of: id, fixture) == "spo.service_execution_\(Self.day(0).name)")
        // The coming week exists already: tomorrow's requests have their day.
        for ahead in 1...ExecutionRetention.daysAhead {
            let name = "spo.service_execution_" + Self.day(-ahead).name
            #expect(try fixture.value("SELECT to_regclass($1)::text", [name]) == name)
        }
    }

    @Test func aDayWithoutItsPartitionTakesTheRowInTheDefaultAndMovesItWhenTheDayIsMade() throws {
        let fixture = try Fixture()
        // Far in the future: no partition exists for that day.
        let id = "0a000000-0000-7000-8000-000000000001"
        let day = try #require(
            try fixture.value("SELECT (spo.execution_id_time($1::uuid) AT TIME ZONE 'UTC')::date::text", [id]))
        try fixture.database.execute(
            "INSERT INTO spo.service_execution (id, service_name, status, started_at) VALUES ($1::uuid, 'x', 'failed', now())",
            [id])
        #expect(try Self.partition(of: id, fixture) == "spo.service_execution_default")
        // The audit's replay form (ON CONFLICT (id) DO NOTHING) still sees the row, wherever it is.
        let replay = AuditLog.executionInsert(finishedAt: 15, tolerant: true)
        let values: [String?] = [id, nil, "x", nil, "succeeded", "200", nil, "1", "1", "u", "c", nil, nil, "[]", nil]
        #expect(try fixture.database.execute(replay, values).affectedRows == 0)
        #expect(try fixture.value("SELECT status FROM spo.service_execution WHERE id = $1::uuid", [id]) == "failed")

        #expect(try fixture.value("SELECT spo.create_execution_partitions($1::date, $1::date)", [day]) == "1")
        let partition = "spo.service_execution_" + day.replacingOccurrences(of: "-", with: "")
        #expect(try Self.partition(of: id, fixture) == partition)
        #expect(try fixture.value("SELECT count(*) FROM spo.service_execution_default") == "0")
    }

    @Test func theWorkerRoleCreatesTheComingDaysAndCannotReachAPartitionDirectly() throws {
        let world = try LeastPrivilegeTests.World()
        // Whoever made them, the coming days exist; one more call creates nothing.
        #expect(try ExecutionRetention.createPartitions(on: world.asRole) == 0)
        let today = "spo.service_execution_" + Self.day(0).name
        #expect(world.refusal("SELECT count(*) FROM \(today)") == "42501")
        #expect(world.refusal("UPDATE \(today) SET parameters = '{}'") == "42501")
        #expect(world.refusal("DELETE FROM spo.service_execution_default") == "42501")
        #expect(world.refusal("SELECT * FROM spo.prune_executions('1 day')") == "42501")
    }

    @Test func pruneDropsTheOldDaysAndKeepsTheRecentRows() throws {
        let world = try LeastPrivilegeTests.World(group: "spo_retention")
        let fixture = world.fixture
        try fixture.database.execute(
            "SELECT spo.create_execution_partitions($1::date, $2::date)", [Self.day(45).date, Self.day(29).date])
        let old = try (35...44).map { try Self.insert(fixture, daysAgo: $0) }
        let oldFailed = try Self.insert(fixture, daysAgo: 40, status: "failed")
        let stillQueued = try Self.insert(fixture, daysAgo: 38, status: "queued")
        let recent = try (0...29).map { try Self.insert(fixture, daysAgo: $0) }
        // A legacy id (not time-ordered) of long ago sits in the default partition.
        try fixture.database.execute(
            """
            INSERT INTO spo.service_execution (id, service_name, status, started_at)
            VALUES ('f0000000-0000-4000-8000-000000000001', 'legacy', 'succeeded', now() - interval '50 days'),
                   ('f0000000-0000-4000-8000-000000000002', 'legacy', 'succeeded', now() - interval '1 day')
            """)
        try fixture.database.execute(
            """
            INSERT INTO spo.service_error (reference, execution_id, code, http_status, message, created_at)
            VALUES (gen_random_uuid(), $1::uuid, 'SP_EXECUTION_FAILED', 422, 'old', now() - interval '40 days')
            """, [oldFailed])
        try fixture.database.execute(
            """
            INSERT INTO spo.service_reprocessing (original_execution_id, new_execution_id, requested_by)
            VALUES ($1::uuid, gen_random_uuid(), 'admin')
            """, [oldFailed])

        let pruned = try ExecutionRetention.prune(olderThan: try #require(RetentionPeriod("30d")), on: world.asRole)
        // Days 31 to 45 ago are past the cutoff, but day 38 holds a queued execution: it stays, its
        // other row deleted. Day 30 holds the cutoff: its rows before it deleted, if any.
        #expect(pruned.droppedPartitions == 14)
        #expect(pruned.executions == old.count + 1 + 1)
        #expect(pruned.errors == 1 && pruned.reprocessings == 1)
        let remaining = Set(try fixture.rows("SELECT id::text FROM spo.service_execution").compactMap { $0[0] })
        #expect(remaining.isDisjoint(with: old + [oldFailed]))
        #expect(remaining.isSuperset(of: recent + [stillQueued, "f0000000-0000-4000-8000-000000000002"]))
        #expect(!remaining.contains("f0000000-0000-4000-8000-000000000001"))
        for daysAgo in 30...45 {
            let name = "spo.service_execution_" + Self.day(daysAgo).name
            let kept = daysAgo == 30 || daysAgo == 38
            #expect(try fixture.value("SELECT to_regclass($1)::text", [name]) == (kept ? name : nil), "\(name)")
        }
        #expect(try Self.partition(of: stillQueued, fixture) == "spo.service_execution_" + Self.day(38).name)
        #expect(try fixture.value("SELECT count(*) FROM spo.service_reprocessing") == "0")
        // Pruning again finds nothing more.
        let again = try ExecutionRetention.prune(olderThan: try #require(RetentionPeriod("30d")), on: world.asRole)
        #expect(again.executions == 0 && again.droppedPartitions == 0)
    }

    /// The plan of `statement` with `values` (the listing runs unnamed statements: planned with
    /// their values, so the days outside a filter are pruned when planned).
    static func plan(_ fixture: Fixture, _ statement: String, _ values: [String?]) throws -> String {
        try fixture.rows("EXPLAIN (COSTS OFF) " + statement, values).compactMap { $0[0] }.joined(separator: "\n")
    }

    /// The partitions of `service_execution` a plan reads.
    static func partitions(in plan: String) -> Set<String> {
        let pattern = /service_execution_(default|\d{8})\b/
        return Set(plan.matches(of: pattern).map { String($0.output.1) })
    }

    @Test func aTimeFilterReadsOnlyItsDaysAndTheirPrimaryKey() throws {
        let admin = try AdminAPITests.Admin()
        let fixture = admin.fixture
        try fixture.database.execute(
            "SELECT spo.create_execution_partitions($1::date, $2::date)", [Self.day(20).date, Self.day(1).date])
        for daysAgo in 1...20 { try Self.insert(fixture, daysAgo: daysAgo) }
        let since = Self.day(12).date + "T00:00:00Z"
        let until = Self.day(9).date + "T00:00:00Z"
        let plan = try Self.plan(fixture, ExecutionQueries.listSQL, [nil, nil, since, until, nil, "50"])
        // The three days asked for, and the minute of slack on either side.
        let expected = Set([13, 12, 11, 10, 9].map { Self.day($0).name })
        #expect(Self.partitions(in: plan) == expected, "\(plan)")
        #expect(plan.contains("Index Scan Backward using service_execution_"), "\(plan)")
        #expect(!plan.contains("Seq Scan"), "\(plan)")

        // The page holds what the filter asks for.
        let ids = try admin.page("since=\(since)&until=\(until)").ids
        let between = "started_at >= $1::timestamptz AND started_at < $2::timestamptz"
        #expect(ids == (try admin.allExecutionIDs(between, [since, until])))
        #expect(ids.count == 3)

        // A cursor reads no day after it.
        let cursorPlan = try Self.plan(fixture, ExecutionQueries.listSQL, [nil, nil, nil, nil, ids[0], "50"])
        #expect(!Self.partitions(in: cursorPlan).contains(Self.day(5).name), "\(cursorPlan)")
    }

    @Test func anExecutionIsReadFromItsDayOnly() throws {
        let admin = try AdminAPITests.Admin()
        let fixture = admin.fixture
        try fixture.database.execute(
            "SELECT spo.create_execution_partitions($1::date, $2::date)", [Self.day(10).date, Self.day(1).date])
        let id = try Self.insert(fixture, daysAgo: 5)
        for daysAgo in 1...10 where daysAgo != 5 { try Self.insert(fixture, daysAgo: daysAgo) }
        let plan = try Self.plan(fixture, ExecutionQueries.executionSQL, [id])
        // Its own row (and its attempts) from its day; its members from its day on (the default
        // partition may hold ids of any time).
        let days = Self.partitions(in: plan)
        #expect(days.contains(Self.day(5).name), "\(plan)")
        #expect(days.isDisjoint(with: [6, 7, 8, 9, 10].map { Self.day($0).name }), "\(plan)")
        let read = admin.get("/api/executions/\(id)")
        #expect(read.status == 200 && read.json["id"]?.stringValue == id, "\(read.text)")
    }

    @Test func migratingAPopulatedTableKeepsEveryRowInItsDay() throws {
        let conninfo = try TestCluster.emptyDatabase()
        let connection = try PGConnection(conninfo: conninfo)
        let before = Migration.all.filter { $0.version < 17 }
        try Migrator(migrations: before).migrate(connection)
        // Rows of three days, one legacy id, and a reprocessing referencing one of them.
        try connection.execute(
            """
            INSERT INTO spo.service_execution (id, service_name, status, started_at, finished_at)
            SELECT (substr(replace(spo_id::text, '-', ''), 1, 12) || '7abc8' || lpad(to_hex(n), 15, '0'))::uuid,
                'svc', 'succeeded', t, t
            FROM generate_series(1, 300) AS n,
                LATERAL (SELECT now() - make_interval(days => n % 3) AS t) AS a,
                LATERAL (SELECT (lpad(to_hex((extract(epoch FROM t) * 1000)::bigint), 12, '0')
                    || '00000000000000000000')::uuid AS spo_id) AS b
            """)
        try connection.execute(
            """
            INSERT INTO spo.service_execution (id, service_name, status, started_at)
            VALUES ('f0000000-0000-4000-8000-00000000000a', 'legacy', 'failed', now());
            """)
        try connection.execute(
            """
            INSERT INTO spo.service_reprocessing (original_execution_id, new_execution_id, requested_by)
            VALUES ('f0000000-0000-4000-8000-00000000000a', gen_random_uuid(), 'admin')
            """)
        #expect(try Migrator().migrate(connection) == [17, 18])
        let count = try connection.execute("SELECT count(*) FROM spo.service_execution")
        #expect(count.value(0, 0) == "301")
        // Each row in the partition of its id's day; the legacy one in the default.
        let misplaced = try connection.execute(
            """
            SELECT count(*) FROM spo.service_execution
            WHERE tableoid::regclass::text <> 'spo.service_execution_'
                || to_char(spo.execution_id_time(id) AT TIME ZONE 'UTC', 'YYYYMMDD')
              AND service_name = 'svc'
            """)
        #expect(misplaced.value(0, 0) == "0")
        let legacy = try connection.execute(
            "SELECT tableoid::regclass::text FROM spo.service_execution WHERE service_name = 'legacy'")
        #expect(legacy.value(0, 0) == "spo.service_execution_default")
        // The reprocessing still references it, under its foreign key; a finished row still cannot change.
        #expect(throws: PGError.self) {
            try connection.execute("DELETE FROM spo.service_execution WHERE service_name = 'legacy'")
        }
        #expect(throws: PGError.self) {
            try connection.execute("UPDATE spo.service_execution SET status = 'running' WHERE service_name = 'svc'")
        }
        let partitioned = try connection.execute(
            "SELECT relkind FROM pg_class WHERE oid = 'spo.service_execution'::regclass")
        #expect(partitioned.value(0, 0) == "p")
    }
}
