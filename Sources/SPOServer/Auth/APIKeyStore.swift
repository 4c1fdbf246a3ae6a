import Foundation
import SPOCore
import SPOJSON
import SPOPostgres

/// API keys in the control database (`spo.api_key`).
public enum APIKeyStore {
    /// One key as listed: no secret, not even its digest.
    public struct Listing: Sendable {
        public var name: String
        public var prefix: String
        public var role: String
        public var grants: [String]
        public var createdAt: String
        public var revokedAt: String?
    }

    /// Creates a key and returns it: the only time the key itself exists outside the caller.
    public static func create(
        name: String, role: APIKey.Role, grants: [String], on connection: PGConnection
    ) throws(PGError) -> String {
        let (key, record) = APIKey.generate(name: name, role: role, grants: grants)
        try connection.execute(
            "INSERT INTO spo.api_key (name, prefix, secret_hash, role, grants) VALUES ($1, $2, $3, $4, $5)",
            [record.name, record.prefix, record.secretHash, record.role.rawValue, arrayLiteral(grants)])
        return key
    }

    /// Revokes the key called `name`; false when there is no such active key.
    public static func revoke(name: String, on connection: PGConnection) throws(PGError) -> Bool {
        try connection.execute(
            "UPDATE spo.api_key SET revoked_at = now() WHERE name = $1 AND revoked_at IS NULL", [name]
        ).affectedRows == 1
    }

    /// Every key, newest first.
    public static func list(on connection: PGConnection) throws(PGError) -> [Listing] {
        let result = try connection.execute(
            """
            SELECT name, prefix, role, array_to_json(grants)::text, created_at::text, revoked_at::text
            FROM spo.api_key ORDER BY created_at DESC
            """)
        return (0..<result.rowCount).map { row in
            Listing(
                name: result.value(row, 0) ?? "", prefix: result.value(row, 1) ?? "", role: result.value(row, 2) ?? "",
                grants: strings(result.value(row, 3)), createdAt: result.value(row, 4) ?? "",
                revokedAt: result.value(row, 5))
        }
    }

    /// The active keys by prefix, for the configuration snapshot; only the one with `prefix` if given.
    static func active(on connection: PGConnection, prefix: String? = nil) throws(PGError) -> [String: APIKey] {
        let result = try connection.execute(
            """
            SELECT name, prefix, secret_hash, role, array_to_json(grants)::text
            FROM spo.api_key WHERE revoked_at IS NULL AND ($1::text IS NULL OR prefix = $1)
            """, [prefix])
        var keys: [String: APIKey] = [:]
        for row in 0..<result.rowCount {
            guard let role = APIKey.Role(rawValue: result.value(row, 3) ?? "") else { continue }
            let key = APIKey(
                name: result.value(row, 0) ?? "", prefix: result.value(row, 1) ?? "",
                secretHash: result.value(row, 2) ?? "", role: role, grants: strings(result.value(row, 4)))
            keys[key.prefix] = key
        }
        return keys
    }

    private static func strings(_ json: String?) -> [String] {
        ((try? JSONValue.parse(json ?? "[]"))?.arrayValue ?? []).compactMap(\.stringValue)
    }

    /// A PostgreSQL text[] literal; grants are service names or `*`, quoted anyway.
    private static func arrayLiteral(_ values: [String]) -> String {
        "{"
            + values.map {
                "\"" + $0.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
                    + "\""
            }
            .joined(separator: ",") + "}"
    }
}
