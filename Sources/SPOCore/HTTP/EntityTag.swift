import SPOCrypto

/// A strong entity tag (RFC 9110 §8.8.3): the digest of a body, so equal bodies have equal tags
/// on every worker, and `If-None-Match` can be answered 304 without sending the body again.
public struct EntityTag: Sendable, Equatable {
    /// The tag without its quotes: 32 hex digits (128 bits of the body's SHA-256).
    public let opaque: String

    public init(digestOf body: [UInt8]) {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(32)
        for byte in SHA256.digest(body).prefix(16) {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0f)])
        }
        opaque = String(decoding: text, as: UTF8.self)
    }

    private init(opaque: String) { self.opaque = opaque }

    /// The tag of the same body sent in another content coding (`gzip`): a representation of its
    /// own, so it has a strong tag of its own (`"…-gzip"`, as Apache's mod_deflate names it).
    public func coded(_ coding: String) -> EntityTag { EntityTag(opaque: "\(opaque)-\(coding)") }

    /// The `ETag` header's value.
    public var header: String { "\"\(opaque)\"" }

    /// Whether an `If-None-Match` value names this tag: `*`, or a list of tags one of which is
    /// this one under weak comparison (a proxy that compressed the body, as nginx does, sends
    /// it back as `W/"…"`).
    public func isMatched(byIfNoneMatch value: String) -> Bool {
        for item in value.split(separator: ",") {
            var tag = item.drop { $0 == " " || $0 == "\t" }
            while let last = tag.last, last == " " || last == "\t" { tag = tag.dropLast() }
            if tag == "*" { return true }
            if tag.hasPrefix("W/") { tag = tag.dropFirst(2) }
            if tag.count == opaque.count + 2, tag.first == "\"", tag.last == "\"",
                tag.dropFirst().dropLast() == opaque[...]
            {
                return true
            }
        }
        return false
    }
}
