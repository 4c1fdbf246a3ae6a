import Testing

@testable import SPOCore

@Suite struct QualifiedNameTests {
    @Test func parsesSchemaAndName() {
        #expect(QualifiedName(parsing: "demo.get_customer") == QualifiedName(schema: "demo", name: "get_customer"))
    }

    @Test func bareNameMeansPublic() {
        #expect(QualifiedName(parsing: "get_customer") == QualifiedName(schema: "public", name: "get_customer"))
    }

    @Test func unquotedPartsAreFoldedToLowerCaseLikePostgreSQL() {
        #expect(QualifiedName(parsing: "Demo.Get_Customer") == QualifiedName(schema: "demo", name: "get_customer"))
    }

    @Test func quotedPartsKeepCaseDotsAndDoubledQuotes() {
        #expect(QualifiedName(parsing: #""My Schema"."Get.It""#) == QualifiedName(schema: "My Schema", name: "Get.It"))
        #expect(QualifiedName(parsing: #"demo."a""b""#) == QualifiedName(schema: "demo", name: #"a"b"#))
        #expect(QualifiedName(parsing: #""Demo".fn"#) == QualifiedName(schema: "Demo", name: "fn"))
    }

    @Test func surroundingWhitespaceIsIgnored() {
        #expect(QualifiedName(parsing: "  demo.fn \t") == QualifiedName(schema: "demo", name: "fn"))
    }

    @Test(arguments: ["", "a.b.c", ".fn", "demo.", ".", "\"\".fn", "demo.\"\""])
    func rejectsMalformedNames(text: String) {
        #expect(QualifiedName(parsing: text) == nil)
    }

    @Test func descriptionIsSchemaDotName() {
        #expect(QualifiedName(schema: "demo", name: "get_customer").description == "demo.get_customer")
    }

    /// What a document shows reads back as the same identifiers.
    @Test(arguments: [
        ("demo", "GetOrder", #"demo."GetOrder""#), ("Sales.EU", "x1$", #""Sales.EU".x1$"#),
        ("s", "1st", #"s."1st""#), ("s", #"a"b"#, #"s."a""b""#), ("_s", "f_2", "_s.f_2"),
    ])
    func descriptionQuotesWhatWouldNotReadBackTheSame(schema: String, name: String, text: String) {
        let qualified = QualifiedName(schema: schema, name: name)
        #expect(qualified.description == text)
        #expect(QualifiedName(parsing: text) == qualified)
    }

    @Test func quotedDoublesInnerQuotes() {
        #expect(QualifiedName(schema: "demo", name: "get_customer").quoted == #""demo"."get_customer""#)
        #expect(QualifiedName(schema: #"a"b"#, name: #"x""y"#).quoted == #""a""b"."x""""y""#)
        #expect(QualifiedName(parsing: #""a""b".c"#)?.quoted == #""a""b"."c""#)
    }

    @Test func sqlIdentifierQuote() {
        #expect(SQLIdentifier.quote("p_id") == #""p_id""#)
        #expect(SQLIdentifier.quote(#"a"b"#) == #""a""b""#)
        #expect(SQLIdentifier.quote("") == #""""#)
        #expect(SQLIdentifier.quote(#"x"); drop table t; --"#) == #""x""); drop table t; --""#)
    }

    @Test(arguments: ["customer_get", "a", "a-b_c9", String(repeating: "a", count: 63)])
    func validServiceNames(name: String) {
        #expect(ServiceDefinition.isValidName(name))
    }

    @Test(arguments: [
        "", "9a", "_a", "-a", "Customer", "a b", "a/b", "a.b", "a%2f", "ä", String(repeating: "a", count: 64),
    ])
    func invalidServiceNames(name: String) {
        #expect(!ServiceDefinition.isValidName(name))
    }
}
