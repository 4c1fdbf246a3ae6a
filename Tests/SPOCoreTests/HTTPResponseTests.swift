import SPOJSON
import Testing

@testable import SPOCore

private func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

@Suite struct HTTPResponseTests {
    @Test func errorRendersTheOneShape() {
        let error = APIError(
            .invalidParameters, "invalid parameters: p_id",
            details: [.object(["parameter": .string("p_id"), "problem": .string("is required")])])
        let response = HTTPResponse.error(error, reference: "0b6f3e2a-6d7e-4c4e-9d7e-2a1f0c3b4d5e")
        #expect(response.status == 400)
        #expect(
            text(response.body)
                == #"{"error":{"code":"INVALID_PARAMETERS","message":"invalid parameters: p_id","reference":"0b6f3e2a-6d7e-4c4e-9d7e-2a1f0c3b4d5e","details":[{"parameter":"p_id","problem":"is required"}]}}"#
        )
        #expect(response.headers.first?.0 == "Content-Type")
        #expect(response.headers.first?.1 == "application/json")
    }

    @Test func errorWithoutReferenceOrDetails() {
        let response = HTTPResponse.error(APIError(.serviceNotFound, "no service named x"), reference: nil)
        #expect(response.status == 404)
        #expect(
            text(response.body)
                == #"{"error":{"code":"SERVICE_NOT_FOUND","message":"no service named x","reference":null,"details":[]}}"#
        )
    }

    @Test func errorMessagesAreEscaped() {
        let response = HTTPResponse.error(APIError(.spExecutionFailed, "bad \"quote\"\n\\ here"), reference: nil)
        #expect(
            text(response.body)
                == #"{"error":{"code":"SP_EXECUTION_FAILED","message":"bad \"quote\"\n\\ here","reference":null,"details":[]}}"#
        )
    }

    @Test(arguments: APIError.Code.allCases)
    func errorStatusComesFromTheCode(code: APIError.Code) throws {
        let response = HTTPResponse.error(APIError(code, "m"), reference: nil)
        #expect(response.status == code.httpStatus)
        let body = try JSONValue.parse(response.body)
        #expect(body["error"]?["code"] == .string(code.rawValue))
        #expect(body.members?.map(\.key) == ["error"])
        #expect(body["error"]?.members?.map(\.key) == ["code", "message", "reference", "details"])
    }

    @Test func extraHeadersFollowTheContentType() {
        let response = HTTPResponse.error(
            APIError(.timeout, "slow"), reference: "r", headers: [("X-Correlation-ID", "abc"), ("X-Execution-ID", "1")])
        #expect(response.headers.map(\.0) == ["Content-Type", "X-Correlation-ID", "X-Execution-ID"])
        #expect(response.headers.map(\.1) == ["application/json", "abc", "1"])
    }

    @Test func jsonResponse() {
        let response = HTTPResponse.json(200, .object(["data": .number("12345678901234567890.123")]))
        #expect(response.status == 200)
        #expect(text(response.body) == #"{"data":12345678901234567890.123}"#)
    }

    @Test func cgiBytesHaveStatusHeadersLengthAndBlankLine() {
        let response = HTTPResponse.json(201, .object(["ok": .bool(true)]), headers: [("X-Correlation-ID", "c-1")])
        #expect(
            text(response.cgiBytes())
                == "Status: 201 Created\r\nContent-Type: application/json\r\nX-Correlation-ID: c-1\r\n"
                + "Cache-Control: no-store\r\nContent-Length: 11\r\n\r\n{\"ok\":true}")
    }

    /// No cache may keep an API answer: errors, replays and empty answers say so too.
    @Test func everyAnswerSaysNoStore() {
        for response in [
            HTTPResponse(status: 204), HTTPResponse.error(APIError(.notFound, "no"), reference: nil),
            HTTPResponse(status: 200, headers: [("Idempotent-Replayed", "true")], body: Array("{}".utf8)),
        ] {
            #expect(text(response.cgiBytes()).contains("\r\nCache-Control: no-store\r\n"))
        }
    }

    @Test func cgiContentLengthCountsBytesNotCharacters() {
        let response = HTTPResponse(status: 200, body: Array("héllo €".utf8))
        #expect(
            text(response.cgiBytes())
                == "Status: 200 OK\r\nCache-Control: no-store\r\nContent-Length: 10\r\n\r\nhéllo €")
    }

    @Test func cgiBytesOfAnEmptyResponse() {
        #expect(
            text(HTTPResponse(status: 204).cgiBytes())
                == "Status: 204 No Content\r\nCache-Control: no-store\r\nContent-Length: 0\r\n\r\n")
    }

    @Test(arguments: [
        (400, "Bad Request"), (401, "Unauthorized"), (403, "Forbidden"), (404, "Not Found"),
        (405, "Method Not Allowed"), (413, "Payload Too Large"), (415, "Unsupported Media Type"),
        (500, "Internal Server Error"), (502, "Bad Gateway"), (503, "Service Unavailable"), (504, "Gateway Timeout"),
        (202, "Accepted"), (299, "Status"),
    ])
    func statusLineReasons(status: Int, reason: String) {
        let head = text(HTTPResponse(status: status).cgiBytes())
        #expect(head.hasPrefix("Status: \(status) \(reason)\r\n"))
    }
}
