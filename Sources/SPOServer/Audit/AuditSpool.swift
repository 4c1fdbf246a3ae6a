import Foundation
import Glibc
import SPOCore
import SPOJSON
import SPOPostgres

/// The local, durable fallback of the audit: records the control database could not take are
/// appended here (and on disk, `fdatasync`) before the answer naming them is sent, and replayed
/// into the control database once it is back.
///
/// One file per worker slot, `<socket path>.spool`, in the instance's private run directory. Each
/// record is one line, `<FNV-1a 64 of the JSON, 16 hex digits> <JSON>\n`, holding the audit
/// statement and its values. A line that is cut short (the machine died mid-write) or damaged
/// fails its checksum and is skipped; the records after it are still read. Replaying is
/// idempotent (the audit statements do nothing for a row that exists), so a record replayed twice
/// — the replayer died between commit and truncation — is harmless.
///
/// Appending takes an exclusive `flock`, as does truncating: a supervisor replaying at start never
/// truncates away a record that a worker of the previous supervisor, still finishing, appended.
public final class AuditSpool {
    public let path: String
    private let descriptor: Int32
    /// Where the records already committed by `replay` end.
    private var replayedUpTo = 0
    /// How far this process knows the file goes; more than `replayedUpTo` means records wait.
    private var knownEnd = 0
    /// Set when a write may have left a partial line: the next record starts on a line of its own.
    private var needsNewline = false

    /// Free space a spool needs to be counted on: the largest record is a few MiB (a request body
    /// of up to 1 MiB, escaped, and its error).
    static let reserveBytes: UInt64 = 16 << 20

    /// Records written per replay transaction; a worker replays one batch between requests.
    public static let batchSize = 200

    /// Opens (creating) the spool at `path`; nil when it cannot be a regular file of this process.
    public init?(path: String) {
        let descriptor = PrivateFile.open(path, O_RDWR | O_APPEND)
        guard descriptor >= 0 else { return nil }
        var status = stat()
        guard fstat(descriptor, &status) == 0, status.st_mode & S_IFMT == S_IFREG else {
            close(descriptor)
            return nil
        }
        self.path = path
        self.descriptor = descriptor
        knownEnd = Int(status.st_size)
        if knownEnd > 0 {
            // A line torn by a crash is ended now, so it is read (and skipped) as one damaged line
            // instead of swallowing the record appended after it.
            var last: UInt8 = 0
            if pread(descriptor, &last, 1, off_t(knownEnd - 1)) != 1 || last != UInt8(ascii: "\n") {
                var newline = UInt8(ascii: "\n")
                needsNewline = Glibc.write(descriptor, &newline, 1) != 1
                if !needsNewline { knownEnd += 1 }
            }
        }
    }

    deinit { close(descriptor) }

    /// Whether records wait to be replayed (as far as this process knows; no system call).
    public var hasPending: Bool { knownEnd > replayedUpTo }

    /// Whether a record can be counted on to be spooled: the file is still there (a spool deleted
    /// under a running worker would take its records with it when the worker exits) and its file
    /// system has room.
    public var isWritable: Bool {
        var space = statvfs()
        guard isLinked, fstatvfs(descriptor, &space) == 0 else { return false }
        return UInt64(space.f_bavail) * UInt64(space.f_frsize) >= AuditSpool.reserveBytes
    }

    private var isLinked: Bool {
        var status = stat()
        return fstat(descriptor, &status) == 0 && status.st_nlink > 0
    }

