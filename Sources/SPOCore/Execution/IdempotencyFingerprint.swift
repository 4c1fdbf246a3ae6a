import SPOCrypto
import SPOJSON

/// What an `Idempotency-Key` is bound to: the SHA-256 (hex) of the service's name and the call's
/// validated parameters in a canonical form, so a repeat of the same call matches whatever order
/// its members came in, and any other call does not.
///
/// Each parameter counts by name (sorted) and by the value the procedure receives: the bound text
/// of its type (`1` and `"1"` for an integer are the same call; a default the client left out
/// counts as sent), and for `json`/`jsonb` the value with every object's members sorted, as
/// PostgreSQL's `jsonb` compares them. An omitted optional parameter without a configured default
/// is absent, which differs from an explicit `null`.
public enum IdempotencyFingerprint {
    /// The fingerprint of calling `service` with `parameters`.
    public static func of(service: String, _ parameters: [BoundParameter]) -> String {
        let members = parameters.sorted { $0.spec.name < $1.spec.name }.map { parameter -> JSONValue in
            let value: JSONValue
            if parameter.spec.type.base == .json || parameter.spec.type.base == .jsonb {
                value = .string(canonical(parameter.value).serialized())
            } else {
                value = parameter.text.map(JSONValue.string) ?? .null
            }
            return .array([.string(parameter.spec.name), value])
        }
        // A JSON array: every string is quoted and escaped, so no two calls share a text.
        return SHA256.hex(JSONValue.array([.string(service), .array(members)]).serialized())
    }

    /// `value` with every object's members sorted by name (recursively); arrays keep their order.
    static func canonical(_ value: JSONValue) -> JSONValue {
        switch value {
        case .object(let members):
            return .object(members.sorted { $0.key < $1.key }.map { .init($0.key, canonical($0.value)) })
        case .array(let items):
            return .array(items.map(canonical))
        default:
            return value
        }
    }
}
