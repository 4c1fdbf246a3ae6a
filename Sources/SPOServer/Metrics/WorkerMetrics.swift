import Foundation
import SPOSharedMemory

/// One worker's counters in the pool's metrics memory, which this worker alone writes.
///
/// Counting a request costs a dictionary look-up of the service and a dozen loads and stores to
/// mapped memory: no system call, no lock, no database write. Whichever worker answers
/// `GET /metrics` reads every slot's region of the same memory (`MetricsSnapshot`).
public final class WorkerMetrics {
    /// The whole pool's memory, for reading everyone's counters.
    public let memory: SharedMemory
    /// The slot whose region this worker writes.
    public let slot: Int
    private let base: Int
    /// Entry (first word) by service name, rebuilt from the region at start: a replacement worker
    /// goes on counting in the entries of the one it replaces.
    private var entries: [String: Int] = [:]
    private var nextEntry = MetricsLayout.entryCount
    /// The service counted last and its entry: nearly every request names the same few, and
    /// comparing a name with itself costs less than hashing it.
    private var last: (service: String, entry: Int)?

    /// The region of `slot` in the pool's metrics file at `path` (made by `spo serve`).
    public init(path: String, slot: Int) throws(SharedMemoryError) {
        guard slot >= 0 && slot < MetricsLayout.maxSlots else {
            throw SharedMemoryError(description: "metrics slot \(slot) is out of range")
        }
        memory = try SharedMemory(path: path, wordCount: MetricsLayout.fileWords, reset: false)
        guard memory.load(MetricsLayout.magicWord) == MetricsLayout.magic else {
            throw SharedMemoryError(description: "\(path) is not a metrics file of this version")
        }
        self.slot = slot
        base = MetricsLayout.region(slot)
        adoptRegion()
    }

    /// Memory of this worker's own, for a worker without a supervisor (under spawn-fcgi, in
    /// tests): `/metrics` then shows this one worker.
    public init() {
        do {
            memory = try SharedMemory(anonymousWordCount: MetricsLayout.singleSlotWords)
        } catch {
            preconditionFailure("cannot map the metrics memory: \(error)")
        }
        slot = 0
        base = MetricsLayout.region(0)
        memory.store(MetricsLayout.magicWord, MetricsLayout.magic)
        memory.store(MetricsLayout.slotsInUseWord, 1)
        let record = MetricsLayout.slotRecord(0)
        memory.store(record + MetricsLayout.Slot.pid, UInt64(getpid()))
        memory.storeText(
            "worker", at: record + MetricsLayout.Slot.label, words: MetricsLayout.Slot.labelWords,
            lengthIndex: record + MetricsLayout.Slot.labelLength)
        adoptRegion()
    }

    private func adoptRegion() {
        memory.store(base + MetricsLayout.Region.busy, 0)
        memory.store(base + MetricsLayout.Region.pid, UInt64(getpid()))
        memory.store(base + MetricsLayout.Region.configurationGeneration, 0)
        for index in 0..<MetricsLayout.entryCount {
            let entry = entryBase(index)
            guard let name = memory.loadText(at: entry + 1, words: MetricsLayout.Entry.nameWords, lengthIndex: entry)
            else {
                nextEntry = index
                break
            }
            entries[name] = entry
            nextEntry = index + 1
        }
        if entries[MetricsLayout.unknownService] == nil { name(entry: 0, MetricsLayout.unknownService) }
        if entries[MetricsLayout.otherServices] == nil { name(entry: 1, MetricsLayout.otherServices) }
        nextEntry = max(nextEntry, 2)
    }

    private func entryBase(_ index: Int) -> Int {
        base + MetricsLayout.regionHeaderWords + index * MetricsLayout.entryWords
    }

    private func name(entry index: Int, _ service: String) {
        let entry = entryBase(index)
        memory.storeText(
            service, at: entry + MetricsLayout.Entry.name, words: MetricsLayout.Entry.nameWords,
            lengthIndex: entry + MetricsLayout.Entry.nameLength)
        entries[service] = entry
    }

    /// The worker took a request.
    @inline(__always)
    public func begin() { memory.store(base + MetricsLayout.Region.busy, 1) }

    /// The worker answered it.
    @inline(__always)
    public func end() {
        memory.add(base + MetricsLayout.Region.requests, 1)
        memory.store(base + MetricsLayout.Region.busy, 0)
    }

    /// The worker serves configuration generation `generation` from now on.
    public func serve(generation: Int64) {
        memory.store(base + MetricsLayout.Region.configurationGeneration, UInt64(max(generation, 0)))
    }

    /// The other workers of the pool whose configuration is older than `generation`: pids of the
    /// slots with a live worker (a slot between restarts, or retired, is waited for by no one).
    public func workersBehind(generation: Int64) -> [Int] {
        let slots = min(Int(memory.load(MetricsLayout.slotsInUseWord)), MetricsLayout.maxSlots)
        return (0..<slots).compactMap { other in
            let record = MetricsLayout.slotRecord(other)
            let pid = memory.load(record + MetricsLayout.Slot.pid)
            guard other != slot, pid != 0, memory.load(record + MetricsLayout.Slot.retired) == 0 else { return nil }
            let served = memory.load(MetricsLayout.region(other) + MetricsLayout.Region.configurationGeneration)
            return served < UInt64(max(generation, 0)) ? Int(pid) : nil
        }
    }

    /// Counts an error row not written for a request without a valid key.
    public func countDroppedErrorRow() { memory.add(base + MetricsLayout.Region.droppedErrorRows, 1) }

    /// Counts one execution request: `service` is a configured service's name (nil: it named
    /// none), `status` the HTTP status answered, `nanoseconds` how long the answer took.
    public func record(service: String?, status: Int, nanoseconds: UInt64, attempts: Int, replayed: Bool) {
        let entry = entry(for: service)
        countStatus(UInt64(status), entry)
        let bounds = MetricsLayout.bucketBoundsNanoseconds
        var bucket = 0
        while bucket < bounds.count && nanoseconds > bounds[bucket] { bucket += 1 }
        memory.add(entry + MetricsLayout.Entry.buckets + bucket, 1)
        memory.add(entry + MetricsLayout.Entry.durationSumNanoseconds, nanoseconds)
        if attempts > 0 { memory.add(entry + MetricsLayout.Entry.attempts, UInt64(attempts)) }
        if attempts > 1 { memory.add(entry + MetricsLayout.Entry.retries, UInt64(attempts - 1)) }
        if replayed { memory.add(entry + MetricsLayout.Entry.replays, 1) }
    }

    private func entry(for service: String?) -> Int {
        guard let service else { return entryBase(0) }
        if let last, last.service == service { return last.entry }
        if let entry = entries[service] {
            last = (service, entry)
            return entry
        }
        guard nextEntry < MetricsLayout.entryCount else { return entryBase(1) }
        name(entry: nextEntry, service)
        nextEntry += 1
        return entries[service]!
    }

    /// The status's pair: the count is the only word that changes once the status is written.
    private func countStatus(_ status: UInt64, _ entry: Int) {
        let pairs = entry + MetricsLayout.Entry.statuses
        for pair in 0..<MetricsLayout.Entry.statusPairs {
            let word = pairs + 2 * pair
            let found = memory.load(word)
            if found == status {
                memory.add(word + 1, 1)
                return
            }
            if found == 0 {
                memory.store(word + 1, 1)
                memory.storeReleasing(word, status)
                return
            }
        }
        memory.add(entry + MetricsLayout.Entry.otherStatuses, 1)
    }
}
