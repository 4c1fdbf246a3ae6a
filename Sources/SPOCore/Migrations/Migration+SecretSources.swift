extension Migration {
    /// `password_from` may also say `pgpass` (libpq's own password file). What a reference means
    /// in full (the variable prefix, a plain file name) is `SecretReference`'s decision when the
    /// document is written; the table only keeps out what is no reference at all. Rows written
    /// before (`file:/absolute/path`) stay, and are refused when a worker connects with them.
    static let secretSources = Migration(
        version: 14, name: "pgpass as a secret source",
        sql: """
            ALTER TABLE spo.connection DROP CONSTRAINT IF EXISTS connection_password_from_check;
            ALTER TABLE spo.connection ADD CONSTRAINT connection_password_from_check
                CHECK (password_from IS NULL OR password_from ~ '^(env:.+|file:.+|pgpass)$');
            """)
}
