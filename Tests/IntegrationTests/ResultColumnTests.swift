import Foundation
import SPOJSON
import Testing

@testable import SPOCore
@testable import SPOServer

/// Results whose columns are named like what the generated SQL uses, and routines that change
/// the session under the next call: the answer is always PostgreSQL's own JSON of the call.
@Suite struct ResultColumnTests {
    /// Names the generated SQL uses or used (aliases, built-ins, casts), and names PostgreSQL
    /// resolves specially (`row`, `value`).
    static let columnNames = [
        "r", "t", "row", "json_agg", "spo_rows", "coalesce", "to_json", "text", "pg_catalog", "s", "x", "value",
        "*", "Mixed Case",
    ]

    @Test(arguments: columnNames)
    func aSetReturningFunctionAnswersItsRowsWhateverItsColumnIsCalled(column: String) throws {
        let fixture = try Fixture()
        let quoted = SQLIdentifier.quote(column)
        try fixture.register(
            sql: """
                CREATE FUNCTION demo.shaped() RETURNS TABLE (\(quoted) numeric, label text)
                    LANGUAGE sql STABLE AS $$ VALUES (1.5, 'one'), (2.50, 'two') $$;
                """,
            services: #"[{"name": "shaped", "connection": "demo", "procedure": "demo.shaped", "parameters": []}]"#)
        let reply = fixture.execute("shaped")
        #expect(reply.status == 200, "\(reply.text)")
        let expected = try fixture.json("SELECT json_agg(reference_row) FROM demo.shaped() AS reference_row")
        #expect(reply.data == expected)
        #expect(reply.data?.arrayValue?.first?.members?.map(\.key) == [column, "label"])
        #expect(reply.data?.arrayValue?.first?[column] == .number("1.5"))
    }

    /// Every such name at once, and the function named like its own column and like the alias.
    @Test(arguments: ["spo_rows", "r", "json_agg"])
    func aFunctionNamedLikeItsColumnsAnswersItsRows(function: String) throws {
        let fixture = try Fixture()
        let columns = Self.columnNames.map { "\(SQLIdentifier.quote($0)) int" }
        let values = Self.columnNames.indices.map(String.init).joined(separator: ", ")
        let name = SQLIdentifier.quote(function)
        try fixture.register(
            sql: """
                CREATE FUNCTION demo.\(name)() RETURNS TABLE (\(columns.joined(separator: ", ")))
                    LANGUAGE sql STABLE AS $$ VALUES (\(values)), (\(values)) $$;
                """,
            services: #"[{"name": "wide", "connection": "demo", "procedure": "demo.\#(function)", "parameters": []}]"#)
        let reply = fixture.execute("wide")
        #expect(reply.status == 200, "\(reply.text)")
        #expect(reply.data == (try fixture.json("SELECT json_agg(q) FROM demo.\(name)() AS q")))
        #expect(reply.data?.arrayValue?.count == 2)
        #expect(reply.data?.arrayValue?.first?.members?.map(\.key) == Self.columnNames)
    }

    /// A scalar function called like a built-in, and one returning a row with such columns.
    @Test func scalarFunctionsAnswerTheirValueWhateverTheirNames() throws {
        let fixture = try Fixture()
        try fixture.register(
            sql: """
                CREATE TYPE demo.pair AS (r int, json_agg text);
                CREATE FUNCTION demo.to_json(p_value int) RETURNS demo.pair
                    LANGUAGE sql STABLE AS $$ SELECT p_value, 'agg' $$;
                """,
            services: #"""
                [{"name": "pair", "connection": "demo", "procedure": "demo.to_json", "parameters": "discover"}]
                """#)
        let reply = fixture.execute("pair", #"{"p_value": 7}"#)
        #expect(reply.status == 200, "\(reply.text)")
        #expect(reply.data == (try fixture.json("SELECT pg_catalog.to_json(demo.to_json(7))")))
        #expect(reply.data == .object(["r": .number("7"), "json_agg": .string("agg")]))
    }

    /// A routine that points `search_path` at look-alikes of `json_agg` and `to_json` and creates
    /// a temporary type `text` (temporary types come first in every lookup) does not change
    /// what the next calls on the same connection run.
    @Test func aRoutineChangingTheSessionDoesNotChangeTheNextCall() throws {
        let fixture = try Fixture()
        try fixture.register(
            sql: """
                CREATE SCHEMA lookalike;
                CREATE FUNCTION lookalike.to_json(anyelement) RETURNS json
                    LANGUAGE sql AS $$ SELECT '"hijacked"'::pg_catalog.json $$;
                CREATE FUNCTION lookalike.agg_step(json, anyelement) RETURNS json
                    LANGUAGE sql AS $$ SELECT '"hijacked"'::pg_catalog.json $$;
                CREATE AGGREGATE lookalike.json_agg(anyelement) (sfunc = lookalike.agg_step, stype = json);
                CREATE FUNCTION demo.session_path() RETURNS text
                    LANGUAGE sql STABLE AS $$ SELECT pg_catalog.current_setting('search_path') $$;
                CREATE FUNCTION demo.change_session() RETURNS text LANGUAGE plpgsql VOLATILE AS $$
                BEGIN
                    PERFORM pg_catalog.set_config('search_path', 'lookalike, pg_catalog, demo', false);
                    CREATE TEMPORARY TABLE IF NOT EXISTS text (a int);
                    RETURN 'changed';
                END $$;
                """,
            services: #"""
                [{"name": "change_session", "connection": "demo", "procedure": "demo.change_session",
                  "parameters": []},
                 {"name": "session_path", "connection": "demo", "procedure": "demo.session_path", "parameters": []}]
                """#)
        let changed = fixture.execute("change_session")
        #expect(changed.status == 200, "\(changed.text)")
        #expect(changed.data == .string("changed"))

        let set = fixture.execute("customer_get", #"{"p_id": 42}"#)
        #expect(set.status == 200, "\(set.text)")
        #expect(set.data == (try fixture.json("SELECT json_agg(c) FROM demo.get_customer(42) AS c")))
        let text = fixture.execute("customer_search", #"{"p_name": "chen", "p_limit": 2}"#)
        #expect(text.status == 200, "\(text.text)")
        #expect(
            text.data
                == (try fixture.json(
                    "SELECT json_agg(c) FROM demo.search_customers(p_name => 'chen', p_limit => 2) AS c")))
        let scalar = fixture.execute("customer_count")
        #expect(scalar.status == 200, "\(scalar.text)")
        #expect(scalar.data == (try fixture.json("SELECT to_json(demo.customer_count())")))
        let procedure = fixture.execute(
            "transfer", #"{"p_from": 1, "p_to": 2, "p_amount": 1, "p_reference": "session"}"#)
        #expect(procedure.status == 200, "\(procedure.text)")
        #expect(procedure.data?["p_reference"] == .string("session"))
        // The calls above did run in the changed session.
        #expect(fixture.execute("session_path").data == .string("lookalike, pg_catalog, demo"))
    }
}
