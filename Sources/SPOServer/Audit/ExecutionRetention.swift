import SPOCore
import SPOPostgres

/// The upkeep of the day partitions of `service_execution` (migration 17): days created ahead,
/// and history older than a retention period pruned (`spo prune`).
public enum ExecutionRetention {
    /// What one prune removed.
    public struct Pruned: Equatable, Sendable {
        /// Whole days dropped.
        public var droppedPartitions: Int
        public var executions: Int
        public var errors: Int
        public var reprocessings: Int
        public var jobs: Int
    }

    /// Days created ahead of today, so that an insert finds its day in place.
    public static let daysAhead = 7

    /// Creates the partitions of today and the next `daysAhead` days that are missing; returns
    /// how many it created. Any role in `spo_worker` or `spo_retention` may.
    @discardableResult
    public static func createPartitions(on connection: PGConnection) throws(PGError) -> Int {
        let result = try connection.execute(
            "SELECT spo.create_execution_partitions($1::int)", [String(daysAhead)], deadline: .now + .seconds(30))
        return result.value(0, 0).flatMap { Int($0) } ?? 0
    }

    /// Removes the executions started before `period` ago (and their errors, reprocessings and done
    /// jobs), keeping those still queued or running. Needs a role in `spo_retention`.
    public static func prune(olderThan period: RetentionPeriod, on connection: PGConnection) throws(PGError) -> Pruned {
        let result = try connection.execute(
            "SELECT dropped_partitions, executions, errors, reprocessings, jobs FROM spo.prune_executions($1::interval)",
            [period.interval], deadline: .now + .seconds(3600))
        let number = { (column: Int) in result.value(0, column).flatMap { Int($0) } ?? 0 }
        return Pruned(
            droppedPartitions: number(0), executions: number(1), errors: number(2), reprocessings: number(3),
            jobs: number(4))
    }

    /// Creates the coming days at most once an hour, from a worker between requests (spread over
    /// the first minute, so a pool started at once does not do it at once). No request pays for it.
    public struct Upkeep {
        public static let interval: Duration = .seconds(3600)
        private var next: ContinuousClock.Instant

        public init() {
            next = .now + .milliseconds(Int.random(in: 1000...60_000))
        }

        /// Creates what is missing when due; nil when not due or it failed (the next hour retries,
        /// and meanwhile the default partition takes the rows).
        @discardableResult
        public mutating func runIfDue(on connection: PGConnection, now: ContinuousClock.Instant = .now) -> Int? {
            guard now >= next else { return nil }
            next = now + Self.interval
            do {
                return try ExecutionRetention.createPartitions(on: connection)
            } catch {
                Log.warning(
                    "could not create the coming days' execution partitions", ["error": .string(error.description)],
                    component: .audit)
                return nil
            }
        }
    }
}
