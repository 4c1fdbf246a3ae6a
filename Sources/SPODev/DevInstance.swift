import Foundation
import Glibc
import SPOCore
import SPOCrypto
import SPOJSON
import SPOPostgres
import SPOServer

/// `spo dev`: the embedded default. A throwaway PostgreSQL cluster, the control schema, the
/// example database and services, the worker pool and nginx, all under `.spo/` in the checkout.
public final class DevInstance {
    public struct Options: Sendable {
        /// The checkout: where `nginx/`, `www/` and `examples/` are.
        public var projectDirectory: String
        public var stateDirectory: String
        public var httpPort: Int
        public var postgresPort: Int
        public var executable: String

        public init(
            projectDirectory: String, stateDirectory: String, httpPort: Int, postgresPort: Int, executable: String
        ) {
            self.projectDirectory = projectDirectory
            self.stateDirectory = stateDirectory
            self.httpPort = httpPort
            self.postgresPort = postgresPort
            self.executable = executable
        }
    }

    private let options: Options
    private let isRoot = getuid() == 0
    private var supervisorPID: pid_t = 0
    private var nginxPID: pid_t = 0

    public init(options: Options) {
        self.options = options
    }

    private var state: String { options.stateDirectory }
    /// Where PostgreSQL's data and the sockets live: under the state directory, unless that is
    /// out of reach of the `postgres` user (a checkout under a private home directory), in which
    /// case a directory of its own under /var/tmp, named after the checkout.
    private lazy var clusterBase: String = {
        guard isRoot, !DevInstance.othersCanTraverse(state) else { return state }
        let fallback = "/var/tmp/spo-dev-" + String(SHA256.hex(state).prefix(12))
        Log.info(
            "the postgres user cannot reach the state directory; keeping the cluster elsewhere",
            ["state": .string(state), "cluster": .string(fallback)])
        return fallback
    }()
    private lazy var permissions = InstancePermissions(stateDirectory: state, clusterBase: clusterBase)
    /// Who runs PostgreSQL, the pool's workers and nginx's workers when we are root; nil otherwise.
    private var users: InstanceUsers?
    private var runDirectory: String { permissions.poolSocketDirectory }
    private var postgresSocketDirectory: String { permissions.postgresSocketDirectory }
    private var logDirectory: String { state + "/log" }
    private var dataDirectory: String { clusterBase + "/pg" }
    /// The superuser's password, for libpq (PGPASSFILE); the pool's user reads it, so it is kept
    /// where that user can reach it, with the cluster.
    private var credentialsPath: String { clusterBase + "/pgpass" }
    private var superuser: String { isRoot ? "postgres" : (ProcessInfo.processInfo.environment["USER"] ?? "postgres") }
    /// The admin page and Swagger UI as nginx's workers read them (a copy when the checkout is private).
    private var wwwDirectory: String { options.projectDirectory + "/www" }
    private var swaggerDirectory: String { options.projectDirectory + "/.build/swagger-ui" }
    private var servedDirectories: [String: String] = [:]

    /// The control database as the pool's workers and consumers use it: its login role is a
    /// member of `spo_worker` (migration 13), not the superuser.
    private var poolControlConninfo: String {
        "host=\(postgresSocketDirectory) port=\(options.postgresPort) user=\(InstanceRoles.pool) dbname=spo"
    }

    /// libpq conninfo for a database of the local cluster (the password comes from PGPASSFILE).
    public func conninfo(_ database: String) -> String {
        "host=\(postgresSocketDirectory) port=\(options.postgresPort) user=\(superuser) dbname=\(database)"
    }

    /// Brings everything up, prints where it is, and runs until SIGINT/SIGTERM.
    public func run() -> Int32 {
        Log.component = "dev"
        let signals = SignalSet([SIGINT, SIGTERM, SIGCHLD])
        signals.block()
        // What the instance creates is private unless opened on purpose (InstancePermissions).
        umask(0o077)
        do {
            users = isRoot ? try InstanceUsers.resolve() : nil
            try prepareDirectories()
            // libpq finds the password there: this process, the pool and `. .spo/env && psql` alike.
            setenv("PGPASSFILE", credentialsPath, 1)
            try startPostgres()
            try prepareDatabases()
            try startPool()
            try startNginx()
            try waitUntilServing()
            let adminKey = try ensureAdminKey()
            try writeEnvironmentFile(adminKey: adminKey)
            printWelcome(adminKey: adminKey)
        } catch {
            Log.error("the local instance could not start", ["error": .string("\(error)")])
            stopAll()
            return 1
        }
        while true {
            guard let signal = signals.next(waitingMilliseconds: 1000) else { continue }
            if signal == SIGCHLD {
                var status: Int32 = 0
                let pid = waitpid(-1, &status, WNOHANG)
                guard pid == supervisorPID || pid == nginxPID else { continue }
                Log.error("\(pid == nginxPID ? "nginx" : "the pool supervisor") exited; stopping everything")
                if pid == nginxPID { nginxPID = 0 } else { supervisorPID = 0 }
                stopAll()
                return 1
            }
            Log.info("stopping the local instance")
            stopAll()
            return 0
        }
    }

