extension Migration {
    /// `Idempotency-Key` on execute: one row per key and caller (`scope`: the API key's prefix, or
    /// `anonymous`), claimed by the first request with `INSERT … ON CONFLICT DO NOTHING` — so
    /// PostgreSQL, not a worker, decides which of simultaneous requests runs — and completed with
    /// the stored answer in the same statement as the execution's audit row. `locked_until` is
    /// when a claim whose worker died stops counting as running; `expires_at` when the key may be
    /// used afresh (swept by the workers in bounded batches). The services' `idempotency`
    /// (`optional` or `required`) and `idempotency_ttl_s` (how long a key is kept) go with their
    /// configuration.
    static let idempotencyKeys = Migration(
        version: 7, name: "idempotency keys",
        sql: """
            CREATE TABLE spo.idempotency_key (
                scope text NOT NULL,
                key text NOT NULL,
                fingerprint text NOT NULL,
                service_name text NOT NULL,
                state text NOT NULL CHECK (state IN ('running', 'completed')),
                execution_id uuid NOT NULL,
                http_status int,
                response_body text,
                response_headers jsonb,
                locked_until timestamptz,
                created_at timestamptz NOT NULL DEFAULT now(),
                expires_at timestamptz NOT NULL,
                PRIMARY KEY (scope, key),
                CHECK (state = 'running' OR (http_status IS NOT NULL AND response_body IS NOT NULL))
            );
            CREATE INDEX idempotency_key_expires ON spo.idempotency_key (expires_at);
            ALTER TABLE spo.service_configuration
                ADD COLUMN idempotency text NOT NULL DEFAULT 'optional'
                    CHECK (idempotency IN ('optional', 'required')),
                ADD COLUMN idempotency_ttl_s int NOT NULL DEFAULT 86400 CHECK (idempotency_ttl_s > 0);
            """)
}
