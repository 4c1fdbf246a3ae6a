import SPOJSON
import SPOPostgres

/// A routine as the target database's catalog describes it.
public struct RoutineDescription: Sendable, Equatable {
    public var name: QualifiedName
    /// `schema.name(argtypes)` as `regprocedure` prints it.
    public var signature: String
    public var resultShape: ServiceDefinition.ResultShape
    /// Parameters a call can name: IN/INOUT, and OUT for procedures; defaults make them optional.
    public var parameters: [ParameterSpec]
}

/// Looks routines up in a target database's `pg_proc`.
public enum RoutineCatalog {
    static let sql = """
        SELECT p.oid::regprocedure::text, p.prokind, p.proretset, p.prorettype = 'pg_catalog.void'::regtype,
               array_to_json(coalesce(p.proargnames, '{}'))::text,
               array_to_json(coalesce(p.proargmodes::text[], '{}'))::text,
               array_to_json(ARRAY(SELECT format_type(t, NULL)
                   FROM unnest(coalesce(p.proallargtypes, p.proargtypes::oid[])) WITH ORDINALITY AS a(t, n)
                   ORDER BY n))::text,
               p.pronargdefaults, n.nspname, p.proname
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE p.prokind IN ('f', 'p')
          AND CASE WHEN $1 LIKE '%(%' THEN p.oid = to_regprocedure($1)
                   ELSE n.nspname = $2 AND p.proname = $3 END
        """

    /// Describes the routine named `text` (`schema.name`, or with an argument list when overloaded).
    public static func describe(_ text: String, on connection: PGConnection) throws(ConfigurationError)
        -> RoutineDescription
    {
        let bareName = text.split(separator: "(", maxSplits: 1).first.map(String.init) ?? text
        guard let name = QualifiedName(parsing: bareName) else {
            throw ConfigurationError("procedure", "\(text) is not a routine name (schema.name)")
        }
        let result: PGResult
        do {
            result = try connection.execute(sql, [text, name.schema, name.name])
        } catch {
            throw ConfigurationError("procedure", "could not look up \(text): \(error.message)")
        }
        guard result.rowCount > 0 else {
            throw ConfigurationError("procedure", "\(text) does not exist in the target database")
        }
        guard result.rowCount == 1 else {
            let candidates = (0..<result.rowCount).compactMap { result.value($0, 0) }.joined(separator: ", ")
            throw ConfigurationError("procedure", "\(text) is overloaded; name one signature: \(candidates)")
        }
        return try describeRow(result)
    }

    private static func describeRow(_ result: PGResult) throws(ConfigurationError) -> RoutineDescription {
        let isProcedure = result.value(0, 1) == "p"
        let shape: ServiceDefinition.ResultShape =
            isProcedure ? .procedure : result.value(0, 2) == "t" ? .set : result.value(0, 3) == "t" ? .void : .scalar
        let names = jsonStrings(result.value(0, 4))
        let types = jsonStrings(result.value(0, 6))
        var modes = jsonStrings(result.value(0, 5))
        if modes.isEmpty { modes = Array(repeating: "i", count: types.count) }
        let defaults = Int(result.value(0, 7) ?? "0") ?? 0
        let inputCount = modes.filter { $0 == "i" || $0 == "b" || $0 == "v" }.count
        var parameters: [ParameterSpec] = []
        var inputIndex = 0
        for (index, mode) in modes.enumerated() {
            let argumentName = index < names.count ? names[index] : ""
            let typeName = index < types.count ? types[index] : "?"
            let direction: ParameterSpec.Direction
            switch mode {
            case "i", "v": direction = .in
            case "b": direction = .inout
            case "o" where isProcedure: direction = .out
            default: continue  // OUT/TABLE columns of functions are the result, not parameters
            }
            let hasDefault = direction.isInput && inputIndex >= inputCount - defaults
            if direction.isInput { inputIndex += 1 }
            guard !argumentName.isEmpty else {
                throw ConfigurationError("parameters", "argument \(index + 1) has no name; name it to call it by name")
            }
            guard let type = SQLType(parsing: typeName) else {
                throw ConfigurationError("parameters", "argument \(argumentName) has unsupported type \(typeName)")
            }
            parameters.append(
                ParameterSpec(
                    name: argumentName, type: type, direction: direction, required: direction.isInput && !hasDefault))
        }
        return RoutineDescription(
            name: QualifiedName(schema: result.value(0, 8) ?? "", name: result.value(0, 9) ?? ""),
            signature: result.value(0, 0) ?? "", resultShape: shape, parameters: parameters)
    }

    private static func jsonStrings(_ text: String?) -> [String] {
        ((try? JSONValue.parse(text ?? "[]"))?.arrayValue ?? []).compactMap(\.stringValue)
    }
}
