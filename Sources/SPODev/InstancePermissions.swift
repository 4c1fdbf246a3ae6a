import Foundation
import Glibc
import SPOServer

/// The owner, group and mode of each directory of the local instance.
///
/// Nothing is writable, and nothing but the path to what a user needs is reachable, by anyone but
/// its users: `spo dev` runs with umask 077, so what it creates is private, and this opens exactly
/// what must be shared. As root (see `InstanceUsers`):
///
/// | directory | owner:group | mode | why |
/// |---|---|---|---|
/// | state, cluster base, `log/`, `nginx/` | (as created) | 0711 | the service users pass through, cannot list |
/// | `pgsocket/` | postgres:spo | 2750 | PostgreSQL's socket; only the pool's group may connect |
/// | `run/` | spo:spo-www | 2750 | the pool's sockets (group spo-www, 0660) and its workers' files |
///
/// The set-group-ID bit gives every socket made there the directory's group, whoever makes it.
/// Not root: every directory is 0700 and everything runs as the invoking user.
struct InstancePermissions: Sendable {
    struct Rule: Equatable, Sendable {
        var path: String
        /// nil: left as created (the invoking user).
        var owner: uid_t?
        var group: gid_t?
        var mode: mode_t
    }

    var stateDirectory: String
    /// Where the cluster and the sockets live: the state directory, or one the service users can reach.
    var clusterBase: String

    var postgresSocketDirectory: String { clusterBase + "/pgsocket" }
    var poolSocketDirectory: String { clusterBase + "/run" }
    var postgresLogDirectory: String { clusterBase + "/log" }
    var nginxRuntimeDirectory: String { clusterBase + "/nginx" }

    /// Directories only passed through: the state directory and those holding what others open.
    private var passages: [String] {
        var paths = [stateDirectory, clusterBase, stateDirectory + "/log", postgresLogDirectory]
        paths += [stateDirectory + "/nginx", nginxRuntimeDirectory]
        return paths.reduce(into: []) { unique, path in if !unique.contains(path) { unique.append(path) } }
    }

    /// Every rule, in the order to apply them (parents first).
    func rules(users: InstanceUsers?) -> [Rule] {
        guard let users else {
            return (passages + [postgresSocketDirectory, poolSocketDirectory]).map {
                Rule(path: $0, owner: nil, group: nil, mode: 0o700)
            }
        }
        return passages.map { Rule(path: $0, owner: nil, group: nil, mode: 0o711) } + [
            Rule(path: postgresSocketDirectory, owner: users.postgres.uid, group: users.pool.gid, mode: 0o2750),
            Rule(path: poolSocketDirectory, owner: users.pool.uid, group: users.nginx.gid, mode: 0o2750),
        ]
    }

    /// Creates the directories that are missing and gives each its owner, group and mode.
    func apply(users: InstanceUsers?) throws {
        for rule in rules(users: users) {
            if mkdir(rule.path, 0o700) != 0 && errno != EEXIST { throw failure("mkdir", rule.path) }
            var info = stat()
            guard lstat(rule.path, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
                throw SystemFailure(description: "\(rule.path) is not a directory")
            }
            if rule.owner != nil || rule.group != nil,
                chown(rule.path, rule.owner ?? UInt32.max, rule.group ?? UInt32.max) != 0
            {
                throw failure("chown", rule.path)
            }
            guard chmod(rule.path, rule.mode) == 0 else { throw failure("chmod", rule.path) }
        }
    }

    /// Makes every file in `directory` private (0600) and removes what is not a regular file: logs
    /// an older version left readable by all, in a directory anyone could write to (and so plant
    /// a link that root would then open and append to).
    static func protectFiles(in directory: String) {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
            let path = directory + "/" + name
            var info = stat()
            guard lstat(path, &info) == 0 else { continue }
            if info.st_mode & S_IFMT == S_IFREG { chmod(path, 0o600) } else { unlink(path) }
        }
    }

    /// Makes sure the file at `path` exists, has mode 0600 and belongs to `owner` (when given): a
    /// log another user writes (PostgreSQL's, opened by `pg_ctl` as `postgres`).
    static func preparePrivateFile(_ path: String, owner: ProcessUser?) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw SystemFailure(description: "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        let owned = owner.map { fchown(descriptor, $0.uid, $0.gid) == 0 } ?? true
        guard owned, fchmod(descriptor, 0o600) == 0 else {
            throw SystemFailure(description: "cannot protect \(path): \(String(cString: strerror(errno)))")
        }
    }

    private func failure(_ call: String, _ path: String) -> SystemFailure {
        SystemFailure(description: "\(call) \(path): \(String(cString: strerror(errno)))")
    }
}
