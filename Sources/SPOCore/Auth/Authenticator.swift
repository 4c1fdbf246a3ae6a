/// Who is calling, decided from the `Authorization` header and the active API keys.
public struct Principal: Sendable, Equatable {
    /// The audit user: the key's name, or `anonymous`.
    public var name: String
    /// Nil for anonymous callers, who may execute only services marked `"public": true`.
    public var key: APIKey?

    public static let anonymous = Principal(name: "anonymous", key: nil)

    /// Whether the caller came without a key. A pattern, not `key == nil`: that comparison took
    /// a copy of the key (its strings and grants retained and released) on every request.
    public var isAnonymous: Bool {
        if case .none = key { return true }
        return false
    }

    /// Whether this caller's key may execute `service` (false without a key: see `mayCall`).
    public func mayExecute(_ service: String) -> Bool { key?.mayExecute(service) ?? false }
}

/// Checks bearer keys against the keys of the configuration snapshot.
public enum Authenticator {
    /// The caller behind `authorization` (the header's value): `anonymous` without one — whether
    /// or not keys exist, so a fresh install is as closed as a configured one (what an anonymous
    /// caller may reach is decided per endpoint and service) —, else the key's, or a refusal.
    public static func principal(
        authorization: String?, keys: [String: APIKey]
    ) -> Result<Principal, APIError> {
        guard let authorization, !authorization.isEmpty else { return .success(.anonymous) }
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
