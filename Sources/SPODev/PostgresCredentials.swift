import Foundation
import Glibc
import SPOServer

/// The password of the local cluster's superuser: random, made once per instance, and kept only in
/// a pgpass file (mode 0600) that libpq reads through `PGPASSFILE` — in no conninfo, argument or
/// environment value, so `ps` never shows it.
///
/// The pgpass line names the cluster's socket directory and port: libpq offers the password to
/// that server only, never to another one a configured connection points at with the same user.
struct PostgresCredentials: Sendable {
    /// The pgpass file.
    let path: String
    /// The socket directory and port of the cluster.
    let host: String
    let port: Int
    let user: String
    let password: String

    /// New credentials with a password of 32 random bytes from the kernel, as hex.
    static func generate(path: String, host: String, port: Int, user: String) throws -> PostgresCredentials {
        guard let random = FileHandle(forReadingAtPath: "/dev/urandom")?.readData(ofLength: 32), random.count == 32
        else { throw SystemFailure(description: "cannot read /dev/urandom") }
        return PostgresCredentials(
            path: path, host: host, port: port, user: user,
            password: random.map { String(format: "%02x", $0) }.joined())
    }

    /// The credentials for this server and user that the pgpass file at `path` holds, if any
    /// (none after the port or the socket directory changed: the cluster then gets a new password).
    static func load(path: String, host: String, port: Int, user: String) -> PostgresCredentials? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        let prefix = PostgresCredentials(path: path, host: host, port: port, user: user, password: "").pgpassLine
            .dropLast()
        for line in text.split(separator: "\n") where line.hasPrefix(prefix) {
            let password = String(line.dropFirst(prefix.count))
            // Ours are hex; anything else was not written here.
            if !password.isEmpty, password.allSatisfy(\.isHexDigit) {
                return PostgresCredentials(path: path, host: host, port: port, user: user, password: password)
            }
        }
        return nil
    }

    /// The pgpass line: this server, any database, this user.
    var pgpassLine: String {
        let fields = [host, String(port), "*", user].map(PostgresCredentials.escaped)
        return (fields + [password]).joined(separator: ":") + "\n"
    }

    /// A pgpass field: `:` and `\` are escaped with `\`.
    static func escaped(_ field: String) -> String {
        field.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: ":", with: "\\:")
    }

    /// Writes this role's line to the pgpass file, keeping the other roles' lines (the instance's
    /// login roles share the file); readable by `owner` (the pool's user when root) alone.
    func write(owner: ProcessUser?) throws {
        let prefix = PostgresCredentials(path: path, host: host, port: port, user: user, password: "").pgpassLine
            .dropLast()
        let others = ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n")
            .filter { !$0.hasPrefix(prefix) }.map { $0 + "\n" }
        try PostgresCredentials.writePrivately(others.joined() + pgpassLine, to: path, owner: owner)
    }

    /// The credentials of `user` in the pgpass file at `path`, or new ones written there.
    static func loadOrCreate(path: String, host: String, port: Int, user: String, owner: ProcessUser?) throws
        -> PostgresCredentials
    {
        if let known = load(path: path, host: host, port: port, user: user) { return known }
        let made = try generate(path: path, host: host, port: port, user: user)
        try made.write(owner: owner)
        return made
    }

    /// pg_hba.conf of the local cluster: unix socket only, SCRAM passwords for every role and database.
    static let hostBasedAuthentication = """
        # Written by `spo dev` at every start; edits are overwritten. Only the unix socket is open
        # (listen_addresses is empty) and every connection needs the password in the instance's
        # pgpass file (PGPASSFILE in .spo/env).
        # TYPE  DATABASE  USER  METHOD
        local   all       all   scram-sha-256

        """

    /// Writes `text` to a new file at `path` with mode 0600, given to `owner` when there is one. A
    /// file (or link) already there is replaced, never written through.
    static func writePrivately(_ text: String, to path: String, owner: ProcessUser?) throws {
        unlink(path)
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw SystemFailure(description: "cannot create \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
        let owned = owner.map { fchown(descriptor, $0.uid, $0.gid) == 0 } ?? true
        guard written == bytes.count, owned else {
            throw SystemFailure(description: "cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }
}
