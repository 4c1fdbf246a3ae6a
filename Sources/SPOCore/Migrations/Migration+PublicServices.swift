extension Migration {
    /// A service is callable without an API key only when its document says `"public": true`;
    /// every existing service stays private (the API fails closed).
    static let publicServices = Migration(
        version: 15, name: "public services",
        sql: """
            ALTER TABLE spo.service_configuration ADD COLUMN public boolean NOT NULL DEFAULT false;
            """)
}
