import SPOJSON
import SPOPostgres
import Testing

@testable import SPOCore

/// A connection's conninfo is read by libpq (PQconninfoParse) when it is written: garbage and a
/// password in any spelling are refused; the secret is named by password_from.
@Suite struct ConninfoRulesTests {
    /// The problem ServiceDocument finds with a connection of this conninfo, if any.
    private func problem(_ conninfo: String) -> String? {
        let document: JSONValue = .object(["name": .string("target"), "conninfo": .string(conninfo)])
        do throws(ConfigurationError) {
            _ = try ServiceDocument.connection(from: document, path: "connection")
            return nil
        } catch {
            #expect(error.problems.map(\.path) == ["connection.conninfo"], "\(conninfo)")
            return error.problems.first?.problem
        }
    }

    @Test func libpqNormalisesEverySpellingOfAPassword() throws {
        for conninfo in [
            "host=db password=s3cret", "host=db password='s3 cret'", "password=", "postgresql://app:s3cret@db/x",
            "postgres://app:s3cret@db/x", "postgresql://app:%73%33cret@db/x", "postgresql://db/x?password=s3cret",
            "postgresql://db/x?%70assword=s3cret", "postgresql://db/x?pass%77ord=s3cret",
        ] {
            let parsed = try PGConninfo(parsing: conninfo)
            let secret = try #require(parsed.options.first { $0.keyword == "password" }, "\(conninfo)")
            #expect(secret.isSecret)
        }
        #expect(try PGConninfo(parsing: "postgresql://app:%73%33cret@db/x")["password"] == "s3cret")
        #expect(try PGConninfo(parsing: "host=db dbname=x")["password"] == nil)
        #expect(try PGConninfo(parsing: "sslpassword=k").options.first?.isSecret == true)
    }

    @Test func aPasswordInAnySpellingIsRefused() {
        for conninfo in [
            "host=db password=s3cret", "host=db password=''", "postgresql://app:s3cret@db/x",
            "postgresql://app:%73%33cret@db/x", "postgresql://db/x?password=s3cret",
            "postgresql://db/x?%70assword=s3cret", "postgresql://db/x?pass%77ord=s3cret", "host=db sslpassword=k",
            "dbname='host=db password=s3cret'",
        ] {
            let found = problem(conninfo)
            #expect(found?.contains("must not contain a password") == true, "\(conninfo): \(found ?? "accepted")")
            #expect(found?.contains("password_from") == true)
            #expect(found?.contains("s3cret") == false)
        }
    }

    @Test func garbageIsRefusedWithLibpqsMessage() {
        let cases = [
            ("host=db dbname", #"missing "=" after "dbname" in connection info string"#),
            ("hots=db", #"invalid connection option "hots""#),
            ("host='db", "unterminated quoted string in connection info string"),
            ("postgresql://db:notaport/x?bogus=1", #"invalid URI query parameter: "bogus""#),
        ]
        for (conninfo, message) in cases {
            #expect(problem(conninfo) == "is not a valid libpq connection string: \(message)", "\(conninfo)")
        }
        // Near a secret, libpq's message (which quotes the text) is withheld.
        // (A second "=" in a URI query value must be percent-encoded: %3D.)
        for conninfo in [
            "passwd=s3cret", "host=db password s3cret", "postgresql://app:s3cret@[::1/x",
            "postgresql://db/x?options=-c%20a=b",
        ] {
            let found = problem(conninfo)
            #expect(found == "is not a valid libpq connection string (key=value pairs or a postgresql:// URI)")
        }
    }

    @Test func passfileAndServiceAreRefused() {
        #expect(problem("host=db passfile=/etc/spo/pgpass")?.hasPrefix("must not set passfile") == true)
        #expect(problem("service=billing")?.hasPrefix("must not set service") == true)
        #expect(problem("postgresql://db/x?service=billing")?.hasPrefix("must not set service") == true)
    }

    /// Names that merely contain the word are no password (the old substring check refused them).
    @Test func ordinaryConnectionStringsAreAccepted() {
        for conninfo in [
            "host=/var/run/postgresql dbname=password_reset user=passworder", "host=db port=5432 dbname=app",
            "postgresql://app@db:5433/app?sslmode=require&application_name=spo", "postgresql:///app?host=/tmp",
            "host=db dbname='my app' connect_timeout=5",
        ] {
            #expect(problem(conninfo) == nil, "\(conninfo)")
        }
    }
}
