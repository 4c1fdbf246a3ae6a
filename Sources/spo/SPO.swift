import ArgumentParser
import Foundation
import SPOCore
import SPODev
import SPOJSON
import SPOPostgres
import SPOServer

@main
struct SPO: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spo",
        abstract: "Stored procedures as validated, audited, retried HTTP services (nginx + FastCGI).",
        subcommands: [
            Dev.self, Serve.self, Worker.self, Consume.self, AuditWriter.self, Migrate.self, Prune.self, Services.self,
            Keys.self,
            Grants.self,
        ])

    /// Logging is set up before any command runs: a bad `SPO_LOG_LEVEL` stops every command,
    /// saying what is allowed, instead of being ignored.
    static func main() {
        do throws(LogLevels.Problem) {
            try Log.configure()
        } catch {
            FileHandle.standardError.write(Data("spo: \(error)\n".utf8))
            Foundation.exit(64)
        }
        // Which secrets connections may name (`spo serve` may narrow it and passes it on).
        SecretPolicy.current = SecretPolicy(environment: ProcessInfo.processInfo.environment)
        main(nil)
    }
}

/// Where the control database is: `--control`, else `SPO_CONTROL`, else `SPO_CONTROL_DB`, else
/// `dbname=spo`. `spo serve` hands it to its workers and consumers in `SPO_CONTROL`, never on their
/// command line (which `ps` shows every local user); a process removes the variable once read.
struct ControlOption: ParsableArguments {
    @Option(
        name: .long,
        help: "libpq conninfo of the control database (default: $SPO_CONTROL, $SPO_CONTROL_DB or dbname=spo).")
    var control: String?
    @Option(
        name: .long,
        help:
            "libpq conninfo of a transaction pooler (PgBouncer) in front of the control database, for statements; --control then only LISTENs (default: $SPO_CONTROL_POOLER)."
    )
    var controlPooler: String?

    /// The variable `spo serve` passes the conninfo to its children in.
    static let variable = "SPO_CONTROL"

    var conninfo: String {
        // The pooler travels in the environment, which workers and consumers inherit.
        if let controlPooler { setenv(ControlDatabase.poolerVariable, controlPooler, 1) }
        let environment = ProcessInfo.processInfo.environment
        let conninfo = control ?? environment[Self.variable] ?? environment["SPO_CONTROL_DB"] ?? "dbname=spo"
        unsetenv(Self.variable)
        return conninfo
    }
}

