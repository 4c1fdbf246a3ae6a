import Foundation
import SPOSharedMemory

/// The supervisor's side of the pool's metrics file: it makes the file, gives each line of the
/// upstream block a slot for good (a line removed and listed again gets its slot back, so its
/// counters go on), and writes the slot records: pid, restarts, crash streak.
final class PoolMetricsFile {
    let path: String
    private let memory: SharedMemory
    private var slots: [String: Int] = [:]

    /// Makes the file at `path` anew (counters start at zero with the pool). The file a previous
    /// pool left is removed, not reused: a supervisor started as root finds it owned by the
    /// workers' user it was handed over to, and refusing it left /metrics without the pool's counts.
    init(path: String) throws(SharedMemoryError) {
        self.path = path
        unlink(path)
        memory = try SharedMemory(path: path, wordCount: MetricsLayout.fileWords, reset: true)
        memory.store(MetricsLayout.magicWord, MetricsLayout.magic)
    }

    /// The slot of the line `label`; nil once every slot was given out.
    func slot(for label: String) -> Int? {
        if let slot = slots[label] { return slot }
        guard slots.count < MetricsLayout.maxSlots else { return nil }
        let slot = slots.count
        let record = MetricsLayout.slotRecord(slot)
        memory.storeText(
            label, at: record + MetricsLayout.Slot.label, words: MetricsLayout.Slot.labelWords,
            lengthIndex: record + MetricsLayout.Slot.labelLength)
        slots[label] = slot
        memory.store(MetricsLayout.slotsInUseWord, UInt64(slots.count))
        return slot
    }

    /// A worker started in `slot` (pid) or its worker is gone (0).
    func setPID(_ pid: pid_t, slot: Int) {
        let record = MetricsLayout.slotRecord(slot)
        memory.store(record + MetricsLayout.Slot.pid, UInt64(max(pid, 0)))
        // A worker killed mid-request left its busy flag up; it is its region, but its writer is dead.
        if pid == 0 { memory.store(MetricsLayout.region(slot) + MetricsLayout.Region.busy, 0) }
    }

    func countRestart(slot: Int) {
        memory.add(MetricsLayout.slotRecord(slot) + MetricsLayout.Slot.restarts, 1)
    }

    func setCrashStreak(_ streak: Int, looping: Bool, slot: Int) {
        let record = MetricsLayout.slotRecord(slot)
        memory.store(record + MetricsLayout.Slot.crashStreak, UInt64(streak))
        memory.store(record + MetricsLayout.Slot.crashLooping, looping ? 1 : 0)
    }

    func setRetired(_ retired: Bool, slot: Int) {
        memory.store(MetricsLayout.slotRecord(slot) + MetricsLayout.Slot.retired, retired ? 1 : 0)
    }
}
