import Foundation
import SPOPostgres

/// The worker's open connections to target databases, one per configured connection, opened on
/// first use and replaced when they break (for example after PostgreSQL restarted).
public final class TargetConnections {
    private var open: [String: (conninfo: String, connection: PGConnection)] = [:]

    public init() {}

    /// A healthy connection for `definition`, connecting if needed.
    public func connection(for definition: ConnectionDefinition) throws(PGError) -> PGConnection {
        let conninfo = try TargetConnections.resolve(definition)
        if let existing = open[definition.name], existing.conninfo == conninfo, existing.connection.isHealthy {
            return existing.connection
        }
        open[definition.name] = nil
        let connection = try PGConnection(conninfo: conninfo)
        open[definition.name] = (conninfo, connection)
        return connection
    }

    /// Forgets the connection (after it failed), so the next call reconnects.
    public func discard(_ name: String) { open[name] = nil }

    /// Closes every connection (after configuration changed, connections are reopened lazily).
    public func closeAll() { open.removeAll() }

    /// The conninfo with the secret read from where `password_from` points.
    static func resolve(_ definition: ConnectionDefinition) throws(PGError) -> String {
        guard let source = definition.passwordFrom else { return definition.conninfo }
        let secret: String?
        if source.hasPrefix("env:") {
            secret = ProcessInfo.processInfo.environment[String(source.dropFirst(4))]
        } else if source.hasPrefix("file:") {
            secret = (try? String(contentsOfFile: String(source.dropFirst(5)), encoding: .utf8))?
                .trimmingCharacters(in: .newlines)
        } else {
            secret = nil
        }
        guard let secret else {
            throw PGError(
                kind: .connection, sqlstate: "08001",
                message: "connection \(definition.name): the secret \(source) is not available")
        }
        let quoted = secret.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'")
        return definition.conninfo + " password='\(quoted)'"
    }
}
