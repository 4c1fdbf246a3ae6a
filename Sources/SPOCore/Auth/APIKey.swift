import Glibc
import SPOCrypto

/// An API key as stored: never the key itself, only its public prefix and a digest.
///
/// Keys look like `spo_1a2b3c4d_<32 hex>`: the prefix finds the record, the SHA-256 of the whole key
/// proves it. A key is shown once, when created.
public struct APIKey: Sendable, Equatable {
    public enum Role: String, Sendable, CaseIterable {
        /// Everything: execution of any service and (later) administration.
        case admin
        /// Execution of the services in `grants` only (`*` = all).
        case executor
    }

    public var name: String
    public var prefix: String
    public var secretHash: String
    public var role: Role
    public var grants: [String]

    public init(name: String, prefix: String, secretHash: String, role: Role, grants: [String] = []) {
        self.name = name
        self.prefix = prefix
        self.secretHash = secretHash
        self.role = role
        self.grants = grants
    }

    /// Whether this key may execute `service`.
    public func mayExecute(_ service: String) -> Bool {
        role == .admin || grants.contains("*") || grants.contains(service)
    }

    /// A new random key and the record to store for it.
    public static func generate(name: String, role: Role, grants: [String]) -> (key: String, record: APIKey) {
        let random = randomHex(byteCount: 20)
        let prefix = String(random.prefix(8))
        let key = "spo_\(prefix)_\(random.dropFirst(8))"
        return (key, APIKey(name: name, prefix: prefix, secretHash: SHA256.hex(key), role: role, grants: grants))
    }

    /// The prefix of a presented key, or nil when it does not have a key's shape.
    public static func prefix(of key: String) -> String? {
        let parts = key.split(separator: "_", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "spo", parts[1].count == 8, parts[2].count == 32,
            (parts[1] + parts[2]).allSatisfy(\.isHexDigit)
        else { return nil }
        return String(parts[1])
    }

    /// Whether `key` is this record's key. Compares digests in constant time.
    public func matches(_ key: String) -> Bool {
        let presented = Array(SHA256.hex(key).utf8)
        let stored = Array(secretHash.utf8)
        guard presented.count == stored.count else { return false }
        return zip(presented, stored).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }

    private static func randomHex(byteCount: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        let digits = Array("0123456789abcdef")
        return String(
            (0..<byteCount).flatMap { _ -> [Character] in
                let byte = UInt8.random(in: 0...255, using: &generator)
                return [digits[Int(byte >> 4)], digits[Int(byte & 0x0f)]]
            })
    }
}
