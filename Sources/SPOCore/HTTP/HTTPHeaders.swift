/// A request's headers, names lowercased with `-` kept (`x-correlation-id`): the few the API
/// reads, found by a scan.
///
/// A worker passes the values it read from FastCGI as they are, beside a table of names made once
/// (`init(names:values:)`): no copy and no hashing per request, where a dictionary allocated its
/// storage twice and hashed every name on insertion and on each look-up.
public struct HTTPHeaders: Sendable, ExpressibleByDictionaryLiteral {
    private var names: [String]
    /// As many as `names` or more (the extra ones belong to no header and are never read).
    private var values: [String?]

    /// Not a header a client can send: nginx's `$request_id` (FastCGI parameter `SPO_REQUEST_ID`),
    /// from which a request without a correlation id of its own gets one.
    public static let nginxRequestID = "spo-request-id"

    /// The header `names[i]` has `values[i]` (nil: absent); `values` may be longer than `names`.
    public init(names: [String], values: [String?]) {
        precondition(values.count >= names.count, "a value for every name")
        self.names = names
        self.values = values
    }

    public init(dictionaryLiteral elements: (String, String)...) {
        self.init(names: elements.map(\.0), values: elements.map(\.1))
    }

    /// The headers of `fields`, names in lowercase.
    public init(_ fields: [String: String]) {
        self.init(names: Array(fields.keys), values: Array(fields.values))
    }

    /// The value of header `name` (lowercase), nil when absent; setting nil removes it.
    public subscript(name: String) -> String? {
        get {
            guard let index = names.firstIndex(of: name) else { return nil }
            return values[index]
        }
        set {
            if let index = names.firstIndex(of: name) {
                values[index] = newValue
            } else if let newValue {
                values.insert(newValue, at: names.count)
                names.append(name)
            }
        }
    }
}
