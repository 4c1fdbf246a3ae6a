extension Array where Element == UInt8 {
    /// Appends the UTF-8 bytes of `text` in one copy: the generic `append(contentsOf: text.utf8)`
    /// costs a few hundred instructions however short the text, and text is appended many times
    /// on every request (headers, JSON, audit frames).
    @inlinable
    public mutating func appendUTF8(_ text: String) {
        let copied: Void? = text.utf8.withContiguousStorageIfAvailable { append(contentsOf: $0) }
        if copied == nil { append(contentsOf: text.utf8) }
    }
}
