import SPOJSON
import SPOPostgres

/// An error a client sees: a stable code with its HTTP status, a message for humans and
/// structured details. Rendered in one place (`HTTPResponse.error`) in the SPEC's shape.
public struct APIError: Error, Sendable {
    /// The stable codes of the API.
    public enum Code: String, Sendable, CaseIterable {
        case invalidParameters = "INVALID_PARAMETERS"
        case serviceNotFound = "SERVICE_NOT_FOUND"
        case spExecutionFailed = "SP_EXECUTION_FAILED"
        case dbConnectionFailed = "DB_CONNECTION_FAILED"
        case timeout = "TIMEOUT"
        case unauthorized = "UNAUTHORIZED"
        case forbidden = "FORBIDDEN"
        case payloadTooLarge = "PAYLOAD_TOO_LARGE"
        case unsupportedMediaType = "UNSUPPORTED_MEDIA_TYPE"
        case notFound = "NOT_FOUND"
        case methodNotAllowed = "METHOD_NOT_ALLOWED"
        case conflict = "CONFLICT"
        case internalError = "INTERNAL_ERROR"
        /// Answered by nginx, never by a worker: no worker of the pool could be reached, or the one
        /// handling the request died (`nginx/spo.conf`, `@spo_pool_unavailable`).
        case poolUnavailable = "POOL_UNAVAILABLE"
        /// Neither the control database nor the local audit spool can record an execution, so it
        /// is not run: nothing happens unaudited.
        case auditUnavailable = "AUDIT_UNAVAILABLE"
        /// The service's connection has an open circuit breaker: refused at once, nothing sent to
        /// the database; `Retry-After` says when probes may start.
        case circuitOpen = "CIRCUIT_OPEN"
        /// The `Idempotency-Key` header is malformed, or missing where the service requires one.
        case idempotencyKeyInvalid = "IDEMPOTENCY_KEY_INVALID"
        /// The key was used before with other parameters (or another service): nothing was run.
        case idempotencyKeyMismatch = "IDEMPOTENCY_KEY_MISMATCH"
        /// The first request with this key is still running: try again later (`Retry-After`).
        case idempotencyKeyInUse = "IDEMPOTENCY_KEY_IN_USE"
        /// The call ran, but its result is larger than the server's limit (`SPO_MAX_RESULT_BYTES`):
        /// the database kept it, nothing of it was sent.
        case resultTooLarge = "RESULT_TOO_LARGE"
        /// `POST /api/sagas/{id}/compensate` on a saga that is not in `compensation_failed`.
        case sagaNotCompensable = "SAGA_NOT_COMPENSABLE"
        /// Answered by nginx, never by a worker: the caller's key or address sent more requests, or
        /// holds more connections, than `limit_req`/`limit_conn` allow (`@spo_rate_limited`).
        case rateLimited = "RATE_LIMITED"

        public var httpStatus: Int {
            switch self {
            case .invalidParameters, .idempotencyKeyInvalid: 400
            case .idempotencyKeyMismatch: 422
            case .idempotencyKeyInUse, .sagaNotCompensable: 409
            case .serviceNotFound, .notFound: 404
            case .spExecutionFailed: 502
            case .dbConnectionFailed, .auditUnavailable, .circuitOpen: 503
            case .timeout: 504
            case .unauthorized: 401
            case .forbidden: 403
            case .payloadTooLarge: 413
            case .unsupportedMediaType: 415
            case .methodNotAllowed: 405
            case .conflict: 409
            case .internalError: 500
            case .poolUnavailable, .resultTooLarge: 502
            case .rateLimited: 429
            }
        }
    }

    /// Who reads an error answer, which decides how much of it they see.
    public enum Audience: Sendable {
        /// Gateway clients: the code, message and the details meant for everyone.
        case client
        /// Admin keys (and the audit): the confidential details too.
        case administrator
    }

    public var code: Code
    /// The HTTP status answered: the code's, except for `SP_EXECUTION_FAILED`, whose status
    /// follows the SQLSTATE (`SQLStateStatusMap`).
    public var status: Int
    public var message: String
    /// An array of objects saying what exactly went wrong, as every caller sees them.
    public var details: [JSONValue]
    /// The details as administrators and the audit see them, when they hold more than `details`
    /// (the database's `detail` and `hint`, which can echo other rows' values); nil when the same.
    public var confidentialDetails: [JSONValue]?
    /// The database's SQLSTATE, when the error came from there.
    public var sqlstate: String?

