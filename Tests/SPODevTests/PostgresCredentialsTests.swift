import Foundation
import Glibc
import Testing

@testable import SPODev

@Suite struct PostgresCredentialsTests {
    @Test func passwordsAreLongRandomHex() throws {
        let first = try PostgresCredentials.generate(path: "/x", host: "/s", port: 5433, user: "postgres")
        let second = try PostgresCredentials.generate(path: "/x", host: "/s", port: 5433, user: "postgres")
        #expect(first.password.count == 64 && first.password.allSatisfy(\.isHexDigit))
        #expect(first.password != second.password)
    }

    @Test func pgpassEscapesTheUserAndReadsBack() throws {
        let path = NSTemporaryDirectory() + "spo-pgpass-" + UUID().uuidString
        defer { unlink(path) }
        let credentials = PostgresCredentials(
            path: path, host: "/a:b/pgsocket", port: 5433, user: #"od:d\user"#, password: "00ff")
        #expect(credentials.pgpassLine == #"/a\:b/pgsocket:5433:*:od\:d\\user:00ff"# + "\n")
        try credentials.write(owner: nil)
        #expect(
            PostgresCredentials.load(path: path, host: "/a:b/pgsocket", port: 5433, user: #"od:d\user"#)?.password
                == "00ff")
        // Only for that server and user: another port, directory or user has no password here.
        #expect(PostgresCredentials.load(path: path, host: "/a:b/pgsocket", port: 5434, user: #"od:d\user"#) == nil)
        #expect(PostgresCredentials.load(path: path, host: "/elsewhere", port: 5433, user: #"od:d\user"#) == nil)
        #expect(PostgresCredentials.load(path: path, host: "/a:b/pgsocket", port: 5433, user: "postgres") == nil)
        var info = stat()
        #expect(stat(path, &info) == 0 && info.st_mode & 0o7777 == 0o600)
    }

    /// The instance's login roles share one pgpass file: writing one role's line keeps the others.
    @Test func eachRoleHasItsLineInOneFile() throws {
        let path = NSTemporaryDirectory() + "spo-pgpass-" + UUID().uuidString
        defer { unlink(path) }
        let superuser = try PostgresCredentials.generate(path: path, host: "/s", port: 5433, user: "postgres")
        try superuser.write(owner: nil)
        let pool = try PostgresCredentials.loadOrCreate(
            path: path, host: "/s", port: 5433, user: "spo_pool", owner: nil)
        #expect(
            try PostgresCredentials.loadOrCreate(path: path, host: "/s", port: 5433, user: "spo_pool", owner: nil)
                .password == pool.password)
        try superuser.write(owner: nil)  // again, as every start does
        #expect(
            PostgresCredentials.load(path: path, host: "/s", port: 5433, user: "spo_pool")?.password == pool.password)
        #expect(
            PostgresCredentials.load(path: path, host: "/s", port: 5433, user: "postgres")?.password
                == superuser.password)
        #expect(try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").count == 2)
    }

    @Test func writingReplacesALinkInsteadOfWritingThroughIt() throws {
        let directory = NSTemporaryDirectory() + "spo-cred-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "victim\n".write(toFile: directory + "/victim", atomically: false, encoding: .utf8)
        symlink(directory + "/victim", directory + "/pgpass")
        try PostgresCredentials.writePrivately("secret\n", to: directory + "/pgpass", owner: nil)
        #expect(try String(contentsOfFile: directory + "/victim", encoding: .utf8) == "victim\n")
        #expect(try String(contentsOfFile: directory + "/pgpass", encoding: .utf8) == "secret\n")
    }

    @Test func theClusterTrustsNobody() {
        let rules = PostgresCredentials.hostBasedAuthentication.split(separator: "\n").filter { !$0.hasPrefix("#") }
        #expect(
            rules.map { $0.split(separator: " ", omittingEmptySubsequences: true) }.filter { !$0.isEmpty } == [
                ["local", "all", "all", "scram-sha-256"]
            ])
    }
}
