import Foundation
import SPOJSON
import Testing

@testable import SPOCore
@testable import SPOServer

/// Every routine shape of examples/demo.sql through `RequestHandler`, with the response's JSON.
@Suite struct ExecutionTests {
    @Test func setReturningFunctionAnswersAnArrayOfRowObjects() throws {
        let fixture = try Fixture()
        let reply = fixture.execute("customer_get", #"{"p_id": 42}"#)
        #expect(reply.status == 200, "\(reply.text)")
        #expect(reply.header("Content-Type") == "application/json")

        // The envelope of SPEC §4.
        #expect(
            reply.json.members?.map(\.key) == ["execution_id", "service", "status", "attempts", "duration_ms", "data"])
        #expect(isLowercaseUUID(reply.json["execution_id"]?.stringValue))
        #expect(reply.json["service"] == .string("customer_get"))
        #expect(reply.json["status"] == .string("succeeded"))
        #expect(reply.json["attempts"] == .number(1))
        #expect((reply.json["duration_ms"]?.doubleValue ?? -1) >= 0)

        let rows = try #require(reply.data?.arrayValue)
        #expect(rows.count == 1)
        let row = try #require(rows.first)
        #expect(row.members?.map(\.key) == ["id", "name", "email", "balance", "created_at"])
        #expect(row["id"] == .number("42"))
        #expect(row["name"] == .string("Chloé Chen"))
        #expect(row["email"] == .string("c42@example.com"))
        // numeric(12,2) keeps its scale: 100.00 + (42 * 37 % 1000) * 1.25
        #expect(row["balance"] == .number("792.50"))
        let createdAt = try #require(row["created_at"]?.stringValue)
        #expect(isISO8601(createdAt))
        #expect(try fixture.value("SELECT $1::timestamptz = '2025-12-31 23:18:00+00'", [createdAt]) == "t")
    }

