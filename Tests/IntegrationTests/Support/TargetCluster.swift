import Foundation
import Glibc
import SPOPostgres

@testable import SPODev
@testable import SPOServer

/// A second throwaway PostgreSQL cluster, for target databases that tests stop and start again
/// (the control database stays up on `TestCluster`). Socket only; it logs every connection it
/// authorizes, so a test can count what reached it. Created on first use, removed at exit.
final class TargetCluster: @unchecked Sendable {
    static let port = 5498
    let directory: String
    let binaries: String
    private let lock = NSLock()

    private init(directory: String, binaries: String) {
        self.directory = directory
        self.binaries = binaries
    }

    /// The shared target cluster, running (started again if a test left it stopped).
    static func shared() throws -> TargetCluster {
        let cluster = try sharedTarget.get()
        try cluster.start()
        return cluster
    }

    func conninfo(_ database: String) -> String {
        "host=\(directory) port=\(TargetCluster.port) user=postgres dbname=\(database)"
    }

    /// A fresh database on this cluster running `sql`. Returns its conninfo.
    func database(_ sql: String) throws -> String {
        let name = "b_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16)
        let admin = try PGConnection(conninfo: conninfo("postgres"))
        try admin.execute("CREATE DATABASE \(admin.quoteIdentifier(name))")
        let created = conninfo(String(name))
        try PGConnection(conninfo: created).executeScript(sql)
        return created
    }

    var isRunning: Bool { FileManager.default.fileExists(atPath: "\(directory)/.s.PGSQL.\(TargetCluster.port)") }

    func start() throws {
        lock.lock()
        defer { lock.unlock() }
        if isRunning { return }
        let options =
            "-k \(directory) -p \(TargetCluster.port) -c listen_addresses='' -c fsync=off -c log_connections=on"
        let status = try ChildProcess.runDetached(
            owner([
                binaries + "/pg_ctl", "-D", directory + "/data", "-l", directory + "/log", "-w", "-t", "60", "-o",
                options, "start",
            ]), logPath: directory + "/pg_ctl.log")
        guard status == 0 else { throw SystemFailure(description: "pg_ctl start of the target cluster failed") }
    }

    /// Stops the server at once (`immediate`: connections are cut, as when a host goes away).
    func stop() throws {
        lock.lock()
        defer { lock.unlock() }
        let result = try ChildProcess.run(
            owner([binaries + "/pg_ctl", "-D", directory + "/data", "-m", "immediate", "-w", "stop"]))
        guard result.status == 0 else { throw SystemFailure(description: "pg_ctl stop failed: \(result.output)") }
    }

    /// Connections the server has authorized since it was created (from its log).
    func authorizedConnections() -> Int {
        let log = (try? String(contentsOfFile: directory + "/log", encoding: .utf8)) ?? ""
        return log.components(separatedBy: "connection authorized").count - 1
    }

    private func owner(_ arguments: [String]) -> [String] {
        TestCluster.isRoot ? ["runuser", "-u", "postgres", "--"] + arguments : arguments
    }

    fileprivate static func make() throws -> TargetCluster {
        let binaries = try DevInstance.postgresBinaries()
        var template = Array("/tmp/spo-tc-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw SystemFailure(description: "mkdtemp failed") }
        let cluster = TargetCluster(directory: String(cString: made), binaries: binaries)
        if TestCluster.isRoot, let user = getpwnam("postgres") {
            chown(cluster.directory, user.pointee.pw_uid, user.pointee.pw_gid)
        }
        targetDirectoryAtExit = cluster.directory
        targetBinariesAtExit = binaries
        atexit {
            guard let directory = targetDirectoryAtExit, let binaries = targetBinariesAtExit else { return }
            let stop = [binaries + "/pg_ctl", "-D", directory + "/data", "-m", "immediate", "-w", "stop"]
            _ = try? ChildProcess.run(getuid() == 0 ? ["runuser", "-u", "postgres", "--"] + stop : stop)
            try? FileManager.default.removeItem(atPath: directory)
        }
        let initdb = try ChildProcess.run(
            cluster.owner([
                binaries + "/initdb", "-D", cluster.directory + "/data", "-U", "postgres", "-A", "trust", "-E",
                "UTF8", "--locale=C", "--no-sync",
            ]))
        guard initdb.status == 0 else { throw SystemFailure(description: "initdb failed: \(initdb.output)") }
        return cluster
    }
}

private let sharedTarget = Result { try TargetCluster.make() }

nonisolated(unsafe) private var targetDirectoryAtExit: String?
nonisolated(unsafe) private var targetBinariesAtExit: String?
