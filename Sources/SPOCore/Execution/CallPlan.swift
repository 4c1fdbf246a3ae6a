/// The SQL that runs one service call, generated from configuration only.
///
/// Values never appear in the text: each supplied parameter is a `$n` placeholder cast to its
/// configured type, and names come from configuration, quoted. Optional parameters the client
/// left out are left out of the call too (named notation), so the routine's own defaults apply.
/// Arguments the routine leaves unnamed are passed by position, as are those before them.
///
/// Nothing a routine can return or change reaches into the statement: built-ins and casts are
/// qualified with `pg_catalog` (a procedure that sets `search_path` or creates a temporary type
/// cannot change what the next call runs), and a set's rows are read as the whole-row reference
/// `spo_rows.*`, which PostgreSQL resolves to the FROM item, never to a column (a bare `r`
/// resolves to a result column named `r` first).
public struct CallPlan: Sendable, Equatable {
    /// The statement that calls the routine and, for functions, turns its result into JSON text.
    public var sql: String
    /// The prepared-statement name: derived from the SQL, so a changed service never reuses a stale plan.
    public var statementName: String
    /// For a function: the same call, after setting the request's correlation id on the session
    /// (`spo.correlation_id`, and `application_name` as `spo:<id>`; the id is bound as the
    /// parameter after the call's, see `taggedValues`), in one statement. The call is a subquery of the row that sets them, so it cannot
    /// run before they are set. Nil for a procedure: a CALL is a statement of its own.
    public var taggedSQL: String?
    /// The prepared-statement name of `taggedSQL`.
    public var taggedStatementName: String?
    /// Builds the plan for `service` called with the parameters in `supplied` (input parameters, in order).
    ///
    /// A service with recorded `arguments` passes each by position up to its last unnamed one
    /// (PostgreSQL takes positional arguments first); configuration checks at write time that
    /// every argument before an unnamed one is always supplied.
    ///
    /// A function's JSON larger than `maxResultBytes` never leaves the database: PostgreSQL
    /// answers `CallPlan.oversizeMarker` and the size instead (`oversizeBytes(in:)`), and stops
    /// reading a set's rows once there are more than could fit (each takes at least 3 bytes of
    /// `json_agg`'s output: one character and the `, ` before the next).
    public init(
        service: ServiceDefinition, supplied: [ParameterSpec],
        maxResultBytes: Int = RequestLimits.defaults.maxResultBytes
    ) {
        let list = Self.arguments(service, supplied).joined(separator: ", ")
        let routine = service.procedure.quoted
        switch service.resultShape {
        case .set:
            let rows =
                "SELECT pg_catalog.to_json(spo_rows.*) AS spo_json FROM \(routine)(\(list)) AS spo_rows"
                + " LIMIT \(maxResultBytes / 3 + 1)"
            sql = Self.bounded(
                "SELECT COALESCE(pg_catalog.json_agg(spo_limited.spo_json), '[]')::pg_catalog.text AS spo_json"
                    + " FROM (\(rows)) AS spo_limited", maxResultBytes)
        case .scalar:
            // OFFSET 0 keeps the subquery whole, so the routine runs once, however often its value is read.
            sql = Self.bounded(
                "SELECT pg_catalog.to_json(\(routine)(\(list)))::pg_catalog.text AS spo_json OFFSET 0", maxResultBytes)
        case .void:
            sql = "SELECT \(routine)(\(list)) IS NULL"
        case .procedure:
            sql = "CALL \(routine)(\(list))"
        }
        statementName = CallPlan.statementName(for: sql)
        if service.resultShape != .procedure {
            let tagged = CallPlan.tagged(sql, firstSetting: supplied.count + 1)
            (taggedSQL, taggedStatementName) = (tagged, CallPlan.statementName(for: tagged))
        }
    }

    /// Begins the text PostgreSQL answers instead of a result over the limit, followed by its
    /// size in bytes. No JSON text can begin with `s`, so no result is ever mistaken for it.
    public static let oversizeMarker = "spo:result-too-large:"

    /// The size of the result `text` stands for, when it is the oversize marker rather than a result.
    public static func oversizeBytes(in text: String) -> Int? {
        guard text.utf8.first == UInt8(ascii: "s"), text.hasPrefix(oversizeMarker) else { return nil }
        return Int(text.dropFirst(oversizeMarker.count)) ?? Int.max
    }

