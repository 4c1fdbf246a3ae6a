import SPOJSON
import SPOPostgres
import Testing

@testable import SPOCore

@Suite struct APIErrorTests {
    @Test(arguments: [
        (APIError.Code.invalidParameters, 400), (.serviceNotFound, 404), (.spExecutionFailed, 502),
        (.dbConnectionFailed, 503), (.timeout, 504), (.unauthorized, 401), (.forbidden, 403),
        (.payloadTooLarge, 413), (.unsupportedMediaType, 415), (.notFound, 404), (.methodNotAllowed, 405),
        (.internalError, 500), (.conflict, 409), (.poolUnavailable, 502), (.auditUnavailable, 503),
    ])
    func everyCodeHasItsStatus(code: APIError.Code, status: Int) {
        #expect(code.httpStatus == status)
    }

    @Test func everyCodeIsCovered() {
        #expect(APIError.Code.allCases.count == 15)
        #expect(
            Set(APIError.Code.allCases.map(\.rawValue)) == [
                "INVALID_PARAMETERS", "SERVICE_NOT_FOUND", "SP_EXECUTION_FAILED", "DB_CONNECTION_FAILED", "TIMEOUT",
                "UNAUTHORIZED", "FORBIDDEN", "PAYLOAD_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE", "NOT_FOUND",
                "METHOD_NOT_ALLOWED", "INTERNAL_ERROR", "CONFLICT", "POOL_UNAVAILABLE",
                "AUDIT_UNAVAILABLE",
            ])
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
                .object(["sqlstate": .string("08006"), "message": .string("server closed the connection unexpectedly")])
            ])
    }

    @Test func serverErrorMapsToSP_EXECUTION_FAILEDWithDetailAndHint() {
        let error = APIError.executionFailed(
            PGError(
                kind: .server, sqlstate: "P0001", message: "customer 7 not found", detail: "id=7", hint: "check the id"),
            service: "customer_get", timeoutMilliseconds: 1000)
        #expect(error.code == .spExecutionFailed)
        #expect(error.code.httpStatus == 502)
        #expect(error.sqlstate == "P0001")
        #expect(error.message == "the procedure of service customer_get failed: customer 7 not found")
        #expect(
            error.details == [
                .object([
                    "sqlstate": .string("P0001"), "message": .string("customer 7 not found"),
                    "detail": .string("id=7"), "hint": .string("check the id"),
                ])
            ])
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

    @Test func invalidParametersWithoutANameUsesTheProblem() {
        let error = APIError.invalidParameters([ParameterProblem(parameter: nil, problem: "body must be an object")])
        #expect(error.message == "body must be an object")
        #expect(error.details == [.object(["parameter": .null, "problem": .string("body must be an object")])])
        #expect(APIError.invalidParameters([]).message == "invalid parameters")
    }
}
