import SPOPostgres

/// The privileges a target connection's role needs, and no more: `USAGE` on the schemas of the
/// registered routines and `EXECUTE` on each routine (PostgREST's pattern — the role owns nothing
/// and reads no table; routines that read or write tables are `SECURITY DEFINER`, owned by the
/// schema's owner).
public struct TargetGrants: Sendable, Equatable {
    /// The role the connection logs in as.
    public var role: String
    /// The routines of the services registered on the connection, as SQL names them.
    public var routines: [String]
    public var schemas: [String]

    /// The grants for `services` (those on one connection) to `role`. A routine named without
    /// argument types is unique in its schema (an overloaded one must be named with them), so its
    /// bare name identifies it for GRANT too.
    public init(role: String, services: [ServiceDefinition]) {
        self.role = role
        let procedures = services.filter { $0.kind == .procedure }
        schemas = Set(procedures.map(\.procedure.schema)).sorted()
        routines = Set(
            procedures.map { service in
                service.procedure.quoted + (service.argumentTypes.map { "(\($0))" } ?? "")
            }
        ).sorted()
    }

    /// One statement a line: the schemas' `USAGE`, then each routine's `EXECUTE`.
    public var statements: [String] {
        let grantee = SQLIdentifier.quote(role)
        return schemas.map { "GRANT USAGE ON SCHEMA \(SQLIdentifier.quote($0)) TO \(grantee);" }
            + routines.map { "GRANT EXECUTE ON ROUTINE \($0) TO \(grantee);" }
    }

    /// The grants of the connection `name` in `configuration`, to `role` or else to the user its
    /// conninfo logs in as; nil when there is no such connection or no role to name.
    public static func forConnection(_ name: String, in configuration: Configuration, role: String? = nil)
        -> TargetGrants?
    {
        guard let connection = configuration.connections[name],
            let role = role ?? (try? PGConninfo(parsing: connection.conninfo))?["user"]
        else { return nil }
        return TargetGrants(role: role, services: configuration.services.values.filter { $0.connection == name })
    }
}
