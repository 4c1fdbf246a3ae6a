import Foundation
import SPOJSON
import SPOPostgres
import Testing

@testable import SPOCore
@testable import SPOServer

/// Config as code (import/export), discovery from the catalog, and changes reaching a worker.
@Suite struct ConfigurationTests {
    private func importer(_ fixture: Fixture) -> ConfigurationImporter {
        ConfigurationImporter(control: fixture.database)
    }

    /// The services with the fields an import bumps (version) neutralised.
    private func comparable(_ configuration: Configuration) -> [String: ServiceDefinition] {
        configuration.services.mapValues { service in
            var copy = service
            copy.version = 0
            return copy
        }
    }

    @Test func exportThenImportIsANoOpApartFromVersions() throws {
        let fixture = try Fixture()
        let before = try ConfigurationStore.load(from: fixture.database)
        #expect(before.services.count == 10)
        #expect(before.connections.count == 1)
        #expect(Set(before.retryPolicies.keys) == ["default", "none"])
        let exported = ConfigurationImporter.export(before)

        let summary = try importer(fixture).importDocument(exported)
        #expect(summary.services.count == 10)
        #expect(summary.connections == ["demo"])

        let after = try ConfigurationStore.load(from: fixture.database)
        #expect(comparable(after) == comparable(before))
        #expect(after.connections == before.connections)
        #expect(after.retryPolicies == before.retryPolicies)
        for (name, service) in after.services { #expect(service.version == (before.services[name]?.version ?? 0) + 1) }
        #expect(ConfigurationImporter.export(after) == exported)
        #expect(try fixture.value("SELECT count(*) FROM spo.service") == "10")
        #expect(try fixture.value("SELECT count(*) FROM spo.service_configuration") == "10")

        // And the text form survives a parse: what `spo services export` writes, `import` reads.
        let reparsed = try JSONValue.parse(exported.serialized())
        #expect(try importer(fixture).importDocument(reparsed).services.count == 10)
    }

    @Test func importOfAMissingProcedureFailsAndChangesNothing() throws {
        let fixture = try Fixture()
        let document = try JSONValue.parse(
            #"""
            {"services": [
              {"name": "count_again", "connection": "demo", "procedure": "demo.customer_count",
               "parameters": "discover"},
              {"name": "ghost", "connection": "demo", "procedure": "demo.does_not_exist", "parameters": []}
            ]}
            """#)
        let before = try fixture.rows("SELECT name, version::text FROM spo.service ORDER BY name")
        let error = try #require(throws: ConfigurationError.self) { try importer(fixture).importDocument(document) }
        #expect(error.problems.count == 1)
        let problem = try #require(error.problems.first)
        #expect(problem.path.contains("ghost"), "\(problem.path)")
        #expect(problem.path.hasSuffix("procedure"), "\(problem.path)")
        #expect(problem.problem.contains("demo.does_not_exist does not exist"), "\(problem.problem)")
        #expect(try fixture.rows("SELECT name, version::text FROM spo.service ORDER BY name") == before)
        #expect(try fixture.value("SELECT count(*) FROM spo.service_configuration") == "10")
    }

    @Test func importWithBadReferencesListsEveryProblem() throws {
        let fixture = try Fixture()
        let document = try JSONValue.parse(
            #"""
            [
              {"name": "a1", "connection": "nowhere", "procedure": "demo.customer_count"},
              {"name": "a2", "connection": "demo", "procedure": "demo.customer_count", "retry_policy": "nope"},
              {"name": "a3", "connection": "demo", "procedure": "demo.get_customer", "parameters": [
                {"name": "p_nope", "type": "integer"}]}
            ]
            """#)
        let error = try #require(throws: ConfigurationError.self) { try importer(fixture).importDocument(document) }
        let text = error.description
        #expect(text.contains("no connection named nowhere"), "\(text)")
        #expect(text.contains("no retry policy named nope"), "\(text)")
        #expect(text.contains("has no parameter p_nope"), "\(text)")
        #expect(text.contains("p_id has no default"), "\(text)")
        #expect(try fixture.value("SELECT count(*) FROM spo.service") == "10")
    }

    /// Parameters that no call could match: a CALL must name every OUT parameter, and the
    /// configured type is the cast each value is sent with.
    @Test func importRejectsParametersNoCallCouldMatch() throws {
        let fixture = try Fixture()
        let document = try JSONValue.parse(
            #"""
            [
              {"name": "transfer3", "connection": "demo", "procedure": "demo.transfer", "parameters": [
                {"name": "p_from", "type": "integer", "required": true},
                {"name": "p_to", "type": "integer", "required": true},
                {"name": "p_amount", "type": "numeric", "required": true}]},
              {"name": "get3", "connection": "demo", "procedure": "demo.get_customer", "parameters": [
                {"name": "p_id", "type": "text", "required": true}]}
            ]
            """#)
        let error = try #require(throws: ConfigurationError.self) { try importer(fixture).importDocument(document) }
        let text = error.description
        #expect(text.contains("p_from_balance is OUT"), "\(text)")
        #expect(text.contains("p_to_balance is OUT"), "\(text)")
        #expect(text.contains("services[1] (get3).parameters[0].type: is integer in"), "\(text)")
        #expect(try fixture.value("SELECT count(*) FROM spo.service") == "10")

        // Type aliases and modifiers are the same type.
        let aliases = try JSONValue.parse(
            #"""
            {"name": "echo3", "connection": "demo", "procedure": "demo.echo_types", "parameters": [
              {"name": "p_varchar", "type": "character varying(10)"}, {"name": "p_double", "type": "float8"},
              {"name": "p_int_array", "type": "int4[]"}, {"name": "p_timestamptz", "type": "timestamp with time zone"}]}
            """#)
        #expect(try importer(fixture).importDocument(aliases).services == ["echo3"])
    }

    @Test func discoverReadsParametersFromTheCatalog() throws {
        let fixture = try Fixture()
        let document = try JSONValue.parse(
            #"""
            [
              {"name": "transfer2", "connection": "demo", "procedure": "demo.transfer", "parameters": "discover",
               "retry_policy": "none"},
              {"name": "search2", "connection": "demo", "procedure": "demo.search_customers",
               "parameters": "discover"},
              {"name": "echo2", "connection": "demo", "procedure": "demo.echo_types", "parameters": "discover"}
            ]
            """#)
        #expect(try importer(fixture).importDocument(document).services == ["transfer2", "search2", "echo2"])
        let configuration = try ConfigurationStore.load(from: fixture.database)

        let transfer = try #require(configuration.services["transfer2"])
        #expect(transfer.resultShape == .procedure)
        #expect(transfer.procedure == QualifiedName(schema: "demo", name: "transfer"))
        #expect(
            transfer.parameters.map { "\($0.name) \($0.type) \($0.direction.rawValue) \($0.required)" } == [
                "p_from integer IN true", "p_to integer IN true", "p_amount numeric IN true",
                "p_from_balance numeric OUT false", "p_to_balance numeric OUT false",
                "p_reference text INOUT false",
            ])

        let search = try #require(configuration.services["search2"])
        #expect(search.resultShape == .set)
        #expect(search.parameters.map(\.name) == ["p_name", "p_min_balance", "p_limit"])
        #expect(search.parameters.allSatisfy { !$0.required && $0.direction == .in })

        let echo = try #require(configuration.services["echo2"])
        #expect(echo.resultShape == .scalar)
        #expect(
            echo.parameters.map(\.type.description) == [
                "smallint", "integer", "bigint", "numeric", "real", "double precision", "text", "varchar", "boolean",
                "date", "timestamp", "timestamptz", "uuid", "json", "jsonb", "integer[]", "text[]",
            ])
        #expect(echo.parameters.allSatisfy { !$0.required })

        // The discovered services run.
        fixture.handler.reload(configuration)
        let reply = fixture.execute("transfer2", #"{"p_from": 3, "p_to": 4, "p_amount": 1, "p_reference": "r-1"}"#)
        #expect(reply.status == 200, "\(reply.text)")
        #expect(reply.data?["p_reference"] == .string("r-1"))
        let missing = try fixture.expectError(fixture.execute("transfer2", "{}"), "INVALID_PARAMETERS", status: 400)
        #expect(
            Set(missing["details"]?.arrayValue?.compactMap { $0["parameter"]?.stringValue } ?? []) == [
                "p_from", "p_to", "p_amount",
            ])
        let search2 = fixture.execute("search2", #"{"p_limit": 2}"#)
        #expect(search2.data?.arrayValue?.count == 2)
    }

    @Test func aChangeIsNotifiedAndTakesEffectOnReload() throws {
        let fixture = try Fixture()
        let listener = try PGConnection(conninfo: fixture.conninfo)
        try listener.execute("LISTEN \(ConfigurationStore.channel)")
        #expect(listener.notifications().isEmpty)
        #expect(fixture.execute("customer_get", #"{"p_id": 1}"#).status == 200)

        try fixture.database.execute("UPDATE spo.service SET enabled = false WHERE name = 'customer_get'")
        var received: [PGNotification] = []
        #expect(
            eventually(within: 2) {
                received += listener.notifications()
                return !received.isEmpty
            })
        #expect(received.first?.channel == "spo_config")
        #expect(received.first?.payload == "service")

        let changed = try ConfigurationStore.load(from: fixture.database)
        let service = try #require(changed.services["customer_get"])
        #expect(service.enabled == false)
        #expect(service.version == 2)
        #expect(changed.enabledService("customer_get") == nil)

        // Not yet reloaded: the handler still serves its snapshot.
        #expect(fixture.execute("customer_get", #"{"p_id": 1}"#).status == 200)
        fixture.handler.reload(changed)
        try fixture.expectError(fixture.execute("customer_get", #"{"p_id": 1}"#), "SERVICE_NOT_FOUND", status: 404)

        try fixture.database.execute("UPDATE spo.service SET enabled = true WHERE name = 'customer_get'")
        try fixture.reload()
        #expect(fixture.execute("customer_get", #"{"p_id": 1}"#).status == 200)
    }

    /// Every change moves the generation forward in its own transaction (a rolled-back one does
    /// not), and a snapshot holds the generation of exactly what it read.
    @Test func everyCommittedChangeMovesTheGenerationForward() throws {
        let fixture = try Fixture()
        let before = try ConfigurationStore.load(from: fixture.database)
        #expect(before.generation > 0)
        #expect(try ConfigurationStore.generation(on: fixture.database) == before.generation)

        try fixture.database.execute("UPDATE spo.service SET enabled = false WHERE name = 'customer_get'")
        let disabled = try ConfigurationStore.load(from: fixture.database)
        #expect(disabled.generation > before.generation)
        #expect(disabled.enabledService("customer_get") == nil)

        try fixture.database.execute("BEGIN")
        try fixture.database.execute("UPDATE spo.connection SET description = 'rolled back'")
        try fixture.database.execute("ROLLBACK")
        #expect(try ConfigurationStore.generation(on: fixture.database) == disabled.generation)

        try fixture.database.execute("UPDATE spo.service SET enabled = true WHERE name = 'customer_get'")
        #expect(try ConfigurationStore.generation(on: fixture.database) > disabled.generation)
    }

    @Test func changedParametersApplyAfterReload() throws {
        let fixture = try Fixture()
        #expect(fixture.execute("customer_get", #"{"p_id": 42}"#).status == 200)
        let document = try JSONValue.parse(
            #"""
            {"name": "customer_get", "connection": "demo", "procedure": "demo.get_customer", "retry_policy": "default",
             "parameters": [{"name": "p_id", "type": "integer", "required": true, "minimum": 1, "maximum": 10}]}
            """#)
        _ = try importer(fixture).importDocument(document)
        try fixture.reload()
        let error = try fixture.expectError(
            fixture.execute("customer_get", #"{"p_id": 42}"#), "INVALID_PARAMETERS", status: 400)
        #expect(error["details"]?.arrayValue?.first?["problem"] == .string("must be at most 10"))
        #expect(fixture.execute("customer_get", #"{"p_id": 10}"#).status == 200)
    }

    @Test func aRowEditedIntoNonsenseIsSkippedNotFatal() throws {
        let fixture = try Fixture()
        try fixture.database.execute(
            """
            UPDATE spo.service_configuration SET parameters = '[{"name": "p_id", "type": "nonsense"}]'
            WHERE service_id = (SELECT id FROM spo.service WHERE name = 'customer_get')
            """)
        var problems: [String] = []
        let configuration = try ConfigurationStore.load(from: fixture.database) { problems.append($0) }
        #expect(configuration.services.count == 9)
        #expect(configuration.services["customer_get"] == nil)
        #expect(problems.count == 1)
        #expect(problems.first?.contains("customer_get") == true)
    }
}
