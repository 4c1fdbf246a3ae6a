import Foundation
import Glibc
import SPOJSON
import SPOPostgres

@testable import SPOCore
@testable import SPODev
@testable import SPOServer

/// A throwaway PostgreSQL cluster shared by every test of this process: created on first use,
/// stopped and deleted when the process exits. Each test gets its own database from it, so tests
/// run in parallel without seeing each other's rows.
final class TestCluster: Sendable {
    /// Socket only (no TCP), so the port merely names the socket file; still, pick an unusual one.
    static let port = 5499

    /// The temporary directory: `data/` (the cluster), `log`, and the server's socket.
    let directory: String
    let binaries: String

    private init(directory: String, binaries: String) {
        self.directory = directory
        self.binaries = binaries
    }

    /// Whether we are root: then the server runs as the `postgres` system user (it refuses root).
    static let isRoot = getuid() == 0

    /// The checkout, found from this file's path (Tests/IntegrationTests/Support/TestCluster.swift).
    static let repositoryRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<4 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// libpq conninfo for a database of the cluster.
    func conninfo(_ database: String) -> String {
        "host=\(directory) port=\(TestCluster.port) user=postgres dbname=\(database)"
    }

    /// The shared cluster, or why it could not be started (reported by every test that needs it).
    static func shared() throws -> TestCluster { try sharedCluster.get() }

    /// A fresh database holding the example schema (examples/demo.sql), the control schema and
    /// the example configuration (examples/services.json) with its `demo` connection pointing at
    /// this same database. Returns its conninfo.
    static func database() throws -> String {
        let conninfo = try emptyDatabase()
        let connection = try PGConnection(conninfo: conninfo)
        try connection.executeScript(try example("demo.sql"))
        try Migrator().migrate(connection)
        let document = DevInstance.pointConnections(try JSONValue.parse(try example("services.json"))) { _ in conninfo }
        _ = try ConfigurationImporter(control: connection).importDocument(document)
        return conninfo
    }

    /// A fresh database with nothing in it. Returns its conninfo.
    static func emptyDatabase() throws -> String {
        let cluster = try shared()
        let name = "t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16)
        let admin = try PGConnection(conninfo: cluster.conninfo("postgres"))
        try admin.execute("CREATE DATABASE \(admin.quoteIdentifier(name))")
        return cluster.conninfo(name)
    }

    /// A file of `examples/`.
    static func example(_ name: String) throws -> String {
        try String(contentsOfFile: repositoryRoot + "/examples/" + name, encoding: .utf8)
    }

    // MARK: - Starting and stopping

    fileprivate static func start() throws -> TestCluster {
        // Failures are what these tests provoke; their warnings would only bury real problems.
        Log.threshold = .error
        let binaries = try DevInstance.postgresBinaries()
        var template = Array("/tmp/spo-it-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else {
            throw SystemFailure(description: "mkdtemp: \(String(cString: strerror(errno)))")
        }
        let directory = String(cString: made)
        let cluster = TestCluster(directory: directory, binaries: binaries)
        if isRoot {
            guard let user = getpwnam("postgres") else {
                throw SystemFailure(description: "running as root but there is no postgres system user")
            }
            chown(directory, user.pointee.pw_uid, user.pointee.pw_gid)
        }
        do {
            try cluster.asDatabaseOwner([
                binaries + "/initdb", "-D", directory + "/data", "-U", "postgres", "-A", "trust", "-E", "UTF8",
                "--locale=C", "--no-sync",
            ])
        } catch {
            try? FileManager.default.removeItem(atPath: directory)
            throw error
        }
        // From here on the cluster exists: make sure it goes away with the process.
        clusterDirectoryAtExit = directory
        clusterBinariesAtExit = binaries
        atexit {
            guard let directory = clusterDirectoryAtExit, let binaries = clusterBinariesAtExit else { return }
            let stop = [binaries + "/pg_ctl", "-D", directory + "/data", "-m", "immediate", "-w", "stop"]
            _ = try? ChildProcess.run(getuid() == 0 ? ["runuser", "-u", "postgres", "--"] + stop : stop)
            try? FileManager.default.removeItem(atPath: directory)
        }
        let options =
            "-k \(directory) -p \(port) -c listen_addresses='' -c fsync=off -c max_connections=200"
            + " -c synchronous_commit=off -c full_page_writes=off"
        let start = [
            binaries + "/pg_ctl", "-D", directory + "/data", "-l", directory + "/log", "-w", "-t", "60", "-o",
            options, "start",
        ]
        // pg_ctl leaves the server running with our output descriptors: never a pipe here.
        let status = try ChildProcess.runDetached(
            isRoot ? ["runuser", "-u", "postgres", "--"] + start : start, logPath: directory + "/pg_ctl.log")
        guard status == 0 else {
            let log = (try? String(contentsOfFile: directory + "/log", encoding: .utf8)) ?? ""
            throw SystemFailure(description: "pg_ctl start failed (\(status)):\n\(log)")
        }
        return cluster
    }

    private func asDatabaseOwner(_ arguments: [String]) throws {
        let result = try ChildProcess.run(
            TestCluster.isRoot ? ["runuser", "-u", "postgres", "--"] + arguments : arguments)
        guard result.status == 0 else {
            throw SystemFailure(
                description: "\(arguments.joined(separator: " ")) failed (\(result.status)):\n\(result.output)")
        }
    }
}

/// Created once, on first use, thread-safely (Swift initialises globals with `swift_once`).
private let sharedCluster = Result { try TestCluster.start() }

/// Read by the `atexit` handler, which cannot capture context.
nonisolated(unsafe) private var clusterDirectoryAtExit: String?
nonisolated(unsafe) private var clusterBinariesAtExit: String?
