import Foundation
import SPOJSON
import SPOPostgres
import Testing

@testable import SPOCore
@testable import SPOServer

/// Migration 4 on a control schema written by earlier versions: the stored `procedure` text
/// becomes identifiers, and the services keep working as before (every parameter by name).
@Suite struct RoutineIdentityMigrationTests {
    @Test func servicesWrittenBeforeMigration4KeepWorking() throws {
        let conninfo = try TestCluster.emptyDatabase()
        let connection = try PGConnection(conninfo: conninfo)
        try connection.executeScript(try TestCluster.example("demo.sql"))
        try connection.executeScript(
            #"CREATE FUNCTION demo."GetOrder"() RETURNS text LANGUAGE sql AS $$ SELECT 'mixed' $$;"#)
        #expect(try Migrator(migrations: Migration.all.filter { $0.version < 4 }).migrate(connection) == [1, 2, 3])
        // As versions before 4 wrote them: `schema.name` exactly as the catalog spells both.
        try connection.execute(
            "INSERT INTO spo.connection (name, conninfo) VALUES ('demo', $1)", [conninfo])
        try connection.executeScript(
            """
            WITH s AS (INSERT INTO spo.service (name, connection) VALUES ('customer_get', 'demo') RETURNING id)
            INSERT INTO spo.service_configuration (service_id, procedure, result_shape, parameters)
            SELECT id, 'demo.get_customer', 'set', '[{"name": "p_id", "type": "integer", "required": true}]' FROM s;
            WITH s AS (INSERT INTO spo.service (name, connection) VALUES ('get_order', 'demo') RETURNING id)
            INSERT INTO spo.service_configuration (service_id, procedure, result_shape, parameters)
            SELECT id, 'demo.GetOrder', 'scalar', '[]' FROM s;
            """)

        #expect(try Migrator().migrate(connection) == Migration.all.map(\.version).filter { $0 >= 4 })
        let rows = try connection.execute(
            """
            SELECT procedure_schema, procedure_name, procedure_arguments IS NULL, volatility, idempotent::text
            FROM spo.service_configuration ORDER BY procedure_name
            """)
        #expect(
            (0..<rows.rowCount).map { row in (0..<rows.columnCount).map { rows.value(row, $0) } } == [
                ["demo", "GetOrder", "t", "volatile", "false"], ["demo", "get_customer", "t", "volatile", "false"],
            ])

        let authorization = try Fixture.executorAuthorization(on: connection)
        let configuration = try ConfigurationStore.load(from: connection)
        let service = try #require(configuration.services["get_order"])
        #expect(service.procedure == QualifiedName(schema: "demo", name: "GetOrder"))
        #expect(service.arguments.isEmpty)
        let handler = RequestHandler(configuration: configuration, control: ControlDatabase(conninfo: conninfo))
        let order = Reply(
            handler.handle(
                HTTPRequest(
                    method: "POST", path: "/api/services/get_order/execute",
                    headers: ["content-type": "application/json", "authorization": authorization],
                    body: Array("{}".utf8))))
        #expect(order.status == 200, "\(order.text)")
        #expect(order.data == .string("mixed"))
        let customer = Reply(
            handler.handle(
                HTTPRequest(
                    method: "POST", path: "/api/services/customer_get/execute",
                    headers: ["content-type": "application/json", "authorization": authorization],
                    body: Array(#"{"p_id": 42}"#.utf8))))
        #expect(customer.status == 200, "\(customer.text)")
        #expect(customer.data?.arrayValue?.first?["id"] == .number("42"))
    }
}
