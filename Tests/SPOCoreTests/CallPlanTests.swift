import Testing

@testable import SPOCore

private let customerID = ParameterSpec(name: "p", type: SQLType(.integer), required: true)

private func service(
    _ shape: ServiceDefinition.ResultShape, parameters: [ParameterSpec] = [customerID],
    procedure: QualifiedName = QualifiedName(schema: "schema", name: "name")
) -> ServiceDefinition {
    ServiceDefinition(
        name: "svc", connection: "demo", procedure: procedure, resultShape: shape, parameters: parameters)
}

/// A scalar function's statement: `select` (its `to_json`), answered only within the result limit.
private func scalar(_ select: String) -> String {
    CallPlan.bounded(select + " AS spo_json OFFSET 0", RequestLimits.defaults.maxResultBytes)
}

@Suite struct CallPlanTests {
    // MARK: Result shapes

    @Test func setReturningFunctionAggregatesRowsIntoAJSONArray() {
        let plan = CallPlan(service: service(.set), supplied: [customerID])
        #expect(
            plan.sql
                == CallPlan.bounded(
                    "SELECT COALESCE(pg_catalog.json_agg(spo_limited.spo_json), '[]')::pg_catalog.text AS spo_json FROM "
                        + "(SELECT pg_catalog.to_json(spo_rows.*) AS spo_json "
                        + #"FROM "schema"."name"("p" => $1::pg_catalog.int4) AS spo_rows LIMIT 5592406) AS spo_limited"#,
                    16 << 20))
    }

    @Test func scalarFunctionIsWrappedInToJSON() {
        let plan = CallPlan(service: service(.scalar), supplied: [customerID])
        #expect(
            plan.sql
                == scalar(#"SELECT pg_catalog.to_json("schema"."name"("p" => $1::pg_catalog.int4))::pg_catalog.text"#))
    }

    @Test func voidFunctionIsCalledInASelect() {
        let plan = CallPlan(service: service(.void), supplied: [customerID])
        #expect(plan.sql == #"SELECT "schema"."name"("p" => $1::pg_catalog.int4) IS NULL"#)
    }

    @Test func procedureIsCalledWithNullPlaceholdersForOutParameters() {
        let parameters = [
            ParameterSpec(name: "p_id", type: SQLType(.bigint), required: true),
            ParameterSpec(name: "total", type: SQLType(.numeric), direction: .out),
            ParameterSpec(name: "counter", type: SQLType(.integer), direction: .inout),
            ParameterSpec(name: "out", type: SQLType(.text), direction: .out),
        ]
        let supplied = parameters.filter(\.direction.isInput)
        let plan = CallPlan(service: service(.procedure, parameters: parameters), supplied: supplied)
        #expect(
            plan.sql
                == #"CALL "schema"."name"("p_id" => $1::pg_catalog.int8, "counter" => $2::pg_catalog.int4, "total" => NULL, "#
                + #""out" => NULL)"#
        )
    }

    @Test func procedureWithoutParametersHasAnEmptyArgumentList() {
        let plan = CallPlan(service: service(.procedure, parameters: []), supplied: [])
        #expect(plan.sql == #"CALL "schema"."name"()"#)
    }

    @Test func functionWithoutArgumentsHasAnEmptyArgumentList() {
        let plan = CallPlan(service: service(.scalar, parameters: []), supplied: [])
        #expect(plan.sql == scalar(#"SELECT pg_catalog.to_json("schema"."name"())::pg_catalog.text"#))
    }

    // MARK: Arguments

    @Test func argumentsUseNamedNotationWithCanonicalCastsInSuppliedOrder() {
        let parameters = [
            ParameterSpec(name: "a", type: SQLType(parsing: "int4")!),
            ParameterSpec(name: "b", type: SQLType(parsing: "character varying(20)")!),
            ParameterSpec(name: "c", type: SQLType(parsing: "timestamp with time zone")!),
            ParameterSpec(name: "d", type: SQLType(parsing: "numeric(12,2)")!),
            ParameterSpec(name: "e", type: SQLType(parsing: "integer[]")!),
            ParameterSpec(name: "f", type: SQLType(parsing: "double precision")!),
        ]
        let plan = CallPlan(service: service(.scalar, parameters: parameters), supplied: parameters)
        #expect(
            plan.sql
                == scalar(
                    "SELECT pg_catalog.to_json(\"schema\".\"name\"(\"a\" => $1::pg_catalog.int4, "
                        + "\"b\" => $2::pg_catalog.varchar, \"c\" => $3::pg_catalog.timestamptz, "
                        + "\"d\" => $4::pg_catalog.numeric, \"e\" => $5::pg_catalog.int4[], "
                        + "\"f\" => $6::pg_catalog.float8))::pg_catalog.text"))
    }

    @Test func omittedOptionalParametersAreLeftOutOfTheCall() {
        let parameters = [
            ParameterSpec(name: "p_id", type: SQLType(.integer), required: true),
            ParameterSpec(name: "p_limit", type: SQLType(.integer)),
            ParameterSpec(name: "p_name", type: SQLType(.text)),
        ]
        let plan = CallPlan(service: service(.set, parameters: parameters), supplied: [parameters[0], parameters[2]])
        #expect(plan.sql.contains(#""p_id" => $1::pg_catalog.int4, "p_name" => $2::pg_catalog.text"#))
        #expect(!plan.sql.contains("p_limit"))
        #expect(!plan.sql.contains("$3"))
    }

    @Test func identifiersWithQuotesAreEscaped() {
        let parameter = ParameterSpec(name: #"a"b"#, type: SQLType(.text))
        let plan = CallPlan(
            service: service(
                .scalar, parameters: [parameter],
                procedure: QualifiedName(schema: #"my"schema"#, name: #"f"); drop table x; --"#)),
            supplied: [parameter])
        #expect(
            plan.sql
                == scalar(
                    #"SELECT pg_catalog.to_json("my""schema"."f""); drop table x; --"("a""b" => $1::pg_catalog.text))"#
                        + "::pg_catalog.text"))
    }

    @Test func outParameterNamesAreEscapedToo() {
        let parameters = [ParameterSpec(name: #"x"y"#, type: SQLType(.text), direction: .out)]
        let plan = CallPlan(service: service(.procedure, parameters: parameters), supplied: [])
        #expect(plan.sql == #"CALL "schema"."name"("x""y" => NULL)"#)
    }

    // MARK: Positional and VARIADIC arguments

    private func withArguments(
        _ shape: ServiceDefinition.ResultShape, _ parameters: [ParameterSpec], _ arguments: [RoutineArgument]
    ) -> ServiceDefinition {
        var definition = service(shape, parameters: parameters)
        definition.arguments = arguments
        return definition
    }

    @Test func anUnnamedArgumentIsPassedByPosition() {
        let parameter = ParameterSpec(name: "arg1", type: SQLType(.timestamptz), required: true)
        let plan = CallPlan(
            service: withArguments(.scalar, [parameter], [RoutineArgument(name: "arg1", isNamed: false)]),
            supplied: [parameter])
        #expect(
            plan.sql
                == scalar(#"SELECT pg_catalog.to_json("schema"."name"($1::pg_catalog.timestamptz))::pg_catalog.text"#))
    }

    /// Positional arguments come first, in the routine's order, whatever the configuration's
    /// order; named ones follow; `$n` stays the n-th supplied value.
    @Test func argumentsUpToTheLastUnnamedOneArePositionalTheRestNamed() {
        let parameters = [
            ParameterSpec(name: "p_late", type: SQLType(.text)),
            ParameterSpec(name: "arg2", type: SQLType(.integer), required: true),
            ParameterSpec(name: "p_first", type: SQLType(.integer), required: true),
            ParameterSpec(name: "p_skipped", type: SQLType(.integer)),
        ]
        let arguments = [
            RoutineArgument(name: "p_first"), RoutineArgument(name: "arg2", isNamed: false),
            RoutineArgument(name: "p_skipped"), RoutineArgument(name: "p_late"),
        ]
        let plan = CallPlan(
            service: withArguments(.void, parameters, arguments),
            supplied: [parameters[0], parameters[1], parameters[2]]
        )
        #expect(
            plan.sql
                == #"SELECT "schema"."name"($3::pg_catalog.int4, $2::pg_catalog.int4, "p_late" => $1::pg_catalog.text) IS NULL"#
        )
    }

    @Test func aVariadicArgumentIsMarkedByNameOrByPosition() {
        let named = ParameterSpec(name: "p_items", type: SQLType(.numeric, isArray: true), required: true)
        let byName = CallPlan(
            service: withArguments(.scalar, [named], [RoutineArgument(name: "p_items", isVariadic: true)]),
            supplied: [named])
        #expect(byName.sql.contains(#"(VARIADIC "p_items" => $1::pg_catalog.numeric[])"#), "\(byName.sql)")

        let separator = ParameterSpec(name: "arg1", type: SQLType(.text), required: true)
        let items = ParameterSpec(name: "arg2", type: SQLType(.text, isArray: true), required: true)
        let byPosition = CallPlan(
            service: withArguments(
                .scalar, [separator, items],
                [
                    RoutineArgument(name: "arg1", isNamed: false),
                    RoutineArgument(name: "arg2", isNamed: false, isVariadic: true),
                ]),
            supplied: [separator, items])
        #expect(byPosition.sql.contains("($1::pg_catalog.text, VARIADIC $2::pg_catalog.text[])"), "\(byPosition.sql)")
    }

    @Test func unnamedOutArgumentsOfAProcedureTakeAPositionalNull() {
        let parameters = [
            ParameterSpec(name: "arg1", type: SQLType(.integer), required: true),
            ParameterSpec(name: "arg2", type: SQLType(.integer), direction: .out),
            ParameterSpec(name: "p_note", type: SQLType(.text), direction: .out),
        ]
        let arguments = [
            RoutineArgument(name: "arg1", isNamed: false), RoutineArgument(name: "arg2", isNamed: false),
            RoutineArgument(name: "p_note"),
        ]
        let plan = CallPlan(service: withArguments(.procedure, parameters, arguments), supplied: [parameters[0]])
        #expect(plan.sql == #"CALL "schema"."name"($1::pg_catalog.int4, NULL, "p_note" => NULL)"#)
        // CALL names unnamed outputs column1, …: the routine's order gives them their names.
        let output = CallPlan.outputSQL(columns: ["column1", "p_note"], parameters: parameters, arguments: arguments)
        #expect(
            output
                == "SELECT pg_catalog.json_build_object('arg2', $1::pg_catalog.int4, 'p_note', $2::pg_catalog.text)"
                + "::pg_catalog.text")
    }

    @Test func generatedNamesAvoidNamedArguments() {
        #expect(RoutineArgument.generatedName(position: 2, taken: ["p_a"]) == "arg2")
        #expect(RoutineArgument.generatedName(position: 2, taken: ["arg2", "arg2_"]) == "arg2__")
    }

    // MARK: Statement names

    @Test func statementNameIsStableForTheSameSQL() {
        let first = CallPlan(service: service(.set), supplied: [customerID])
        let second = CallPlan(service: service(.set), supplied: [customerID])
        #expect(first.statementName == second.statementName)
        #expect(first == second)
        #expect(CallPlan.statementName(for: first.sql) == first.statementName)
    }

    @Test func statementNameDiffersForDifferentSQL() {
        let set = CallPlan(service: service(.set), supplied: [customerID])
        let scalar = CallPlan(service: service(.scalar), supplied: [customerID])
        let none = CallPlan(service: service(.set), supplied: [])
        let bigint = CallPlan(
            service: service(.set), supplied: [ParameterSpec(name: "p", type: SQLType(.bigint), required: true)])
        let names = [set, scalar, none, bigint].map(\.statementName)
        #expect(Set(names).count == 4)
    }

    @Test func statementNameIsAValidShortIdentifier() {
        let name = CallPlan(service: service(.set), supplied: [customerID]).statementName
        #expect(name.hasPrefix("spo_"))
        #expect(name.count <= 4 + 16)
        #expect(name.dropFirst(4).allSatisfy { $0.isHexDigit && !$0.isUppercase })
    }

    @Test func statementNameIsFNV1aOfTheSQL() {
        // FNV-1a 64 of the empty string is the offset basis; of "a" a published test vector.
        #expect(CallPlan.statementName(for: "") == "spo_cbf29ce484222325")
        #expect(CallPlan.statementName(for: "a") == "spo_af63dc4c8601ec8c")
    }

    // MARK: OUT values

    @Test func outputSQLCastsEachColumnToItsConfiguredTypeInColumnOrder() {
        let parameters = [
            ParameterSpec(name: "total", type: SQLType(.numeric), direction: .out),
            ParameterSpec(name: "created", type: SQLType(.timestamptz), direction: .out),
            ParameterSpec(name: "counter", type: SQLType(.integer), direction: .inout),
        ]
        let sql = CallPlan.outputSQL(columns: ["counter", "total", "created"], parameters: parameters)
        #expect(
            sql
                == "SELECT pg_catalog.json_build_object('counter', $1::pg_catalog.int4, 'total', $2::pg_catalog.numeric, "
                + "'created', $3::pg_catalog.timestamptz)::pg_catalog.text"
        )
    }

    @Test func outputSQLFallsBackToTextAndEscapesKeys() {
        let sql = CallPlan.outputSQL(
            columns: ["it's", "tags"],
            parameters: [ParameterSpec(name: "tags", type: SQLType(.text, isArray: true), direction: .out)])
        #expect(
            sql
                == "SELECT pg_catalog.json_build_object('it''s', $1::pg_catalog.text, 'tags', $2::pg_catalog.text[])::pg_catalog.text"
        )
    }

    @Test func outputSQLWithoutColumnsBuildsAnEmptyObject() {
        #expect(
            CallPlan.outputSQL(columns: [], parameters: []) == "SELECT pg_catalog.json_build_object()::pg_catalog.text")
    }
}

@Suite struct CallPlanResultLimitTests {
    @Test func theMarkerIsTheOnlyTextReadAsOversize() {
        #expect(CallPlan.oversizeBytes(in: CallPlan.oversizeMarker + "123") == 123)
        #expect(CallPlan.oversizeBytes(in: #""spo:result-too-large:123""#) == nil)
        #expect(CallPlan.oversizeBytes(in: "[{\"a\": 1}]") == nil)
        #expect(CallPlan.oversizeBytes(in: "null") == nil)
    }

    /// A set stops being read once it has more rows than could fit: 3 bytes a row at least.
    @Test func aSetIsReadNoFurtherThanTheLimitAllows() {
        let plan = CallPlan(service: service(.set), supplied: [customerID], maxResultBytes: 30)
        #expect(plan.sql.contains(" LIMIT 11) AS spo_limited"))
        #expect(plan.sql.contains("pg_catalog.int4le(pg_catalog.octet_length(spo_result.spo_json), 30)"))
        #expect(plan.taggedSQL?.contains("pg_catalog.int4le(pg_catalog.octet_length(spo_result.spo_json), 30)") == true)
        #expect(CallPlan(service: service(.set), supplied: [customerID]).statementName != plan.statementName)
    }
}
