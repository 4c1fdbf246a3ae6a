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
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let value): out.append(contentsOf: (value ? "true" : "false").utf8)
        case .number(let text): out.append(contentsOf: text.utf8)
        case .raw(let text): out.append(contentsOf: text.utf8)
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
        var micros = Int64((milliseconds * 1000).rounded())
        if micros < 0 {
            out.append(UInt8(ascii: "-"))
            micros = -micros
        }
        writeDigits(UInt64(micros / 1000), to: &out)
        var fraction = Int(micros % 1000)
        guard fraction > 0 else { return }
        out.append(UInt8(ascii: "."))
        var divisor = 100
        while fraction > 0 {
            out.append(UInt8(ascii: "0") + UInt8(fraction / divisor))
            fraction %= divisor
            divisor /= 10
        }
    }

    /// `milliseconds` as a JSON number in `writeMilliseconds`'s form: a duration in an answer.
    public static func milliseconds(_ milliseconds: Double) -> JSONValue {
        var out: [UInt8] = []
        writeMilliseconds(milliseconds, to: &out)
        return .number(String(decoding: out, as: UTF8.self))
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

    private static func isPlain(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        for byte in bytes
        where byte < 0x20 || byte >= 0x7F || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\")
            || byte == UInt8(ascii: "/")
        {
            return false
        }
        return true
    }
}
