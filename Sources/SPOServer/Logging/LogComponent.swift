/// The part of SPOrchestrator a log line comes from: its `component` field, and the unit whose
/// level `SPO_LOG_LEVEL` sets (`info,executor=debug`). One swift-log `Logger` per component.
public enum LogComponent: Int, CaseIterable, Sendable, ExpressibleByStringLiteral {
    /// The command line itself (`spo migrate`, `spo services import`, `spo keys`).
    case spo
    /// `spo dev`: the local instance.
    case dev
    /// `spo serve`: the pool's supervisor.
    case supervisor
    /// A worker process: its loop, configuration reloads, the request handler.
    case worker
    /// Calls to target databases: attempts and retries.
    case executor
    /// The audit writer, the spool and the recovery of dead workers' executions.
    case audit
    /// What PostgreSQL said on a connection without failing the statement (`RAISE NOTICE`, warnings).
    case postgres

    /// The name in logs and in `SPO_LOG_LEVEL`.
    public var name: String {
        switch self {
        case .spo: "spo"
        case .dev: "dev"
        case .supervisor: "supervisor"
        case .worker: "worker"
        case .executor: "executor"
        case .audit: "audit"
        case .postgres: "postgres"
        }
    }

    /// The component of that name, or nil.
    public init?(name: String) {
        guard let found = LogComponent.allCases.first(where: { $0.name == name }) else { return nil }
        self = found
    }

    /// A component written as its name (`Log.component = "worker"`); an unknown name is `spo`.
    public init(stringLiteral name: String) {
        self = LogComponent(name: name) ?? .spo
    }
}
