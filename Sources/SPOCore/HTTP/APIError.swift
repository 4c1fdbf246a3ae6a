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

        public var httpStatus: Int {
            switch self {
            case .invalidParameters: 400
            case .serviceNotFound, .notFound: 404
            case .spExecutionFailed: 502
            case .dbConnectionFailed, .auditUnavailable: 503
            case .timeout: 504
            case .unauthorized: 401
            case .forbidden: 403
            case .payloadTooLarge: 413
            case .unsupportedMediaType: 415
            case .methodNotAllowed: 405
            case .conflict: 409
            case .internalError: 500
            case .poolUnavailable: 502
            }
        }
    }

    public var code: Code
    public var message: String
    /// An array of objects saying what exactly went wrong.
    public var details: [JSONValue]
    /// The database's SQLSTATE, when the error came from there.
    public var sqlstate: String?

    public init(_ code: Code, _ message: String, details: [JSONValue] = [], sqlstate: String? = nil) {
        self.code = code
        self.message = message
        self.details = details
        self.sqlstate = sqlstate
    }
}

extension APIError {
    /// Every rejected parameter, named with its reason.
    public static func invalidParameters(_ problems: [ParameterProblem]) -> APIError {
        let names = problems.compactMap(\.parameter)
        let message =
            names.isEmpty
            ? (problems.first?.problem ?? "invalid parameters")
            : "invalid parameters: " + names.joined(separator: ", ")
        return APIError(
            .invalidParameters, message,
            details: problems.map {
                .object(["parameter": $0.parameter.map(JSONValue.string) ?? .null, "problem": .string($0.problem)])
            })
    }

    /// The failure of an execution, as the client should see it.
    public static func executionFailed(_ error: PGError, service: String, timeoutMilliseconds: Int) -> APIError {
        switch error.kind {
        case .timeout:
            return APIError(
                .timeout,
                "service \(service) exceeded its timeout of \(timeoutMilliseconds) ms; the statement was cancelled",
                details: [.object(["timeout_ms": .number(timeoutMilliseconds)])], sqlstate: error.sqlstate)
        case .connection:
            return APIError(
                .dbConnectionFailed, "the database of service \(service) is unreachable; try again later",
                details: [.object(["sqlstate": .string(error.sqlstate), "message": .string(error.message)])],
                sqlstate: error.sqlstate)
        case .server:
            var detail: [JSONValue.Member] = [
                .init("sqlstate", .string(error.sqlstate)), .init("message", .string(error.message)),
            ]
            if let text = error.detail { detail.append(.init("detail", .string(text))) }
            if let hint = error.hint { detail.append(.init("hint", .string(hint))) }
            return APIError(
                .spExecutionFailed, "the procedure of service \(service) failed: \(error.message)",
                details: [.object(detail)], sqlstate: error.sqlstate)
        }
    }
}
