import Testing

@testable import SPOCore

@Suite struct TargetGrantsTests {
    func service(_ name: String, _ schema: String, _ routine: String, types: String? = nil, connection: String = "demo")
        -> ServiceDefinition
    {
        ServiceDefinition(
            name: name, connection: connection, procedure: QualifiedName(schema: schema, name: routine),
            resultShape: .scalar, parameters: [], argumentTypes: types)
    }

    @Test func grantsUsageOnEachSchemaAndExecuteOnEachRoutineOnce() {
        let grants = TargetGrants(
            role: "app",
            services: [
                service("a", "demo", "get_customer"), service("b", "demo", "get_customer"),
                service("c", "Sales", "GetOrder", types: "integer, text"), service("d", "public", "answer"),
            ])
        #expect(
            grants.statements == [
                #"GRANT USAGE ON SCHEMA "Sales" TO "app";"#, #"GRANT USAGE ON SCHEMA "demo" TO "app";"#,
                #"GRANT USAGE ON SCHEMA "public" TO "app";"#,
                #"GRANT EXECUTE ON ROUTINE "Sales"."GetOrder"(integer, text) TO "app";"#,
                #"GRANT EXECUTE ON ROUTINE "demo"."get_customer" TO "app";"#,
                #"GRANT EXECUTE ON ROUTINE "public"."answer" TO "app";"#,
            ])
    }

    @Test func theRoleIsTheConnectionsUserUnlessNamedAndQuotedEitherWay() {
        let configuration = Configuration(
            services: ["a": service("a", "demo", "f"), "x": service("x", "other", "g", connection: "other")],
            connections: [
                "demo": ConnectionDefinition(name: "demo", conninfo: #"host=/s dbname=demo user='my"role'"#),
                "nouser": ConnectionDefinition(name: "nouser", conninfo: "dbname=demo"),
            ], retryPolicies: [:])
        let grants = TargetGrants.forConnection("demo", in: configuration)
        #expect(grants?.role == #"my"role"#)
        #expect(grants?.statements.last == #"GRANT EXECUTE ON ROUTINE "demo"."f" TO "my""role";"#)
        #expect(TargetGrants.forConnection("nouser", in: configuration) == nil)
        #expect(TargetGrants.forConnection("nouser", in: configuration, role: "r")?.statements == [])
        #expect(TargetGrants.forConnection("missing", in: configuration, role: "r") == nil)
    }
}
