import Foundation

/// A PostgreSQL parameter type the executor knows how to validate and bind.
///
/// Only these names ever reach generated SQL (as casts), so a configuration cannot smuggle SQL
/// through a type name.
public struct SQLType: Sendable, Equatable, Hashable, CustomStringConvertible {
    public enum Base: String, Sendable, CaseIterable {
        case smallint, integer, bigint, numeric, real
        case doublePrecision = "double precision"
        case text, varchar, boolean, date, timestamp, timestamptz, uuid, json, jsonb
    }

    public var base: Base
    /// One-dimensional array of `base`.
    public var isArray: Bool
    /// `varchar(n)` length or `numeric(p,s)` precision/scale as written; informational, the
    /// cast uses the base type and PostgreSQL enforces the rest.
    public var modifier: String?

    public init(_ base: Base, isArray: Bool = false, modifier: String? = nil) {
        self.base = base
        self.isArray = isArray
        self.modifier = modifier
    }

    /// The element type of an array type (or the type itself).
    public var element: SQLType { SQLType(base, modifier: modifier) }

    /// The name used in casts: canonical, never user text.
    public var castName: String { base.rawValue + (isArray ? "[]" : "") }

    public var description: String {
        base.rawValue + (modifier.map { "(\($0))" } ?? "") + (isArray ? "[]" : "")
    }

    /// Parses a type as written in configuration or reported by `format_type`, accepting the
    /// usual aliases (`int4`, `character varying(20)`, `timestamp with time zone`, `bool`, …).
    public init?(parsing text: String) {
        var name = text.trimmingCharacters(in: .whitespaces).lowercased()
        var isArray = false
        if name.hasSuffix("[]") {
            isArray = true
            name = String(name.dropLast(2)).trimmingCharacters(in: .whitespaces)
        }
        var modifier: String?
        if let open = name.firstIndex(of: "("), name.hasSuffix(")") {
            modifier = String(name[name.index(after: open)..<name.index(before: name.endIndex)])
                .replacingOccurrences(of: " ", with: "")
            name = String(name[..<open]).trimmingCharacters(in: .whitespaces)
            // `timestamp(3) with time zone`
        } else if let open = name.firstIndex(of: "("), let close = name[open...].firstIndex(of: ")") {
            modifier = String(name[name.index(after: open)..<close])
            name = (String(name[..<open]) + String(name[name.index(after: close)...]))
                .replacingOccurrences(of: "  ", with: " ").trimmingCharacters(in: .whitespaces)
        }
        guard let base = SQLType.aliases[name] else { return nil }
        if let modifier, !modifier.allSatisfy({ $0.isNumber || $0 == "," }) { return nil }
        self.init(base, isArray: isArray, modifier: modifier)
    }

    private static let aliases: [String: Base] = [
        "smallint": .smallint, "int2": .smallint,
        "integer": .integer, "int": .integer, "int4": .integer,
        "bigint": .bigint, "int8": .bigint,
        "numeric": .numeric, "decimal": .numeric,
        "real": .real, "float4": .real,
        "double precision": .doublePrecision, "float8": .doublePrecision, "double": .doublePrecision,
        "text": .text,
        "varchar": .varchar, "character varying": .varchar,
        "boolean": .boolean, "bool": .boolean,
        "date": .date,
        "timestamp": .timestamp, "timestamp without time zone": .timestamp,
        "timestamptz": .timestamptz, "timestamp with time zone": .timestamptz,
        "uuid": .uuid, "json": .json, "jsonb": .jsonb,
    ]
}
