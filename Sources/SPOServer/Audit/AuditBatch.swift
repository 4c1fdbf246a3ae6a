import SPOPostgres

/// Execution rows written together: one INSERT of many rows (`unnest` of one array per column),
/// one round trip and one commit, for the pool's audit writer (`AuditWriter`).
///
/// Each row holds the values of `AuditLog.Statement.execution` on the request path (the finish
/// time NULL: the database's clock stamps it, as with a row written alone).
struct AuditBatch {
    /// The columns' array types, in the order of the statement's values.
    private static let types = [
        "uuid", "bigint", "text", "jsonb", "text", "int", "text", "int", "float8", "text", "text", "text", "uuid",
        "jsonb",
    ]
    private static let columns = [
        "id", "service_id", "service_name", "parameters", "status", "http_status", "error_code", "attempts",
        "duration_ms", "user_name", "correlation_id", "idempotency_key", "reprocess_of", "attempt_log",
    ]

    /// How many values a row has: those of the statement before its finish time.
    static let valueCount = types.count

    static let sql: String = {
        let arrays = types.enumerated().map { "$\($0.offset + 1)::\($0.element)[]" }.joined(separator: ", ")
        let listed = columns.joined(separator: ", ")
        return "INSERT INTO spo.service_execution (\(listed), started_at, finished_at) "
            + "SELECT \(columns.map { "r." + $0 }.joined(separator: ", ")), "
            + "clock_timestamp() - make_interval(secs => r.duration_ms / 1000), clock_timestamp() "
            + "FROM unnest(\(arrays)) AS r(\(listed))"
    }()
    static let statementName = "spo_audit_batch_v1"

    private(set) var rows: [[String?]] = []

    /// Whether `values` (an `execution` statement's) can go in a batch: the request path's, with
    /// no spooled finish time.
    static func accepts(_ values: [String?]) -> Bool {
        values.count == valueCount || values.count == valueCount + 1 && values[valueCount] == nil
    }

    mutating func append(_ values: [String?]) { rows.append(Array(values.prefix(Self.valueCount))) }

    var isEmpty: Bool { rows.isEmpty }

    /// Inserts every row in one statement, its own transaction.
    func write(to connection: PGConnection, deadline: ContinuousClock.Instant) throws(PGError) {
        let arrays = (0..<Self.valueCount).map { column in Self.arrayLiteral(rows.map { $0[column] }) }
        try connection.executePrepared(Self.statementName, sql: Self.sql, arrays, deadline: deadline)
    }

    /// A PostgreSQL array literal of `elements`, each quoted (`\` and `"` escaped), NULL unquoted.
    /// Built as bytes: appending to a `String` scalar by scalar cost the writer most of its time.
    static func arrayLiteral(_ elements: [String?]) -> String {
        let (quote, backslash) = (UInt8(ascii: "\""), UInt8(ascii: "\\"))
        var bytes: [UInt8] = [UInt8(ascii: "{")]
        bytes.reserveCapacity(elements.reduce(2) { $0 + ($1?.utf8.count ?? 4) + 3 })
        for (index, element) in elements.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            guard let element else {
                bytes += "NULL".utf8
                continue
            }
            bytes.append(quote)
            for byte in element.utf8 {
                if byte == quote || byte == backslash { bytes.append(backslash) }
                bytes.append(byte)
            }
            bytes.append(quote)
        }
        bytes.append(UInt8(ascii: "}"))
        return String(decoding: bytes, as: UTF8.self)
    }
}
