extension Migration {
    /// API keys: stored as SHA-256 digests, found by their public prefix; changes reach every
    /// worker through the same notification as configuration (revocation within a second).
    static let apiKeys = Migration(
        version: 2, name: "api keys",
        sql: #"""
            CREATE TABLE spo.api_key (
                prefix       text PRIMARY KEY CHECK (prefix ~ '^[0-9a-f]{8}$'),
                name         text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.@-]{0,62}$'),
                secret_hash  text NOT NULL CHECK (secret_hash ~ '^[0-9a-f]{64}$'),
                role         text NOT NULL CHECK (role IN ('admin', 'executor')),
                grants       text[] NOT NULL DEFAULT '{}',
                created_at   timestamptz NOT NULL DEFAULT now(),
                revoked_at   timestamptz
            );
            -- A name is taken while its key is active; revoked keys stay for the audit trail.
            CREATE UNIQUE INDEX api_key_active_name ON spo.api_key (name) WHERE revoked_at IS NULL;
            CREATE TRIGGER api_key_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON spo.api_key
                FOR EACH STATEMENT EXECUTE FUNCTION spo.notify_config_changed();
            """#)
}
