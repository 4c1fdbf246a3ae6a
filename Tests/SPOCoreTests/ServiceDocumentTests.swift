import SPOJSON
import Testing

@testable import SPOCore

private func json(_ text: String) -> JSONValue {
    do { return try JSONValue.parse(text) } catch { fatalError("bad test JSON: \(error)") }
}

/// The problems reading threw, as `path: problem` strings (empty when it succeeded).
private func problems<T>(_ read: () throws(ConfigurationError) -> T) -> [String] {
    do {
        _ = try read()
        return []
    } catch {
        return error.problems.map { "\($0.path): \($0.problem)" }
    }
}

/// Paths of the problems reading threw.
private func paths<T>(_ read: () throws(ConfigurationError) -> T) -> [String] {
    problems(read).map { String($0.prefix { $0 != ":" }) }
}

private let fullService = """
    {
      "name": "customer_get",
      "description": "One customer by id",
      "kind": "procedure",
      "connection": "demo",
      "procedure": "demo.get_customer",
      "parameters": [
        {"name": "p_id", "type": "integer", "required": true, "minimum": 1, "maximum": 99999999999999999999},
        {"name": "p_name", "type": "character varying(40)", "maxLength": 40, "pattern": "^[a-z]+$",
         "description": "the name"},
        {"name": "p_kind", "type": "text", "default": "retail", "enum": ["retail", "wholesale"]},
        {"name": "p_total", "type": "numeric(12,2)", "direction": "out"},
        {"name": "p_tags", "type": "text[]", "direction": "INOUT"}
      ],
      "timeout_ms": 5000,
      "retry_policy": "default",
      "enabled": false
    }
    """

@Suite struct ServiceDocumentTests {
    // MARK: Services

