import Foundation
import SPOJSON
import SPOPostgres
import Testing

@testable import SPOCore
@testable import SPOServer

/// One test's world: its own database (example schema, control schema and example services),
/// a request handler serving it as a worker would, and a connection for looking at the rows.
final class Fixture {
    let conninfo: String
    /// For assertions and for changing configuration behind the handler's back.
    let database: PGConnection
    let control: ControlDatabase
    let handler: RequestHandler
    /// The audit user of the executor key granted `*` that every request carries unless it sends
    /// its own `Authorization` or is sent anonymously (the API fails closed: without a key only
    /// public services run). An executor, not an admin, so the tests see what a gateway client sees.
    static let keyName = "fixture"
    /// `Bearer <the fixture's executor key>`.
    let authorization: String

    init() throws {
        conninfo = try TestCluster.database()
        database = try PGConnection(conninfo: conninfo)
        control = ControlDatabase(conninfo: conninfo)
        authorization = try Fixture.executorAuthorization(on: database)
        handler = RequestHandler(configuration: try ConfigurationStore.load(from: database), control: control)
    }

    /// Creates an executor key granted `*` named `name` in the control schema behind `connection`
    /// and returns its `Authorization` value; a handler knows it once it loads the configuration.
    static func executorAuthorization(name: String = keyName, on connection: PGConnection) throws -> String {
        "Bearer " + (try APIKeyStore.create(name: name, role: .executor, grants: ["*"], on: connection))
    }

    /// `POST /api/services/{service}/execute` with a JSON body.
    func execute(
        _ service: String, _ body: String = "{}", headers: [String: String] = [:], anonymous: Bool = false
    ) -> Reply {
        post("/api/services/\(service)/execute", body, headers: headers, anonymous: anonymous)
    }

    func post(_ path: String, _ body: String, headers: [String: String] = [:], anonymous: Bool = false) -> Reply {
        var allHeaders: HTTPHeaders = ["content-type": "application/json"]
        for (name, value) in headers { allHeaders[name.lowercased()] = value }
        return send(
            HTTPRequest(method: "POST", path: path, headers: allHeaders, body: Array(body.utf8)), anonymous: anonymous)
    }

    /// Sends `request` with the fixture's key unless it carries its own `Authorization`, or with
    /// no key at all when `anonymous`.
    func send(_ request: HTTPRequest, anonymous: Bool = false) -> Reply {
        var request = request
        if !anonymous && request.header("authorization") == nil { request.headers["authorization"] = authorization }
        return Reply(handler.handle(request))
    }

    /// Reloads the handler's configuration from the control tables, as a worker does on NOTIFY.
    func reload() throws {
        handler.reload(try ConfigurationStore.load(from: database))
    }

    /// The rows of a query, as text (nil for NULL).
    func rows(_ sql: String, _ parameters: [String?] = []) throws -> [[String?]] {
        let result = try database.execute(sql, parameters)
        return (0..<result.rowCount).map { row in (0..<result.columnCount).map { result.value(row, $0) } }
    }

    /// The single value of a query returning one row and one column.
    func value(_ sql: String, _ parameters: [String?] = []) throws -> String? {
        try rows(sql, parameters).first?.first ?? nil
    }

    /// Checks that `reply` is the error `code` in the SPEC's one shape, and that its reference is
    /// a `service_error` row with the same code and status. Returns the error object.
    @discardableResult
    func expectError(
        _ reply: Reply, _ code: String, status: Int, sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> JSONValue {
        #expect(reply.status == status, "body: \(reply.text)", sourceLocation: sourceLocation)
        let error = try #require(reply.json["error"], "body: \(reply.text)", sourceLocation: sourceLocation)
        #expect(reply.json.members?.count == 1, sourceLocation: sourceLocation)
        #expect(
            Set(error.members?.map(\.key) ?? []) == ["code", "message", "reference", "details"],
            sourceLocation: sourceLocation)
        #expect(error["code"] == .string(code), "body: \(reply.text)", sourceLocation: sourceLocation)
        let message = error["message"]?.stringValue ?? ""
        #expect(!message.isEmpty, sourceLocation: sourceLocation)
        #expect(error["details"]?.arrayValue != nil, sourceLocation: sourceLocation)
        let reference = try #require(error["reference"]?.stringValue, sourceLocation: sourceLocation)
        #expect(UUID(uuidString: reference) != nil, sourceLocation: sourceLocation)
        let stored = try rows("SELECT code, http_status FROM spo.service_error WHERE reference = $1", [reference])
        #expect(stored.count == 1, "no service_error row \(reference)", sourceLocation: sourceLocation)
        #expect(stored.first == [code, String(status)], sourceLocation: sourceLocation)
        return error
    }
}

/// A response, with its body parsed.
struct Reply {
    let status: Int
    let headers: [(String, String)]
    let text: String
    let json: JSONValue

    init(_ response: HTTPResponse) {
        status = response.status
        headers = response.headers
        text = String(decoding: response.body, as: UTF8.self)
        json = (try? JSONValue.parse(response.body)) ?? .null
    }

    func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }

    var data: JSONValue? { json["data"] }
}

/// A fresh key for demo.flaky, so tests never share failure counters.
func freshKey() -> String { "k-" + UUID().uuidString.lowercased() }

/// Whether `text` is a lowercase UUID.
func isLowercaseUUID(_ text: String?) -> Bool {
    guard let text else { return false }
    return UUID(uuidString: text) != nil && text == text.lowercased()
}

/// Polls `condition` until it holds or `seconds` pass; returns whether it held.
func eventually(within seconds: Double, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while true {
        if try condition() { return true }
        if Date() >= deadline { return false }
        usleep(20_000)
    }
}