    /// `select` (one row, column `spo_json`) answered as is when its JSON has at most `limit`
    /// bytes, else as the marker and the size. Built-in functions only, qualified, no operators
    /// (an operator is looked up on the search path a routine may have changed).
    static func bounded(_ select: String, _ limit: Int) -> String {
        "SELECT CASE WHEN spo_result.spo_json IS NULL OR pg_catalog.int4le(pg_catalog.octet_length("
            + "spo_result.spo_json), \(limit)) THEN spo_result.spo_json ELSE pg_catalog.concat('\(oversizeMarker)', "
            + "pg_catalog.octet_length(spo_result.spo_json)) END FROM (\(select)) AS spo_result"
    }

    /// `call` (a SELECT) run only once the row that sets the settings was made: it reads
    /// `spo_ctx.tagged`, a column of that row, so PostgreSQL evaluates it after the row's
    /// `set_config` calls, however it plans the statement.
    static func tagged(_ call: String, firstSetting first: Int) -> String {
        "SELECT (\(call) WHERE spo_ctx.tagged) FROM (SELECT pg_catalog.set_config('spo.correlation_id', "
            + "$\(first)::pg_catalog.text, false) IS NOT NULL AND pg_catalog.set_config('application_name', "
            + "pg_catalog.concat('spo:', $\(first)::pg_catalog.text), false) IS NOT NULL AS tagged) AS spo_ctx"
    }

    /// The values `taggedSQL` is run with: the call's, then the correlation id, in one array.
    public static func taggedValues(_ values: [String?], correlationID: String) -> [String?] {
        var tagged = values
        tagged.reserveCapacity(values.count + 1)
        tagged.append(correlationID)
        return tagged
    }

    /// The argument list: `$n` is the n-th of `supplied`; OUT parameters of a procedure take a
    /// NULL placeholder (PostgreSQL 14+).
    private static func arguments(_ service: ServiceDefinition, _ supplied: [ParameterSpec]) -> [String] {
        var placeholders: [String: String] = [:]
        for (index, parameter) in supplied.enumerated() {
            placeholders[parameter.name] = "$\(index + 1)::\(parameter.type.catalogCastName)"
        }
        let outputs = service.resultShape == .procedure ? service.parameters.filter { $0.direction == .out } : []
        for parameter in outputs { placeholders[parameter.name] = "NULL" }
        guard !service.arguments.isEmpty else {
            // Written before arguments were recorded: every parameter by name.
            return (supplied + outputs).map { "\(SQLIdentifier.quote($0.name)) => \(placeholders[$0.name] ?? "NULL")" }
        }
        let lastPositional = service.arguments.lastIndex { !$0.isNamed && placeholders[$0.name] != nil } ?? -1
        return service.arguments.enumerated().compactMap { index, argument in
            guard let value = placeholders[argument.name] else { return nil }
            let variadic = argument.isVariadic ? "VARIADIC " : ""
            if index <= lastPositional { return variadic + value }
            return variadic + "\(SQLIdentifier.quote(argument.name)) => \(value)"
        }
    }

    /// The statement that turns a CALL's OUT/INOUT values (bound as `$1…`, in the order of
    /// `columns`, the CALL result's column names) into one JSON object, each value cast to its
    /// configured type so PostgreSQL maps it to JSON (numbers exact, timestamps ISO 8601, …).
    ///
    /// With the routine's `arguments`, the k-th column is its k-th output argument, keyed by that
    /// argument's name (PostgreSQL calls unnamed ones `column1`, …); without, columns are matched
    /// to parameters by name.
    public static func outputSQL(
        columns: [String], parameters: [ParameterSpec], arguments: [RoutineArgument] = []
    ) -> String {
        let outputNames = arguments.map(\.name).filter { name in
            parameters.contains { $0.name == name && $0.direction.isOutput }
        }
        let pairs = columns.enumerated().map { index, column in
            let key = outputNames.count == columns.count ? outputNames[index] : column
            let type = parameters.first { $0.name == key }?.type.catalogCastName ?? "pg_catalog.text"
            return "\(literal(key)), $\(index + 1)::\(type)"
        }
        return "SELECT pg_catalog.json_build_object(\(pairs.joined(separator: ", ")))::pg_catalog.text"
    }

    /// A SQL string literal (for JSON keys taken from configuration).
    static func literal(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "''") + "'"
    }

    /// `spo_` and a 64-bit FNV-1a hash of the SQL, in hex.
    package static func statementName(for sql: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in sql.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x100_0000_01b3
        }
        return "spo_" + String(hash, radix: 16)
    }
}