    public init(
        _ code: Code, _ message: String, details: [JSONValue] = [], sqlstate: String? = nil, status: Int? = nil
    ) {
        self.code = code
        self.status = status ?? code.httpStatus
        self.message = message
        self.details = details
        self.sqlstate = sqlstate
    }

    /// The details `audience` may see.
    public func details(for audience: Audience) -> [JSONValue] {
        audience == .administrator ? confidentialDetails ?? details : details
    }
}

extension APIError {
    /// At most this many problems are listed in `details`; one last item says how many more
    /// there were, so one huge array cannot make a multi-megabyte answer and audit row.
    public static let maxListedProblems = 100
    /// At most this many parameter names in the message.
    public static let maxNamesInMessage = 10
    /// Longest parameter name or problem text echoed (in characters); longer ones are cut with "…".
    public static let maxEchoedCharacters = 200

    /// Every rejected parameter, named with its reason — up to `maxListedProblems` of them.
    public static func invalidParameters(_ problems: [ParameterProblem]) -> APIError {
        var names: [String] = []
        var seen: Set<String> = []
        for case let name? in problems.lazy.map(\.parameter) where seen.insert(name).inserted { names.append(name) }
        let listedNames = names.prefix(maxNamesInMessage).map { bounded($0) }.joined(separator: ", ")
        let moreNames = names.count > maxNamesInMessage ? " and \(names.count - maxNamesInMessage) more" : ""
        let message =
            names.isEmpty
            ? bounded(problems.first?.problem ?? "invalid parameters")
            : "invalid parameters: " + listedNames + moreNames
        var details: [JSONValue] = problems.prefix(maxListedProblems).map {
            .object([
                "parameter": $0.parameter.map { .string(bounded($0)) } ?? .null,
                "problem": .string(bounded($0.problem)),
            ])
        }
        if problems.count > maxListedProblems {
            let omitted = problems.count - maxListedProblems
            details.append(
                .object([
                    "parameter": .null,
                    "problem": .string("\(omitted) more problem\(omitted == 1 ? "" : "s") not listed"),
                ]))
        }
        return APIError(.invalidParameters, message, details: details)
    }

    /// `text` cut to `maxEchoedCharacters`, marked with "…" where it was cut.
    static func bounded(_ text: String) -> String {
        guard text.unicodeScalars.count > maxEchoedCharacters else { return text }
        var cut = String.UnicodeScalarView(text.unicodeScalars.prefix(maxEchoedCharacters - 1))
        cut.append("…")
        return String(cut)
    }

    /// The failure of an execution, as the client should see it: a procedure's own error answers
    /// the status `statuses` gives its SQLSTATE, with `detail` and `hint` for administrators only.
    public static func executionFailed(
        _ error: PGError, service: String, timeoutMilliseconds: Int, statuses: SQLStateStatusMap = SQLStateStatusMap()
    ) -> APIError {
        switch error.kind {
        case .timeout:
            return APIError(
                .timeout,
                // Connecting (08001) has no statement to cancel: say which wait ran out.
                error.sqlstate == "08001"
                    ? "service \(service) exceeded its timeout of \(timeoutMilliseconds) ms while connecting to its database"
                    : "service \(service) exceeded its timeout of \(timeoutMilliseconds) ms; the statement was cancelled",
                details: [.object(["timeout_ms": .number(timeoutMilliseconds)])], sqlstate: error.sqlstate)
        case .resultTooLarge:
            return APIError(
                .resultTooLarge, "the result of service \(service) is too large to answer: \(error.message)",
                details: [.object(["message": .string(error.message)])], sqlstate: error.sqlstate)
        case .connection:
            return APIError(
                .dbConnectionFailed, "the database of service \(service) is unreachable; try again later",
                details: DatabaseFailureText.details(error), sqlstate: error.sqlstate)
        case .server:
            let shared: [JSONValue.Member] = [
                .init("sqlstate", .string(error.sqlstate)), .init("message", .string(error.message)),
            ]
            var confidential = shared
            if let text = error.detail { confidential.append(.init("detail", .string(text))) }
            if let hint = error.hint { confidential.append(.init("hint", .string(hint))) }
            var failure = APIError(
                .spExecutionFailed, "the procedure of service \(service) failed: \(error.message)",
                details: [.object(shared)], sqlstate: error.sqlstate, status: statuses.status(for: error.sqlstate))
            if confidential.count > shared.count { failure.confidentialDetails = [.object(confidential)] }
            return failure
        }
    }
}