    @Test func readsAFullServiceDocument() throws {
        let draft = try ServiceDocument.draft(from: json(fullService))
        #expect(draft.name == "customer_get")
        #expect(draft.description == "One customer by id")
        #expect(draft.kind == .procedure)
        #expect(draft.connection == "demo")
        #expect(draft.procedure == "demo.get_customer")
        #expect(draft.timeoutMilliseconds == 5000)
        #expect(draft.retryPolicy == "default")
        #expect(draft.enabled == false)
        let parameters = try #require(draft.parameters)
        #expect(parameters.count == 5)
        #expect(
            parameters[0]
                == ParameterSpec(
                    name: "p_id", type: SQLType(.integer), required: true, minimum: "1",
                    maximum: "99999999999999999999"))
        #expect(
            parameters[1]
                == ParameterSpec(
                    name: "p_name", type: SQLType(.varchar, modifier: "40"), maxLength: 40, pattern: "^[a-z]+$",
                    description: "the name"))
        #expect(
            parameters[2]
                == ParameterSpec(
                    name: "p_kind", type: SQLType(.text), defaultValue: .string("retail"),
                    allowedValues: [.string("retail"), .string("wholesale")]))
        #expect(
            parameters[3] == ParameterSpec(name: "p_total", type: SQLType(.numeric, modifier: "12,2"), direction: .out))
        #expect(parameters[4] == ParameterSpec(name: "p_tags", type: SQLType(.text, isArray: true), direction: .inout))
    }

    @Test func defaultsForOptionalFields() throws {
        let draft = try ServiceDocument.draft(
            from: json(#"{"name": "s", "connection": "demo", "procedure": "demo.f"}"#))
        #expect(draft.kind == .procedure)
        #expect(draft.enabled)
        #expect(draft.description == "")
        #expect(draft.timeoutMilliseconds == 30_000)
        #expect(draft.retryPolicy == nil)
        #expect(draft.parameters == [])
    }

    @Test func idempotencySettingsAreReadAndChecked() throws {
        let plain = try ServiceDocument.draft(
            from: json(#"{"name": "s", "connection": "demo", "procedure": "demo.f"}"#))
        #expect(plain.idempotency == .optional)
        #expect(plain.idempotencyTTLSeconds == 86_400)
        let strict = try ServiceDocument.draft(
            from: json(
                #"{"name": "s", "connection": "demo", "procedure": "demo.f", "idempotency": "required", "idempotency_ttl_s": 600}"#
            ))
        #expect(strict.idempotency == .required)
        #expect(strict.idempotencyTTLSeconds == 600)
        let bad = problems { () throws(ConfigurationError) in
            try ServiceDocument.draft(
                from: json(
                    #"{"name": "s", "connection": "demo", "procedure": "demo.f", "idempotency": "always", "idempotency_ttl_s": 0}"#
                ))
        }
        #expect(
            bad == [
                "service.idempotency: must be optional or required",
                "service.idempotency_ttl_s: must be an integer from 1 to 2592000",
            ])
    }

    @Test func publicIsFalseUnlessSaidAndRoundTrips() throws {
        let plain = try ServiceDocument.draft(
            from: json(#"{"name": "s", "connection": "demo", "procedure": "demo.f"}"#))
        #expect(!plain.isPublic)
        let open = try ServiceDocument.draft(
            from: json(#"{"name": "s", "connection": "demo", "procedure": "demo.f", "public": true}"#))
        #expect(open.isPublic)
        let bad = problems { () throws(ConfigurationError) in
            try ServiceDocument.draft(
                from: json(#"{"name": "s", "connection": "demo", "procedure": "demo.f", "public": "yes"}"#))
        }
        #expect(bad == ["service.public: must be true or false"])
        var service = ServiceDefinition(
            name: "s", connection: "demo", procedure: QualifiedName(schema: "demo", name: "f"), resultShape: .scalar,
            parameters: [])
        #expect(ServiceDocument.document(for: service)["public"] == .bool(false))
        service.isPublic = true
        let written = ServiceDocument.document(for: service)
        #expect(written["public"] == .bool(true))
        #expect(try ServiceDocument.draft(from: written).isPublic)
    }

    @Test func nullOptionalFieldsMeanTheirDefaults() throws {
        let draft = try ServiceDocument.draft(
            from: json(
                #"{"name": "s", "connection": "demo", "procedure": "demo.f", "retry_policy": null, "timeout_ms": null, "enabled": null}"#
            ))
        #expect(draft.retryPolicy == nil)
        #expect(draft.timeoutMilliseconds == 30_000)
        #expect(draft.enabled)
    }

    @Test func discoverMeansNoParameters() throws {
        let draft = try ServiceDocument.draft(
            from: json(#"{"name": "s", "connection": "demo", "procedure": "demo.f", "parameters": "discover"}"#))
        #expect(draft.parameters == nil)
    }

    @Test func otherParameterStringsAreRejected() {
        let found = paths {
            () throws(ConfigurationError) in
            try ServiceDocument.draft(
                from: json(#"{"name": "s", "connection": "demo", "procedure": "demo.f", "parameters": "all"}"#))
        }
        #expect(found == ["service.parameters"])
    }

    @Test func everyProblemIsCollectedWithItsPath() {
        let document = json(
            """
            {
              "name": "Bad Name",
              "kind": "batch",
              "procedure": "demo.f",
              "parameters": [
                {"name": "ok", "type": "integer"},
                {"name": "p1", "type": "integer; drop table x"},
                {"name": "p2", "type": "text", "direction": "sideways"},
                {"type": "text", "colour": "blue"}
              ],
              "timeout_ms": 0,
              "surprise": 1
            }
            """)
        let found = problems {
            () throws(ConfigurationError) in try ServiceDocument.draft(from: document, path: "services[3]")
        }
        let foundPaths = found.map { String($0.prefix { $0 != ":" }) }
        #expect(
            Set(foundPaths) == [
                "services[3].name", "services[3].kind", "services[3].connection", "services[3].parameters[1].type",
                "services[3].parameters[2].direction", "services[3].parameters[3].name",
                "services[3].parameters[3].colour", "services[3].timeout_ms", "services[3].surprise",
            ])
        #expect(
            found.contains { $0.hasPrefix("services[3].parameters[1].type: unsupported type integer; drop table x") })
        #expect(found.contains("services[3].parameters[2].direction: must be IN, OUT or INOUT"))
        #expect(found.contains("services[3].timeout_ms: must be an integer from 1 to 3600000"))
        #expect(found.contains("services[3].kind: must be one of: procedure, parallel, saga"))
        #expect(found.contains { $0.hasPrefix("services[3].surprise: unknown field") })
        #expect(found.contains("services[3].connection: is required (a non-empty string)"))
    }

    @Test(arguments: ["0", "-1", "3600001", "1.5", "\"5000\""])
    func timeoutOutOfRangeOrNotAnInteger(value: String) {
        let found = problems {
            () throws(ConfigurationError) in
            try ServiceDocument.draft(
                from: json(#"{"name": "s", "connection": "c", "procedure": "p", "timeout_ms": \#(value)}"#))
        }
        #expect(found == ["service.timeout_ms: must be an integer from 1 to 3600000"])
    }

    @Test(arguments: ["1", "3600000"])
    func timeoutBoundsAreAccepted(value: String) throws {
        let draft = try ServiceDocument.draft(
            from: json(#"{"name": "s", "connection": "c", "procedure": "p", "timeout_ms": \#(value)}"#))
        #expect(draft.timeoutMilliseconds == Int(value))
    }

    @Test func aParallelServiceHasMembersAndNoConnection() throws {
        let draft = try ServiceDocument.draft(
            from: json(
                #"{"name": "d", "kind": "parallel", "parameters": [{"name": "p_since", "type": "date"}], "members": [{"name": "a", "service": "x", "parameters": {"p_since": "$.input.p_since", "p_n": 3, "p_tag": {"literal": "$x"}}, "required": false, "timeout_ms": 100}]}"#
            ))
        let member = try #require(draft.members.first)
        #expect(member.required == false && member.timeoutMilliseconds == 100)
        #expect(member.parameters.map(\.name) == ["p_since", "p_n", "p_tag"])
        let context = json(#"{"input": {"p_since": "2026-01-01"}}"#)
        #expect(member.arguments(in: context) == json(#"{"p_since": "2026-01-01", "p_n": 3, "p_tag": "$x"}"#))
        #expect(member.arguments(in: json(#"{"input": {}}"#)) == json(#"{"p_n": 3, "p_tag": "$x"}"#))
        let found = paths {
            () throws(ConfigurationError) in
            try ServiceDocument.draft(
                from: json(
                    #"{"name": "d", "kind": "parallel", "connection": "c", "members": [{"name": "A", "service": "x", "parameters": {"p": "$.nope["}, "extra": 1}]}"#
                ))
        }
        #expect(
            found == [
                "service.connection", "service.members[0].extra", "service.members[0].name",
                "service.members[0].parameters.p",
            ])
    }

    @Test func wrongJSONTypesAreProblems() {
        let found = paths {
            () throws(ConfigurationError) in
            try ServiceDocument.draft(
                from: json(
                    #"{"name": 5, "connection": "c", "procedure": "p", "enabled": "yes", "description": [], "parameters": {}}"#
                ))
        }
        #expect(Set(found) == ["service.name", "service.enabled", "service.description", "service.parameters"])
    }

    @Test func aDocumentThatIsNotAnObjectIsAProblem() {
        let found = problems { () throws(ConfigurationError) in try ServiceDocument.draft(from: json("[1]")) }
        #expect(found.contains("service: must be a JSON object"))
    }

    @Test func parameterProblemsInTheirOwnFields() {
        let found = problems {
            () throws(ConfigurationError) in
            try ServiceDocument.parameter(
                from: json(
                    #"{"name": "p", "type": "text", "required": "yes", "minimum": "1", "maxLength": -1, "enum": "a", "pattern": 3}"#
                ),
                path: "parameters[0]")
        }
        #expect(
            found == [
                "parameters[0].required: must be true or false", "parameters[0].minimum: must be a number",
                "parameters[0].maxLength: must be a non-negative integer", "parameters[0].pattern: must be a string",
                "parameters[0].enum: must be an array",
            ])
    }

    @Test func directionIsCaseInsensitive() throws {
        let parameter = try ServiceDocument.parameter(
            from: json(#"{"name": "p", "type": "bool", "direction": "inout"}"#), path: "p")
        #expect(parameter.direction == .inout)
        #expect(parameter.type == SQLType(.boolean))
        #expect(parameter.required == false)
    }

    @Test func parameterNameAndTypeAreRequired() {
        let found = problems {
            () throws(ConfigurationError) in try ServiceDocument.parameter(from: json("{}"), path: "parameters[2]")
        }
        #expect(
            found == [
                "parameters[2].name: is required (a non-empty string)",
                "parameters[2].type: is required (a non-empty string)",
            ])
    }

    // MARK: Writing and reading back

    @Test func serviceDocumentRoundTripsThroughDraft() throws {
        let service = ServiceDefinition(
            name: "customer_get", description: "One customer", enabled: false, connection: "demo",
            procedure: QualifiedName(schema: "demo", name: "get_customer"), resultShape: .set,
            parameters: [
                ParameterSpec(
                    name: "p_id", type: SQLType(.integer), required: true, minimum: "1",
                    maximum: "12345678901234567890.5"),
                ParameterSpec(
                    name: "p_name", type: SQLType(.varchar, modifier: "20"), defaultValue: .string("x"), maxLength: 20,
                    pattern: "^x", allowedValues: [.string("x"), .number("1.50")], description: "a name"),
                ParameterSpec(name: "p_out", type: SQLType(.numeric, isArray: true, modifier: "12,2"), direction: .out),
            ],
            timeoutMilliseconds: 5000, retryPolicy: "default")
        let document = ServiceDocument.document(for: service)
        #expect(document["result_shape"] == .string("set"))
        #expect(document["procedure"] == .string("demo.get_customer"))
        // Through text, as export/import does.
        let reread = try ServiceDocument.draft(from: JSONValue.parse(document.serialized()))
        #expect(reread.name == service.name)
        #expect(reread.description == service.description)
        #expect(reread.enabled == service.enabled)
        #expect(reread.kind == service.kind)
        #expect(reread.connection == service.connection)
        #expect(reread.procedure == service.procedure.description)
        #expect(reread.parameters == service.parameters)
        #expect(reread.timeoutMilliseconds == service.timeoutMilliseconds)
        #expect(reread.retryPolicy == service.retryPolicy)
    }

    @Test func errorStatusOverridesRoundTrip() throws {
        let draft = try ServiceDocument.draft(
            from: json(
                #"{"name": "s", "connection": "c", "procedure": "f", "errors": {"P0001": 409, "23": 422}}"#))
        #expect(draft.errorStatuses.overrides == ["P0001": 409, "23": 422])
        let service = ServiceDefinition(
            name: "s", connection: "c", procedure: QualifiedName(schema: "public", name: "f"), resultShape: .void,
            parameters: [], errorStatuses: draft.errorStatuses)
        let document = ServiceDocument.document(for: service)
        // Sorted keys: a stable export.
        #expect(document["errors"]?.serialized() == #"{"23":422,"P0001":409}"#)
        #expect(
            try ServiceDocument.draft(from: JSONValue.parse(document.serialized())).errorStatuses == draft.errorStatuses
        )
        // Without overrides the member is left out, and reads back as none.
        let plain = ServiceDocument.document(
            for: ServiceDefinition(
                name: "s", connection: "c", procedure: QualifiedName(schema: "public", name: "f"), resultShape: .void,
                parameters: []))
        #expect(plain["errors"] == nil)
        #expect(try ServiceDocument.draft(from: plain).errorStatuses.overrides.isEmpty)
    }

    @Test func badErrorStatusOverridesAreRefusedByPath() {
        let found = problems { () throws(ConfigurationError) in
            try ServiceDocument.draft(
                from: json(
                    #"{"name": "s", "connection": "c", "procedure": "f", "errors": {"P01": 409, "23": 302, "22": "x"}}"#
                ))
        }
        #expect(
            found == [
                "service.errors.P01: must be a SQLSTATE (5 characters, e.g. P0001) or a class (2, e.g. 23) in digits "
                    + "and uppercase letters",
                "service.errors.23: must be an HTTP status from 400 to 599",
                "service.errors.22: must be an HTTP status from 400 to 599",
            ])
        #expect(
            problems { () throws(ConfigurationError) in
                try ServiceDocument.draft(
                    from: json(#"{"name": "s", "connection": "c", "procedure": "f", "errors": [1]}"#))
            } == ["service.errors: must be an object of SQLSTATE or class: HTTP status"])
    }

    @Test func unsupportedPatternsAreRefusedWhenWritten() {
        let found = problems { () throws(ConfigurationError) in
            try ServiceDocument.draft(
                from: json(
                    #"{"name": "s", "connection": "c", "procedure": "f", "parameters": [{"name": "p", "type": "text", "pattern": "(a)\\1"}, {"name": "q", "type": "text", "pattern": "([a-z"}]}"#
                ))
        }
        #expect(found.count == 2)
        #expect(found.first?.hasPrefix("service.parameters[0].pattern: backreferences") == true)
        #expect(found.last?.hasPrefix("service.parameters[1].pattern: unclosed [") == true)
    }

    @Test func serviceWithoutRetryPolicyWritesNull() throws {
        let service = ServiceDefinition(
            name: "s", connection: "c", procedure: QualifiedName(schema: "public", name: "f"), resultShape: .void,
            parameters: [])
        let document = ServiceDocument.document(for: service)
        #expect(document["retry_policy"] == .null)
        #expect(try ServiceDocument.draft(from: document).retryPolicy == nil)
    }

    @Test func parameterDocumentOmitsUnsetRules() {
        let document = ServiceDocument.document(for: ParameterSpec(name: "p", type: SQLType(.bigint)))
        #expect(document.serialized() == #"{"name":"p","type":"bigint","direction":"IN","required":false}"#)
    }

    @Test func sensitiveRoundTripsAndIsLeftOutWhenFalse() throws {
        let parameter = ParameterSpec(name: "p_card", type: SQLType(.text), sensitive: true)
        let document = ServiceDocument.document(for: parameter)
        #expect(document["sensitive"] == .bool(true))
        #expect(try ServiceDocument.parameter(from: document, path: "p").sensitive)
        #expect(ServiceDocument.document(for: ParameterSpec(name: "p", type: SQLType(.text)))["sensitive"] == nil)
        let found = problems {
            () throws(ConfigurationError) in
            try ServiceDocument.parameter(from: json(#"{"name": "p", "type": "text", "sensitive": "yes"}"#), path: "p")
        }
        #expect(found == ["p.sensitive: must be true or false"])
    }

    @Test func parameterDocumentRoundTrips() throws {
        let parameter = ParameterSpec(
            name: "p", type: SQLType(.timestamptz, isArray: true), direction: .inout, required: true,
            defaultValue: .array([.string("2024-01-01T00:00:00Z")]), minimum: "-5", maximum: "5e3", maxLength: 0,
            pattern: "\\d", allowedValues: [.null], description: "d")
        let reread = try ServiceDocument.parameter(
            from: JSONValue.parse(ServiceDocument.document(for: parameter).serialized()), path: "p")
        #expect(reread == parameter)
    }

    // MARK: Connections

    @Test func readsAConnection() throws {
        let connection = try ServiceDocument.connection(
            from: json(
                #"{"name": "demo", "conninfo": "host=db dbname=demo user=app", "password_from": "env:SPO_SECRET_DEMO", "description": "d"}"#
            ), path: "connections[0]")
        #expect(
            connection
                == ConnectionDefinition(
                    name: "demo", conninfo: "host=db dbname=demo user=app", passwordFrom: "env:SPO_SECRET_DEMO",
                    description: "d"))
        let fromFile = try ServiceDocument.connection(
            from: json(#"{"name": "demo", "conninfo": "dbname=demo", "password_from": "file:demo.pw"}"#),
            path: "c")
        #expect(fromFile.passwordFrom == "file:demo.pw")
        let fromPgpass = try ServiceDocument.connection(
            from: json(#"{"name": "demo", "conninfo": "dbname=demo", "password_from": "pgpass"}"#), path: "c")
        #expect(fromPgpass.passwordFrom == "pgpass")
        let none = try ServiceDocument.connection(
            from: json(#"{"name": "demo", "conninfo": "dbname=demo"}"#), path: "c")
        #expect(none.passwordFrom == nil)
    }

    @Test(arguments: [
        "host=db dbname=demo password=secret", "host=db PASSWORD = 'secret'",
        "postgresql://app:secret@db/demo", "postgres://app:secret@db:5432/demo?sslmode=require",
        "postgresql://db/demo?user=app&password=secret", "POSTGRESQL://app:s3cret@db/demo",
    ])
    func conninfoWithAPasswordIsRejected(conninfo: String) {
        let found = paths {
            () throws(ConfigurationError) in
            try ServiceDocument.connection(
                from: .object(["name": .string("demo"), "conninfo": .string(conninfo)]), path: "connections[0]")
        }
        #expect(found == ["connections[0].conninfo"])
    }

    @Test(arguments: [
        "postgresql://app@db/demo", "postgresql://db:5432/demo", "postgresql:///demo?host=/run/postgresql",
        "postgresql://app@db/demo?options=-c%20a%3Db:c", "host=db user=app dbname=demo",
    ])
    func conninfoWithoutAPasswordIsAccepted(conninfo: String) throws {
        let connection = try ServiceDocument.connection(
            from: .object(["name": .string("demo"), "conninfo": .string(conninfo)]), path: "c")
        #expect(connection.conninfo == conninfo)
    }

    @Test(arguments: [
        ("DEMO_PASSWORD", "must be env:NAME"), ("vault:demo", "must be env:NAME"), ("ENV:X", "must be env:NAME"),
        ("", "must be env:NAME"), ("env:HOME", "starting with SPO_SECRET_"), ("env:SPO_SECRET_", "starting with"),
        ("env:SPO_SECRET_A-B", "variable name"), ("file:/etc/shadow", "plain file name"),
        ("file:../x", "plain file name"), ("file:", "plain file name"), ("pgpass:x", "must be env:NAME"),
    ])
    func badPasswordFromIsRejected(source: String, saying: String) {
        let found = problems {
            () throws(ConfigurationError) in
            try ServiceDocument.connection(
                from: .object([
                    "name": .string("demo"), "conninfo": .string("dbname=demo"), "password_from": .string(source),
                ]), path: "c")
        }
        #expect(found.count == 1)
        #expect(found.first?.hasPrefix("c.password_from: ") == true)
        #expect(found.first?.contains(saying) == true, "\(found)")
    }

    @Test func connectionProblemsAreCollected() {
        let found = paths {
            () throws(ConfigurationError) in
            try ServiceDocument.connection(
                from: json(#"{"name": "Demo DB", "password_from": 1, "password": "x"}"#), path: "connections[1]")
        }
        #expect(
            Set(found) == [
                "connections[1].name", "connections[1].conninfo", "connections[1].password_from",
                "connections[1].password",
            ])
    }

    @Test func connectionDocumentNeverContainsASecret() throws {
        let connection = try ServiceDocument.connection(
            from: json(#"{"name": "demo", "conninfo": "host=db dbname=demo", "password_from": "env:SPO_SECRET_DEMO"}"#),
            path: "c")
        let document = ServiceDocument.document(for: connection)
        #expect(
            document.serialized()
                == #"{"name":"demo","conninfo":"host=db dbname=demo","password_from":"env:SPO_SECRET_DEMO","description":"""#
                + #","breaker":{"enabled":true,"failure_rate_threshold":50,"window_calls":20,"minimum_calls":10"#
                + #","open_ms":30000,"half_open_probes":3}}"#
        )
        #expect(document["password"] == nil)
        // It reads back as the same connection.
        #expect(try ServiceDocument.connection(from: document, path: "c") == connection)
    }

    @Test func connectionWithoutPasswordSourceWritesNull() {
        let document = ServiceDocument.document(for: ConnectionDefinition(name: "demo", conninfo: "dbname=demo"))
        #expect(document["password_from"] == .null)
    }

    // MARK: Retry policies

    @Test func retryPolicyDefaults() throws {
        let policy = try ServiceDocument.retryPolicy(from: json(#"{"name": "default"}"#), path: "retry_policies[0]")
        #expect(
            policy
                == RetryPolicy(
                    name: "default", maxAttempts: 3, initialBackoffMilliseconds: 50, multiplier: 2,
                    maxBackoffMilliseconds: 2000, jitter: 0.2, retryableSQLStates: RetryPolicy.transientSQLStates))
    }

    @Test func readsAFullRetryPolicy() throws {
        let policy = try ServiceDocument.retryPolicy(
            from: json(
                #"{"name": "eager", "max_attempts": 5, "initial_backoff_ms": 10, "multiplier": 1.5, "max_backoff_ms": 500, "jitter": 0, "retryable_sqlstates": ["40001", "08"]}"#
            ), path: "p")
        #expect(
            policy
                == RetryPolicy(
                    name: "eager", maxAttempts: 5, initialBackoffMilliseconds: 10, multiplier: 1.5,
                    maxBackoffMilliseconds: 500, jitter: 0, retryableSQLStates: ["40001", "08"]))
    }

    @Test func retryPolicyProblemsAreCollected() {
        let found = paths {
            () throws(ConfigurationError) in
            try ServiceDocument.retryPolicy(
                from: json(
                    #"{"max_attempts": 0, "initial_backoff_ms": -1, "multiplier": 0.5, "max_backoff_ms": 600001, "jitter": 1.5, "retryable_sqlstates": ["4000", "40001"], "extra": true}"#
                ), path: "r")
        }
        #expect(
            found == [
                "r.name", "r.max_attempts", "r.initial_backoff_ms", "r.multiplier", "r.max_backoff_ms", "r.jitter",
                "r.retryable_sqlstates", "r.extra",
            ])
    }

    @Test func retryPolicyDocumentRoundTrips() throws {
        let policy = RetryPolicy(
            name: "p", maxAttempts: 4, initialBackoffMilliseconds: 25, multiplier: 2.5, maxBackoffMilliseconds: 1000,
            jitter: 0.1, retryableSQLStates: ["40P01"])
        let reread = try ServiceDocument.retryPolicy(
            from: JSONValue.parse(ServiceDocument.document(for: policy).serialized()), path: "p")
        #expect(reread == policy)
    }

    @Test func configurationErrorDescriptionListsEveryProblem() {
        let error = ConfigurationError(problems: [("a.b", "is wrong"), ("c", "is missing")])
        #expect(error.description == "a.b: is wrong; c: is missing")
    }
}

@Suite struct ServiceDocumentGuardTests {
    @Test func retryPoliciesCannotListBusinessErrors() throws {
        let document = try JSONValue.parse(#"{"name": "careless", "retryable_sqlstates": ["40001", "P0001", "23"]}"#)
        do {
            _ = try ServiceDocument.retryPolicy(from: document, path: "retry_policies[0]")
            Issue.record("a policy retrying business errors was accepted")
        } catch {
            #expect(error.problems.count == 2)
            #expect(error.problems.allSatisfy { $0.path == "retry_policies[0].retryable_sqlstates" })
        }
    }

    @Test func duplicateParameterNamesAreRejected() throws {
        let document = try JSONValue.parse(
            #"""
            {"name": "dup", "connection": "demo", "procedure": "demo.f",
             "parameters": [{"name": "p", "type": "integer"}, {"name": "p", "type": "text"}]}
            """#)
        do {
            _ = try ServiceDocument.draft(from: document)
            Issue.record("duplicate parameters were accepted")
        } catch {
            #expect(error.description.contains("p is listed more than once"))
        }
    }
}