    // MARK: - Steps

    private func prepareDirectories() throws {
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        try permissions.apply(users: users)
        InstancePermissions.protectFiles(in: logDirectory)
        servedDirectories = [:]
        for directory in [wwwDirectory, swaggerDirectory] {
            servedDirectories[directory] = try served(directory)
        }
    }

    /// Where nginx's workers read `directory` from: itself, or a copy with the cluster when they
    /// cannot reach it (a checkout under a private home directory; edits then need a restart).
    private func served(_ directory: String) throws -> String {
        guard users != nil, !DevInstance.othersCanTraverse(directory),
            FileManager.default.fileExists(atPath: directory)
        else { return directory }
        let copy = clusterBase + "/static/" + (directory as NSString).lastPathComponent
        try? FileManager.default.removeItem(atPath: copy)
        try command(["mkdir", "-p", "-m", "0711", clusterBase + "/static"])
        try command(["cp", "-R", directory, copy])
        try command(["chmod", "-R", "u=rwX,go=rX", copy])
        return copy
    }

    private func startPostgres() throws {
        let binaries = try DevInstance.postgresBinaries()
        let running = {
            (try? self.asDatabaseOwner([binaries + "/pg_ctl", "-D", self.dataDirectory, "status"])) != nil
        }
        try prepareCluster(binaries: binaries, running: running)
        try PostgresCredentials.writePrivately(
            PostgresCredentials.hostBasedAuthentication, to: dataDirectory + "/pg_hba.conf", owner: users?.postgres)
        let serverLog = permissions.postgresLogDirectory + "/postgresql.log"
        try InstancePermissions.preparePrivateFile(serverLog, owner: users?.postgres)
        if running() {
            Log.info("PostgreSQL is already running; reloading its authentication rules")
            try asDatabaseOwner([binaries + "/pg_ctl", "-D", dataDirectory, "reload"])
            return
        }
        Log.info(
            "starting PostgreSQL",
            ["socket_directory": .string(postgresSocketDirectory), "port": .number(options.postgresPort)])
        // The socket takes its directory's group (the pool's); 0770 lets that group connect.
        let start = [
            binaries + "/pg_ctl", "-D", dataDirectory, "-l", serverLog, "-w", "-t", "60", "-o",
            "-k \(postgresSocketDirectory) -p \(options.postgresPort) -c listen_addresses='' -c max_connections=300"
                + " -c unix_socket_permissions=0770", "start",
        ]
        let status = try ChildProcess.runDetached(
            isRoot ? ["runuser", "-u", "postgres", "--"] + start : start, logPath: logDirectory + "/pg_ctl.log")
        guard status == 0 else {
            throw SystemFailure(
                description: "PostgreSQL did not start; see \(serverLog) and \(logDirectory)/pg_ctl.log")
        }
    }

    /// Creates the cluster with a new password, or makes sure the one there has its password; the
    /// pgpass file gets its owner and mode either way.
    private func prepareCluster(binaries: String, running: () -> Bool) throws {
        if !FileManager.default.fileExists(atPath: dataDirectory + "/PG_VERSION") {
            Log.info("creating the PostgreSQL cluster (first run only)", ["path": .string(dataDirectory)])
            let credentials = try PostgresCredentials.generate(
                path: credentialsPath, host: postgresSocketDirectory, port: options.postgresPort, user: superuser)
            try credentials.write(owner: users?.pool)
            try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
            if isRoot { try command(["chown", "postgres:postgres", dataDirectory]) }
            // initdb reads the password from a file; it exists only while initdb runs.
            let passwordFile = clusterBase + "/initdb-password"
            try PostgresCredentials.writePrivately(
                credentials.password + "\n", to: passwordFile, owner: users?.postgres)
            defer { unlink(passwordFile) }
            try asDatabaseOwner([
                binaries + "/initdb", "-D", dataDirectory, "-U", superuser, "-A", "scram-sha-256",
                "--pwfile=" + passwordFile, "-E", "UTF8", "--locale=C", "--no-sync",
            ])
        } else if let credentials = PostgresCredentials.load(
            path: credentialsPath, host: postgresSocketDirectory, port: options.postgresPort, user: superuser)
        {
            try credentials.write(owner: users?.pool)  // owner and mode as they must be
        } else {
            // A cluster made before passwords (trust), or moved to another port or directory: its
            // superuser gets a new password, with no socket open.
            if running() {
                try asDatabaseOwner([binaries + "/pg_ctl", "-D", dataDirectory, "-m", "fast", "-w", "stop"])
            }
            let credentials = try PostgresCredentials.generate(
                path: credentialsPath, host: postgresSocketDirectory, port: options.postgresPort, user: superuser)
            try setPasswordOffline(credentials, binaries: binaries)
            try credentials.write(owner: users?.pool)
        }
    }

