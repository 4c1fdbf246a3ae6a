import Foundation
import SPOCore
import SPOJSON
import SPOPostgres

/// The read side of administration: configuration from the worker's live snapshot, executions and
/// errors from the control database. Only admin keys get here (checked by `RequestHandler`).
struct AdminAPI {
    let configuration: Configuration
    let control: ControlDatabase
    let targets: TargetConnections

    /// The answer to `route`, or the error to send.
    func respond(to route: AdminRoute, query: [String: String]) throws(APIError) -> JSONValue {
        switch route {
        case .services:
            // An empty search is no filter (Foundation's `contains("")` is false).
            let search = query["search"].flatMap { $0.isEmpty ? nil : $0.lowercased() }
            let enabled = try query["enabled"].map { text throws(APIError) in try Self.bool(text, "enabled") }
            let services = configuration.services.values.sorted { $0.name < $1.name }.filter { service in
                (search.map { service.name.contains($0) || service.description.lowercased().contains($0) } ?? true)
                    && (enabled.map { service.enabled == $0 } ?? true)
            }
            return .object(["items": .array(services.map(Self.document(for:)))])
        case .service(let name):
            return try Self.one(
                configuration.services[name], APIError(.serviceNotFound, "no service named \(name)"),
                Self.document(for:))
        case .connections:
            let states = try breakerStates()
            return Self.items(configuration.connections) { Self.document(for: $0, states) }
        case .connection(let name):
            let states = try breakerStates()
            return try Self.one(
                configuration.connections[name], APIError(.notFound, "no connection named \(name)")
            ) { Self.document(for: $0, states) }
        case .retryPolicies:
            return Self.items(configuration.retryPolicies, ServiceDocument.document(for:))
        case .retryPolicy(let name):
            return try Self.one(
                configuration.retryPolicies[name], APIError(.notFound, "no retry policy named \(name)"),
                ServiceDocument.document(for:))
        case .executions:
            return try ExecutionQueries(control: control).list(ExecutionQueries.Filter(query))
        case .execution(let id):
            return try ExecutionQueries(control: control).execution(id)
        case .error(let reference):
            return try ExecutionQueries(control: control).error(reference)
        case .healthOfServices:
            return try healthOfConnections()
        }
    }

    /// `{"items": [...]}` of a configuration table, sorted by name.
    private static func items<T>(_ byName: [String: T], _ document: (T) -> JSONValue) -> JSONValue {
        .object(["items": .array(byName.sorted { $0.key < $1.key }.map { document($0.value) })])
    }

    /// One entry's document, or `missing` when there is none.
    private static func one<T>(_ value: T?, _ missing: APIError, _ document: (T) -> JSONValue) throws(APIError)
        -> JSONValue
    {
        guard let value else { throw missing }
        return document(value)
    }

    /// A service document with what the server knows besides: id, version, result shape.
    static func document(for service: ServiceDefinition) -> JSONValue {
        guard case .object(var members) = ServiceDocument.document(for: service) else { return .null }
        members.insert(.init("id", .number(Int(service.id))), at: 0)
        members.append(.init("version", .number(service.version)))
        return .object(members)
    }

    /// The shared breaker rows by connection (a connection without one is closed).
    private func breakerStates() throws(APIError) -> [String: BreakerSnapshot] {
        do throws(PGError) {
            let rows = try control.withConnection { (connection: PGConnection) throws(PGError) in
                try BreakerStore.all(on: connection)
            }
            return Dictionary(rows.map { ($0.connection, $0) }, uniquingKeysWith: { $1 })
        } catch {
            throw AdminWrites.unavailable(error)
        }
    }

    /// A connection's document with its breaker's shared state.
    static func document(for connection: ConnectionDefinition, _ states: [String: BreakerSnapshot]) -> JSONValue {
        guard case .object(var members) = ServiceDocument.document(for: connection) else { return .null }
        let state = states[connection.name] ?? BreakerSnapshot(connection: connection.name)
        members.append(.init("breaker_state", state.document))
        return .object(members)
    }

    /// Each connection: reachable or not, how long a round trip took, and its breaker.
    private func healthOfConnections() throws(APIError) -> JSONValue {
        let states = try breakerStates()
        let items = configuration.connections.values.sorted { $0.name < $1.name }.map { definition -> JSONValue in
            let breaker = (states[definition.name] ?? BreakerSnapshot(connection: definition.name)).document
            let start = ContinuousClock.now
            do throws(PGError) {
                let connection = try targets.connection(for: definition)
                try connection.execute("SELECT 1", deadline: .now + .seconds(2))
                return .object([
                    "connection": .string(definition.name), "reachable": .bool(true),
                    "latency_ms": .number((milliseconds(start.duration(to: .now)) * 1000).rounded() / 1000),
                    "breaker_state": breaker,
                ])
            } catch {
                targets.discard(definition.name)
                return .object([
                    "connection": .string(definition.name), "reachable": .bool(false),
                    "error": .string(error.message), "breaker_state": breaker,
                ])
            }
        }
        return .object(["items": .array(items)])
    }

    static func bool(_ text: String, _ name: String) throws(APIError) -> Bool {
        switch text {
        case "true": return true
        case "false": return false
        default:
            throw .invalidParameters([ParameterProblem(parameter: name, problem: "must be true or false")])
        }
    }
}
