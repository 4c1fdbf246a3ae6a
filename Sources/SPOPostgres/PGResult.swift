internal import CLibPQ

/// The rows of one statement's result, in libpq's text format. Owns its `PGresult` and clears it.
///
/// `@unchecked Sendable`: the result is immutable after creation and libpq's read accessors are
/// thread-safe on an immutable result.
public final class PGResult: @unchecked Sendable {
    private let handle: OpaquePointer

    init(taking handle: OpaquePointer) { self.handle = handle }

    deinit { PQclear(handle) }

    public var rowCount: Int { Int(PQntuples(handle)) }
    public var columnCount: Int { Int(PQnfields(handle)) }

    /// The column's name as the server reported it.
    public func columnName(_ column: Int) -> String { String(cString: PQfname(handle, Int32(column))) }

    /// The column's type OID (see `PGType`).
    public func columnType(_ column: Int) -> UInt32 { PQftype(handle, Int32(column)) }

    /// The value's text, or nil for SQL NULL.
    public func value(_ row: Int, _ column: Int) -> String? {
        if PQgetisnull(handle, Int32(row), Int32(column)) != 0 { return nil }
        return String(cString: PQgetvalue(handle, Int32(row), Int32(column)))
    }

    /// The value of column `name` in `row`, or nil for NULL or a missing column.
    public func value(_ row: Int, _ name: String) -> String? {
        let column = PQfnumber(handle, name)
        return column < 0 ? nil : value(row, Int(column))
    }

    /// Rows affected by an INSERT/UPDATE/DELETE, 0 otherwise.
    public var affectedRows: Int { Int(String(cString: PQcmdTuples(handle))) ?? 0 }
}

/// Well-known type OIDs of `pg_type` used when mapping values.
public enum PGType {
    public static let bool: UInt32 = 16
    public static let int8: UInt32 = 20
    public static let int2: UInt32 = 21
    public static let int4: UInt32 = 23
    public static let text: UInt32 = 25
    public static let json: UInt32 = 114
    public static let float4: UInt32 = 700
    public static let float8: UInt32 = 701
    public static let numeric: UInt32 = 1700
    public static let jsonb: UInt32 = 3802
    public static let void: UInt32 = 2278
}
