/// The syntax of an id a client chooses (`X-Correlation-ID`, `Idempotency-Key`): 1 to 128 of
/// A-Z a-z 0-9 `-` `_` `.` `:`. Such ids are echoed in headers and logs, so they must be
/// printable, free of separators and bounded. Validation and the OpenAPI document both read it here.
public enum ClientToken {
    /// The longest token, in bytes (which are characters: every accepted byte is ASCII).
    public static let maxLength = 128
    /// The same rule as an OpenAPI (ECMA-262) pattern.
    public static let pattern = "^[A-Za-z0-9_.:-]+$"

    /// Whether `text` is a token. Checked byte by byte: it runs on every request, and asking for
    /// each character's Unicode properties cost a sixth of a request's instructions.
    public static func isValid(_ text: String) -> Bool {
        let utf8 = text.utf8
        guard !utf8.isEmpty, utf8.count <= maxLength else { return false }
        // The string's own bytes when it has them (always, for what libfcgi hands over): iterating
        // `utf8` checks every index, a few times the work of the test.
        return utf8.withContiguousStorageIfAvailable { $0.allSatisfy(isTokenByte) } ?? utf8.allSatisfy(isTokenByte)
    }

    private static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
            UInt8(ascii: ":"):
            true
        default: false
        }
    }
}
