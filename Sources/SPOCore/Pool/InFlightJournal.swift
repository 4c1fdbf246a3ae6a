import Foundation
import Glibc
import SPOJSON

/// A one-record file per worker slot saying which execution the worker is running right now.
///
/// The worker writes it before calling the procedure and clears it once the execution is
/// audited. When a worker dies (even by `kill -9`), the supervisor finds the record and audits the
/// execution as `interrupted`, so no execution goes unrecorded.
///
/// The file is mapped into the worker's memory (shared), so noting and clearing a record costs no
/// system call; the kernel keeps the pages when the process dies, and the supervisor reads them
/// back through the file.
public final class InFlightJournal {
    /// The largest record kept; a larger one (huge parameters) is cut, and then unreadable, which
    /// loses only the recovery of that one execution if its worker dies.
    static let capacity = 64 * 1024
    private let mapping: UnsafeMutableRawPointer
    public let path: String

    /// Opens (creating) and maps the journal at `path`.
    public init?(path: String) {
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        guard ftruncate(descriptor, off_t(InFlightJournal.capacity)) == 0,
            let mapping = mmap(nil, InFlightJournal.capacity, PROT_READ | PROT_WRITE, MAP_SHARED, descriptor, 0),
            mapping != MAP_FAILED
        else { return nil }
        self.mapping = mapping
        self.path = path
        end()
    }

    deinit { munmap(mapping, InFlightJournal.capacity) }

    /// Records the execution about to run, ending in a newline (bytes of an older, longer record
    /// may follow it and are ignored).
    public func begin(_ record: JSONValue) {
        var bytes: [UInt8] = []
        record.write(to: &bytes)
        bytes.append(UInt8(ascii: "\n"))
        let count = min(bytes.count, InFlightJournal.capacity)
        // The first byte goes last, so a reader never sees a new first byte before the rest.
        bytes.withUnsafeBytes { source in
            (mapping + 1).copyMemory(from: source.baseAddress! + 1, byteCount: count - 1)
        }
        mapping.storeBytes(of: bytes[0], as: UInt8.self)
    }

    /// Marks that nothing is in flight: a newline over the record's first byte.
    public func end() { mapping.storeBytes(of: UInt8(ascii: "\n"), as: UInt8.self) }

    /// Reads and clears what a dead worker left behind.
    public static func takeLeftover(at path: String) -> JSONValue? {
        guard let data = FileManager.default.contents(atPath: path), !data.isEmpty else { return nil }
        // Clear it for the replacement worker, which maps the same file.
        if let handle = FileHandle(forWritingAtPath: path) {
            handle.write(Data([UInt8(ascii: "\n")]))
            try? handle.close()
        }
        let record = data.prefix { $0 != UInt8(ascii: "\n") }
        guard !record.isEmpty else { return nil }
        return try? JSONValue.parse(Array(record))
    }
}
