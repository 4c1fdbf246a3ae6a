internal import CJansson

extension JSONValue {
    /// The compact JSON text of this value.
    ///
    /// Strings are encoded by jansson; numbers and `raw` fragments are written as their exact
    /// text, which jansson's encoder cannot do (it only knows 64-bit integers and doubles).
    public func serialized() -> String {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        write(to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the compact JSON text of this value to `out`.
    public func write(to out: inout [UInt8]) {
        switch self {
        case .null: out.appendUTF8("null")
        case .bool(let value): out.appendUTF8(value ? "true" : "false")
        case .number(let text): out.appendUTF8(text)
        case .raw(let text): out.appendUTF8(text)
        case .string(let text): JSONValue.writeString(text, to: &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (index, item) in items.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                item.write(to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for (index, member) in members.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                JSONValue.writeString(member.key, to: &out)
                out.append(UInt8(ascii: ":"))
                member.value.write(to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// Appends `milliseconds` rounded to the microsecond, without trailing zeros (`12`, `1.5`,
    /// `0.125`), or `null` when it is not finite. A duration written on every request: the
    /// shortest round-trip form of a double (`String(Double)`) costs several times as much.
    public static func writeMilliseconds(_ milliseconds: Double, to out: inout [UInt8]) {
        guard milliseconds.isFinite, abs(milliseconds) < 1e12 else {
            JSONValue.number(milliseconds).write(to: &out)
            return
        }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 24) { buffer in
            out.append(contentsOf: buffer[..<formatMilliseconds(milliseconds, into: buffer)])
        }
    }

    /// `milliseconds` in `writeMilliseconds`'s form as a string; nil when it is not finite. Built
    /// in place: a duration under eleven days fits a small string, which needs no allocation.
    public static func millisecondsText(_ milliseconds: Double) -> String? {
        guard milliseconds.isFinite else { return nil }
        guard abs(milliseconds) < 1e9 else {
            var out: [UInt8] = []
            writeMilliseconds(milliseconds, to: &out)
            return String(decoding: out, as: UTF8.self)
        }
        // At most 14 bytes: a sign, 9 digits, the point and 3 more.
        return String(unsafeUninitializedCapacity: 15) { formatMilliseconds(milliseconds, into: $0) }
    }

    /// `milliseconds` as a JSON number in `writeMilliseconds`'s form: a duration in an answer.
    public static func milliseconds(_ milliseconds: Double) -> JSONValue {
        millisecondsText(milliseconds).map(JSONValue.number) ?? .number(milliseconds)
    }

    /// Writes `milliseconds` (finite, under 1e12 in magnitude) rounded to the microsecond into
    /// `buffer` (room for 17 bytes, or 14 under 1e9); the number of bytes written.
    private static func formatMilliseconds(_ milliseconds: Double, into buffer: UnsafeMutableBufferPointer<UInt8>)
        -> Int
    {
        var count = 0
        var micros = Int64((milliseconds * 1000).rounded())
        if micros < 0 {
            buffer[0] = UInt8(ascii: "-")
            count = 1
            micros = -micros
        }
        var whole = micros / 1000
        var digits = 1
        var rest = whole
        while rest >= 10 {
            rest /= 10
            digits += 1
        }
        for position in (count..<count + digits).reversed() {
            buffer[position] = UInt8(ascii: "0") + UInt8(whole % 10)
            whole /= 10
        }
        count += digits
        var fraction = Int(micros % 1000)
        guard fraction > 0 else { return count }
        buffer[count] = UInt8(ascii: ".")
        count += 1
        var divisor = 100
        while fraction > 0 {
            buffer[count] = UInt8(ascii: "0") + UInt8(fraction / divisor)
            count += 1
            fraction %= divisor
            divisor /= 10
        }
        return count
    }

    /// Appends the decimal digits of `value`.
    public static func writeDigits(_ value: UInt64, to out: inout [UInt8]) {
        guard value >= 10 else {
            out.append(UInt8(ascii: "0") + UInt8(value))
            return
        }
        writeDigits(value / 10, to: &out)
        out.append(UInt8(ascii: "0") + UInt8(value % 10))
    }

    /// Appends `value` as a JSON number (a `-` and its digits when negative).
    public static func writeInteger(_ value: Int64, to out: inout [UInt8]) {
        if value < 0 { out.append(UInt8(ascii: "-")) }
        writeDigits(value.magnitude, to: &out)
    }

    /// Appends `text` as a JSON string literal, escaped by jansson.
    public static func writeString(_ text: String, to out: inout [UInt8]) {
        // Nothing to escape: skip the C round trip on the common case (names, ids, statuses),
        // scanning the string's own bytes (iterating `utf8` checked every index, and showed).
        let plain = text.utf8.withContiguousStorageIfAvailable { bytes -> Bool in
            guard isPlain(bytes) else { return false }
            out.append(UInt8(ascii: "\""))
            out.append(contentsOf: bytes)
            out.append(UInt8(ascii: "\""))
            return true
        }
        if plain == true { return }
        var text = text
        text.withUTF8 { utf8 in
            utf8.withMemoryRebound(to: CChar.self) { chars in
                guard let node = json_stringn_nocheck(chars.baseAddress, chars.count) else { return }
                defer { json_decref(node) }
                let flags = Int(JSON_ENCODE_ANY | JSON_COMPACT)
                let size = json_dumpb(node, nil, 0, flags)
                let start = out.count
                out.append(contentsOf: repeatElement(0, count: size))
                out.withUnsafeMutableBufferPointer { buffer in
                    let target = UnsafeMutableRawPointer(buffer.baseAddress! + start).assumingMemoryBound(
                        to: CChar.self)
                    _ = json_dumpb(node, target, size, flags)
                }
            }
        }
    }

    /// Whether `bytes` need no escaping: no control character, no byte from DEL up (non-ASCII
    /// goes to jansson), no quote, backslash or slash. Eight bytes at a time, with the classic
    /// "has a byte less than / equal to" word tests: the byte loop it replaces was most of the
    /// cost of writing the ids and names of every request.
    private static func isPlain(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        var index = 0
        while index + 8 <= bytes.count {
            if needsEscape(UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self)) { return false }
            index += 8
        }
        while index < bytes.count {
            let byte = base[index]
            if byte < 0x20 || byte >= 0x7F || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\")
                || byte == UInt8(ascii: "/")
            {
                return false
            }
            index += 1
        }
        return true
    }

    /// Whether any of the eight bytes of `word` is one `isPlain` refuses. Each test is exact about
    /// whether such a byte exists (a borrow or carry only ever starts at a byte that is one).
    @inline(__always)
    private static func needsEscape(_ word: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        func hasZeroByte(_ value: UInt64) -> Bool { (value &- ones) & ~value & highs != 0 }
        let below0x20 = (word &- ones &* 0x20) & ~word & highs != 0
        let from0x7F = (word | (word &+ ones)) & highs != 0
        return below0x20 || from0x7F || hasZeroByte(word ^ (ones &* 0x22)) || hasZeroByte(word ^ (ones &* 0x5C))
            || hasZeroByte(word ^ (ones &* 0x2F))
    }
}
