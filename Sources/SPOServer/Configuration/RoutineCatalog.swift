import SPOCore
import SPOJSON
import SPOPostgres

/// Looks routines up in a target database's `pg_proc`.
///
/// PostgreSQL reads the name, so it is understood exactly as SQL would: `parse_ident` for
/// `schema.name` (quoted parts keep their case and dots: `demo."GetOrder"`), `to_regprocedure`
/// for a name with its argument types, which picks one overload.
public enum RoutineCatalog {
    /// Qualified throughout, like the calls: the session's `search_path` does not matter.
    private static let columns = """
        SELECT p.oid::pg_catalog.regprocedure::pg_catalog.text, p.prokind, p.proretset,
               p.prorettype = 'pg_catalog.void'::pg_catalog.regtype,
               pg_catalog.array_to_json(COALESCE(p.proargnames, '{}'))::pg_catalog.text,
               pg_catalog.array_to_json(COALESCE(p.proargmodes::pg_catalog.text[], '{}'))::pg_catalog.text,
               pg_catalog.array_to_json(ARRAY(SELECT pg_catalog.format_type(a.t, NULL)
                   FROM pg_catalog.unnest(COALESCE(p.proallargtypes, p.proargtypes::pg_catalog.oid[]))
                       WITH ORDINALITY AS a(t, n)
                   ORDER BY a.n))::pg_catalog.text,
               p.pronargdefaults, n.nspname, p.proname, p.provolatile, pg_catalog.oidvectortypes(p.proargtypes)
        FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
        """
    /// `$1` is `schema.name` or a bare name (then in `public`).
    static let byName =
        columns + """

            , LATERAL (SELECT pg_catalog.parse_ident($1) AS parts) AS i
            WHERE p.prokind IN ('f', 'p') AND pg_catalog.cardinality(i.parts) IN (1, 2)
              AND n.nspname = CASE pg_catalog.cardinality(i.parts) WHEN 1 THEN 'public' ELSE i.parts[1] END
              AND p.proname = i.parts[pg_catalog.cardinality(i.parts)]
            """
    /// `$1` is a name with its argument types.
    static let bySignature =
        columns + """

            WHERE p.prokind IN ('f', 'p') AND p.oid = pg_catalog.to_regprocedure($1)
            """

    /// Describes the routine named `text` (`schema.name`, or with an argument list when overloaded).
    public static func describe(_ text: String, on connection: PGConnection) throws(ConfigurationError)
        -> RoutineDescription
    {
        // An argument list ends the text with `)`, which no identifier can (a quoted one ends with `"`).
        let hasSignature = text.trimmingCharacters(in: .whitespaces).hasSuffix(")")
        let result: PGResult
        do {
            result = try connection.execute(hasSignature ? bySignature : byName, [text])
        } catch  where error.kind == .server {
            throw ConfigurationError("procedure", "\(text) does not name a routine (schema.name): \(error.message)")
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
        var routine = try describeRow(result)
        if hasSignature { routine.argumentTypes = result.value(0, 11) ?? "" }
        return routine
    }

    private static func describeRow(_ result: PGResult) throws(ConfigurationError) -> RoutineDescription {
        let isProcedure = result.value(0, 1) == "p"
        let shape: ServiceDefinition.ResultShape =
            isProcedure ? .procedure : result.value(0, 2) == "t" ? .set : result.value(0, 3) == "t" ? .void : .scalar
        let signature = result.value(0, 0) ?? ""
        let names = jsonStrings(result.value(0, 4))
        let types = jsonStrings(result.value(0, 6))
        var modes = jsonStrings(result.value(0, 5))
        if modes.isEmpty { modes = Array(repeating: "i", count: types.count) }
        let defaults = Int(result.value(0, 7) ?? "0") ?? 0
        let inputCount = modes.filter { $0 == "i" || $0 == "b" || $0 == "v" }.count
        let taken = Set(names.filter { !$0.isEmpty })
        var parameters: [ParameterSpec] = []
        var arguments: [RoutineArgument] = []
        var inputIndex = 0
        for (index, mode) in modes.enumerated() {
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
            // Positional notation counts a function's inputs, and every argument of a procedure.
            let position = arguments.count + 1
            let ownName = index < names.count ? names[index] : ""
            let name = ownName.isEmpty ? RoutineArgument.generatedName(position: position, taken: taken) : ownName
            arguments.append(RoutineArgument(name: name, isNamed: !ownName.isEmpty, isVariadic: mode == "v"))
            guard let type = SQLType(parsing: typeName) else {
                throw ConfigurationError("parameters", "argument \(name) has unsupported type \(typeName)")
            }
            parameters.append(
                ParameterSpec(
                    name: name, type: type, direction: direction, required: direction.isInput && !hasDefault,
                    description: ownName.isEmpty
                        ? "Argument \(position) of \(signature), unnamed there: passed by position" : nil))
        }
        return RoutineDescription(
            name: QualifiedName(schema: result.value(0, 8) ?? "", name: result.value(0, 9) ?? ""),
            signature: signature, resultShape: shape, parameters: parameters, arguments: arguments,
            volatility: RoutineVolatility(provolatile: result.value(0, 10) ?? "v"))
    }

    private static func jsonStrings(_ text: String?) -> [String] {
        ((try? JSONValue.parse(text ?? "[]"))?.arrayValue ?? []).compactMap(\.stringValue)
    }
}
