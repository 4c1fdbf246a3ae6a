extension Migration {
    /// A service's routine as identifiers, not text: schema and name in columns of their own (a
    /// text such as `demo.GetOrder` read back through a parser loses its case or its dots), the
    /// argument types when the document chose one overload, the arguments in positional order
    /// (unnamed and VARIADIC ones are passed differently), what `pg_proc.provolatile` says, and
    /// the document's `idempotent` — the last two decide whether a call whose connection was
    /// lost after sending may be sent again.
    ///
    /// Rows written before keep working: their `procedure` text was `schema.name` exactly as
    /// the catalog spells both, so its first dot splits it; their arguments stay unknown (NULL:
    /// every parameter is passed by name, as before) and they count as volatile until written again.
    static let routineIdentity = Migration(
        version: 4, name: "routine identity, arguments and volatility",
        sql: """
            ALTER TABLE spo.service_configuration
                ADD COLUMN procedure_schema text,
                ADD COLUMN procedure_name text,
                ADD COLUMN procedure_argument_types text,
                ADD COLUMN procedure_arguments jsonb CHECK (jsonb_typeof(procedure_arguments) = 'array'),
                ADD COLUMN volatility text NOT NULL DEFAULT 'volatile'
                    CHECK (volatility IN ('immutable', 'stable', 'volatile')),
                ADD COLUMN idempotent boolean NOT NULL DEFAULT false;
            UPDATE spo.service_configuration
                SET procedure_schema = split_part(procedure, '.', 1),
                    procedure_name = substr(procedure, strpos(procedure, '.') + 1);
            ALTER TABLE spo.service_configuration
                ALTER COLUMN procedure_schema SET NOT NULL,
                ALTER COLUMN procedure_name SET NOT NULL;
            """)
}
