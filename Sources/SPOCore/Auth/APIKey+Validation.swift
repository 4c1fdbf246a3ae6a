extension APIKey {
    /// Why a key with `name`, `role` and `grants` may not be created, or nil when it may: the name
    /// is what `spo.api_key`'s CHECK constraint allows (it becomes the audit user of the key's
    /// calls), and each grant is `*` or a service name that a service can have — a grant no
    /// service could ever match would be a key that silently runs nothing. A grant may name a
    /// service that does not exist yet.
    public static func problem(name: String, role: Role, grants: [String]) -> String? {
        if !isValidName(name) {
            return "--name must be 1 to 63 of letters, digits and _.@-, starting with a letter or digit"
        }
        if role == .executor && grants.isEmpty {
            return "an executor key needs at least one --grant SERVICE (or --grant '*')"
        }
        if let bad = grants.first(where: { $0 != "*" && !ServiceDefinition.isValidName($0) }) {
            return "--grant \(bad) is not a service name (lowercase letters, digits, _ or -, starting with a letter) "
                + "nor *"
        }
        return nil
    }

    /// `^[A-Za-z0-9][A-Za-z0-9_.@-]{0,62}$`, the table's rule.
    static func isValidName(_ name: String) -> Bool {
        func isAlphanumeric(_ scalar: Unicode.Scalar) -> Bool {
            ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
        }
        let scalars = Array(name.unicodeScalars)
        guard let first = scalars.first, isAlphanumeric(first), scalars.count <= 63 else { return false }
        return scalars.allSatisfy { isAlphanumeric($0) || "_.@-".unicodeScalars.contains($0) }
    }
}
