import Foundation
import Glibc

@testable import SPOServer

/// A PgBouncer of its own (Debian's `pgbouncer`), in `pool_mode = transaction`, in front of a
/// database of the shared test cluster: unix socket only, trust, a pool of one server connection
/// so that every client's transactions share it (what a busy transaction pooler does), killed
/// when the test ends.
final class PgBouncer {
    let directory: String
    let port: Int32 = 6499
    private let pid: pid_t
    private var stopped = false

    /// Starts it for `database` (a conninfo of `TestCluster`), waiting until it takes connections.
    init(database conninfo: String) throws {
        let cluster = try TestCluster.shared()
        guard let name = conninfo.split(separator: " ").first(where: { $0.hasPrefix("dbname=") })?.dropFirst(7) else {
            throw SystemFailure(description: "no dbname in \(conninfo)")
        }
        var template = Array("/tmp/spo-pgb-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw SystemFailure(description: "mkdtemp failed") }
        directory = String(cString: made)
        let config = """
            [databases]
            \(name) = host=\(cluster.directory) port=\(TestCluster.port) dbname=\(name) user=postgres
            [pgbouncer]
            listen_addr =
            listen_port = \(port)
            unix_socket_dir = \(directory)
            auth_type = trust
            auth_file = \(directory)/userlist.txt
            pool_mode = transaction
            default_pool_size = 1
            max_client_conn = 50
            server_reset_query =
            logfile = \(directory)/pgbouncer.log

            """
        try config.write(toFile: directory + "/pgbouncer.ini", atomically: true, encoding: .utf8)
        try "\"postgres\" \"\"\n".write(toFile: directory + "/userlist.txt", atomically: true, encoding: .utf8)
        if TestCluster.isRoot, let user = getpwnam("postgres") {
            for path in [directory, directory + "/pgbouncer.ini", directory + "/userlist.txt"] {
                chown(path, user.pointee.pw_uid, user.pointee.pw_gid)
            }
        }
        let command = ["pgbouncer", "-q", directory + "/pgbouncer.ini"]
        pid = try ChildProcess.spawn(
            TestCluster.isRoot ? ["runuser", "-u", "postgres", "--"] + command : command, newProcessGroup: true)
        self.conninfo = "host=\(directory) port=\(port) dbname=\(name) user=postgres"
        let socket = directory + "/.s.PGSQL.\(port)"
        for _ in 0..<300 where !FileManager.default.fileExists(atPath: socket) { usleep(20_000) }
        guard FileManager.default.fileExists(atPath: socket) else {
            stop()
            throw SystemFailure(description: "pgbouncer did not start (is the pgbouncer package installed? make deps)")
        }
    }

    /// Where clients connect: the database of the cluster, through the pooler.
    let conninfo: String

    func stop() {
        guard !stopped else { return }
        stopped = true
        // runuser's child is PgBouncer: end the whole group runuser leads.
        kill(-pid, SIGTERM)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        try? FileManager.default.removeItem(atPath: directory)
    }

    deinit { stop() }
}