/// The path of the running `spo` executable, for starting workers.
func currentExecutable() -> String {
    (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
}

extension SPO {
    struct Dev: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run everything locally: PostgreSQL, the example services, the pool and nginx (make run).")

        @Option(help: "Where the instance keeps its state.") var stateDir = ".spo"
        @Option(help: "nginx port on 127.0.0.1.") var port = 8080
        @Option(help: "PostgreSQL port (unix socket only).") var pgPort = 5433
        @Option(help: "Browser origins allowed to call the execution endpoints (default: $SPO_CORS_ORIGINS).")
        var corsOrigins: String?

        func run() throws {
            try CORSOrigins.adopt(corsOrigins)
            let project = FileManager.default.currentDirectoryPath
            let state = stateDir.hasPrefix("/") ? stateDir : project + "/" + stateDir
            let instance = DevInstance(
                options: .init(
                    projectDirectory: project, stateDirectory: state, httpPort: port, postgresPort: pgPort,
                    executable: currentExecutable()))
            throw ExitCode(instance.run())
        }
    }

    struct Serve: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the worker pool: one worker per server line of the nginx upstream block.")

        @Option(help: "The nginx file holding the upstream block.") var nginx: String
        @Option(help: "The upstream block's name.") var upstream = "spo_pool"
        @Option(help: "The unprivileged user the workers switch to when started as root.") var user: String?
        @Option(help: "Queue consumers for asynchronous executions (default: $SPO_CONSUMERS, else 2; 0: none).")
        var consumers: Int?
        @Option(
            help:
                "The prefix of the environment variables env: secret references may name (default: $SPO_SECRET_ENV_PREFIX, else SPO_SECRET_)."
        )
        var secretEnvPrefix: String?
        @Option(
            help:
                "The directory file: secret references name a file in (default: $SPO_SECRETS_DIR; none: no file: secrets)."
        )
        var secretsDir: String?
        @Option(
            help: "A private directory for the pool's state files (default: the directory of the first unix line).")
        var runDir: String?
        @OptionGroup var control: ControlOption
        /// For tests of the restart backoff: a program started instead of `spo worker`, with the
        /// worker's arguments.
        @Option(help: .hidden) var workerCommand: String?
        @Option(help: "Browser origins allowed to call executions, comma-separated, or * (default: $SPO_CORS_ORIGINS).")
        var corsOrigins: String?

        func run() throws {
            try CORSOrigins.adopt(corsOrigins)
            let workerUser = try user.map(ProcessUser.init(named:))
            if let workerUser, !ProcessUser.isRoot, workerUser.uid != getuid() {
                throw ValidationError("--user \(workerUser.name): only root can run workers as another user")
            }
            try applySecretPolicy()
            // A limit set wrong stops the pool here, rather than every worker at its start.
            _ = try RequestLimits.from(environment: ProcessInfo.processInfo.environment).get()
            let conninfo = control.conninfo
            let connection = try PGConnection(conninfo: conninfo)
            try Migrator().migrate(connection)
            // The coming days' execution partitions; the workers keep them coming, hourly.
            _ = try? ExecutionRetention.createPartitions(on: connection)
            let supervisor = Supervisor(
                options: .init(
                    nginxConfigPath: nginx, upstreamName: upstream, controlConninfo: conninfo,
                    executable: currentExecutable(), workerCommand: workerCommand.map { [$0] }, user: workerUser,
                    consumers: consumers ?? Supervisor.configuredConsumers, runDirectory: runDir))
            throw ExitCode(supervisor.run())
        }

        /// The options' secret policy, for this process and (through the environment) its workers.
        private func applySecretPolicy() throws {
            var policy = SecretPolicy.current
            if let secretEnvPrefix {
                guard SecretReference.isVariableName(secretEnvPrefix) else {
                    throw ValidationError("--secret-env-prefix must be letters, digits and _")
                }
                policy.environmentPrefix = secretEnvPrefix
            }
            if let secretsDir { policy.directory = secretsDir }
            if let directory = policy.directory {
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory),
                    isDirectory.boolValue
                else { throw ValidationError("the secrets directory \(directory) is not a directory") }
            }
            SecretPolicy.current = policy
            for (name, value) in policy.environment { setenv(name, value, 1) }
        }
    }

    struct Worker: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Serve FastCGI on standard input (started by `spo serve`, or by spawn-fcgi).")

        @OptionGroup var control: ControlOption
        @Option(help: "File recording the execution in flight, for recovery if this worker dies.") var journal: String?
        @Option(help: "File keeping audit records while the control database is unreachable (replayed later).")
        var spool: String?
        @Option(help: "An inherited listening socket shared with the other workers (the pool's queue).")
        var queueFd: Int32?
        @Option(help: "The pool's metrics file (made by `spo serve`); without it, this worker counts on its own.")
        var metrics: String?
        @Option(help: "This worker's slot in the metrics file.") var metricsSlot = 0
        @Option(help: "The unprivileged user to switch to before anything else, when started as root.")
        var user: String?
        @Option(help: "Largest request body (`spo serve` passes the site file's client_max_body_size).")
        var maxBodyBytes = NginxBodyLimit.nginxDefault

        func run() throws {
            try user.map(ProcessUser.init(named:))?.become()
            let limits = try RequestLimits.from(
                environment: ProcessInfo.processInfo.environment, maxBodyBytes: maxBodyBytes
            ).get()
            let sockets = [0] + (queueFd.map { [$0] } ?? [])
            throw ExitCode(
                SPOServer.Worker(
                    controlConninfo: control.conninfo, listenSockets: sockets, journalPath: journal, spoolPath: spool,
                    metrics: metrics.map { (path: $0, slot: metricsSlot) }, limits: limits
                ).run())
        }
    }

    struct Consume: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run queued (Prefer: respond-async) executions (started by `spo serve`, --consumers).")

        @OptionGroup var control: ControlOption
        @Option(help: "The unprivileged user to switch to before anything else, when started as root.")
        var user: String?

        func run() throws {
            try user.map(ProcessUser.init(named:))?.become()
            throw ExitCode(Consumer(controlConninfo: control.conninfo).run())
        }
    }

    struct AuditWriter: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "audit-writer",
            abstract: "Commit the pool's execution rows in groups (started by `spo serve`).")

        @OptionGroup var control: ControlOption
        @Option(help: "The unix socket the workers hand their rows to.") var socket: String
        @Option(help: "The unprivileged user to switch to before anything else, when started as root.")
        var user: String?

        func run() throws {
            try user.map(ProcessUser.init(named:))?.become()
            let writer = try SPOServer.AuditWriter(controlConninfo: control.conninfo, socketPath: socket)
            throw ExitCode(writer.run())
        }
    }

    struct Migrate: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create or upgrade the control schema.")
        @OptionGroup var control: ControlOption

        func run() throws {
            let applied = try Migrator().migrate(PGConnection(conninfo: control.conninfo))
            print(applied.isEmpty ? "control schema is up to date" : "applied migrations: \(applied)")
        }
    }

    struct Prune: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete the execution history older than a period: whole days dropped (as a spo_retention role).")
        @Option(help: "What to delete: executions started before this long ago, e.g. 30d (days) or 12h (hours).")
        var olderThan: String
        @OptionGroup var control: ControlOption

        func run() throws {
            guard let period = RetentionPeriod(olderThan) else {
                throw ValidationError("--older-than must be a count and a unit, d or h (e.g. 30d), from 1 to 9999")
            }
            let pruned = try ExecutionRetention.prune(
                olderThan: period, on: PGConnection(conninfo: control.conninfo))
            print(
                "pruned what is older than \(period.interval): \(pruned.droppedPartitions) days dropped, "
                    + "\(pruned.executions) executions, \(pruned.errors) errors, \(pruned.reprocessings) reprocessings, "
                    + "\(pruned.jobs) jobs")
        }
    }

    struct Services: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Configuration as code.", subcommands: [Import.self, Export.self])

        struct Import: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Create or update connections, retry policies and services from a JSON document.")
            @Argument(help: "The document; - reads standard input.") var file: String
            @OptionGroup var control: ControlOption

            func run() throws {
                let data =
                    file == "-"
                    ? FileHandle.standardInput.readDataToEndOfFile() : try Data(contentsOf: URL(fileURLWithPath: file))
                let document = try JSONValue.parse(Array(data))
                let connection = try PGConnection(conninfo: control.conninfo)
                try Migrator().migrate(connection)
                do {
                    let summary = try ConfigurationImporter(control: connection).importDocument(document)
                    print(
                        "imported \(summary.services.count) services, \(summary.connections.count) connections, "
                            + "\(summary.retryPolicies.count) retry policies")
                } catch let error as ConfigurationError {
                    FileHandle.standardError.write(Data("nothing imported; fix these and run again:\n".utf8))
                    for problem in error.problems {
                        FileHandle.standardError.write(Data("  \(problem.path): \(problem.problem)\n".utf8))
                    }
                    throw ExitCode(1)
                }
            }
        }

        struct Export: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Print the whole configuration as one JSON document.")
            @OptionGroup var control: ControlOption

            func run() throws {
                let configuration = try ConfigurationStore.load(from: PGConnection(conninfo: control.conninfo))
                print(ConfigurationImporter.export(configuration).serialized())
            }
        }
    }

    struct Keys: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "API keys: once one exists, every call needs `Authorization: Bearer <key>`.",
            subcommands: [Create.self, List.self, Revoke.self])

        struct Create: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Create a key and print it (it is shown only this once; only a digest is stored).")
            @Option(help: "A name for the key: the audit user of its calls.") var name: String
            @Option(help: "admin (everything) or executor (granted services only).") var role: String = "executor"
            @Option(name: .customLong("grant"), help: "A service the executor key may run (repeat; * = all).")
            var grants: [String] = []
            @OptionGroup var control: ControlOption

            func run() throws {
                guard let role = APIKey.Role(rawValue: role) else {
                    throw ValidationError("--role must be admin or executor")
                }
                if let problem = APIKey.problem(name: name, role: role, grants: grants) {
                    throw ValidationError(problem)
                }
                let connection = try PGConnection(conninfo: control.conninfo)
                try Migrator().migrate(connection)
                print(try APIKeyStore.create(name: name, role: role, grants: grants, on: connection))
            }
        }

        struct List: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List keys (never the keys themselves).")
            @OptionGroup var control: ControlOption

            func run() throws {
                let keys = try APIKeyStore.list(on: PGConnection(conninfo: control.conninfo))
                print("name\tprefix\trole\tgrants\tcreated\trevoked")
                for key in keys {
                    let grants = key.grants.isEmpty ? "-" : key.grants.joined(separator: ",")
                    print(
                        "\(key.name)\tspo_\(key.prefix)\t\(key.role)\t\(grants)\t\(key.createdAt)\t\(key.revokedAt ?? "-")"
                    )
                }
            }
        }

        struct Revoke: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Revoke a key by name; every worker refuses it within a second.")
            @Argument(help: "The key's name.") var name: String
            @OptionGroup var control: ControlOption

            func run() throws {
                guard try APIKeyStore.revoke(name: name, on: PGConnection(conninfo: control.conninfo)) else {
                    FileHandle.standardError.write(Data("no active key named \(name)\n".utf8))
                    throw ExitCode(1)
                }
                print("revoked \(name)")
            }
        }
    }

    struct Grants: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the GRANTs a target connection's role needs: USAGE on the schemas and EXECUTE on the "
                + "routine of every service registered on it (run them on the target as the routines' owner).")
        @Option(help: "Only this connection (default: every connection).") var connection: String?
        @Option(help: "The role to grant to (default: the user the connection's conninfo names).") var role: String?
        @OptionGroup var control: ControlOption

        func run() throws {
            let configuration = try ConfigurationStore.load(from: PGConnection(conninfo: control.conninfo))
            let names = connection.map { [$0] } ?? configuration.connections.keys.sorted()
            var missing = false
            for name in names {
                guard configuration.connections[name] != nil else {
                    FileHandle.standardError.write(Data("no connection named \(name)\n".utf8))
                    throw ExitCode(1)
                }
                guard let grants = TargetGrants.forConnection(name, in: configuration, role: role) else {
                    FileHandle.standardError.write(
                        Data("connection \(name): its conninfo names no user; pass --role\n".utf8))
                    missing = true
                    continue
                }
                print("-- connection \(name): run on its database as the owner of the routines")
                grants.statements.forEach { print($0) }
            }
            if missing { throw ExitCode(1) }
        }
    }
}
