import SPOServer

/// Who runs each part of the local instance when it is started as root: PostgreSQL as `postgres`
/// (it refuses root), the pool's workers as `spo`, nginx's workers as `spo-www` — three users, so
/// what one of them can reach the others cannot (nginx's workers reach the pool's sockets, not the
/// database; the workers reach the database and its password). `make deps` creates `spo` and
/// `spo-www` as system users. Not started as root, everything runs as the invoking user.
struct InstanceUsers: Sendable {
    static let poolName = "spo"
    static let nginxName = "spo-www"

    let postgres: ProcessUser
    let pool: ProcessUser
    let nginx: ProcessUser

    /// The three users, or which one is missing.
    static func resolve() throws -> InstanceUsers {
        InstanceUsers(
            postgres: try ProcessUser(named: "postgres"), pool: try ProcessUser(named: poolName),
            nginx: try ProcessUser(named: nginxName))
    }
}
