extension Migration {
    /// A counter that every configuration change moves forward in the changing transaction, so a
    /// snapshot knows exactly which changes it holds and an admin write can wait until every
    /// worker of its pool serves it (read-your-writes across the pool).
    static let configurationGeneration = Migration(
        version: 16, name: "configuration generation",
        sql: #"""
            CREATE TABLE spo.configuration_generation (
                singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
                generation bigint NOT NULL DEFAULT 1
            );
            INSERT INTO spo.configuration_generation DEFAULT VALUES;
            GRANT SELECT, UPDATE (generation) ON spo.configuration_generation TO spo_worker;

            CREATE OR REPLACE FUNCTION spo.notify_config_changed() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                UPDATE spo.configuration_generation SET generation = generation + 1;
                PERFORM pg_notify('spo_config', TG_TABLE_NAME);
                RETURN NULL;
            END $$;
            """#)
}
