/// The methods the API answers. `HEAD` is answered wherever `GET` is.
public enum HTTPMethod: String, Sendable, CaseIterable {
    case get = "GET"
    case head = "HEAD"
    case post = "POST"
    case put = "PUT"
    case delete = "DELETE"

    /// Whether a request made with `method` (as sent: case matters) is one for an endpoint of this method.
    func answers(_ method: String) -> Bool {
        method == rawValue || (self == .get && method == HTTPMethod.head.rawValue)
    }

    /// The key of the operation in an OpenAPI path item.
    var openAPIKey: String { rawValue.lowercased() }
}
