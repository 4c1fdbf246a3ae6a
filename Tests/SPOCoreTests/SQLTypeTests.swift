import Testing

@testable import SPOCore

@Suite struct SQLTypeTests {
    // MARK: Aliases

    @Test(arguments: [
        ("integer", SQLType(.integer)), ("int", SQLType(.integer)), ("int4", SQLType(.integer)),
        ("INTEGER", SQLType(.integer)), ("  integer  ", SQLType(.integer)),
        ("smallint", SQLType(.smallint)), ("int2", SQLType(.smallint)),
        ("bigint", SQLType(.bigint)), ("int8", SQLType(.bigint)),
        ("numeric", SQLType(.numeric)), ("decimal", SQLType(.numeric)),
        ("numeric(12,2)", SQLType(.numeric, modifier: "12,2")),
        ("numeric(12, 2)", SQLType(.numeric, modifier: "12,2")),
        ("real", SQLType(.real)), ("float4", SQLType(.real)),
        ("double precision", SQLType(.doublePrecision)), ("float8", SQLType(.doublePrecision)),
        ("text", SQLType(.text)),
        ("varchar", SQLType(.varchar)), ("character varying", SQLType(.varchar)),
        ("character varying(20)", SQLType(.varchar, modifier: "20")),
        ("varchar(20)", SQLType(.varchar, modifier: "20")),
        ("boolean", SQLType(.boolean)), ("bool", SQLType(.boolean)),
        ("date", SQLType(.date)),
        ("timestamp", SQLType(.timestamp)), ("timestamp without time zone", SQLType(.timestamp)),
        ("timestamptz", SQLType(.timestamptz)), ("timestamp with time zone", SQLType(.timestamptz)),
        ("timestamp(3) with time zone", SQLType(.timestamptz, modifier: "3")),
        ("timestamp(6) without time zone", SQLType(.timestamp, modifier: "6")),
        ("uuid", SQLType(.uuid)), ("json", SQLType(.json)), ("jsonb", SQLType(.jsonb)),
        ("integer[]", SQLType(.integer, isArray: true)), ("int4[]", SQLType(.integer, isArray: true)),
        ("text []", SQLType(.text, isArray: true)),
        ("character varying(20)[]", SQLType(.varchar, isArray: true, modifier: "20")),
        ("timestamp with time zone[]", SQLType(.timestamptz, isArray: true)),
    ])
    func parsesAliases(text: String, expected: SQLType) {
        #expect(SQLType(parsing: text) == expected)
    }

    @Test func everyBaseParsesFromItsOwnName() {
        for base in SQLType.Base.allCases {
            #expect(SQLType(parsing: base.rawValue) == SQLType(base))
            #expect(SQLType(parsing: base.rawValue + "[]") == SQLType(base, isArray: true))
        }
    }

    // MARK: Injection safety

    @Test(arguments: [
        "integer; drop table x", "text)--", "integer)", "text)(", "integer)--(", "text--", "text /* */",
        "numeric(1);drop table x", "numeric(1) --)", "numeric(a)", "numeric(1,2);select(1)", "varchar(20) or 1=1",
        "integer[][]", "int[", "[]", "", "   ", "money", "bytea", "regclass", "pg_catalog.int4", "\"integer\"",
        "integer\u{0}", "integer\n; drop table x", "double  precision", "varchar(20)x",
    ])
    func rejectsAnythingButAKnownName(text: String) {
        #expect(SQLType(parsing: text) == nil)
    }

    @Test func castNamesAreOnlyCanonicalNames() {
        let allowed = Set(SQLType.Base.allCases.flatMap { [$0.rawValue, $0.rawValue + "[]"] })
        for text in ["int4", "character varying(20)", "numeric(12,2)", "timestamp(3) with time zone", "bool[]"] {
            let type = SQLType(parsing: text)
            #expect(type != nil)
            #expect(allowed.contains(type?.castName ?? ""))
        }
    }

    // MARK: Names

    @Test func castNameDropsTheModifier() {
        #expect(SQLType(.numeric, modifier: "12,2").castName == "numeric")
        #expect(SQLType(.varchar, isArray: true, modifier: "20").castName == "varchar[]")
        #expect(SQLType(.doublePrecision).castName == "double precision")
        #expect(SQLType(.timestamptz, isArray: true).castName == "timestamptz[]")
    }

    @Test func descriptionKeepsTheModifierAndArrayMarker() {
        #expect(SQLType(.numeric, modifier: "12,2").description == "numeric(12,2)")
        #expect(SQLType(.varchar, isArray: true, modifier: "20").description == "varchar(20)[]")
        #expect(SQLType(.integer).description == "integer")
        #expect(SQLType(.boolean, isArray: true).description == "boolean[]")
    }

    @Test func descriptionParsesBackToTheSameType() {
        let types = [
            SQLType(.numeric, modifier: "12,2"), SQLType(.varchar, isArray: true, modifier: "20"),
            SQLType(.doublePrecision, isArray: true), SQLType(.timestamptz), SQLType(.jsonb),
        ]
        for type in types {
            #expect(SQLType(parsing: type.description) == type)
        }
    }

    @Test func elementOfAnArrayKeepsBaseAndModifier() {
        #expect(SQLType(.varchar, isArray: true, modifier: "20").element == SQLType(.varchar, modifier: "20"))
        #expect(SQLType(.integer).element == SQLType(.integer))
    }
}
