import Foundation
import SPOJSON
import SPOPostgres
import Testing

@testable import SPOCore
@testable import SPOServer

/// Signatures as real schemas have them: unnamed arguments (pagila's `last_day`), VARIADIC,
/// mixed-case and dotted names, overloads; and configuration refused at write time when some
/// call it admits could match no routine.
@Suite struct SignatureTests {
    /// `last_day(timestamp with time zone)` as the public "pagila" sample schema defines it.
    static let lastDay = """
        CREATE FUNCTION public.last_day(timestamp with time zone) RETURNS date
            LANGUAGE sql IMMUTABLE STRICT
        AS $$
            SELECT CASE
                WHEN EXTRACT(MONTH FROM $1) = 12 THEN
                    (((EXTRACT(YEAR FROM $1) + 1) operator(pg_catalog.||) '-01-01')::date - INTERVAL '1 day')::date
                ELSE
                    ((EXTRACT(YEAR FROM $1) operator(pg_catalog.||) '-' operator(pg_catalog.||)
                        (EXTRACT(MONTH FROM $1) + 1) operator(pg_catalog.||) '-01')::date - INTERVAL '1 day')::date
            END
        $$;
        """

    @Test func anUnnamedArgumentIsDiscoveredAsArg1AndPassedByPosition() throws {
        let fixture = try Fixture()
        try fixture.register(
            sql: Self.lastDay,
            services:
                #"[{"name": "last_day", "connection": "demo", "procedure": "last_day", "parameters": "discover"}]"#
        )
        let service = try #require(fixture.handler.configuration.services["last_day"])
        #expect(service.procedure == QualifiedName(schema: "public", name: "last_day"))
        #expect(service.parameters.map { "\($0.name) \($0.type) \($0.required)" } == ["arg1 timestamptz true"])
        #expect(service.parameters.first?.description?.contains("Argument 1 of") == true)
        #expect(service.arguments == [RoutineArgument(name: "arg1", isNamed: false)])
        #expect(service.volatility == .immutable)

        let reply = fixture.execute("last_day", #"{"arg1": "2024-02-10T12:00:00Z"}"#)
        #expect(reply.status == 200, "\(reply.text)")
        #expect(reply.data == .string("2024-02-29"))
        #expect(reply.data == (try fixture.json("SELECT to_json(last_day('2024-02-10T12:00:00Z'))")))
        let missing = try fixture.expectError(fixture.execute("last_day", "{}"), "INVALID_PARAMETERS", status: 400)
        #expect(missing["details"]?.arrayValue?.first?["parameter"] == .string("arg1"))

        // OpenAPI documents the generated name.
        let openAPI = fixture.send(HTTPRequest(method: "GET", path: "/api/openapi.json"))
        let body = openAPI.json["paths"]?["/api/services/last_day/execute"]?["post"]?["requestBody"]
        let schema = body?["content"]?["application/json"]?["schema"]
        #expect(schema?["properties"]?["arg1"] != nil, "\(openAPI.text.prefix(300))")
        #expect(schema?["required"] == .array([.string("arg1")]))
    }

    @Test func namedAndUnnamedArgumentsMix() throws {
        let fixture = try Fixture()
        try fixture.register(
            sql: """
                CREATE FUNCTION demo.label(int, p_scale int DEFAULT 10, p_suffix text DEFAULT '!') RETURNS text
                    LANGUAGE sql IMMUTABLE AS $$ SELECT ($1 * p_scale)::text || p_suffix $$;
                CREATE FUNCTION demo.label_after(p_prefix text, int) RETURNS text
                    LANGUAGE sql IMMUTABLE AS $$ SELECT p_prefix || $2::text $$;
                """,
            services: #"""
                [{"name": "label", "connection": "demo", "procedure": "demo.label", "parameters": "discover"},
                 {"name": "label_after", "connection": "demo", "procedure": "demo.label_after",
                  "parameters": "discover"}]
                """#)
        #expect(fixture.execute("label", #"{"arg1": 4}"#).data == .string("40!"))
        #expect(fixture.execute("label", #"{"arg1": 4, "p_suffix": "?"}"#).data == .string("40?"))
        #expect(fixture.execute("label", #"{"p_suffix": "?", "arg1": 4, "p_scale": 2}"#).data == .string("8?"))
        let after = fixture.execute("label_after", #"{"arg2": 7, "p_prefix": "n"}"#)
        #expect(after.status == 200, "\(after.text)")
        #expect(after.data == .string("n7"))
    }

    @Test func aProcedureWithUnnamedOutputsAnswersThemByTheirGeneratedNames() throws {
        let fixture = try Fixture()
        try fixture.register(
            sql: """
                CREATE PROCEDURE demo.bump(int, OUT int, INOUT int)
                    LANGUAGE plpgsql AS $$ BEGIN $2 := $1 + 1; $3 := $3 * 2; END $$;
                """,
            services: #"[{"name": "bump", "connection": "demo", "procedure": "demo.bump", "parameters": "discover"}]"#)
        let service = try #require(fixture.handler.configuration.services["bump"])
        #expect(
            service.parameters.map { "\($0.name) \($0.direction.rawValue)" } == ["arg1 IN", "arg2 OUT", "arg3 INOUT"])
        let reply = fixture.execute("bump", #"{"arg1": 1, "arg3": 5}"#)
        #expect(reply.status == 200, "\(reply.text)")
        #expect(reply.data == .object(["arg2": .number("2"), "arg3": .number("10")]))
    }

    @Test func aVariadicArgumentTakesAJSONArray() throws {
        let fixture = try Fixture()
        try fixture.register(
            sql: """
                CREATE FUNCTION demo.total(VARIADIC p_amounts numeric[]) RETURNS numeric
                    LANGUAGE sql IMMUTABLE AS $$ SELECT sum(a) FROM unnest(p_amounts) AS a $$;
                CREATE FUNCTION demo.joined(text, VARIADIC text[]) RETURNS text
                    LANGUAGE sql IMMUTABLE AS $$ SELECT array_to_string($2, $1) $$;
                """,
            services: #"""
                [{"name": "total", "connection": "demo", "procedure": "demo.total", "parameters": "discover"},
                 {"name": "joined", "connection": "demo", "procedure": "demo.joined", "parameters": "discover"}]
                """#)
        let total = try #require(fixture.handler.configuration.services["total"])
        #expect(total.parameters.map { "\($0.name) \($0.type) \($0.required)" } == ["p_amounts numeric[] true"])
        #expect(total.arguments == [RoutineArgument(name: "p_amounts", isVariadic: true)])
        let reply = fixture.execute("total", #"{"p_amounts": [1.5, 2.25, "0.000000000000000000001"]}"#)
        #expect(reply.status == 200, "\(reply.text)")
        #expect(reply.data == .number("3.750000000000000000001"))
        #expect(fixture.execute("total", #"{"p_amounts": []}"#).data == .null)
        let wrong = try fixture.expectError(
            fixture.execute("total", #"{"p_amounts": 3}"#), "INVALID_PARAMETERS", status: 400)
        #expect(wrong["details"]?.arrayValue?.first?["parameter"] == .string("p_amounts"))

        let joined = fixture.execute("joined", #"{"arg1": "-", "arg2": ["a", "b", "c"]}"#)
        #expect(joined.status == 200, "\(joined.text)")
        #expect(joined.data == .string("a-b-c"))
    }

    /// `demo."GetOrder"` and `demo.getorder` are two routines; a schema may hold a dot.
    @Test func mixedCaseAndDottedNamesAreStoredAsIdentifiers() throws {
        let fixture = try Fixture()
        try fixture.register(
            sql: """
                CREATE FUNCTION demo.getorder() RETURNS text LANGUAGE sql AS $$ SELECT 'lower' $$;
                CREATE FUNCTION demo."GetOrder"() RETURNS text LANGUAGE sql AS $$ SELECT 'mixed' $$;
                CREATE SCHEMA "Sales.EU";
                CREATE FUNCTION "Sales.EU"."Order Lines"(p_id int) RETURNS TABLE (id int, "Line" text)
                    LANGUAGE sql AS $$ SELECT p_id, 'line' $$;
                """,
            services: #"""
                [{"name": "get_order", "connection": "demo", "procedure": "demo.\"GetOrder\"", "parameters": []},
                 {"name": "order_lines", "connection": "demo", "procedure": "\"Sales.EU\".\"Order Lines\"",
                  "parameters": "discover"}]
                """#)
        #expect(
            try fixture.rows(
                """
                SELECT procedure_schema, procedure_name, procedure FROM spo.service_configuration c
                JOIN spo.service s ON s.id = c.service_id WHERE s.name IN ('get_order', 'order_lines') ORDER BY s.name
                """) == [
                    ["demo", "GetOrder", #"demo."GetOrder""#],
                    ["Sales.EU", "Order Lines", #""Sales.EU"."Order Lines""#],
                ])
        #expect(fixture.execute("get_order").data == .string("mixed"))
        let lines = fixture.execute("order_lines", #"{"p_id": 3}"#)
        #expect(lines.status == 200, "\(lines.text)")
        #expect(lines.data == .array([.object(["id": .number("3"), "Line": .string("line")])]))

        // The exported document names the same routines when imported again.
        let exported = ConfigurationImporter.export(fixture.handler.configuration)
        let documents = exported["services"]?.arrayValue ?? []
        #expect(documents.first { $0["name"] == .string("get_order") }?["procedure"] == .string(#"demo."GetOrder""#))
        _ = try ConfigurationImporter(control: fixture.database).importDocument(exported)
        try fixture.reload()
        #expect(fixture.execute("get_order").data == .string("mixed"))
    }

    @Test func anOverloadIsChosenByItsSignatureAndKeepsIt() throws {
        let fixture = try Fixture()
        try fixture.register(
            sql: """
                CREATE FUNCTION demo.kind_of(p_value integer) RETURNS text LANGUAGE sql AS $$ SELECT 'integer' $$;
                CREATE FUNCTION demo.kind_of(p_value text) RETURNS text LANGUAGE sql AS $$ SELECT 'text' $$;
                CREATE FUNCTION demo."Kind Of"(p_value int, p_extra int DEFAULT 0) RETURNS text
                    LANGUAGE sql AS $$ SELECT 'quoted' $$;
                CREATE FUNCTION demo."Kind Of"(p_value text) RETURNS text LANGUAGE sql AS $$ SELECT 'quoted text' $$;
                """,
            services: #"""
                [{"name": "kind_int", "connection": "demo", "procedure": "demo.kind_of(integer)",
                  "parameters": "discover"},
                 {"name": "kind_text", "connection": "demo", "procedure": "demo.kind_of( text )",
                  "parameters": "discover"},
                 {"name": "kind_quoted", "connection": "demo", "procedure": "demo.\"Kind Of\"(int, int)",
                  "parameters": "discover"}]
                """#)
        #expect(fixture.execute("kind_int", #"{"p_value": 1}"#).data == .string("integer"))
        #expect(fixture.execute("kind_text", #"{"p_value": "1"}"#).data == .string("text"))
        #expect(fixture.execute("kind_quoted", #"{"p_value": 1, "p_extra": 2}"#).data == .string("quoted"))

        let procedures = ConfigurationImporter.export(fixture.handler.configuration)["services"]?.arrayValue?
            .filter { $0["name"]?.stringValue?.hasPrefix("kind_") == true }.compactMap { $0["procedure"]?.stringValue }
        // Sorted by service name: kind_int, kind_quoted, kind_text.
        #expect(procedures == ["demo.kind_of(integer)", #"demo."Kind Of"(integer, integer)"#, "demo.kind_of(text)"])
        // What export wrote imports again: the signature still picks one overload.
        _ = try ConfigurationImporter(control: fixture.database).importDocument(
            ConfigurationImporter.export(fixture.handler.configuration))

        let ambiguous = try #require(
            try fixture.importProblems(
                #"[{"name": "kind_any", "connection": "demo", "procedure": "demo.kind_of", "parameters": "discover"}]"#)
        )
        #expect(ambiguous.first?.problem.contains("overloaded") == true, "\(ambiguous)")
    }

    // MARK: - Checked at write time

    @Test func anOptionalParameterWithoutAnyDefaultIsRefused() throws {
        let fixture = try Fixture()
        let problems = try #require(
            try fixture.importProblems(
                #"""
                [{"name": "customer_get", "connection": "demo", "procedure": "demo.get_customer",
                  "parameters": [{"name": "p_id", "type": "integer", "required": false}]}]
                """#))
        #expect(problems.count == 1)
        #expect(problems.first?.path == "services[0] (customer_get).parameters[0].required")
        #expect(problems.first?.problem.contains("p_id is optional") == true, "\(problems)")
        // Nothing changed: the service still requires p_id.
        try fixture.reload()
        #expect(fixture.handler.configuration.services["customer_get"]?.parameters.first?.required == true)

        // A configured default makes it optional, and calls without it work.
        try fixture.register(
            services: #"""
                [{"name": "customer_get", "connection": "demo", "procedure": "demo.get_customer",
                  "parameters": [{"name": "p_id", "type": "integer", "required": false, "default": 42}]}]
                """#)
        let reply = fixture.execute("customer_get")
        #expect(reply.status == 200, "\(reply.text)")
        #expect(reply.data?.arrayValue?.first?["id"] == .number("42"))
    }

    @Test func anOptionalParameterWithoutAnyDefaultIsRefusedByTheAdminAPI() throws {
        let admin = try AdminAPITests.Admin()
        let document = #"""
            {"name": "customer_get", "connection": "demo", "procedure": "demo.get_customer",
             "parameters": [{"name": "p_id", "type": "integer", "required": false}]}
            """#
        for (method, path) in [("PUT", "/api/services/customer_get"), ("POST", "/api/services")] {
            let body =
                method == "POST" ? document.replacingOccurrences(of: "customer_get", with: "customer_get2") : document
            let reply = admin.fixture.send(
                HTTPRequest(
                    method: method, path: path,
                    headers: ["authorization": "Bearer \(admin.key)", "content-type": "application/json"],
                    body: Array(body.utf8)))
            let error = try admin.fixture.expectError(reply, "INVALID_PARAMETERS", status: 400)
            let details = error["details"]?.arrayValue ?? []
            #expect(details.first?["parameter"]?.stringValue?.hasSuffix("parameters[0].required") == true, "\(details)")
            #expect(details.first?["problem"]?.stringValue?.contains("p_id is optional") == true, "\(details)")
        }
        #expect(try admin.fixture.value("SELECT count(*) FROM spo.service WHERE name = 'customer_get2'") == "0")
    }

    /// PostgreSQL cannot skip a positional argument: an unnamed one after an argument a call may
    /// leave out is refused, unless that one has a configured default.
    @Test func anUnnamedArgumentAfterAnOmittableOneIsRefusedUnlessItHasADefault() throws {
        let fixture = try Fixture()
        try fixture.database.executeScript(
            """
            CREATE FUNCTION demo.window_of(p_from int DEFAULT 1, int DEFAULT 5) RETURNS text
                LANGUAGE sql IMMUTABLE AS $$ SELECT p_from || '..' || $2 $$;
            """)
        let discovered = try #require(
            try fixture.importProblems(
                #"[{"name": "window_of", "connection": "demo", "procedure": "demo.window_of", "parameters": "discover"}]"#
            ))
        #expect(discovered.count == 1)
        #expect(discovered.first?.problem.contains("arg2 has no name") == true, "\(discovered)")
        #expect(discovered.first?.problem.contains("p_from may be left out") == true, "\(discovered)")

        try fixture.register(
            services: #"""
                [{"name": "window_of", "connection": "demo", "procedure": "demo.window_of",
                  "parameters": [{"name": "p_from", "type": "integer", "default": 2}, {"name": "arg2", "type": "integer"}]}]
                """#)
        #expect(fixture.execute("window_of", #"{"arg2": 9}"#).data == .string("2..9"))
        #expect(fixture.execute("window_of", #"{}"#).data == .string("2..5"))
    }
}
