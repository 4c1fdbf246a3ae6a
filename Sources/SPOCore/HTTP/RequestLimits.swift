import SPOJSON

/// The bounds a worker puts on what a request may make it hold: the body, the shape of its JSON,
/// and the result a call may hand back. Each limit has a documented default and one place it is
/// changed; a request over one gets a 400 (413 for the body, 502 `RESULT_TOO_LARGE` for a result)
/// naming the limit.
public struct RequestLimits: Sendable, Equatable {
    /// Largest body accepted, in bytes. Under `spo serve` it is the site file's
    /// `client_max_body_size` (`NginxBodyLimit`), so nginx and the workers agree.
    public var maxBodyBytes: Int
    /// Deepest nesting of arrays and objects in a JSON body (`{"a": [1]}` is 2 deep).
    public var maxDepth: Int
    /// Most parameters (members of the parameters object) in one call.
    public var maxParameters: Int
    /// Longest string anywhere in a JSON body, member names included, in characters (Unicode scalars).
    public var maxStringLength: Int
    /// Most elements of any array in a JSON body.
    public var maxArrayItems: Int
    /// Largest `data` a call may return, in bytes of JSON; a larger one is refused by PostgreSQL
    /// before it is sent (`CallPlan`), with `RESULT_TOO_LARGE`.
    public var maxResultBytes: Int

    public init(
        maxBodyBytes: Int = 1 << 20, maxDepth: Int = 32, maxParameters: Int = 100, maxStringLength: Int = 100_000,
        maxArrayItems: Int = 10_000, maxResultBytes: Int = 16 << 20
    ) {
        self.maxBodyBytes = maxBodyBytes
        self.maxDepth = maxDepth
        self.maxParameters = maxParameters
        self.maxStringLength = maxStringLength
        self.maxArrayItems = maxArrayItems
        self.maxResultBytes = maxResultBytes
    }

    /// The defaults, as documented.
    public static let defaults = RequestLimits()

    /// Where each limit but the body's is set: a variable of the environment of `spo serve` (or
    /// `spo dev`), which its workers inherit.
    public enum Setting: String, Sendable, CaseIterable {
        case maxDepth = "SPO_MAX_JSON_DEPTH"
        case maxParameters = "SPO_MAX_PARAMETERS"
        case maxStringLength = "SPO_MAX_STRING_LENGTH"
        case maxArrayItems = "SPO_MAX_ARRAY_ITEMS"
        case maxResultBytes = "SPO_MAX_RESULT_BYTES"
    }

    /// The defaults, with each limit the environment sets; a value that is not a positive integer
    /// (or a result limit beyond what PostgreSQL's `int4` can compare) is a problem, not ignored.
    public static func from(environment: [String: String], maxBodyBytes: Int = defaults.maxBodyBytes)
        -> Result<RequestLimits, LimitsProblem>
    {
        var limits = RequestLimits(maxBodyBytes: maxBodyBytes)
        for setting in Setting.allCases {
            guard let text = environment[setting.rawValue] else { continue }
            guard let value = Int(text), value > 0, value <= Int(Int32.max) else {
                return .failure(LimitsProblem(setting: setting, value: text))
            }
            switch setting {
            case .maxDepth: limits.maxDepth = value
            case .maxParameters: limits.maxParameters = value
            case .maxStringLength: limits.maxStringLength = value
            case .maxArrayItems: limits.maxArrayItems = value
            case .maxResultBytes: limits.maxResultBytes = value
            }
        }
        return .success(limits)
    }
}

/// A limit set in the environment to something that is not a positive integer.
public struct LimitsProblem: Error, Sendable, Equatable, CustomStringConvertible {
    public var setting: RequestLimits.Setting
    public var value: String
    public var description: String {
        "\(setting.rawValue)=\(value): must be a positive integer of at most \(Int32.max)"
    }
}
