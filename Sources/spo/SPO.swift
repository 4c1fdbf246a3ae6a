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
        subcommands: [Dev.self, Serve.self, Worker.self, Consume.self, Migrate.self, Services.self, Keys.self])

    /// Logging is set up before any command runs: a bad `SPO_LOG_LEVEL` stops every command,
    /// saying what is allowed, instead of being ignored.
    static func main() {
        do throws(LogLevels.Problem) {
            try Log.configure()
        } catch {
            FileHandle.standardError.write(Data("spo: \(error)\n".utf8))
            Foundation.exit(64)
        }
        main(nil)
    }
}

/// Where the control database is: `--control`, else `SPO_CONTROL_DB`, else `dbname=spo`.
struct ControlOption: ParsableArguments {
    @Option(name: .long, help: "libpq conninfo of the control database (default: $SPO_CONTROL_DB or dbname=spo).")
    var control: String?

    var conninfo: String { control ?? ProcessInfo.processInfo.environment["SPO_CONTROL_DB"] ?? "dbname=spo" }
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
            let connection = try PGConnection(conninfo: control.conninfo)
            try Migrator().migrate(connection)
            let supervisor = Supervisor(
                options: .init(
                    nginxConfigPath: nginx, upstreamName: upstream, controlConninfo: control.conninfo,
                    executable: currentExecutable(), workerCommand: workerCommand.map { [$0] }, user: workerUser,
                    consumers: consumers ?? Supervisor.configuredConsumers))
            throw ExitCode(supervisor.run())
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

        func run() throws {
            try user.map(ProcessUser.init(named:))?.become()
            let sockets = [0] + (queueFd.map { [$0] } ?? [])
            throw ExitCode(
                SPOServer.Worker(
                    controlConninfo: control.conninfo, listenSockets: sockets, journalPath: journal, spoolPath: spool,
                    metrics: metrics.map { (path: $0, slot: metricsSlot) }
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

    struct Migrate: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create or upgrade the control schema.")
        @OptionGroup var control: ControlOption

        func run() throws {
            let applied = try Migrator().migrate(PGConnection(conninfo: control.conninfo))
            print(applied.isEmpty ? "control schema is up to date" : "applied migrations: \(applied)")
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
                if role == .executor && grants.isEmpty {
                    throw ValidationError("an executor key needs at least one --grant SERVICE (or --grant '*')")
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
}
