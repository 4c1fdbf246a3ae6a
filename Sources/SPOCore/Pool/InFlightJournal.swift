import Foundation
import Glibc
import SPOJSON

/// A one-record file per worker slot saying which execution the worker is running right now.
///
/// The worker writes it before calling the procedure and clears it once the execution is
/// audited. When a worker dies (even by `kill -9`), the supervisor finds the record and audits the
/// execution as `interrupted`, so no execution goes unrecorded.
public final class InFlightJournal {
    private let descriptor: Int32
    public let path: String

    /// Opens (creating) the journal at `path`.
    public init?(path: String) {
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { return nil }
        self.descriptor = descriptor
        self.path = path
    }

    deinit { close(descriptor) }

    /// Records the execution about to run: one `pwrite`, the record ending in a newline (bytes of
    /// an older, longer record may follow it and are ignored).
    public func begin(_ record: JSONValue) {
        var bytes: [UInt8] = []
        record.write(to: &bytes)
        bytes.append(UInt8(ascii: "\n"))
        bytes.withUnsafeBytes { _ = pwrite(descriptor, $0.baseAddress, $0.count, 0) }
    }

    /// Marks that nothing is in flight: one `pwrite` of a newline over the record's first byte.
    public func end() {
        var newline = UInt8(ascii: "\n")
        _ = pwrite(descriptor, &newline, 1, 0)
    }

    /// Reads and clears what a dead worker left behind.
    public static func takeLeftover(at path: String) -> JSONValue? {
        guard let data = FileManager.default.contents(atPath: path), !data.isEmpty else { return nil }
        truncate(path, 0)
        let record = data.prefix { $0 != UInt8(ascii: "\n") }
        guard !record.isEmpty else { return nil }
        return try? JSONValue.parse(Array(record))
    }
}
