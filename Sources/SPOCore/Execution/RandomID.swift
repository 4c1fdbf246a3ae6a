import Glibc

/// Random (version 4) UUIDs, as lowercase text, from the kernel's CSPRNG.
///
/// Foundation's `UUID()` opens and reads `/dev/urandom` for every id; on the request path (two ids
/// per request) that was a noticeable share of a worker's system calls. This keeps the device
/// open, reads 4 KiB at a time and hands out 16 bytes per id. Per process, not thread-safe: a
/// worker serves one request at a time.
public enum RandomID {
    nonisolated(unsafe) private static var pool = [UInt8](repeating: 0, count: 4096)
    nonisolated(unsafe) private static var next = 4096
    nonisolated(unsafe) private static var device: Int32 = -1

    /// A new random UUID, e.g. `0b5c3f4e-9a1d-4c2b-8e7f-1a2b3c4d5e6f`.
    public static func uuid() -> String {
        // Workers are started with exec, never forked, so the pool is never shared between processes.
        if next + 16 > pool.count { refill() }
        var bytes = pool[next..<next + 16].map { $0 }
        next += 16
        bytes[6] = bytes[6] & 0x0f | 0x40  // version 4
        bytes[8] = bytes[8] & 0x3f | 0x80  // RFC 4122 variant
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(36)
        for (index, byte) in bytes.enumerated() {
            if index == 4 || index == 6 || index == 8 || index == 10 { text.append(UInt8(ascii: "-")) }
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    private static func refill() {
        if device < 0 { device = open("/dev/urandom", O_RDONLY | O_CLOEXEC) }
        guard device >= 0 else { fatalError("cannot open /dev/urandom: \(String(cString: strerror(errno)))") }
        var filled = 0
        while filled < pool.count {
            let count = pool.withUnsafeMutableBytes { buffer in
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
