import SPOSharedMemory

extension SharedMemory {
    /// Writes `text` (at most `words` × 8 bytes of UTF-8, cut at a character boundary) into the words
    /// from `index`, then publishes its length at `lengthIndex`, so a reader never sees a half name.
    func storeText(_ text: String, at index: Int, words: Int, lengthIndex: Int) {
        var bytes = Array(text.utf8.prefix(words * 8))
        while !bytes.isEmpty, String(validating: bytes, as: UTF8.self) == nil { bytes.removeLast() }
        var word = 0
        while word * 8 < bytes.count {
            var value: UInt64 = 0
            for offset in 0..<8 where word * 8 + offset < bytes.count {
                value |= UInt64(bytes[word * 8 + offset]) << (8 * offset)
            }
            store(index + word, value)
            word += 1
        }
        storeReleasing(lengthIndex, UInt64(bytes.count))
    }

    /// The text published at `lengthIndex` and stored from `index`; nil while none is.
    func loadText(at index: Int, words: Int, lengthIndex: Int) -> String? {
        let length = Int(min(loadAcquiring(lengthIndex), UInt64(words * 8)))
        guard length > 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(length)
        for word in 0..<(length + 7) / 8 {
            let value = load(index + word)
            for offset in 0..<8 where bytes.count < length {
                bytes.append(UInt8(truncatingIfNeeded: value >> (8 * offset)))
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