    /// Sets the superuser's password in single-user mode (no socket, no other session), the
    /// statement on standard input: never on a command line.
    private func setPasswordOffline(_ credentials: PostgresCredentials, binaries: String) throws {
        Log.info("giving the cluster's superuser a new password (no password for this socket and port yet)")
        let name = "\"" + superuser.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        let statement = "ALTER ROLE \(name) PASSWORD '\(credentials.password)'\n"
        let postgres = [binaries + "/postgres", "--single", "-D", dataDirectory, "postgres"]
        let status = try ChildProcess.runFeeding(
            statement, to: isRoot ? ["runuser", "-u", "postgres", "--"] + postgres : postgres,
            logPath: logDirectory + "/pg_ctl.log")
        guard status == 0 else {
            throw SystemFailure(description: "could not set the superuser's password; see \(logDirectory)/pg_ctl.log")
        }
    }

    /// Every `examples/NAME.sql` is the script of an example database `NAME`, loaded once when
    /// the database is created; every `examples/*.json` is a service document, imported in name
    /// order (`services.json` first), so an example flow adds its databases and services as files.
    private func prepareDatabases() throws {
        let examples = options.projectDirectory + "/examples"
        let files = try FileManager.default.contentsOfDirectory(atPath: examples).sorted()
        let admin = try PGConnection(conninfo: conninfo("postgres"))
        let databases = files.filter { $0.hasSuffix(".sql") }.map { String($0.dropLast(4)) }
        let connect: (String) throws -> PGConnection = { try PGConnection(conninfo: self.conninfo($0)) }
        try roles.prepareTargetRoles(on: admin)
        if try admin.execute("SELECT 1 FROM pg_database WHERE datname = 'spo'").rowCount == 0 {
            try admin.execute("CREATE DATABASE spo")
        }
        for database in databases where try !roles.exampleExists(database, on: admin) {
            Log.info("loading an example database", ["file": .string("examples/\(database).sql")])
            let sql = try String(contentsOfFile: examples + "/\(database).sql", encoding: .utf8)
            try roles.loadExample(database, script: sql, admin: admin, connect: connect)
        }
        let control = try PGConnection(conninfo: conninfo("spo"))
        let applied = try Migrator().migrate(control)
        if !applied.isEmpty { Log.info("control schema migrated", ["versions": .array(applied.map { .number($0) })]) }
        try roles.preparePoolRole(on: admin)
        let documents = files.filter { $0.hasSuffix(".json") }.sorted {
            ($0 == "services.json" ? "" : $0) < ($1 == "services.json" ? "" : $1)
        }
        for file in documents {
            var document = try JSONValue.parse(Array(try Data(contentsOf: URL(fileURLWithPath: examples + "/" + file))))
            document = pointConnections(document)
            let summary = try ConfigurationImporter(control: control).importDocument(document)
            Log.info(
                "example services registered",
                ["file": .string("examples/" + file), "services": .array(summary.services.map(JSONValue.string))])
        }
        try roles.grantRegisteredServices(
            ConfigurationStore.load(from: control), databases: databases, connect: connect)
    }

    private var roles: InstanceRoles {
        InstanceRoles(
            credentialsPath: credentialsPath, host: postgresSocketDirectory, port: options.postgresPort,
            owner: users?.pool)
    }

    /// The example connections name only a database (and perhaps a role); here they point at the
    /// local cluster, as the executor role unless they name another.
    func pointConnections(_ document: JSONValue) -> JSONValue {
        DevInstance.pointConnections(document) { example in
            let parsed = try? PGConninfo(parsing: example)
            let database = parsed?["dbname"] ?? "demo"
            let user = parsed?["user"] ?? InstanceRoles.targetExecutor
            return "host=\(postgresSocketDirectory) port=\(options.postgresPort) user=\(user) dbname=\(database)"
        }
    }

