import SPOJSON
import Testing

@testable import SPOCore

private func service(
    _ name: String, _ shape: ServiceDefinition.ResultShape, _ parameters: [ParameterSpec] = [],
    enabled: Bool = true, description: String = ""
) -> ServiceDefinition {
    ServiceDefinition(
        name: name, description: description, enabled: enabled, connection: "demo",
        procedure: QualifiedName(schema: "demo", name: name), resultShape: shape, parameters: parameters,
        timeoutMilliseconds: 5000)
}

/// One parameter of every type, with every kind of constraint.
private let everyType: [ParameterSpec] = [
    ParameterSpec(name: "p_small", type: SQLType(.smallint), required: true),
    ParameterSpec(name: "p_int", type: SQLType(.integer), required: true, minimum: "1", maximum: "100"),
    ParameterSpec(name: "p_big", type: SQLType(.bigint), minimum: "10", maximum: "9223372036854775807"),
    ParameterSpec(
        name: "p_num", type: SQLType(.numeric, modifier: "38,9"), defaultValue: .number("0"), minimum: "0",
        maximum: "12345678901234567890.123456789"),
    ParameterSpec(name: "p_real", type: SQLType(.real)),
    ParameterSpec(name: "p_double", type: SQLType(.doublePrecision), minimum: "0", maximum: "30"),
    ParameterSpec(
        name: "p_text", type: SQLType(.text), maxLength: 100, pattern: "^[A-Za-z]+$", description: "Letters only"),
    ParameterSpec(name: "p_varchar", type: SQLType(.varchar, modifier: "20"), maxLength: 40),
    ParameterSpec(
        name: "p_kind", type: SQLType(.text), defaultValue: .string("retail"),
        allowedValues: [.string("retail"), .string("wholesale")]),
    ParameterSpec(name: "p_note", type: SQLType(.text), pattern: #"[\s\S]*\S[\s\S]*"#),
    ParameterSpec(name: "p_bool", type: SQLType(.boolean), defaultValue: .bool(true)),
    ParameterSpec(name: "p_date", type: SQLType(.date)),
    ParameterSpec(name: "p_ts", type: SQLType(.timestamp), defaultValue: .string("2024-01-01 10:00")),
    ParameterSpec(name: "p_tstz", type: SQLType(.timestamptz), defaultValue: .string("2024-01-01T10:00:00Z")),
    ParameterSpec(name: "p_uuid", type: SQLType(.uuid)),
    ParameterSpec(name: "p_json", type: SQLType(.json)),
    ParameterSpec(name: "p_jsonb", type: SQLType(.jsonb), defaultValue: .object(["a": .number(1)])),
    ParameterSpec(name: "p_ints", type: SQLType(.integer, isArray: true), minimum: "0", maxLength: 5),
    ParameterSpec(name: "p_big_ids", type: SQLType(.bigint, isArray: true)),
    ParameterSpec(name: "p_seven", type: SQLType(.integer), defaultValue: .string("7")),
    ParameterSpec(name: "p_bad_default", type: SQLType(.integer), defaultValue: .string("seven")),
    ParameterSpec(
        name: "p_total", type: SQLType(.numeric), direction: .out, description: "Balance after the transfer"),
    ParameterSpec(name: "p_ref", type: SQLType(.text), direction: .inout, maxLength: 40),
]

private let configuration = Configuration(
    services: [
        "everything": service("everything", .procedure, everyType, description: "Every type at once"),
        "rows": service("rows", .set, [ParameterSpec(name: "p_limit", type: SQLType(.integer))]),
        "value": service("value", .scalar),
        "nothing": service("nothing", .void),
        "no_outputs": service("no_outputs", .procedure),
        "hidden": service("hidden", .set, enabled: false),
    ],
    connections: ["demo": ConnectionDefinition(name: "demo", conninfo: "dbname=demo")])

private let document = OpenAPIDocument.make(configuration)

private func execute(_ name: String) -> JSONValue? { document["paths"]?["/api/services/\(name)/execute"]?["post"] }

private func requestSchema(_ name: String) -> JSONValue? {
    execute(name)?["requestBody"]?["content"]?["application/json"]?["schema"]
}

private func property(_ parameter: String, of name: String = "everything") -> JSONValue? {
    requestSchema(name)?["properties"]?[parameter]
}

private func dataSchema(_ name: String) -> JSONValue? {
    execute(name)?["responses"]?["200"]?["content"]?["application/json"]?["schema"]?["properties"]?["data"]
}

private func keys(_ value: JSONValue?) -> [String] { value?.members?.map(\.key) ?? [] }

@Suite struct OpenAPIDocumentTests {
    // MARK: Document

    @Test func isAnOpenAPI303DocumentWithInfoServersAndTags() {
        #expect(document["openapi"] == .string("3.0.3"))
        #expect(document["info"]?["title"] == .string("SPOrchestrator"))
        #expect(document["info"]?["version"] == .string("1"))
        #expect(document["servers"] == .array([.object(["url": .string("/")])]))
        #expect(
            OpenAPIDocument.make(configuration, serverURL: "https://api.example.com")["servers"]
                == .array([.object(["url": .string("https://api.example.com")])]))
        #expect(document["tags"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == ["services", "administration"])
    }

    @Test func serializesToJSONThatParsesBack() throws {
        let text = document.serialized()
        #expect(try JSONValue.parse(text) == document)
    }

    @Test func isDeterministic() {
        // The same services inserted in another order: dictionaries must not leak their order.
        var reordered = Configuration()
        for name in configuration.services.keys.sorted().reversed() {
            reordered.services[name] = configuration.services[name]
        }
        #expect(OpenAPIDocument.make(configuration).serialized() == document.serialized())
        #expect(OpenAPIDocument.make(reordered).serialized() == document.serialized())
    }

    // MARK: Services

    @Test func everyEnabledServiceIsAPathSortedByNameAndDisabledOnesAreAbsent() {
        let executePaths = keys(document["paths"]).filter { $0.hasPrefix("/api/services/") && $0.hasSuffix("/execute") }
        #expect(
            executePaths
                == ["everything", "no_outputs", "nothing", "rows", "value"].map { "/api/services/\($0)/execute" }
        )
        #expect(document["paths"]?["/api/services/hidden/execute"] == nil)
        #expect(!document.serialized().contains("hidden"))
        let envelopeNames = document["paths"]?["/api/execute"]?["post"]?["requestBody"]?["content"]?[
            "application/json"]?["schema"]?["properties"]?["service"]?["enum"]
        #expect(
            envelopeNames == .array(["everything", "no_outputs", "nothing", "rows", "value"].map(JSONValue.string)))
    }

    @Test func operationCarriesIdSummaryTagAndHeaders() {
        let operation = execute("everything")
        #expect(operation?["operationId"] == .string("execute_everything"))
        #expect(operation?["summary"] == .string("Every type at once"))
        #expect(operation?["tags"] == .array([.string("services")]))
        #expect(operation?["security"] == .array([.object(["bearerAuth": .array([])])]))
        #expect(
            operation?["parameters"]?.arrayValue?.contains(
                .object(["$ref": .string("#/components/parameters/CorrelationID")])) == true)
        let headers = operation?["responses"]?["200"]?["headers"]
        #expect(headers?["X-Execution-ID"] == .object(["$ref": .string("#/components/headers/X-Execution-ID")]))
        #expect(headers?["X-Correlation-ID"] == .object(["$ref": .string("#/components/headers/X-Correlation-ID")]))
        #expect(execute("value")?["summary"] == .string("Runs value"))
    }

    @Test func requestSchemaIsClosedWithTheInputParametersAndTheRequiredList() {
        let schema = requestSchema("everything")
        #expect(schema?["type"] == .string("object"))
        #expect(schema?["additionalProperties"] == .bool(false))
        #expect(schema?["required"] == .array([.string("p_small"), .string("p_int")]))
        let names = keys(schema?["properties"])
        #expect(names == everyType.filter { $0.direction != .out }.map(\.name))
        #expect(!names.contains("p_total"))
        #expect(names.contains("p_ref"))
        // OpenAPI 3.0 forbids an empty required list.
        #expect(requestSchema("rows")?["required"] == nil)
        #expect(requestSchema("value")?["properties"] == .object([]))
    }

    @Test func integersCarryTheirFormatAndTheTighterBounds() {
        #expect(
            property("p_small")
                == .object([
                    "type": .string("integer"), "format": .string("int32"), "minimum": .number("-32768"),
                    "maximum": .number("32767"),
                ]))
        let integer = property("p_int")
        #expect(integer?["format"] == .string("int32"))
        #expect(integer?["minimum"] == .number("1"))
        #expect(integer?["maximum"] == .number("100"))
        #expect(integer?["nullable"] == nil)
        #expect(property("p_limit", of: "rows")?["minimum"] == .number("-2147483648"))
        #expect(property("p_limit", of: "rows")?["nullable"] == .bool(true))
    }

    @Test func bigintsAreIntegersOrStringsOfDigitsWithExactBounds() {
        let branches = property("p_big")?["oneOf"]?.arrayValue ?? []
        #expect(branches.count == 2)
        #expect(branches.first?["type"] == .string("integer"))
        #expect(branches.first?["format"] == .string("int64"))
        #expect(branches.first?["minimum"] == .number("10"))
        #expect(branches.first?["maximum"] == .number("9223372036854775807"))
        // Nullable in the first branch too: OpenAPI 3.0.3 honours it only beside a type.
        #expect(branches.first?["nullable"] == .bool(true))
        #expect(branches.last?["type"] == .string("string"))
        #expect(branches.last?["pattern"] == .string("^-?[0-9]+$"))
        #expect(property("p_big")?["nullable"] == .bool(true))
        #expect(document.serialized().contains(#""maximum":9223372036854775807"#))
        #expect(document.serialized().contains(#""maximum":12345678901234567890.123456789"#))
    }

    @Test func numericsAreNumbersOrDecimalStrings() {
        let numeric = property("p_num")
        let branches = numeric?["oneOf"]?.arrayValue ?? []
        #expect(branches.first?["type"] == .string("number"))
        #expect(branches.first?["minimum"] == .number("0"))
        #expect(branches.first?["maximum"] == .number("12345678901234567890.123456789"))
        #expect(branches.last?["type"] == .string("string"))
        #expect(branches.last?["pattern"] == .string(#"^-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?$"#))
        #expect(numeric?["default"] == .number("0"))
    }

    @Test func floatingPointTypesAreNumbers() {
        #expect(
            property("p_real")
                == .object(["type": .string("number"), "format": .string("float"), "nullable": .bool(true)]))
        let double = property("p_double")
        #expect(double?["format"] == .string("double"))
        #expect(double?["minimum"] == .number("0"))
        #expect(double?["maximum"] == .number("30"))
    }

    @Test func stringsCarryLengthPatternEnumDefaultAndDescription() {
        let text = property("p_text")
        #expect(text?["description"] == .string("Letters only"))
        #expect(text?["type"] == .string("string"))
        #expect(text?["maxLength"] == .number(100))
        #expect(text?["pattern"] == .string("^[A-Za-z]+$"))
        // varchar(20) is tighter than the configured 40.
        #expect(property("p_varchar")?["maxLength"] == .number(20))
        let kind = property("p_kind")
        #expect(kind?["enum"] == .array([.string("retail"), .string("wholesale")]))
        #expect(kind?["default"] == .string("retail"))
        // The validator matches the whole value; OpenAPI's pattern searches, so it is anchored.
        #expect(property("p_note")?["pattern"] == .string(#"^(?:[\s\S]*\S[\s\S]*)$"#))
    }

    @Test func otherScalarsHaveTheirTypesAndFormats() {
        #expect(
            property("p_bool")
                == .object(["type": .string("boolean"), "nullable": .bool(true), "default": .bool(true)]))
        #expect(property("p_date")?["format"] == .string("date"))
        #expect(property("p_ts")?["format"] == .string("date-time"))
        #expect(property("p_tstz")?["format"] == .string("date-time"))
        #expect(property("p_uuid")?["format"] == .string("uuid"))
        #expect(property("p_json") == .object(["nullable": .bool(true)]))
        #expect(property("p_jsonb")?["default"] == .object(["a": .number(1)]))
        #expect(property("p_jsonb")?["type"] == nil)
    }

    @Test func defaultsAreWrittenOnlyWhenValidAndInTheSchemasForm() {
        #expect(property("p_tstz")?["default"] == .string("2024-01-01T10:00:00Z"))
        // Accepted by the validator, but not an RFC 3339 date-time.
        #expect(property("p_ts")?["default"] == nil)
        // An integer default written as a string is documented as the number it means.
        #expect(property("p_seven")?["default"] == .number("7"))
        // A default the validator rejects would make the document invalid.
        #expect(property("p_bad_default")?["default"] == nil)
    }

    @Test func arraysHaveNullableItemsOfTheElementSchemaAndMaxItems() {
        let ints = property("p_ints")
        #expect(ints?["type"] == .string("array"))
        #expect(ints?["maxItems"] == .number(5))
        #expect(ints?["items"]?["type"] == .string("integer"))
        #expect(ints?["items"]?["minimum"] == .number("0"))
        #expect(ints?["items"]?["nullable"] == .bool(true))
        let bigs = property("p_big_ids")?["items"]
        #expect(bigs?["oneOf"]?.arrayValue?.first?["nullable"] == .bool(true))
        #expect(bigs?["nullable"] == .bool(true))
    }

    // MARK: Responses

    @Test func successIsTheEnvelope() {
        let schema = execute("rows")?["responses"]?["200"]?["content"]?["application/json"]?["schema"]
        #expect(
            schema?["required"]
                == .array(
                    ["execution_id", "service", "status", "attempts", "duration_ms", "data"].map(JSONValue.string)))
        #expect(schema?["properties"]?["execution_id"]?["format"] == .string("uuid"))
        #expect(schema?["properties"]?["status"]?["enum"] == .array([.string("succeeded")]))
        #expect(schema?["properties"]?["service"]?["enum"] == .array([.string("rows")]))
        #expect(schema?["properties"]?["attempts"]?["type"] == .string("integer"))
        #expect(schema?["properties"]?["duration_ms"]?["type"] == .string("number"))
    }

    @Test func dataFollowsTheResultShape() {
        #expect(dataSchema("rows")?["type"] == .string("array"))
        #expect(
            dataSchema("rows")?["items"] == .object(["type": .string("object"), "additionalProperties": .bool(true)]))
        #expect(dataSchema("value")?["type"] == nil)
        #expect(dataSchema("nothing") == .object(["nullable": .bool(true), "description": .string("always null")]))
        #expect(dataSchema("no_outputs") == dataSchema("nothing"))
        let outputs = dataSchema("everything")
        #expect(outputs?["type"] == .string("object"))
        #expect(outputs?["required"] == .array([.string("p_total"), .string("p_ref")]))
        #expect(
            outputs?["properties"]?["p_total"]
                == .object([
                    "description": .string("Balance after the transfer"), "type": .string("number"),
                    "nullable": .bool(true),
                ]))
        #expect(outputs?["properties"]?["p_ref"]?["type"] == .string("string"))
    }

    @Test func executionPathsListTheStatusesOfTheSQLStateTable() throws {
        let responses = try #require(execute("rows")?["responses"])
        #expect(
            keys(responses) == [
                "200", "202", "400", "401", "403", "404", "409", "413", "415", "422", "429", "500", "502", "503",
                "504",
            ])
        // Each beside what an Idempotency-Key answers with the same status.
        #expect(
            responses["422"]?["description"]?.stringValue?.hasSuffix(
                "; or SP_EXECUTION_FAILED: the procedure raised SQLSTATE P0001 or SQLSTATE class 22") == true)
        #expect(
            responses["409"]?["description"]?.stringValue?.hasSuffix(
                "; or SP_EXECUTION_FAILED: the procedure raised SQLSTATE class 23") == true)
        #expect(responses["409"]?["headers"]?["Retry-After"] != nil, "kept when merged")
        // 403 is both a key's refusal and the procedure's missing privilege.
        let forbidden = responses["403"]?["description"]?.stringValue ?? ""
        #expect(
            forbidden.hasPrefix("FORBIDDEN: ")
                && forbidden.hasSuffix("or SP_EXECUTION_FAILED: the procedure raised SQLSTATE 42501"))
        #expect(
            responses["422"]?["content"]?["application/json"]?["schema"]
                == .object(["$ref": .string("#/components/schemas/Error")]))
    }

    @Test func aServiceOverrideShowsOnItsOwnPathAndTheEnvelope() throws {
        var overridden = service("strict", .void)
        overridden.errorStatuses = try SQLStateStatusMap.read(
            .object(["P0001": .number("409"), "22": .number("400"), "P0002": .number("404")])
        ).get()
        var withOverride = configuration
        withOverride.services["strict"] = overridden
        let document = OpenAPIDocument.make(withOverride)
        let responses = try #require(document["paths"]?["/api/services/strict/execute"]?["post"]?["responses"])
        // Both defaults of 422 are redirected: it is left to an Idempotency-Key used for another call.
        #expect(
            keys(responses) == [
                "200", "202", "400", "401", "403", "404", "409", "413", "415", "422", "429", "500", "502", "503",
                "504",
            ])
        #expect(responses["422"] == .object(["$ref": .string("#/components/responses/IdempotencyKeyMismatch")]))
        #expect(
            responses["409"]?["description"]?.stringValue?.hasSuffix(
                "; or SP_EXECUTION_FAILED: the procedure raised SQLSTATE P0001 or SQLSTATE class 23") == true)
        #expect(responses["400"]?["description"]?.stringValue?.hasSuffix("raised SQLSTATE class 22") == true)
        #expect(responses["404"]?["description"]?.stringValue?.hasSuffix("raised SQLSTATE P0002") == true)
        // The envelope can run any service: the union.
        let envelope = try #require(document["paths"]?["/api/execute"]?["post"]?["responses"])
        #expect(Set(keys(envelope)).isSuperset(of: ["400", "404", "409", "422"]))
        #expect(envelope["409"]?["description"]?.stringValue?.contains("SQLSTATE P0001") == true)
        // The other services keep the default table.
        let rows = keys(document["paths"]?["/api/services/rows/execute"]?["post"]?["responses"])
        #expect(rows.contains("422"))
    }

    @Test func theIdempotencyKeyIsDocumentedAndRequiredWhereTheServiceRequiresIt() throws {
        let optional = try #require(execute("rows"))
        #expect(
            optional["parameters"]?.arrayValue?.contains(
                .object(["$ref": .string("#/components/parameters/IdempotencyKey")])) == true)
        var strict = service("strict", .void)
        strict.idempotency = .required
        var withStrict = configuration
        withStrict.services["strict"] = strict
        let operation = try #require(
            OpenAPIDocument.make(withStrict)["paths"]?["/api/services/strict/execute"]?["post"])
        let header = operation["parameters"]?.arrayValue?.first { $0["name"] == .string("Idempotency-Key") }
        #expect(header?["required"] == .bool(true))
        #expect(header?["in"] == .string("header"))
        let responses = try #require(optional["responses"])
        #expect(responses["200"]?["headers"]?["Idempotent-Replayed"] != nil)
        #expect(responses["400"]?["description"]?.stringValue?.contains("IDEMPOTENCY_KEY_INVALID") == true)
        #expect(responses["409"]?["description"]?.stringValue?.hasPrefix("IDEMPOTENCY_KEY_IN_USE: ") == true)
        #expect(responses["422"]?["description"]?.stringValue?.hasPrefix("IDEMPOTENCY_KEY_MISMATCH: ") == true)
        let envelope = try #require(document["paths"]?["/api/execute"]?["post"]?["responses"])
        #expect(envelope["409"]?["headers"]?["Retry-After"] != nil)
    }

    @Test func everyErrorResponseReferencesTheSharedErrorShape() throws {
        let responses = try #require(execute("everything")?["responses"])
        for (status, name) in [
            ("401", "Unauthorized"), ("404", "ServiceNotFound"), ("413", "PayloadTooLarge"),
            ("415", "UnsupportedMediaType"), ("502", "ExecutionFailed"),
            ("503", "DatabaseUnavailable"), ("504", "Timeout"),
        ] {
            #expect(responses[status] == .object(["$ref": .string("#/components/responses/\(name)")]))
            let response = document["components"]?["responses"]?[name]
            #expect(
                response?["content"]?["application/json"]?["schema"]
                    == .object(["$ref": .string("#/components/schemas/Error")]))
            #expect(response?["headers"]?["X-Correlation-ID"] != nil)
        }
        let error = document["components"]?["schemas"]?["Error"]?["properties"]?["error"]
        #expect(error?["required"] == .array(["code", "message", "reference", "details"].map(JSONValue.string)))
        #expect(error?["properties"]?["code"]?["enum"] == .array(APIError.Code.allCases.map { .string($0.rawValue) }))
        #expect(error?["properties"]?["reference"]?["nullable"] == .bool(true))
        #expect(error?["properties"]?["details"]?["type"] == .string("array"))
    }

    // MARK: Administration

    @Test func administrationEndpointsAreDocumentedWithBearerAuthAndHealthIsPublic() {
        let expected: [(String, [String])] = [
            ("/api/health", ["get"]), ("/api/openapi.json", ["get"]), ("/api/health/services", ["get"]),
            ("/api/services", ["get", "post"]), ("/api/services/{name}", ["get", "put", "delete"]),
            ("/api/connections", ["get", "post"]), ("/api/connections/{name}", ["get", "put", "delete"]),
            ("/api/retry-policies", ["get", "post"]), ("/api/retry-policies/{name}", ["get", "put", "delete"]),
            ("/api/executions", ["get"]), ("/api/executions/{id}", ["get"]),
            ("/api/executions/{id}/reprocess", ["post"]), ("/api/errors/{reference}", ["get"]),
        ]
        for (path, methods) in expected {
            #expect(keys(document["paths"]?[path]) == methods, "\(path)")
        }
        let bearer: JSONValue = .array([.object(["bearerAuth": .array([])])])
        #expect(document["paths"]?["/api/services/{name}"]?["put"]?["security"] == bearer)
        #expect(document["paths"]?["/api/executions"]?["get"]?["security"] == bearer)
        #expect(document["paths"]?["/api/health"]?["get"]?["security"] == nil)
        #expect(document["paths"]?["/api/openapi.json"]?["get"]?["security"] == nil)
        #expect(
            document["components"]?["securitySchemes"]?["bearerAuth"]
                == .object([
                    "type": .string("http"), "scheme": .string("bearer"),
                    "description": .string(
                        "An API key: Authorization: Bearer <key>. While no key exists at all, the API is open."),
                ]))
        #expect(
            document["paths"]?["/api/services"]?["post"]?["requestBody"]?["content"]?["application/json"]?["schema"]
                == .object(["$ref": .string("#/components/schemas/ServiceDocument")]))
    }

    @Test func executionListTakesTheFiltersAndAnswersAPage() {
        let list = document["paths"]?["/api/executions"]?["get"]
        let names = list?["parameters"]?.arrayValue?.compactMap { $0["name"]?.stringValue }
        #expect(names == ["service", "status", "since", "until", "limit", "cursor"])
        let page = document["components"]?["schemas"]?["ExecutionPage"]
        #expect(keys(page?["properties"]) == ["items", "next_cursor"])
    }

    @Test func serviceDocumentSchemaMatchesTheFormatTheReaderAccepts() {
        let schema = document["components"]?["schemas"]?["ServiceDocument"]
        #expect(
            Set(keys(schema?["properties"]))
                == [
                    "name", "description", "kind", "connection", "procedure", "parameters", "timeout_ms",
                    "retry_policy", "errors", "enabled", "idempotent", "idempotency", "idempotency_ttl_s",
                    "result_shape", "id", "version", "members", "steps", "public",
                ])
        #expect(schema?["additionalProperties"] == .bool(false))
        let parameter = document["components"]?["schemas"]?["ServiceParameter"]
        #expect(
            Set(keys(parameter?["properties"]))
                == [
                    "name", "type", "direction", "required", "default", "minimum", "maximum", "maxLength", "pattern",
                    "enum", "description", "sensitive",
                ])
    }

    @Test func everyReferenceResolves() {
        var references: [String] = []
        func collect(_ value: JSONValue) {
            switch value {
            case .object(let members):
                for member in members {
                    if member.key == "$ref", let target = member.value.stringValue { references.append(target) }
                    collect(member.value)
                }
            case .array(let items): items.forEach(collect)
            default: break
            }
        }
        collect(document)
        #expect(!references.isEmpty)
        for reference in references {
            let parts = reference.split(separator: "/").dropFirst().map(String.init)
            let target = parts.reduce(Optional(document)) { $0?[$1] }
            #expect(target != nil, "\(reference)")
        }
    }

    // MARK: Helpers

    @Test func jsonNumberGrammar() {
        for text in ["0", "-0", "12", "1.5", "-1.25e+10", "9223372036854775807", "1E5"] {
            #expect(OpenAPIDocument.ParameterSchema.isJSONNumber(text), "\(text)")
        }
        for text in ["", "-", "01", "1.", ".5", "1e", "+1", "1.5x", "NaN"] {
            #expect(!OpenAPIDocument.ParameterSchema.isJSONNumber(text), "\(text)")
        }
    }

    @Test func boundsThatAreNotJSONNumbersAreLeftOut() {
        let spec = ParameterSpec(name: "p", type: SQLType(.numeric), minimum: "01", maximum: "abc")
        let schema = OpenAPIDocument.ParameterSchema.input(spec)
        #expect(schema["oneOf"]?.arrayValue?.first?["minimum"] == nil)
        #expect(schema["oneOf"]?.arrayValue?.first?["maximum"] == nil)
    }
}
