import Glibc
import SPOCore
import Synchronization

/// Time-ordered (version 7) UUIDs, as lowercase text: 48 bits of Unix milliseconds and 12 of its
/// fraction, then 62 random bits from the kernel's CSPRNG.
///
/// Time order makes them cheap primary keys for the audit tables (each insert lands at the right
/// edge of the index, like a sequence) and lets listings page by id, while staying unguessable.
///
/// Foundation's `UUID()` opens and reads `/dev/urandom` for every id; on the request path (two ids
/// per request) that was a noticeable share of a worker's system calls. This keeps the device
/// open and reads 4 KiB at a time: one read per 256 ids.
public enum RandomID {
    private struct Pool {
        var bytes = [UInt8](repeating: 0, count: 4096)
        var next = 4096
        var device: Int32 = -1

        /// Calls `body` with the next 16 random bytes.
        mutating func withNext16<T>(_ body: (UnsafeBufferPointer<UInt8>) -> T) -> T {
            if next + 16 > bytes.count { refill() }
            defer { next += 16 }
            return bytes.withUnsafeBufferPointer { body(UnsafeBufferPointer(rebasing: $0[next..<next + 16])) }
        }

        private mutating func refill() {
            if device < 0 { device = open("/dev/urandom", O_RDONLY | O_CLOEXEC) }
            guard device >= 0 else { fatalError("cannot open /dev/urandom: \(String(cString: strerror(errno)))") }
            var filled = 0
            while filled < bytes.count {
                let count = bytes.withUnsafeMutableBytes { buffer in
                    read(device, buffer.baseAddress! + filled, buffer.count - filled)
                }
                if count > 0 {
                    filled += count
                } else if errno != EINTR {
                    fatalError("reading /dev/urandom failed: \(errno)")
                }
            }
            next = 0
        }
    }

    private static let pool = Mutex(Pool())

    /// A new UUID, e.g. `019ab3f4-9a1d-7c2b-8e7f-1a2b3c4d5e6f`.
    public static func uuid() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let milliseconds = UInt64(now.tv_sec) * 1000 + UInt64(now.tv_nsec) / 1_000_000
        // RFC 9562 method 3: the 12 bits after the version hold the fraction of the millisecond, so
        // ids made in the same millisecond still sort by time (to a quarter of a microsecond).
        let fraction = UInt16((UInt64(now.tv_nsec) % 1_000_000) * 4096 / 1_000_000)
        // Written straight into the string's storage: two ids per request, and the arrays this
        // used to build showed in profiles.
        return pool.withLock { pool in
            pool.withNext16 { random in
                String(unsafeUninitializedCapacity: 36) { text in
                    var position = 0
                    for index in 0..<16 {
                        let byte: UInt8 =
                            switch index {
                            case 0..<6: UInt8(truncatingIfNeeded: milliseconds >> (40 - 8 * UInt64(index)))
                            case 6: 0x70 | UInt8(fraction >> 8)  // version 7
                            case 7: UInt8(truncatingIfNeeded: fraction)
                            case 8: random[8] & 0x3f | 0x80  // RFC 9562 variant
                            default: random[index]
                            }
                        if index == 4 || index == 6 || index == 8 || index == 10 {
                            text[position] = UInt8(ascii: "-")
                            position += 1
                        }
                        text[position] = hexDigit(byte >> 4)
                        text[position + 1] = hexDigit(byte & 0x0f)
                        position += 2
                    }
                    return position
                }
            }
        }
    }

    /// The UUID-shaped id (8-4-4-4-12) of 32 hex digits of randomness made elsewhere: nginx's
    /// `$request_id`, from which nginx makes the same id for the answers it gives itself
    /// (`nginx/spo.conf`). Nil for anything else.
    public static func uuid(fromHex digits: String) -> String? {
        var digits = digits
        return digits.withUTF8 { hex in
            guard hex.count == 32, hex.allSatisfy(isHexDigit) else { return nil }
            return String(unsafeUninitializedCapacity: 36) { text in
                var position = 0
                for (index, digit) in hex.enumerated() {
                    if index == 8 || index == 12 || index == 16 || index == 20 {
                        text[position] = UInt8(ascii: "-")
                        position += 1
                    }
                    text[position] = digit
                    position += 1
                }
                return position
            }
        }
    }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
            || (UInt8(ascii: "A")...UInt8(ascii: "F")).contains(byte)
    }

    private static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
    }
}
