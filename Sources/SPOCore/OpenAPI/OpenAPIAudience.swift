/// Whom a rendering of the OpenAPI document is for. The document depends on its caller only
/// through this: callers with equal audiences are shown the same text, so a rendering can be
/// kept for all of them.
public struct OpenAPIAudience: Hashable, Sendable {
    /// The key's role; nil for anonymous callers.
    public let role: APIKey.Role?
    /// An executor key's grants, sorted, without repeats (`["*"]` when it has every service);
    /// empty for the other roles, whose document grants do not change.
    public let grants: [String]

    public init(_ caller: Principal) {
        role = caller.key?.role
        guard let key = caller.key, key.role == .executor else {
            grants = []
            return
        }
        grants = key.grants.contains("*") ? ["*"] : Array(Set(key.grants)).sorted()
    }
}
