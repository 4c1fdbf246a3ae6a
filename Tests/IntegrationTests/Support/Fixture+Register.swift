import SPOJSON
import SPOPostgres

@testable import SPOCore
@testable import SPOServer

extension Fixture {
    /// Creates `sql`'s objects in the test database (the `demo` connection's target), imports the
    /// service documents of `services` (a JSON array) as `spo services import` would, and reloads.
    func register(sql: String = "", services: String) throws {
        if !sql.isEmpty { try database.executeScript(sql) }
        _ = try ConfigurationImporter(control: database).importDocument(try JSONValue.parse(services))
        try reload()
    }

    /// What `import` answers for `services` (a JSON array of documents): its problems, or nil
    /// when it was accepted.
    func importProblems(_ services: String) throws -> [(path: String, problem: String)]? {
        do {
            _ = try ConfigurationImporter(control: database).importDocument(try JSONValue.parse(services))
            return nil
        } catch let error as ConfigurationError {
            return error.problems
        }
    }

    /// PostgreSQL's own JSON for `sql`'s single value, parsed (the reference a response is compared with).
    func json(_ sql: String, _ parameters: [String?] = []) throws -> JSONValue {
        try JSONValue.parse(try value(sql, parameters) ?? "null")
    }
}
