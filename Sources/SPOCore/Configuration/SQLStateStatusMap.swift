import SPOJSON

/// The HTTP status of `SP_EXECUTION_FAILED`, chosen by the SQLSTATE the procedure raised: whose
/// fault the error is. One table serves execution, the OpenAPI document and the README.
///
/// A service's overrides (the service document's `"errors": {"P0001": 409}`) come first, an exact
/// SQLSTATE before its class; then the default table, again exact before class; then 502.
/// Overrides apply only to errors the procedure raised, never to timeouts or unreachable databases.
public struct SQLStateStatusMap: Sendable, Equatable {
    /// By key: a five-character SQLSTATE (`P0001`) or a two-character class (`23`).
    public private(set) var overrides: [String: Int]

    /// The statuses everyone gets, in the spirit of PostgREST: bad data and business rules are the
    /// client's to fix (422), constraint violations conflict with the stored state (409), missing
    /// privileges are a refusal (403); anything else is the procedure's or the database's fault.
    public static let defaults: [(key: String, status: Int, meaning: String)] = [
        ("P0001", 422, "raised by a business rule (RAISE EXCEPTION)"),
        ("22", 422, "data exception (bad value, out of range, invalid format)"),
        ("23", 409, "integrity constraint violation (unique, foreign key, check, not null)"),
        ("42501", 403, "insufficient privilege"),
    ]

    /// The status of every SQLSTATE no override or default names.
    public static let fallback = 502

    /// The statuses an override may choose: client and server errors only.
    public static let allowedStatuses = 400...599

    /// A map without overrides: the default table alone.
    public init() { overrides = [:] }

    /// Overrides already checked with `read(_:)`.
    init(checked overrides: [String: Int]) { self.overrides = overrides }

    /// The status an `SP_EXECUTION_FAILED` with `sqlstate` answers.
    public func status(for sqlstate: String) -> Int {
        let sqlstateClass = String(sqlstate.prefix(2))
        return overrides[sqlstate] ?? overrides[sqlstateClass] ?? Self.defaultStatus(for: sqlstate)
    }

    /// The default table's status for `sqlstate`.
    public static func defaultStatus(for sqlstate: String) -> Int {
        let sqlstateClass = String(sqlstate.prefix(2))
        return defaults.first { $0.key == sqlstate }?.status ?? defaults.first { $0.key == sqlstateClass }?.status
            ?? fallback
    }

    /// Every status an `SP_EXECUTION_FAILED` of this service can answer, ascending, each with the
    /// keys that lead to it (`"other"` for the fallback). A default entry every SQLSTATE of which
    /// an override redirects is left out.
    public var reachableStatuses: [(status: Int, keys: [String])] {
        var byStatus: [Int: [String]] = [:]
        for (key, status) in overrides.sorted(by: { $0.key < $1.key }) { byStatus[status, default: []].append(key) }
        for entry in Self.defaults where !isShadowed(entry.key) {
            byStatus[entry.status, default: []].append(entry.key)
        }
        byStatus[Self.fallback, default: []].append("other")
        return byStatus.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    /// Whether overrides decide every SQLSTATE `key` stands for.
    private func isShadowed(_ key: String) -> Bool {
        overrides[key] != nil || (key.count == 5 && overrides[String(key.prefix(2))] != nil)
    }

    // MARK: - The document form

    /// The overrides of a service document's `errors` member: keys are SQLSTATEs (five characters)
    /// or classes (two), in digits and uppercase letters; values are statuses from 400 to 599.
    /// Returns the problems instead when there are any, each with its key.
    public static func read(_ value: JSONValue) -> Result<SQLStateStatusMap, ConfigurationError> {
        guard let members = value.members else {
            return .failure(ConfigurationError("errors", "must be an object of SQLSTATE or class: HTTP status"))
        }
        var overrides: [String: Int] = [:]
        var problems: [(path: String, problem: String)] = []
        for member in members {
            let path = "errors.\(member.key)"
            guard isValidKey(member.key) else {
                problems.append(
                    (
                        path,
                        "must be a SQLSTATE (5 characters, e.g. P0001) or a class (2, e.g. 23) in digits and "
                            + "uppercase letters"
                    ))
                continue
            }
            guard let status = member.value.intValue, allowedStatuses.contains(status) else {
                problems.append((path, "must be an HTTP status from 400 to 599"))
                continue
            }
            if overrides.updateValue(status, forKey: member.key) != nil {
                problems.append((path, "is given more than once"))
            }
        }
        return problems.isEmpty ? .success(SQLStateStatusMap(checked: overrides)) : .failure(.init(problems: problems))
    }

    /// The `errors` member of a service document, keys sorted (stable exports).
    public var document: JSONValue {
        .object(overrides.sorted { $0.key < $1.key }.map { .init($0.key, .number($0.value)) })
    }

    static func isValidKey(_ key: String) -> Bool {
        (key.utf8.count == 5 || key.utf8.count == 2)
            && key.utf8.allSatisfy { ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9")) || ($0 >= 65 && $0 <= 90) }
    }
}
