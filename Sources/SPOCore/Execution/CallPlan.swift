/// The SQL that runs one service call, generated from configuration only.
///
/// Values never appear in the text: each supplied parameter is a `$n` placeholder cast to its
/// configured type, and names come from configuration, quoted. Optional parameters the client
/// left out are left out of the call too (named notation), so the routine's own defaults apply.
public struct CallPlan: Sendable, Equatable {
    /// The statement that calls the routine and, for functions, turns its result into JSON text.
    public var sql: String
    /// The prepared-statement name: derived from the SQL, so a changed service never reuses a stale plan.
    public var statementName: String
    /// Builds the plan for `service` called with the parameters in `supplied` (input parameters, in order).
    public init(service: ServiceDefinition, supplied: [ParameterSpec]) {
        var arguments: [String] = []
        for (index, parameter) in supplied.enumerated() {
            arguments.append("\(SQLIdentifier.quote(parameter.name)) => $\(index + 1)::\(parameter.type.castName)")
        }
        let routine = service.procedure.quoted
        switch service.resultShape {
        case .set:
            sql = "SELECT coalesce(json_agg(r), '[]')::text FROM \(routine)(\(arguments.joined(separator: ", "))) AS r"
        case .scalar:
            sql = "SELECT to_json(\(routine)(\(arguments.joined(separator: ", "))))::text"
        case .void:
            sql = "SELECT \(routine)(\(arguments.joined(separator: ", "))) IS NULL"
        case .procedure:
            // OUT parameters take a NULL placeholder in CALL (PostgreSQL 14+).
            for parameter in service.parameters where parameter.direction == .out {
                arguments.append("\(SQLIdentifier.quote(parameter.name)) => NULL")
            }
            sql = "CALL \(routine)(\(arguments.joined(separator: ", ")))"
        }
        statementName = CallPlan.statementName(for: sql)
    }

    /// The statement that turns a CALL's OUT/INOUT values (bound as `$1…`, in the order of
    /// `columns`, the CALL result's column names) into one JSON object, each value cast to its
    /// configured type so PostgreSQL maps it to JSON (numbers exact, timestamps ISO 8601, …).
    public static func outputSQL(columns: [String], parameters: [ParameterSpec]) -> String {
        let pairs = columns.enumerated().map { index, column in
            let type = parameters.first { $0.name == column }?.type.castName ?? "text"
            return "\(literal(column)), $\(index + 1)::\(type)"
        }
        return "SELECT json_build_object(\(pairs.joined(separator: ", ")))::text"
    }

    /// A SQL string literal (for JSON keys taken from configuration).
    static func literal(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "''") + "'"
    }

    /// `spo_` and a 64-bit FNV-1a hash of the SQL, in hex.
    static func statementName(for sql: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in sql.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x100_0000_01b3
        }
        return "spo_" + String(hash, radix: 16)
    }
}
