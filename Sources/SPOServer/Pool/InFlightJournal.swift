import Foundation
import Glibc
import SPOCore
import SPOJSON

/// A one-record file per worker slot saying which execution the worker is running right now.
///
/// The worker writes it before calling the procedure and clears it once the execution is
/// audited. When a worker dies (even by `kill -9`), the supervisor finds the record and audits the
/// execution as `interrupted`, so no execution goes unrecorded.
///
/// The file is mapped into the worker's memory (shared), so noting and clearing a record costs no
/// system call; the kernel keeps the pages when the process dies, and the supervisor reads them
/// back through the file. A record of any size (up to the body limit) is kept whole.
public final class InFlightJournal {
    /// The mapping a journal starts with. A larger record (parameters of up to the body limit)
    /// grows the file and the mapping once; the file keeps its size, so the worker that replaces
    /// this one maps it whole from the start.
    static let initialCapacity = 64 * 1024
    private var mapping: UnsafeMutableRawPointer
    private var capacity: Int
    private let descriptor: Int32
    /// Where a record is written before it is copied in, kept from request to request.
    private var scratch: [UInt8] = []
    public let path: String

    /// A worker's journal slots: one for the execution running, one for the execution whose
    /// answer waits for its audit row's commit (`DeferredAnswer`).
    static let slotCount = 2

    /// The files of a worker's journal slots: `base` (`<socket>.inflight`), then `base.1`.
    public static func slotPaths(_ base: String) -> [String] {
        (0..<slotCount).map { $0 == 0 ? base : "\(base).\($0)" }
    }

    /// Opens (creating) and maps the journal at `path`.
    public init?(path: String) {
        let descriptor = PrivateFile.open(path, O_RDWR)
        guard descriptor >= 0 else { return nil }
        var status = stat()
        let capacity = fstat(descriptor, &status) == 0 ? max(Int(status.st_size), InFlightJournal.initialCapacity) : 0
        guard capacity > 0, ftruncate(descriptor, off_t(capacity)) == 0,
            let mapping = mmap(nil, capacity, PROT_READ | PROT_WRITE, MAP_SHARED, descriptor, 0),
            mapping != MAP_FAILED
        else {
            close(descriptor)
            return nil
        }
        self.descriptor = descriptor
        self.mapping = mapping
        self.capacity = capacity
        self.path = path
        scratch.reserveCapacity(1024)
        end()
    }

    deinit {
        munmap(mapping, capacity)
        close(descriptor)
    }

    /// Records the execution about to run, ending in a newline (bytes of an older, longer record
    /// may follow it and are ignored).
    public func begin(_ entry: InFlightEntry) {
        scratch.removeAll(keepingCapacity: true)
        entry.write(to: &scratch)
        scratch.append(UInt8(ascii: "\n"))
        guard scratch.count <= capacity || grow(to: scratch.count) else {
            Log.error("the in-flight journal cannot hold this execution", ["bytes": .number(scratch.count)])
            return
        }
        // The first byte goes last, so a reader never sees a new first byte before the rest.
        scratch.withUnsafeBytes { source in
            (mapping + 1).copyMemory(from: source.baseAddress! + 1, byteCount: source.count - 1)
        }
        mapping.storeBytes(of: scratch[0], as: UInt8.self)
        // A rare large record's buffer is not kept for the small ones after it.
        if scratch.capacity > InFlightJournal.initialCapacity { scratch = [] }
    }

    /// Makes the file and the mapping hold at least `size` bytes (the file stays sparse).
    private func grow(to size: Int) -> Bool {
        var wanted = capacity
        while wanted < size { wanted *= 2 }
        guard ftruncate(descriptor, off_t(wanted)) == 0,
            let larger = mmap(nil, wanted, PROT_READ | PROT_WRITE, MAP_SHARED, descriptor, 0), larger != MAP_FAILED
        else { return false }
        munmap(mapping, capacity)
        mapping = larger
        capacity = wanted
        return true
    }

    /// Marks that nothing is in flight: a newline over the record's first byte.
    public func end() { mapping.storeBytes(of: UInt8(ascii: "\n"), as: UInt8.self) }

    /// Reads and clears what a dead worker left behind.
    public static func takeLeftover(at path: String) -> InFlightEntry? {
        // Read and cleared as a private file: the supervisor may be root, and the path is in a
        // directory its workers can write.
        let descriptor = PrivateFile.open(path, O_RDWR, create: false)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = read(descriptor, &buffer, buffer.count)
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            data += buffer[..<count]
            if buffer[..<count].contains(UInt8(ascii: "\n")) { break }  // the record ends at its newline
        }
        guard !data.isEmpty else { return nil }
        // Clear it for the replacement worker, which maps the same file.
        var newline = UInt8(ascii: "\n")
        _ = pwrite(descriptor, &newline, 1, 0)
        let record = data.prefix { $0 != UInt8(ascii: "\n") }
        guard !record.isEmpty else { return nil }
        return (try? JSONValue.parse(Array(record))).flatMap(InFlightEntry.init)
    }
}
