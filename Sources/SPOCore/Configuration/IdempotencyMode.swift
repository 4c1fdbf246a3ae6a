/// Whether a service's calls must carry an `Idempotency-Key` (the service document's `idempotency`).
public enum IdempotencyMode: String, Sendable, CaseIterable {
    /// A key is honoured when sent; calls without one run as usual.
    case optional
    /// A call without a key is refused with 400 `IDEMPOTENCY_KEY_INVALID`, before anything runs.
    case required

    /// How long a key is kept by default (the service document's `idempotency_ttl_s`): 24 hours,
    /// as Stripe keeps them.
    public static let defaultTTLSeconds = 86_400
    /// The longest a service may keep its keys: 30 days.
    public static let maxTTLSeconds = 2_592_000
}