    @Test func setReturningFunctionWithoutRowsAnswersAnEmptyArray() throws {
        let fixture = try Fixture()
        let reply = fixture.execute("customer_get", #"{"p_id": 5000}"#)
        #expect(reply.status == 200)
        #expect(reply.data == .array([]))
    }

    @Test func optionalParametersTakeTheirDefaults() throws {
        let fixture = try Fixture()
        let all = fixture.execute("customer_search")
        #expect(all.status == 200, "\(all.text)")
        let rows = try #require(all.data?.arrayValue)
        #expect(rows.map { $0["id"] } == (1...10).map { .number($0) })
        // SETOF a table type: every column, the text[] one as a JSON array.
        #expect(rows.first?["tags"] == .array([.string("wholesale")]))

        let some = fixture.execute("customer_search", #"{"p_name": "chen", "p_min_balance": 500, "p_limit": 3}"#)
        #expect(some.status == 200, "\(some.text)")
        let expected = try fixture.rows(
            "SELECT id FROM demo.customer WHERE name ILIKE '%chen%' AND balance >= 500 ORDER BY id LIMIT 3")
        #expect(expected.count == 3)
        #expect(some.data?.arrayValue?.map { $0["id"] } == expected.map { .number($0[0] ?? "") })
    }

    @Test func scalarFunctionAnswersTheValue() throws {
        let fixture = try Fixture()
        #expect(fixture.execute("customer_count").data == .number("1000"))
        let count = try #require(try fixture.value("SELECT count(*) FROM demo.customer WHERE balance >= 1000.5"))
        #expect(fixture.execute("customer_count", #"{"p_min_balance": 1000.5}"#).data == .number(count))
    }

    @Test func voidFunctionAnswersNullAndItsWriteIsCommitted() throws {
        let fixture = try Fixture()
        let note = #"it's "quoted"; DROP TABLE demo.customer; -- ✓ ünïcode"#
        let body = JSONValue.object(["p_customer_id": .number(7), "p_note": .string(note)]).serialized()
        let reply = fixture.execute("note_add", body)
        #expect(reply.status == 200, "\(reply.text)")
        #expect(reply.json.members?.contains { $0.key == "data" } == true)
        #expect(reply.data == .null)
        #expect(try fixture.rows("SELECT customer_id::text, note FROM demo.order_note") == [["7", note]])
        #expect(try fixture.value("SELECT count(*) FROM demo.customer") == "1000")
    }

    @Test func procedureAnswersAnObjectOfItsOutAndInoutParameters() throws {
        let fixture = try Fixture()
        let issued = fixture.execute("transfer", #"{"p_from": 1, "p_to": 2, "p_amount": 10.00}"#)
        #expect(issued.status == 200, "\(issued.text)")
        let data = try #require(issued.data)
        #expect(Set(data.members?.map(\.key) ?? []) == ["p_from_balance", "p_to_balance", "p_reference"])
        #expect(data["p_from_balance"] == .number("136.25"))
        #expect(data["p_to_balance"] == .number("202.50"))
        #expect(data["p_reference"] == .string("TX-00000001"))

        let given = fixture.execute(
            "transfer", #"{"p_from": 2, "p_to": 1, "p_amount": 0.5, "p_reference": "order-77"}"#)
        #expect(given.status == 200, "\(given.text)")
        #expect(given.data?["p_reference"] == .string("order-77"))
        #expect(given.data?["p_from_balance"] == .number("202.00"))
        #expect(given.data?["p_to_balance"] == .number("136.75"))
        #expect(
            try fixture.rows("SELECT balance::text FROM demo.customer WHERE id IN (1, 2) ORDER BY id") == [
                ["136.75"], ["202.00"],
            ])
    }

    @Test func extremeNumbersKeepEveryDigit() throws {
        let fixture = try Fixture()
        let reply = fixture.execute("big_numbers")
        #expect(reply.status == 200, "\(reply.text)")
        #expect(reply.text.contains("9223372036854775807"))
        #expect(reply.text.contains("-9223372036854775808"))
        #expect(reply.text.contains("12345678901234567890.123456789"))
        let row = try #require(reply.data?.arrayValue?.first)
        #expect(row["big"] == .number("9223372036854775807"))
        #expect(row["small"] == .number("-9223372036854775808"))
        #expect(row["exact"] == .number("12345678901234567890.123456789"))
    }

    @Test func everySupportedTypeRoundTrips() throws {
        let fixture = try Fixture()
        let body = #"""
            {
              "p_smallint": -32768,
              "p_integer": 2147483647,
              "p_bigint": 9223372036854775807,
              "p_numeric": 12345678901234567890.123456789,
              "p_real": 1.5,
              "p_double": 0.1,
              "p_text": "héllo \"wörld\" \\ ✓",
              "p_varchar": "short",
              "p_boolean": true,
              "p_date": "2024-02-29",
              "p_timestamp": "2024-05-06T07:08:09.5",
              "p_timestamptz": "2024-05-06T07:08:09.123456+02:00",
              "p_uuid": "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11",
              "p_json": {"nested": [1, 2.50, null, "x"]},
              "p_jsonb": {"k": {"deep": true}},
              "p_int_array": [1, null, 3],
              "p_text_array": ["a\"b", "c\\d", "NULL", "x,y", "{}", null, ""]
            }
            """#
        let reply = fixture.execute("echo_types", body)
        #expect(reply.status == 200, "\(reply.text)")
        let data = try #require(reply.data)
        #expect(data["smallint"] == .number("-32768"))
        #expect(data["integer"] == .number("2147483647"))
        #expect(data["bigint"] == .number("9223372036854775807"))
        #expect(data["numeric"] == .number("12345678901234567890.123456789"))
        #expect(data["real"] == .number("1.5"))
        #expect(data["double"] == .number("0.1"))
        #expect(data["text"] == .string(#"héllo "wörld" \ ✓"#))
        #expect(data["varchar"] == .string("short"))
        #expect(data["boolean"] == .bool(true))
        #expect(data["date"] == .string("2024-02-29"))
        #expect(data["timestamp"] == .string("2024-05-06T07:08:09.5"))
        let instant = try #require(data["timestamptz"]?.stringValue)
        #expect(isISO8601(instant), "\(instant)")
        #expect(try fixture.value("SELECT $1::timestamptz = '2024-05-06 05:08:09.123456+00'", [instant]) == "t")
        #expect(data["uuid"] == .string("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"))
        #expect(data["json"] == .object(["nested": .array([.number("1"), .number("2.50"), .null, .string("x")])]))
        #expect(data["jsonb"] == .object(["k": .object(["deep": .bool(true)])]))
        #expect(data["int_array"] == .array([.number("1"), .null, .number("3")]))
        #expect(
            data["text_array"]
                == .array([
                    .string(#"a"b"#), .string(#"c\d"#), .string("NULL"), .string("x,y"), .string("{}"), .null,
                    .string(""),
                ]))
    }

    @Test(arguments: ["-9223372036854775808", "9223372036854775807", "0"])
    func bigintBoundsRoundTrip(_ literal: String) throws {
        let fixture = try Fixture()
        let reply = fixture.execute("echo_types", #"{"p_bigint": \#(literal), "p_boolean": false}"#)
        #expect(reply.status == 200, "\(reply.text)")
        #expect(reply.data?["bigint"] == .number(literal))
        #expect(reply.data?["boolean"] == .bool(false))
        #expect(reply.data?["integer"] == .null)
    }

    @Test func envelopeFormAnswersLikeTheServicePath() throws {
        let fixture = try Fixture()
        let reply = fixture.post("/api/execute", #"{"service": "customer_get", "parameters": {"p_id": 42}}"#)
        #expect(reply.status == 200, "\(reply.text)")
        #expect(reply.json["service"] == .string("customer_get"))
        #expect(reply.json["status"] == .string("succeeded"))
        #expect(reply.data?.arrayValue?.first?["email"] == .string("c42@example.com"))
        let direct = fixture.execute("customer_get", #"{"p_id": 42}"#)
        #expect(direct.data == reply.data)

        let noParameters = fixture.post("/api/execute", #"{"service": "customer_count"}"#)
        #expect(noParameters.data == .number("1000"))
    }

    @Test func healthAnswersWithTheServiceCount() throws {
        let fixture = try Fixture()
        let reply = fixture.send(HTTPRequest(method: "GET", path: "/api/health"))
        #expect(reply.status == 200)
        #expect(reply.json["status"] == .string("ok"))
        #expect(reply.json["services"] == .number(10))
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.f]` followed by `Z` or `±HH:MM`.
func isISO8601(_ text: String) -> Bool {
    text.range(
        of: #"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}(:\d{2})?)$"#, options: .regularExpression) != nil
}
