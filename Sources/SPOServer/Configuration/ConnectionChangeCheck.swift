import SPOCore
import SPOPostgres

/// A connection that services use must still reach their routines after it is rewritten.
///
/// A service is checked against its target database's catalog when it is written; a connection
/// rewritten afterwards (another host or database, a secret that is not there) would fail every
/// call of those services from then on. So a connection in use is written only once its new
/// settings connect and every routine its services call is found there — the same look-up a
/// service write makes. A change that keeps conninfo and `password_from` is not checked. A connection no service uses is stored as it is: nothing depends on it
/// yet, and the first service written on it is checked then.
enum ConnectionChangeCheck {
    /// The problems of storing `connection` over the connection of the same name that
    /// `configuration`'s services use (`excluding` services rewritten in the same write), at `path`.
    static func problems(
        storing connection: ConnectionDefinition, in configuration: Configuration, targets: TargetConnections,
        excluding rewritten: Set<String> = [], path: String
    ) -> [(path: String, problem: String)] {
        // Only where it connects changes what calls reach: a new description or breaker does not,
        // and a target that is down meanwhile must not block those.
        if let stored = configuration.connections[connection.name], stored.conninfo == connection.conninfo,
            stored.passwordFrom == connection.passwordFrom
        {
            return []
        }
        let users = configuration.services.values
            .filter { $0.connection == connection.name && !rewritten.contains($0.name) }
            .sorted { $0.name < $1.name }
        guard !users.isEmpty else { return [] }
        let names = users.map(\.name).joined(separator: ", ")
        let target: PGConnection
        do throws(PGError) {
            target = try targets.connection(for: connection)
        } catch {
            return [
                (
                    path,
                    "services \(names) use this connection, and these settings do not reach their database: "
                        + error.message
                )
            ]
        }
        var problems: [(path: String, problem: String)] = []
        for service in users {
            do throws(ConfigurationError) {
                _ = try RoutineCatalog.describe(service.procedureReference, on: target)
            } catch {
                let why = error.problems.map(\.problem).joined(separator: "; ")
                problems.append((path, "service \(service.name) uses this connection, and there: \(why)"))
            }
        }
        return problems
    }
}
