import SPOJSON
import SPOPostgres

/// What a client is told when a database could not be reached or refused the login. libpq's own
/// text names the host, port, socket path and user ("connection to server at \"10.0.0.5\", port
/// 5432 failed: FATAL:  password authentication failed for user \"app\""), and ours names the
/// secret reference: none of it is for clients. They get a generic sentence chosen by the
/// SQLSTATE, and the SQLSTATE itself; the full text goes to the worker's log only.
public enum DatabaseFailureText {
    /// The generic sentence for `error`, by its SQLSTATE.
    public static func forClients(_ error: PGError) -> String {
        // What the client must know to decide whether to send it again.
        if error.mayHaveRun {
            return "the connection to the database was lost after the call was sent, so it may have run"
        }
        return switch error.sqlstate {
        case "28P01", "28000": "the database refused the login"
        case "53300": "the database has too many connections"
        case "57P01", "57P02", "57P03": "the database is shutting down or starting up"
        case "3D000": "the database does not exist"
        default: error.kind == .timeout ? "the database did not answer in time" : "could not connect to the database"
        }
    }

    /// The `details` item of such an error: the SQLSTATE and the generic sentence.
    public static func details(_ error: PGError) -> [JSONValue] {
        [.object(["sqlstate": .string(error.sqlstate), "message": .string(forClients(error))])]
    }
}
