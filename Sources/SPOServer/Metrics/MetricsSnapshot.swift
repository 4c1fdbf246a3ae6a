import Foundation
import SPOSharedMemory

/// The pool's counters at one moment: every slot's region of the metrics memory, summed.
///
/// Read by whichever worker answers `GET /metrics` or `GET /api/stats`; it reads what the other
/// workers are writing meanwhile, so a snapshot is exact per word, not across words.
public struct MetricsSnapshot: Sendable {
    /// One service's execution requests, over every worker.
    public struct Service: Sendable, Equatable {
        public var name: String
        /// Requests by HTTP status.
        public var statuses: [Int: UInt64] = [:]
        /// Requests whose status did not fit a worker's status table (16 per service).
        public var otherStatuses: UInt64 = 0
        /// Latency histogram, one count per bucket of `MetricsLayout.bucketBounds` then `+Inf`
        /// (not cumulative).
        public var buckets = [UInt64](repeating: 0, count: MetricsLayout.bucketBounds.count + 1)
        public var durationSumNanoseconds: UInt64 = 0
        public var attempts: UInt64 = 0
        public var retries: UInt64 = 0
        public var replays: UInt64 = 0

        /// Every request counted.
        public var requests: UInt64 { statuses.values.reduce(otherStatuses, +) }
        /// Requests answered with a status of 500 or more.
        public var serverErrors: UInt64 { statuses.filter { $0.key >= 500 }.values.reduce(0, +) }
    }

    /// One worker slot (a line of the upstream block, or the lone worker).
    public struct Worker: Sendable, Equatable {
        public var slot: Int
        /// The line's address.
        public var label: String
        /// 0 while no worker runs in the slot.
        public var pid: Int
        public var busy: Bool
        /// Requests of every endpoint this slot's workers answered.
        public var requests: UInt64
        /// Workers started in the slot after the first.
        public var restarts: UInt64
        /// Restarted with backoff, having died quickly several times in a row.
        public var crashLooping: Bool
        /// Quick deaths in a row.
        public var crashStreak: UInt64
        /// The line left the upstream block; its counters still count.
        public var retired: Bool
        /// Error rows this slot did not write for requests without a valid key (`ErrorRowBudget`).
        public var droppedErrorRows: UInt64 = 0
    }

    public var services: [Service]
    public var workers: [Worker]

    /// Workers running now, busy with a request.
    public var busyWorkers: Int { workers.filter { $0.pid != 0 && $0.busy }.count }
    /// Workers running now, waiting for one.
    public var idleWorkers: Int { workers.filter { $0.pid != 0 && !$0.busy }.count }

    /// Reads and sums every slot in use of `memory`.
    public init(reading memory: SharedMemory) {
        var byName: [String: Service] = [:]
        var workers: [Worker] = []
        let slots = Int(min(memory.load(MetricsLayout.slotsInUseWord), UInt64(MetricsLayout.maxSlots)))
        for slot in 0..<slots {
            workers.append(MetricsSnapshot.worker(slot, memory))
            let base = MetricsLayout.region(slot)
            for index in 0..<MetricsLayout.entryCount {
                let entry = base + MetricsLayout.regionHeaderWords + index * MetricsLayout.entryWords
                guard
                    let name = memory.loadText(
                        at: entry + MetricsLayout.Entry.name, words: MetricsLayout.Entry.nameWords,
                        lengthIndex: entry + MetricsLayout.Entry.nameLength)
                else { break }
                MetricsSnapshot.add(entry, memory, to: &byName[name, default: Service(name: name)])
            }
        }
        services = byName.values.filter { $0.requests > 0 }.sorted { $0.name < $1.name }
        self.workers = workers
    }

    private static func worker(_ slot: Int, _ memory: SharedMemory) -> Worker {
        let record = MetricsLayout.slotRecord(slot)
        let region = MetricsLayout.region(slot)
        let label =
            memory.loadText(
                at: record + MetricsLayout.Slot.label, words: MetricsLayout.Slot.labelWords,
                lengthIndex: record + MetricsLayout.Slot.labelLength) ?? "slot \(slot)"
        return Worker(
            slot: slot, label: label, pid: Int(memory.load(record + MetricsLayout.Slot.pid)),
            busy: memory.load(region + MetricsLayout.Region.busy) != 0,
            requests: memory.load(region + MetricsLayout.Region.requests),
            restarts: memory.load(record + MetricsLayout.Slot.restarts),
            crashLooping: memory.load(record + MetricsLayout.Slot.crashLooping) != 0,
            crashStreak: memory.load(record + MetricsLayout.Slot.crashStreak),
            retired: memory.load(record + MetricsLayout.Slot.retired) != 0,
            droppedErrorRows: memory.load(region + MetricsLayout.Region.droppedErrorRows))
    }

    private static func add(_ entry: Int, _ memory: SharedMemory, to service: inout Service) {
        typealias Entry = MetricsLayout.Entry
        for bucket in service.buckets.indices { service.buckets[bucket] += memory.load(entry + Entry.buckets + bucket) }
        service.durationSumNanoseconds += memory.load(entry + Entry.durationSumNanoseconds)
        service.attempts += memory.load(entry + Entry.attempts)
        service.retries += memory.load(entry + Entry.retries)
        service.replays += memory.load(entry + Entry.replays)
        service.otherStatuses += memory.load(entry + Entry.otherStatuses)
        for pair in 0..<Entry.statusPairs {
            let word = entry + Entry.statuses + 2 * pair
            let status = memory.loadAcquiring(word)
            guard status != 0 else { break }
            service.statuses[Int(status), default: 0] += memory.load(word + 1)
        }
    }
}
