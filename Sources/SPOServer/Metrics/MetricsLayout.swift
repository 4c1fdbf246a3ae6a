/// Where each counter lives in the pool's metrics file (`<upstream>.metrics` beside the pool's
/// queue socket), in 64-bit words.
///
/// ```
/// header (512 words)        magic, version, slots in use                       written by the supervisor
/// slot records (256 × 32)   per worker slot: pid, restarts, crash streak, …    written by the supervisor
/// worker regions (256 × …)  per slot: busy, requests, then the service table   written by that slot's worker
/// ```
///
/// Each region has one writer, so no word needs a lock. A slot keeps its region for the life of
/// the supervisor: the worker that replaces a dead one continues its counters, so they never go
/// backwards. Names (services, slot labels) are stored as words, written once before their
/// length word is published.
enum MetricsLayout {
    static let magic: UInt64 = 0x5350_4F4D_4554_5231  // "SPOMETR1"

    // MARK: Header

    static let magicWord = 0
    static let slotsInUseWord = 1
    static let headerWords = 512

    // MARK: Slot records (the supervisor's)

    /// Worker slots one file holds: lines of the upstream block over the supervisor's life. A slot
    /// beyond them runs with counters of its own that the pool's totals leave out.
    static let maxSlots = 256
    static let slotRecordWords = 32
    enum Slot {
        static let pid = 0
        static let restarts = 1
        /// Quick deaths in a row; the restart backoff grows with it.
        static let crashStreak = 2
        /// 1 while the slot is restarted with backoff.
        static let crashLooping = 3
        /// 1 once the line left the upstream block (its counters still count).
        static let retired = 4
        static let labelLength = 5
        static let label = 6
        static let labelWords = 16
    }
    static func slotRecord(_ slot: Int) -> Int { headerWords + slot * slotRecordWords }

    // MARK: Worker regions (each worker's own)

    static let regionHeaderWords = 64
    enum Region {
        /// 1 while the worker is answering a request.
        static let busy = 0
        /// Every request the worker answered, of any endpoint.
        static let requests = 1
        /// Set by the worker itself when no supervisor keeps the slot records.
        static let pid = 2
        /// Error rows not written for requests without a valid key (`ErrorRowBudget`).
        static let droppedErrorRows = 3
        /// The configuration generation the worker serves (`Configuration.generation`).
        static let configurationGeneration = 4
    }

    /// Services with a label of their own in one worker's table; beyond them, `_other`.
    static let maxServices = 256
    /// The label of executions naming no configured service (unknown names must not make labels).
    static let unknownService = "_unknown"
    /// The label of services beyond `maxServices`.
    static let otherServices = "_other"
    /// Entry 0 is `_unknown`, entry 1 `_other`, then the services in the order first seen.
    static let entryCount = maxServices + 2
    static let entryWords = 64
    enum Entry {
        static let nameLength = 0
        static let name = 1
        static let nameWords = 8
        static let buckets = 9
        static let durationSumNanoseconds = buckets + bucketBoundsNanoseconds.count + 1
        static let attempts = durationSumNanoseconds + 1
        static let retries = attempts + 1
        static let replays = retries + 1
        /// Requests whose status found no free pair.
        static let otherStatuses = replays + 1
        /// `statusPairs` × (status, count).
        static let statuses = otherStatuses + 1
        static let statusPairs = 16
    }

    /// Upper bounds of the latency histogram's buckets, in seconds (then `+Inf`): executions take
    /// milliseconds, timeouts seconds.
    static let bucketBounds: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
    static let bucketBoundsNanoseconds: [UInt64] = bucketBounds.map { UInt64(($0 * 1e9).rounded()) }

    static let regionWords = regionHeaderWords + entryCount * entryWords
    static func region(_ slot: Int) -> Int { headerWords + maxSlots * slotRecordWords + slot * regionWords }

    /// The whole file (sparse: only the slots in use are ever touched).
    static let fileWords = region(maxSlots)
    /// A lone worker's memory (no supervisor): the header, one slot record, one region.
    static let singleSlotWords = region(1)
}
