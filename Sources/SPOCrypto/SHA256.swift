internal import CCrypto

/// SHA-256 from OpenSSL's libcrypto (the library libpq already links), for API key digests and
/// request fingerprints.
public enum SHA256 {
    /// The length of a digest in bytes.
    public static let byteCount = 32

    /// The digest of `bytes`.
    public static func digest(_ bytes: [UInt8]) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: byteCount)
        var length: UInt32 = 0
        let succeeded = bytes.withUnsafeBytes { input in
            digest.withUnsafeMutableBufferPointer { output in
                EVP_Digest(input.baseAddress, input.count, output.baseAddress, &length, EVP_sha256(), nil)
            }
        }
        // EVP_Digest fails only when OpenSSL cannot allocate or the digest is unavailable (a
        // broken installation): nothing a caller could recover from.
        precondition(succeeded == 1 && length == byteCount, "OpenSSL's SHA-256 failed")
        return digest
    }

    /// The digest of `text`'s UTF-8 bytes, in lowercase hexadecimal.
    public static func hex(_ text: String) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var characters: [UInt8] = []
        characters.reserveCapacity(byteCount * 2)
        for byte in digest(Array(text.utf8)) {
            characters.append(digits[Int(byte >> 4)])
            characters.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: characters, as: UTF8.self)
    }
}
