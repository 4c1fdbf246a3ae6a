/// Whether a request's `Content-Type` says JSON: `application/json` (with any parameters), any
/// `+json` structured syntax suffix (`application/merge-patch+json`), or none at all; letters
/// compared without case.
///
/// Compared on the header's bytes: lowercasing the header made a string on every request, and a
/// media type's name is ASCII.
public enum JSONMediaType {
    public static func accepts(_ contentType: String?) -> Bool {
        guard let contentType, !contentType.isEmpty else { return true }
        // The string's own bytes when it has them (always, for what libfcgi hands over).
        return contentType.utf8.withContiguousStorageIfAvailable(accepts)
            ?? Array(contentType.utf8).withUnsafeBufferPointer(accepts)
    }

    private static let application = Array("application/json".utf8)
    private static let suffix = Array("+json".utf8)

    private static func accepts(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        holds(bytes, application, at: 0) || holds(bytes, suffix, at: bytes.count - suffix.count)
    }

    /// Whether `bytes` holds `expected` (lowercase) at `offset`, ASCII letters in either case.
    private static func holds(_ bytes: UnsafeBufferPointer<UInt8>, _ expected: [UInt8], at offset: Int) -> Bool {
        guard offset >= 0, bytes.count - offset >= expected.count else { return false }
        for (index, byte) in expected.enumerated() {
            let given = bytes[offset + index]
            let folded = UInt8(ascii: "A")...UInt8(ascii: "Z") ~= given ? given | 0x20 : given
            if folded != byte { return false }
        }
        return true
    }
}