    /// `document` with each connection's conninfo replaced by `local(conninfo)`.
    static func pointConnections(_ document: JSONValue, to local: (String) -> String) -> JSONValue {
        guard case .object(var members) = document else { return document }
        for index in members.indices where members[index].key == "connections" {
            guard case .array(let connections) = members[index].value else { continue }
            members[index].value = .array(
                connections.map { connection in
                    guard case .object(var fields) = connection else { return connection }
                    for field in fields.indices where fields[field].key == "conninfo" {
                        if case .string(let example) = fields[field].value {
                            fields[field].value = .string(local(example))
                        }
                    }
                    return .object(fields)
                })
        }
        return .object(members)
    }

    private var renderer: NginxConfigRenderer {
        NginxConfigRenderer(
            runtimeDirectory: runDirectory, wwwDirectory: servedDirectories[wwwDirectory] ?? wwwDirectory,
            swaggerDirectory: servedDirectories[swaggerDirectory] ?? swaggerDirectory, logDirectory: logDirectory,
            listen: "127.0.0.1:\(options.httpPort)")
    }

    private var sitePath: String { state + "/nginx/spo.conf" }

    private func startPool() throws {
        let template = try String(contentsOfFile: options.projectDirectory + "/nginx/spo.conf", encoding: .utf8)
        try renderer.renderSite(template).write(toFile: sitePath, atomically: true, encoding: .utf8)
        // The supervisor reads it again on SIGHUP, by then as the pool's user.
        if let users { chown(sitePath, 0, users.pool.gid) }
        chmod(sitePath, 0o640)
        // The conninfo travels in the environment: `ps` shows every local user a command line.
        var environment = ProcessInfo.processInfo.environment
        environment["SPO_CONTROL"] = poolControlConninfo
        supervisorPID = try ChildProcess.spawn(
            [options.executable, "serve", "--nginx", sitePath] + (users.map { ["--user", $0.pool.name] } ?? []),
            environment: environment, newProcessGroup: true)
        // nginx must not start before the sockets exist: it would find nothing to connect to.
        let sockets = try UpstreamBlock.parse(renderer.renderSite(template), name: "spo_pool").servers
        for _ in 0..<300 {
            let missing = sockets.contains { address in
                if case .unix(let path) = address { return !FileManager.default.fileExists(atPath: path) }
                return false
            }
            if !missing { return }
            usleep(20_000)
        }
        throw SystemFailure(description: "the pool did not open its sockets within 6 s; see the log above")
    }

    private func startNginx() throws {
        if !FileManager.default.fileExists(atPath: renderer.swaggerDirectory + "/index.html") {
            Log.warning(
                "Swagger UI is not installed, so /docs/ answers 404: run make swagger-ui (make run does)",
                ["path": .string(renderer.swaggerDirectory)])
        }
        if !FileManager.default.fileExists(atPath: "/usr/share/javascript/chart.js/chart.esm.js") {
            Log.warning(
                "Chart.js is not installed, so the admin dashboard shows no charts: apt-get install libjs-chart.js (make deps does)",
                ["path": .string("/usr/share/javascript/chart.js/")])
        }
        let mainPath = state + "/nginx/nginx.conf"
        // Temporary files of nginx's workers: private directories it gives to its worker user.
        for directory in ["body", "fastcgi", "proxy", "uwsgi", "scgi"] {
            try FileManager.default.createDirectory(
                atPath: permissions.nginxRuntimeDirectory + "/" + directory, withIntermediateDirectories: true)
        }
        try renderer.renderMain(sitePath: sitePath, stateDirectory: clusterBase, runAsUser: users?.nginx.name)
            .write(toFile: mainPath, atomically: true, encoding: .utf8)
        let check = try ChildProcess.run(["nginx", "-t", "-q", "-e", logDirectory + "/nginx-error.log", "-c", mainPath])
        guard check.status == 0 else {
            throw SystemFailure(description: "nginx rejected its configuration:\n\(check.output)")
        }
        nginxPID = try ChildProcess.spawn(
            ["nginx", "-e", logDirectory + "/nginx-error.log", "-c", mainPath, "-g", "daemon off;"],
            newProcessGroup: true)
    }

    private func waitUntilServing() throws {
        let url = "http://127.0.0.1:\(options.httpPort)/api/health"
        for _ in 0..<100 {
            if let result = try? ChildProcess.run(["curl", "-fsS", "-o", "/dev/null", url]), result.status == 0 {
                return
            }
            usleep(100_000)
        }
        throw SystemFailure(description: "nothing answered \(url) within 10 s; see \(logDirectory)/nginx-error.log")
    }

