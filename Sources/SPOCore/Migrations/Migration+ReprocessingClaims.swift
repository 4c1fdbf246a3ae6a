extension Migration {
    /// A reprocessing is recorded *before* it runs, as a claim on the original execution, so that
    /// two requests to re-run one execution cannot both run it (`ReprocessingClaim`). The new
    /// execution's audit row is written only after the run, hence no foreign key on
    /// `new_execution_id` any more; the claim counts as running until that row exists or
    /// `claimed_until` (the service's timeout plus a margin) passed — a worker that died before
    /// its journal noted the run leaves a claim that expires by itself. `forced` records that
    /// the request overrode the status rule.
    static let reprocessingClaims = Migration(
        version: 6, name: "reprocessing claimed before it runs",
        sql: """
            ALTER TABLE spo.service_reprocessing DROP CONSTRAINT IF EXISTS service_reprocessing_new_execution_id_fkey;
            ALTER TABLE spo.service_reprocessing
                ADD COLUMN forced boolean NOT NULL DEFAULT false,
                ADD COLUMN claimed_until timestamptz;
            CREATE INDEX service_reprocessing_new ON spo.service_reprocessing (new_execution_id);
            """)
}
