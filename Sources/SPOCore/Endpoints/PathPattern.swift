/// A path of the API with named parameters: `/api/services/{name}/execute`.
///
/// Matching works on segments, ignoring empty ones (doubled and trailing slashes), and is exact
/// otherwise: case matters, and a parameter takes one whole non-empty segment.
public struct PathPattern: Sendable, Equatable, ExpressibleByStringLiteral, CustomStringConvertible {
    enum Segment: Sendable, Equatable {
        case literal(String)
        case parameter(String)
    }

    let segments: [Segment]
    /// The pattern as written, which is also its OpenAPI path.
    public let description: String

    public init(stringLiteral text: String) {
        description = text
        segments = text.split(separator: "/").map { part in
            part.hasPrefix("{") && part.hasSuffix("}")
                ? .parameter(String(part.dropFirst().dropLast())) : .literal(String(part))
        }
    }

    /// The names of the parameters, in order.
    public var parameterNames: [String] {
        segments.compactMap { if case .parameter(let name) = $0 { name } else { nil } }
    }

    /// The values of the parameters when `path` (already split into its non-empty segments) matches.
    func match(_ path: [Substring]) -> [String]? {
        guard path.count == segments.count else { return nil }
        var values: [String] = []
        for (segment, part) in zip(segments, path) {
            switch segment {
            case .literal(let text): guard part == text else { return nil }
            case .parameter: values.append(String(part))
            }
        }
        return values
    }
}
