import SPOJSON

/// A response ready to be written as CGI output.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: [(String, String)]
    public var body: [UInt8]

    public init(status: Int, headers: [(String, String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A JSON response.
    public static func json(_ status: Int, _ value: JSONValue, headers: [(String, String)] = []) -> HTTPResponse {
        var body: [UInt8] = []
        body.reserveCapacity(1024)  // grown from empty, a typical answer reallocated five times
        value.write(to: &body)
        var all: [(String, String)] = []  // one allocation: a literal and a concatenation made two
        all.reserveCapacity(1 + headers.count)
        all.append(("Content-Type", "application/json"))
        all += headers
        return HTTPResponse(status: status, headers: all, body: body)
    }

    /// The one rendering of an error: `{"error": {"code", "message", "reference", "details"}}`,
    /// with the details `audience` may see.
    public static func error(
        _ error: APIError, reference: String?, headers: [(String, String)] = [],
        audience: APIError.Audience = .client
    ) -> HTTPResponse {
        let body: JSONValue = .object([
            "error": .object([
                "code": .string(error.code.rawValue), "message": .string(error.message),
                "reference": reference.map(JSONValue.string) ?? .null,
                "details": .array(error.details(for: audience)),
            ])
        ])
        return json(error.status, body, headers: headers)
    }

    /// The CGI form nginx expects: `Status:` and headers, a blank line, the body.
    ///
    /// Every answer says `Cache-Control: no-store`: answers carry per-caller data (executions,
    /// keys' grants, configuration) that no browser or proxy cache may keep or replay.
    public func cgiBytes() -> [UInt8] {
        // Appended byte by byte into one buffer: string interpolation and concatenation cost
        // several allocations per response, and this runs on every request.
        var out: [UInt8] = []
        out.reserveCapacity(256 + body.count)
        // The separators byte by byte: appending a string's bytes costs the same however short it is.
        func line(_ name: String, _ value: String) {
            out.appendUTF8(name)
            out.append(UInt8(ascii: ":"))
            out.append(UInt8(ascii: " "))
            out.appendUTF8(value)
            out.append(UInt8(ascii: "\r"))
            out.append(UInt8(ascii: "\n"))
        }
        line("Status", String(status) + " " + HTTPResponse.reason(status))
        for (name, value) in headers { line(name, value) }
        line("Cache-Control", "no-store")
        line("Content-Length", String(body.count))
        out.append(UInt8(ascii: "\r"))
        out.append(UInt8(ascii: "\n"))
        out.append(contentsOf: body)
        return out
    }

    static func reason(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 201: "Created"
        case 202: "Accepted"
        case 204: "No Content"
        case 304: "Not Modified"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 409: "Conflict"
        case 413: "Payload Too Large"
        case 415: "Unsupported Media Type"
        case 422: "Unprocessable Entity"
        case 500: "Internal Server Error"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        default: otherReason(status)
        }
    }

    /// The rest of RFC 9110's phrases, for statuses a service's `errors` overrides may choose.
    private static func otherReason(_ status: Int) -> String {
        switch status {
        case 402: "Payment Required"
        case 406: "Not Acceptable"
        case 407: "Proxy Authentication Required"
        case 408: "Request Timeout"
        case 410: "Gone"
        case 411: "Length Required"
        case 412: "Precondition Failed"
        case 414: "URI Too Long"
        case 416: "Range Not Satisfiable"
        case 417: "Expectation Failed"
        case 421: "Misdirected Request"
        case 423: "Locked"
        case 424: "Failed Dependency"
        case 425: "Too Early"
        case 426: "Upgrade Required"
        case 428: "Precondition Required"
        case 429: "Too Many Requests"
        case 431: "Request Header Fields Too Large"
        case 451: "Unavailable For Legal Reasons"
        case 501: "Not Implemented"
        case 505: "HTTP Version Not Supported"
        case 507: "Insufficient Storage"
        case 508: "Loop Detected"
        case 511: "Network Authentication Required"
        default: "Status"
        }
    }
}
