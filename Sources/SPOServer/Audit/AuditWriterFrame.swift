import SPOJSON

/// What a worker and the pool's audit writer (`AuditWriter`) say on the writer's socket.
///
/// A worker sends one frame per audit row: a 4-byte big-endian length, then the row's values
/// (those of `AuditLog.Statement.execution`), each a 4-byte big-endian length (`0xFFFFFFFF`
/// for NULL) and its UTF-8 bytes. The writer answers each frame, in order, with one byte once
/// the transaction holding the row has committed (`committed`) or failed (`failed`). An empty
/// frame (`hurry`, four zero bytes) carries no row and gets no answer: its worker is waiting for
/// an answer, so the writer commits the group it is holding now.
enum AuditWriterFrame {
    /// The writer's answer to one frame.
    enum Answer: UInt8 {
        /// The row is committed, as durably as the control connection's `synchronous_commit` says.
        case committed = 0x43  // "C"
        /// The row was not written: the worker writes it itself.
        case failed = 0x46  // "F"
    }

    /// A frame larger than this is refused (a row carries parameters of up to the body limit,
    /// escaped, and the attempt log).
    static let maxBytes = 64 << 20
    private static let null: UInt32 = 0xFFFF_FFFF
    /// The empty frame: "I am waiting: commit what you hold".
    static let hurry: [UInt8] = [0, 0, 0, 0]

    /// A frame written value by value (`AuditLog.statement(for:finishedAt:into:)` fills it).
    struct Builder: AuditValues {
        /// The frame so far: its length (set by `finished`), then the values.
        private var bytes: [UInt8]

        /// `capacity`: the bytes expected, reserved at once (grown from empty, a frame was
        /// reallocated several times).
        init(capacity: Int = 1024) {
            bytes = []
            bytes.reserveCapacity(capacity)
            bytes.append(contentsOf: repeatElement(0, count: 4))
        }

        mutating func append(_ value: String?) {
            guard let value else {
                AuditWriterFrame.append(AuditWriterFrame.null, to: &bytes)
                return
            }
            AuditWriterFrame.append(UInt32(value.utf8.count), to: &bytes)
            bytes.appendUTF8(value)
        }

        mutating func appendText(_ write: (inout [UInt8]) -> Void) {
            let start = bytes.count
            bytes.append(contentsOf: repeatElement(0, count: 4))
            write(&bytes)
            AuditWriterFrame.store(UInt32(bytes.count - start - 4), in: &bytes, at: start)
        }

        /// The frame, its length set.
        consuming func finished() -> [UInt8] {
            AuditWriterFrame.store(UInt32(bytes.count - 4), in: &bytes, at: 0)
            return bytes
        }
    }

    /// The frame carrying `values`, length included.
    static func encode(_ values: [String?]) -> [UInt8] {
        var frame = Builder(capacity: values.reduce(4) { $0 + 4 + ($1?.utf8.count ?? 0) })
        for value in values { frame.append(value) }
        return frame.finished()
    }

    /// The length of the frame starting at `start` in `buffer`, once its 4 length bytes are there.
    static func bodyLength(_ buffer: [UInt8], at start: Int) -> Int? {
        guard buffer.count - start >= 4 else { return nil }
        return Int(read(buffer, at: start))
    }

    /// The values of a frame's body (`buffer[range]`); nil when it is malformed.
    static func decode(_ buffer: [UInt8], _ range: Range<Int>) -> [String?]? {
        var values: [String?] = []
        var offset = range.lowerBound
        while offset < range.upperBound {
            guard range.upperBound - offset >= 4 else { return nil }
            let length = read(buffer, at: offset)
            offset += 4
            if length == null {
                values.append(nil)
                continue
            }
            guard Int(length) <= range.upperBound - offset else { return nil }
            values.append(String(decoding: buffer[offset..<offset + Int(length)], as: UTF8.self))
            offset += Int(length)
        }
        return values
    }

    /// Big-endian, byte by byte: appending a four-byte array literal allocated it, for every value.
    private static func append(_ value: UInt32, to bytes: inout [UInt8]) {
        bytes.append(UInt8(truncatingIfNeeded: value >> 24))
        bytes.append(UInt8(truncatingIfNeeded: value >> 16))
        bytes.append(UInt8(truncatingIfNeeded: value >> 8))
        bytes.append(UInt8(truncatingIfNeeded: value))
    }

    private static func store(_ value: UInt32, in bytes: inout [UInt8], at offset: Int) {
        for index in 0..<4 { bytes[offset + index] = UInt8(truncatingIfNeeded: value >> (24 - 8 * index)) }
    }

    private static func read(_ buffer: [UInt8], at offset: Int) -> UInt32 {
        UInt32(buffer[offset]) << 24 | UInt32(buffer[offset + 1]) << 16 | UInt32(buffer[offset + 2]) << 8
            | UInt32(buffer[offset + 3])
    }
}
