import SPOCore
import SPOJSON

/// What the audit statement does to a claimed key: keep the answer for repeats, or release the
/// key (delete its row) when nothing ran, so the client may try again with it.
public struct IdempotencyCompletion: Sendable {
    public var scope: String
    public var key: String
    public var fingerprint: String
    public var service: String
    public var ttlSeconds: Int
    /// The answer to keep; nil releases the key.
    public var answer: HTTPResponse?

    /// The completion of `claim`, keeping `answer` (nil: releasing the key).
    init(_ claim: IdempotencyClaim, answer: HTTPResponse?) {
        (scope, key, fingerprint, service, ttlSeconds) = (
            claim.scope, claim.key, claim.fingerprint, claim.service, claim.ttlSeconds
        )
        self.answer = answer
    }

    /// The values the keyed audit statements append: body, headers (as a JSON array of pairs,
    /// without the request's own correlation id), scope, key, fingerprint, service and TTL.
    var values: [String?] {
        let headers = answer.map { response in
            JSONValue.array(
                response.headers.filter { $0.0 != "X-Correlation-ID" }.map { .array([.string($0.0), .string($0.1)]) }
            ).serialized()
        }
        return [
            answer.map { String(decoding: $0.body, as: UTF8.self) }, headers, scope, key, fingerprint, service,
            String(ttlSeconds),
        ]
    }
}
