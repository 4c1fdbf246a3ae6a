import Foundation
import Glibc
import SPOJSON
import Testing

@testable import SPOCore
@testable import SPOServer

/// A connection's secret reference is checked by the worker handling the admin write: outside
/// the allowed sources, unset or missing, it is refused with a 400 naming the reference (never a
/// value), and nothing is written.
@Suite(.serialized) struct SecretSourceTests {
    private func connection(_ name: String, _ reference: String, conninfo: String = "host=/nonexistent dbname=x")
        -> String
    {
        JSONValue.object([
            "name": .string(name), "conninfo": .string(conninfo), "password_from": .string(reference),
        ]).serialized()
    }

    private func count(_ world: AdminWritesTests.World) throws -> String? {
        try world.fixture.value("SELECT count(*) FROM spo.connection")
    }

    @Test func referencesOutsideTheSourcesOrUnavailableAreRefusedAtWriteTime() throws {
        let world = try AdminWritesTests.World(workers: 1)
        let before = try count(world)
        let home = ProcessInfo.processInfo.environment["HOME"] ?? "/root"
        let refused: [(String, String)] = [
            ("env:HOME", "starting with SPO_SECRET_"), ("env:SPO_SECRET_NEVER_SET_\(getpid())", "is not set"),
            ("file:/etc/passwd", "plain file name"), ("file:../etc/passwd", "plain file name"),
            ("file:demo.pw", "no secrets directory"), ("vault:x", "must be env:NAME"),
        ]
        for (reference, saying) in refused {
            let reply = world.send("POST", "/api/connections", connection("vault", reference))
            let error = try world.fixture.expectError(reply, "INVALID_PARAMETERS", status: 400)
            let detail = error["details"]?.arrayValue?.first
            #expect(detail?["parameter"] == .string("connection.password_from"), "\(reference): \(reply.text)")
            #expect(detail?["problem"]?.stringValue?.contains(saying) == true, "\(reference): \(reply.text)")
            #expect(!reply.text.contains(home + "\""), "no variable's value is echoed")
        }
        let withPassword = world.send(
            "POST", "/api/connections", connection("vault", "pgpass", conninfo: "dbname=x password=hunter2"))
        try world.fixture.expectError(withPassword, "INVALID_PARAMETERS", status: 400)
        #expect(!withPassword.text.contains("hunter2"))
        #expect(try count(world) == before, "nothing was written")
    }

    @Test func aSetVariableAPrivateFileAndPgpassAreAccepted() throws {
        let world = try AdminWritesTests.World(workers: 1)
        let variable = "SPO_SECRET_ACCEPTED_\(getpid())"
        setenv(variable, "v4lue-\(UUID().uuidString)", 1)
        defer { unsetenv(variable) }
        let directory = NSTemporaryDirectory() + "spo-secrets-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        let secret = "f1le-\(UUID().uuidString)"
        FileManager.default.createFile(atPath: directory + "/vault.pw", contents: Data(secret.utf8))
        chmod(directory + "/vault.pw", 0o600)
        let previous = SecretPolicy.current
        SecretPolicy.current.directory = directory
        defer { SecretPolicy.current = previous }

        for (name, reference) in [("by-env", "env:\(variable)"), ("by-file", "file:vault.pw"), ("by-pgpass", "pgpass")]
        {
            let reply = world.send("POST", "/api/connections", connection(name, reference))
            #expect(reply.status == 201, "\(reference): \(reply.text)")
            #expect(reply.json["password_from"] == .string(reference))
        }
        let stored = try world.fixture.rows("SELECT conninfo, coalesce(password_from, '') FROM spo.connection")
        #expect(!stored.flatMap { $0 }.contains { $0.contains(secret) || $0.contains("v4lue") })
        // A secrets file others could read is refused on the next write.
        chmod(directory + "/vault.pw", 0o644)
        let loose = world.send("PUT", "/api/connections/by-file", connection("by-file", "file:vault.pw"))
        let error = try world.fixture.expectError(loose, "INVALID_PARAMETERS", status: 400)
        #expect(error["details"]?.arrayValue?.first?["problem"]?.stringValue?.contains("0600 or 0400") == true)
        #expect(!loose.text.contains(secret))
    }
}
