import Foundation
import SPOPostgres
import Testing

@testable import SPOCore
@testable import SPOServer

/// A connection's secret (`password_from`) reaches libpq as a setting of its own, whatever form
/// the conninfo has: appended as text, a URI would have read it as part of its database name.
@Suite struct TargetSecretTests {
    @Test func aURIConninfoWithASecretConnectsToItsOwnDatabase() throws {
        let cluster = try TestCluster.shared()
        let database = try TestCluster.emptyDatabase()
        let name = try #require(try PGConninfo(parsing: database)["dbname"])
        let socket = cluster.directory.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
        let uri = "postgresql://postgres@/\(name)?host=\(socket)&port=\(TestCluster.port)"
        setenv("SPO_SECRET_TEST_TARGET", "s3cr'et \\ with spaces", 1)
        defer { unsetenv("SPO_SECRET_TEST_TARGET") }
        let definition = ConnectionDefinition(name: "uri", conninfo: uri, passwordFrom: "env:SPO_SECRET_TEST_TARGET")
        let connection = try TargetConnections().connection(for: definition)
        #expect(try connection.execute("SELECT current_database()").value(0, 0) == name)
    }

    @Test func aMissingSecretIsAConnectionError() {
        let definition = ConnectionDefinition(
            name: "gone", conninfo: "dbname=x", passwordFrom: "env:SPO_SECRET_TEST_NO_SUCH_VARIABLE")
        #expect(throws: PGError.self) { try TargetConnections().connection(for: definition) }
    }
}