    /// The admin key of the local instance: the one `.spo/env` already holds while it is still
    /// active, else a new one (a key is shown only once, so the file is where it is kept).
    private func ensureAdminKey() throws -> String {
        let control = try PGConnection(conninfo: conninfo("spo"))
        let active = try ConfigurationStore.load(from: control).apiKeys
        if let previous = DevInstance.previousAdminKey(in: state + "/env"), let prefix = APIKey.prefix(of: previous),
            let key = active[prefix], key.matches(previous), key.role == .admin
        {
            return previous
        }
        _ = try APIKeyStore.revoke(name: DevInstance.adminKeyName, on: control)
        Log.info("created an admin key for the local instance", ["name": .string(DevInstance.adminKeyName)])
        return try APIKeyStore.create(name: DevInstance.adminKeyName, role: .admin, grants: [], on: control)
    }

    static let adminKeyName = "dev-admin"

    static func previousAdminKey(in path: String) -> String? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("export SPO_ADMIN_KEY=") {
            return String(line.dropFirst("export SPO_ADMIN_KEY=".count))
        }
        return nil
    }

    private func writeEnvironmentFile(adminKey: String) throws {
        let lines = [
            "export SPO_URL=http://127.0.0.1:\(options.httpPort)", "export SPO_ADMIN_KEY=\(adminKey)",
            "export SPO_CONTROL_DB='\(conninfo("spo"))'",
            "export PGHOST=\(postgresSocketDirectory)", "export PGPORT=\(options.postgresPort)",
            "export PGUSER=\(superuser)", "export PGPASSFILE=\(credentialsPath)",
        ]
        try (lines.joined(separator: "\n") + "\n").write(toFile: state + "/env", atomically: true, encoding: .utf8)
        chmod(state + "/env", 0o600)  // it holds the admin key
    }

    private func printWelcome(adminKey: String) {
        let base = "http://127.0.0.1:\(options.httpPort)"
        print(
            """

            SPOrchestrator is running.
              API          \(base)/api/
              admin key    \(adminKey)   (also in \(state)/env as SPO_ADMIN_KEY)
              try it       curl -s -X POST \(base)/api/services/customer_get/execute -H "Authorization: Bearer \(adminKey)" -H 'Content-Type: application/json' -d '{"p_id": 42}'
              admin page   \(base)/admin/
              API docs     \(base)/docs/     (Swagger UI)  \(base)/api/openapi.json
              health       \(base)/api/health
              PostgreSQL   . \(state)/env && psql -d spo     (control schema: spo.*; example database: demo)
              logs         \(logDirectory)/
            Press Ctrl-C to stop everything.

            """)
        fflush(nil)
    }

    private func stopAll() {
        if nginxPID > 0 {
            kill(nginxPID, SIGQUIT)
            ChildProcess.wait(for: nginxPID)
            nginxPID = 0
        }
        if supervisorPID > 0 {
            kill(supervisorPID, SIGTERM)
            ChildProcess.wait(for: supervisorPID)
            supervisorPID = 0
        }
        if let binaries = try? DevInstance.postgresBinaries(),
            FileManager.default.fileExists(atPath: dataDirectory + "/postmaster.pid")
        {
            _ = try? asDatabaseOwner([binaries + "/pg_ctl", "-D", dataDirectory, "-m", "fast", "-w", "stop"])
        }
    }

    // MARK: - Commands

    /// Whether users other than the owner can reach `path` (every directory on the way has o+x).
    static func othersCanTraverse(_ path: String) -> Bool {
        var current = ""
        for component in path.split(separator: "/") {
            current += "/" + component
            var info = stat()
            guard stat(current, &info) == 0 else { return true }  // created later, by us, 0755
            if info.st_mode & S_IXOTH == 0 { return false }
        }
        return true
    }

    /// The directory of `initdb` and `pg_ctl` (Debian keeps them out of PATH).
    static func postgresBinaries() throws -> String {
        let candidates = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        for version in candidates.sorted(by: { (Int($0) ?? 0) > (Int($1) ?? 0) }) {
            let path = "/usr/lib/postgresql/\(version)/bin"
            if FileManager.default.isExecutableFile(atPath: path + "/initdb") { return path }
        }
        throw SystemFailure(description: "PostgreSQL server binaries not found; install the postgresql package")
    }

    private func asDatabaseOwner(_ arguments: [String]) throws {
        try command(isRoot ? ["runuser", "-u", "postgres", "--"] + arguments : arguments)
    }

    private func command(_ arguments: [String]) throws {
        let result = try ChildProcess.run(arguments)
        guard result.status == 0 else {
            throw SystemFailure(
                description: "\(arguments.joined(separator: " ")) failed (\(result.status)):\n\(result.output)")
        }
    }
}
