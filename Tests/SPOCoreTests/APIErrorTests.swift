import SPOJSON
import SPOPostgres
import Testing

@testable import SPOCore

@Suite struct APIErrorTests {
    @Test(arguments: [
        (APIError.Code.invalidParameters, 400), (.serviceNotFound, 404), (.spExecutionFailed, 502),
        (.dbConnectionFailed, 503), (.timeout, 504), (.unauthorized, 401), (.forbidden, 403),
        (.payloadTooLarge, 413), (.unsupportedMediaType, 415), (.notFound, 404), (.methodNotAllowed, 405),
        (.internalError, 500), (.conflict, 409), (.poolUnavailable, 502), (.auditUnavailable, 503), (.circuitOpen, 503),
        (.idempotencyKeyInvalid, 400), (.idempotencyKeyMismatch, 422), (.idempotencyKeyInUse, 409),
        (.resultTooLarge, 502), (.sagaNotCompensable, 409),
        (.rateLimited, 429),
    ])
    func everyCodeHasItsStatus(code: APIError.Code, status: Int) {
        #expect(code.httpStatus == status)
    }

    @Test func everyCodeIsCovered() {
        #expect(APIError.Code.allCases.count == 22)
        #expect(
            Set(APIError.Code.allCases.map(\.rawValue)) == [
                "INVALID_PARAMETERS", "SERVICE_NOT_FOUND", "SP_EXECUTION_FAILED", "DB_CONNECTION_FAILED", "TIMEOUT",
                "UNAUTHORIZED", "FORBIDDEN", "PAYLOAD_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE", "NOT_FOUND",
                "METHOD_NOT_ALLOWED", "INTERNAL_ERROR", "CONFLICT", "POOL_UNAVAILABLE",
                "AUDIT_UNAVAILABLE", "CIRCUIT_OPEN", "IDEMPOTENCY_KEY_INVALID", "IDEMPOTENCY_KEY_MISMATCH",
                "IDEMPOTENCY_KEY_IN_USE", "RESULT_TOO_LARGE", "SAGA_NOT_COMPENSABLE", "RATE_LIMITED",
            ])
    }

    @Test func aTimeoutWhileConnectingSaysSo() {
        let error = APIError.executionFailed(
            PGError(kind: .timeout, sqlstate: "08001", message: "the database did not complete the connection"),
            service: "far", timeoutMilliseconds: 1000)
        #expect(error.code == .timeout)
        #expect(error.message == "service far exceeded its timeout of 1000 ms while connecting to its database")
    }

    @Test func timeoutMapsToTIMEOUT() {
        let error = APIError.executionFailed(
            PGError(kind: .timeout, sqlstate: "57014", message: "canceling statement due to user request"),
            service: "slow", timeoutMilliseconds: 5000)
        #expect(error.code == .timeout)
        #expect(error.code.httpStatus == 504)
        #expect(error.sqlstate == "57014")
        #expect(error.message == "service slow exceeded its timeout of 5000 ms; the statement was cancelled")
        #expect(error.details == [.object(["timeout_ms": .number(5000)])])
    }

    @Test func connectionMapsToDB_CONNECTION_FAILED() {
        let error = APIError.executionFailed(
            PGError(kind: .connection, sqlstate: "08006", message: "server closed the connection unexpectedly"),
            service: "s", timeoutMilliseconds: 1000)
        #expect(error.code == .dbConnectionFailed)
        #expect(error.code.httpStatus == 503)
        #expect(error.sqlstate == "08006")
        #expect(error.message == "the database of service s is unreachable; try again later")
        #expect(
            error.details == [
                .object(["sqlstate": .string("08006"), "message": .string("could not connect to the database")])
            ])
    }

    @Test func aCallThatMayHaveRunStillSaysSo() {
        var lost = PGError(kind: .connection, sqlstate: "08006", message: "server closed the connection unexpectedly")
        lost.mayHaveRun = true
        let error = APIError.executionFailed(lost, service: "s", timeoutMilliseconds: 1000)
        #expect(error.details.first?["message"]?.stringValue?.contains("may have run") == true)
    }

    /// libpq's text names the host, port, socket and user; a client gets none of it.
    @Test(arguments: [
        (
            "08001", #"connection to server at "10.0.0.5", port 5432 failed: Connection refused"#,
            "could not connect to the database"
        ),
        (
            "28P01",
            #"connection to server at "10.0.0.5", port 5432 failed: FATAL:  password authentication failed for user "app""#,
            "the database refused the login"
        ),
        (
            "08001", #"connection demo: the secret is not available: env:SPO_SECRET_DEMO is not set"#,
            "could not connect to the database"
        ),
        (
            "08006", #"connection to server on socket "/run/pg/.s.PGSQL.5432" failed: No such file or directory"#,
            "could not connect to the database"
        ),
    ])
    func connectionFailuresAreScrubbedForClients(sqlstate: String, libpq: String, generic: String) {
        let error = APIError.executionFailed(
            PGError(kind: .connection, sqlstate: sqlstate, message: libpq), service: "s", timeoutMilliseconds: 1000)
        let answered = HTTPResponse.error(error, reference: nil, headers: [], audience: .administrator)
        let text = String(decoding: answered.body, as: UTF8.self)
        for leak in ["10.0.0.5", "5432", "app", "SPO_SECRET_DEMO", "/run/pg", "socket"] {
            #expect(!text.contains(leak), "\(leak) in \(text)")
        }
        #expect(error.details == [.object(["sqlstate": .string(sqlstate), "message": .string(generic)])])
    }

    @Test func serverErrorMapsToSP_EXECUTION_FAILEDWithDetailAndHintForAdministratorsOnly() {
        let error = APIError.executionFailed(
            PGError(
                kind: .server, sqlstate: "P0001", message: "customer 7 not found", detail: "id=7", hint: "check the id"),
            service: "customer_get", timeoutMilliseconds: 1000)
        #expect(error.code == .spExecutionFailed)
        #expect(error.status == 422)
        #expect(error.sqlstate == "P0001")
        #expect(error.message == "the procedure of service customer_get failed: customer 7 not found")
        let shared: JSONValue = .object(["sqlstate": .string("P0001"), "message": .string("customer 7 not found")])
        #expect(error.details == [shared])
        #expect(error.details(for: .client) == [shared])
        #expect(
            error.details(for: .administrator) == [
                .object([
                    "sqlstate": .string("P0001"), "message": .string("customer 7 not found"),
                    "detail": .string("id=7"), "hint": .string("check the id"),
                ])
            ])
        // One rendering, two audiences.
        let client = HTTPResponse.error(error, reference: nil)
        let admin = HTTPResponse.error(error, reference: nil, audience: .administrator)
        #expect(client.status == 422 && admin.status == 422)
        #expect(!String(decoding: client.body, as: UTF8.self).contains("id=7"))
        #expect(String(decoding: admin.body, as: UTF8.self).contains(#""detail":"id=7","hint":"check the id""#))
    }

    @Test(arguments: [
        ("P0001", 422), ("22012", 422), ("22P02", 422), ("23505", 409), ("23503", 409), ("42501", 403),
        ("42883", 502), ("P0002", 502), ("40001", 502), ("XX000", 502), ("57014", 502),
    ])
    func theStatusFollowsTheSQLState(sqlstate: String, status: Int) {
        let error = APIError.executionFailed(
            PGError(kind: .server, sqlstate: sqlstate, message: "m"), service: "s", timeoutMilliseconds: 1)
        #expect(error.code == .spExecutionFailed)
        #expect(error.status == status)
        #expect(SQLStateStatusMap.defaultStatus(for: sqlstate) == status)
    }

    @Test func aServiceOverrideWinsExactBeforeClass() throws {
        let statuses = try SQLStateStatusMap.read(
            .object(["P0001": .number("409"), "23": .number("400"), "23505": .number("418")])
        ).get()
        func status(_ sqlstate: String) -> Int {
            APIError.executionFailed(
                PGError(kind: .server, sqlstate: sqlstate, message: "m"), service: "s", timeoutMilliseconds: 1,
                statuses: statuses
            ).status
        }
        #expect(status("P0001") == 409)
        #expect(status("23505") == 418)
        #expect(status("23503") == 400)
        #expect(status("22012") == 422)  // the default table still applies to the rest
        #expect(status("42501") == 403)
        #expect(status("XX000") == 502)
    }

    @Test func overridesNeverChangeTimeoutsOrConnectionFailures() throws {
        let statuses = try SQLStateStatusMap.read(.object(["57": .number("400"), "08": .number("400")])).get()
        let timeout = APIError.executionFailed(
            PGError(kind: .timeout, sqlstate: "57014", message: "canceled"), service: "s", timeoutMilliseconds: 1,
            statuses: statuses)
        let unreachable = APIError.executionFailed(
            PGError(kind: .connection, sqlstate: "08006", message: "gone"), service: "s", timeoutMilliseconds: 1,
            statuses: statuses)
        #expect(timeout.status == 504)
        #expect(unreachable.status == 503)
    }

    @Test func overridesAreCheckedKeyByKey() {
        let read = SQLStateStatusMap.read(
            .object([
                "p0001": .number("409"), "P001": .number("409"), "22": .number("200"), "23": .string("409"),
                "42501": .number("600"), "P0001": .number("409"),
            ]))
        guard case .failure(let error) = read else {
            Issue.record("accepted")
            return
        }
        #expect(
            error.problems.map(\.path) == ["errors.p0001", "errors.P001", "errors.22", "errors.23", "errors.42501"])
        #expect(error.problems[0].problem.contains("uppercase"))
        #expect(error.problems[2].problem == "must be an HTTP status from 400 to 599")
        if case .success = SQLStateStatusMap.read(.array([])) { Issue.record("an array was accepted") }
    }

    @Test func reachableStatusesLeaveOutWhatOverridesRedirect() throws {
        #expect(
            SQLStateStatusMap().reachableStatuses.map(\.status) == [403, 409, 422, 502])
        let statuses = try SQLStateStatusMap.read(
            .object(["P0001": .number("400"), "22": .number("400"), "42": .number("500")])
        ).get()
        let reachable = statuses.reachableStatuses
        #expect(reachable.map(\.status) == [400, 409, 500, 502])
        #expect(reachable.first?.keys == ["22", "P0001"])
    }

    @Test func serverErrorWithoutDetailOrHintOmitsThem() {
        let error = APIError.executionFailed(
            PGError(kind: .server, sqlstate: "22012", message: "division by zero"), service: "s",
            timeoutMilliseconds: 1)
        #expect(error.code == .spExecutionFailed)
        #expect(error.details == [.object(["sqlstate": .string("22012"), "message": .string("division by zero")])])
    }

    @Test func invalidParametersNamesEachParameter() {
        let error = APIError.invalidParameters([
            ParameterProblem(parameter: "p_id", problem: "is required"),
            ParameterProblem(parameter: "p_x", problem: "is not a parameter of this service"),
        ])
        #expect(error.code == .invalidParameters)
        #expect(error.message == "invalid parameters: p_id, p_x")
        #expect(
            error.details == [
                .object(["parameter": .string("p_id"), "problem": .string("is required")]),
                .object(["parameter": .string("p_x"), "problem": .string("is not a parameter of this service")]),
            ])
    }

    @Test func theProblemListIsCapped() {
        // One huge array: a problem per element, and each element's name echoed.
        let problems = (0..<50_000).map { ParameterProblem(parameter: "p[\($0)]", problem: "must be an integer") }
        let error = APIError.invalidParameters(problems)
        #expect(error.details.count == APIError.maxListedProblems + 1)
        #expect(
            error.details.last
                == .object(["parameter": .null, "problem": .string("49900 more problems not listed")]))
        #expect(
            error.message == "invalid parameters: " + (0..<10).map { "p[\($0)]" }.joined(separator: ", ")
                + " and 49990 more")
        let answer = HTTPResponse.error(error, reference: nil)
        #expect(answer.body.count < 10_000)
    }

    @Test func echoedNamesAndProblemsAreCut() {
        let name = String(repeating: "n", count: 100_000)
        let error = APIError.invalidParameters([
            ParameterProblem(parameter: name, problem: "unknown parameter; " + String(repeating: "x", count: 5000))
        ])
        let detail = error.details.first
        #expect(detail?["parameter"]?.stringValue?.count == APIError.maxEchoedCharacters)
        #expect(detail?["parameter"]?.stringValue?.hasSuffix("…") == true)
        #expect(detail?["problem"]?.stringValue?.count == APIError.maxEchoedCharacters)
        #expect(error.message.count < 300)
    }

    @Test func invalidParametersWithoutANameUsesTheProblem() {
        let error = APIError.invalidParameters([ParameterProblem(parameter: nil, problem: "body must be an object")])
        #expect(error.message == "body must be an object")
        #expect(error.details == [.object(["parameter": .null, "problem": .string("body must be an object")])])
        #expect(APIError.invalidParameters([]).message == "invalid parameters")
    }
}