    /// Appends one audit statement with its values and waits until it is on disk. False when it
    /// could not be written (disk full, I/O error): then the record must not be counted on.
    func append(_ statement: AuditLog.Statement, _ values: [String?]) -> Bool {
        let json = JSONValue.object([
            "statement": .string(statement.rawValue),
            "values": .array(values.map { $0.map(JSONValue.string) ?? .null }),
        ])
        var bytes: [UInt8] = needsNewline ? [UInt8(ascii: "\n")] : []
        var body: [UInt8] = []
        json.write(to: &body)
        bytes += Array(AuditSpool.checksum(body).utf8) + [UInt8(ascii: " ")] + body + [UInt8(ascii: "\n")]
        guard isLinked, flock(descriptor, LOCK_EX) == 0 else { return false }
        defer { flock(descriptor, LOCK_UN) }
        var written = 0
        while written < bytes.count {
            let count = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress! + written, $0.count - written) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else {
                needsNewline = true
                return false
            }
            written += count
        }
        knownEnd += written
        needsNewline = false
        return fdatasync(descriptor) == 0
    }

    /// Writes the next batch of spooled records to the control database in one transaction, and
    /// empties the file once everything in it is committed. Returns how many records were
    /// written; throws when the control database is unreachable (nothing is lost: the records stay).
    @discardableResult
    public func replay(on connection: PGConnection, batch: Int = AuditSpool.batchSize) throws(PGError) -> Int {
        let (records, end) = read(from: replayedUpTo, limit: batch)
        if !records.isEmpty { try AuditSpool.commit(records, on: connection, rejectedPath: path + ".rejected") }
        let progressed = end > replayedUpTo
        replayedUpTo = end
        settle(progressed: progressed)
        return records.count
    }

    /// Replays everything (the supervisor, for a slot without a worker).
    @discardableResult
    public func replayAll(on connection: PGConnection) throws(PGError) -> Int {
        var total = 0
        while hasPending { total += try replay(on: connection) }
        return total
    }

    // MARK: - Reading

    typealias Record = (statement: AuditLog.Statement, values: [String?], line: ArraySlice<UInt8>)

    /// Up to `limit` intact records from `offset`, and where the last line read ends. An
    /// unterminated last line is left for later: it is either being written or torn. Reads a few
    /// MiB at a time (more only for a record that does not fit), so a long outage's backlog is
    /// never read whole.
    private func read(from offset: Int, limit: Int) -> ([Record], Int) {
        guard flock(descriptor, LOCK_EX) == 0 else { return ([], offset) }
        defer { flock(descriptor, LOCK_UN) }
        var status = stat()
        let size = fstat(descriptor, &status) == 0 ? Int(status.st_size) : knownEnd
        var chunk = AuditSpool.chunkBytes
        while true {
            var bytes = [UInt8](repeating: 0, count: min(chunk, max(0, size - offset)))
            let count = bytes.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, off_t(offset)) }
            guard count > 0 else { return ([], offset) }
            let (records, end) = AuditSpool.records(in: bytes[0..<count], startingAt: offset, limit: limit, path: path)
            if end > offset || offset + count >= size { return (records, end) }
            chunk *= 2
        }
    }

    static let chunkBytes = 4 << 20

    /// Parses the lines of `bytes` (which starts at file offset `base`).
    static func records(in bytes: ArraySlice<UInt8>, startingAt base: Int, limit: Int, path: String) -> ([Record], Int)
    {
        var records: [Record] = []
        var start = bytes.startIndex
        while records.count < limit, let newline = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) {
            let line = bytes[start..<newline]
            start = newline + 1
            if line.isEmpty { continue }
            if let record = record(line) {
                records.append(record)
            } else {
                Log.error(
                    "skipped a damaged audit spool record",
                    ["spool": .string(path), "offset": .number(base + line.startIndex - bytes.startIndex)],
                    component: .audit)
            }
        }
        return (records, base + start - bytes.startIndex)
    }

    private static func record(_ line: ArraySlice<UInt8>) -> Record? {
        guard line.count > 17, line[line.startIndex + 16] == UInt8(ascii: " ") else { return nil }
        let body = line[(line.startIndex + 17)...]
        guard String(decoding: line.prefix(16), as: UTF8.self) == checksum(body),
            let json = try? JSONValue.parse(Array(body)),
            let statement = json["statement"]?.stringValue.flatMap(AuditLog.Statement.init(rawValue:)),
            let values = json["values"]?.arrayValue
        else { return nil }
        return (statement, values.map(\.stringValue), line)
    }

    // MARK: - Writing to the control database

    /// One transaction for the batch; when the database refuses a record (not a connection
    /// failure), each is written alone and the refused ones are set aside in `rejectedPath`, so one
    /// bad record never blocks the others.
    private static func commit(_ records: [Record], on connection: PGConnection, rejectedPath: String) throws(PGError) {
        do throws(PGError) {
            try connection.execute("BEGIN")
            for record in records { try AuditLog.run(record.statement, record.values, on: connection, tolerant: true) }
            try connection.execute("COMMIT")
            return
        } catch {
            _ = try? connection.execute("ROLLBACK")
            guard error.kind == .server else { throw error }
        }
        for record in records {
            do throws(PGError) {
                try AuditLog.run(record.statement, record.values, on: connection, tolerant: true)
            } catch  where error.kind == .server {
                Log.error(
                    "the control database refused a spooled audit record; set aside",
                    ["rejected": .string(rejectedPath), "error": .string(error.description)], component: .audit)
                setAside(record.line, in: rejectedPath)
            }
        }
    }

    /// Empties the file when every record in it is committed and nobody appended meanwhile.
    /// Without progress (only an unterminated line is left: a write that failed half-way), nothing
    /// is pending until the next record is appended, so the worker does not read it again and again.
    private func settle(progressed: Bool) {
        guard flock(descriptor, LOCK_EX) == 0 else { return }
        defer { flock(descriptor, LOCK_UN) }
        var status = stat()
        let size = fstat(descriptor, &status) == 0 ? Int(status.st_size) : knownEnd
        if size == replayedUpTo, ftruncate(descriptor, 0) == 0 {
            replayedUpTo = 0
            knownEnd = 0
            needsNewline = false
        } else {
            knownEnd = progressed ? size : replayedUpTo
        }
    }

    /// Appends a refused record to the file of records set aside, for an operator to look at.
    private static func setAside(_ line: ArraySlice<UInt8>, in path: String) {
        let descriptor = PrivateFile.open(path, O_WRONLY | O_APPEND)
        guard descriptor >= 0 else { return }
        defer { close(descriptor) }
        let bytes = Array(line) + [UInt8(ascii: "\n")]
        _ = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
        fdatasync(descriptor)
    }

    /// FNV-1a, 64 bits, as 16 hex digits: enough to tell a torn or damaged line from a whole one.
    static func checksum(_ bytes: ArraySlice<UInt8>) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    static func checksum(_ bytes: [UInt8]) -> String { checksum(bytes[...]) }
}
