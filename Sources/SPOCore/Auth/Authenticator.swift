/// Who is calling, decided from the `Authorization` header and the active API keys.
public struct Principal: Sendable, Equatable {
    /// The audit user: the key's name, or `anonymous`.
    public var name: String
    /// Nil for anonymous callers (allowed only while no API key exists).
    public var key: APIKey?

    public static let anonymous = Principal(name: "anonymous", key: nil)

    /// Whether this caller may execute `service`.
    public func mayExecute(_ service: String) -> Bool { key?.mayExecute(service) ?? true }
}

/// Checks bearer keys against the keys of the configuration snapshot.
public enum Authenticator {
    /// The caller behind `authorization` (the header's value). While no key exists at all the API
    /// is open and callers are `anonymous`; once one exists, every call needs a valid key.
    public static func principal(
        authorization: String?, keys: [String: APIKey]
    ) -> Result<Principal, APIError> {
        guard let authorization, !authorization.isEmpty else {
            if keys.isEmpty { return .success(.anonymous) }
            return .failure(APIError(.unauthorized, "send an API key: Authorization: Bearer <key>"))
        }
        guard let presented = presentedKey(authorization) else {
            return .failure(APIError(.unauthorized, "the Authorization header must be: Bearer <key>"))
        }
        guard let prefix = APIKey.prefix(of: presented), let key = keys[prefix], key.matches(presented) else {
            return .failure(APIError(.unauthorized, "the API key is not valid (unknown, mistyped or revoked)"))
        }
        return .success(Principal(name: key.name, key: key))
    }

    /// The key of an `Authorization: Bearer <key>` header value.
    public static func presentedKey(_ authorization: String) -> String? {
        let parts = authorization.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        return String(parts[1]).trimmingSpaces()
    }
}

extension String {
    fileprivate func trimmingSpaces() -> String {
        String(drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}
