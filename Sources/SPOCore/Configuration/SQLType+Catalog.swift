extension SQLType {
    /// The cast used in generated SQL: the type's own name in `pg_catalog` (`pg_catalog.int4[]`).
    ///
    /// Unqualified type names are looked up along `search_path`, and temporary types come first:
    /// a procedure that creates a temporary table named `text`, or sets a `search_path` with a
    /// schema holding one, would otherwise change what the next call's `$1::text` means.
    public var catalogCastName: String {
        let name =
            switch base {
            case .smallint: "int2"
            case .integer: "int4"
            case .bigint: "int8"
            case .numeric: "numeric"
            case .real: "float4"
            case .doublePrecision: "float8"
            case .text: "text"
            case .varchar: "varchar"
            case .boolean: "bool"
            case .date: "date"
            case .timestamp: "timestamp"
            case .timestamptz: "timestamptz"
            case .uuid: "uuid"
            case .json: "json"
            case .jsonb: "jsonb"
            }
        return "pg_catalog." + name + (isArray ? "[]" : "")
    }
}
