/// Which browser origins may call the gateway endpoints (`Endpoint.isCrossOrigin`) across
/// origins, from `SPO_CORS_ORIGINS` (`spo serve --cors-origins`): a comma-separated list of
/// origins (`https://shop.example.com, http://localhost:3000`), or `*` for any.
///
/// An allowed `Origin` gets `Access-Control-Allow-Origin` echoed (and `Vary: Origin` always, so
/// caches keep answers per origin apart); any other origin gets no CORS header at all, and the
/// browser keeps the answer from its page. The API key travels in `Authorization`, not in cookies,
/// so credentials mode is never allowed.
public struct CORSPolicy: Sendable, Equatable {
    /// Exact origins (scheme, host and port, lowercase), or nil for any.
    public let origins: Set<String>?

    /// The request headers a caller may send across origins: the ones execution reads.
    public static let allowedHeaders = "Authorization, Content-Type, Idempotency-Key, Prefer, X-Correlation-ID"
    /// The answer's headers a page may read besides the CORS-safelisted ones.
    public static let exposedHeaders =
        "X-Execution-ID, X-Correlation-ID, Location, Retry-After, Idempotent-Replayed, Preference-Applied, "
        + "WWW-Authenticate"
    /// How long a browser may keep a preflight's answer, in seconds (Chromium caps it at 7200).
    public static let maxAgeSeconds = 7200

    public init(origins: Set<String>?) { self.origins = origins }

    /// The policy `text` asks for: nil for none (unset or empty), or why it cannot be read.
    public static func parse(_ text: String?) -> Result<CORSPolicy?, CORSPolicyError> {
        let items = (text ?? "").split(whereSeparator: { $0 == "," || $0 == " " }).map(String.init)
        if items.isEmpty { return .success(nil) }
        if items == ["*"] { return .success(CORSPolicy(origins: nil)) }
        var origins: Set<String> = []
        for item in items {
            guard let origin = normalized(item) else { return .failure(CORSPolicyError(origin: item)) }
            origins.insert(origin)
        }
        return .success(CORSPolicy(origins: origins))
    }

    /// `scheme://host[:port]` in lowercase, as browsers send `Origin`; nil for anything else
    /// (a path, a query, a wildcard inside a name, another scheme).
    static func normalized(_ text: String) -> String? {
        let lower = text.lowercased()
        guard let separator = lower.range(of: "://") else { return nil }
        let scheme = lower[..<separator.lowerBound]
        let authority = lower[separator.upperBound...]
        guard scheme == "http" || scheme == "https", !authority.isEmpty,
            authority.unicodeScalars.allSatisfy({
                ("a"..."z").contains($0) || ("0"..."9").contains($0) || "-.:[]".unicodeScalars.contains($0)
            })
        else { return nil }
        return lower
    }

    /// Whether a request's `Origin` may read the answer.
    public func allows(_ origin: String) -> Bool {
        guard let origins else { return true }
        return origins.contains(origin.lowercased())
    }

    /// An answer to a cross-origin endpoint, with the CORS headers its `origin` may have.
    public func decorate(_ response: HTTPResponse, origin: String?) -> HTTPResponse {
        var response = response
        response.headers.append(("Vary", "Origin"))
        guard let origin, allows(origin) else { return response }
        response.headers.append(("Access-Control-Allow-Origin", origins == nil ? "*" : origin))
        response.headers.append(("Access-Control-Expose-Headers", Self.exposedHeaders))
        return response
    }

    /// The answer to a preflight (`plain` is what `OPTIONS` answers anyway): the methods and
    /// headers allowed when the origin is, and the method it asks for is one of `allowed`.
    public func preflight(_ plain: HTTPResponse, origin: String?, method: String?, allowed: String) -> HTTPResponse {
        var response = plain
        response.headers.append(("Vary", "Origin"))
        guard let origin, allows(origin), let method,
            allowed.split(separator: ",").contains(where: { $0.split(separator: " ").first.map(String.init) == method })
        else { return response }
        response.headers += [
            ("Access-Control-Allow-Origin", origins == nil ? "*" : origin),
            ("Access-Control-Allow-Methods", allowed),
            ("Access-Control-Allow-Headers", Self.allowedHeaders),
            ("Access-Control-Max-Age", String(Self.maxAgeSeconds)),
        ]
        return response
    }
}

/// An origin in `SPO_CORS_ORIGINS` that is not `scheme://host[:port]`.
public struct CORSPolicyError: Error, Sendable, Equatable, CustomStringConvertible {
    public var origin: String
    public var description: String {
        "SPO_CORS_ORIGINS: \(origin) is not an origin; write scheme://host[:port] (http or https, no path), "
            + "separated by commas, or * for any"
    }
}
