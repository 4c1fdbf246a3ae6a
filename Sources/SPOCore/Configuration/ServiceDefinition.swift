import Foundation
import SPOJSON

/// A configured service: the procedure it runs, where, with which parameters and policies.
public struct ServiceDefinition: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case procedure, parallel, saga
    }

    /// What the routine hands back, which decides the shape of `data` in the response.
    public enum ResultShape: String, Sendable {
        /// A set-returning function: `data` is an array of row objects.
        case set
        /// A function returning one value: `data` is that value.
        case scalar
        /// A function returning `void`: `data` is `null`.
        case void
        /// A PROCEDURE: `data` is an object of its OUT/INOUT parameters (or `null` without any).
        case procedure
    }

    public var id: Int64
    public var name: String
    public var description: String
    public var enabled: Bool
    public var kind: Kind
    public var connection: String
    public var procedure: QualifiedName
    public var resultShape: ResultShape
    public var parameters: [ParameterSpec]
    public var timeoutMilliseconds: Int
    public var retryPolicy: String?
    /// The status of `SP_EXECUTION_FAILED` by SQLSTATE, with this service's overrides.
    public var errorStatuses: SQLStateStatusMap
    public var version: Int
    /// The routine's arguments in positional order, from the catalog; empty for a service written
    /// before they were recorded, whose calls name every parameter.
    public var arguments: [RoutineArgument]
    /// The argument types the document named the routine with (`integer, text`), when overloaded.
    public var argumentTypes: String?
    public var volatility: RoutineVolatility
    /// Declared in the service document: running it twice is the same as running it once.
    public var idempotent: Bool
    /// Whether calls must carry an `Idempotency-Key`.
    public var idempotency: IdempotencyMode = .optional
    /// How long an `Idempotency-Key` is kept after its first request, in seconds.
    public var idempotencyTTLSeconds: Int = IdempotencyMode.defaultTTLSeconds
    /// A parallel service's members (empty for other kinds); it has no connection or routine.
    public var members: [ParallelMember] = []
    /// The steps of a `saga` service (nil for every other kind).
    public var saga: SagaDefinition?
    /// `"public": true`: anyone may execute it without an API key; every other service needs one.
    public var isPublic = false

    public init(
        id: Int64 = 0, name: String, description: String = "", enabled: Bool = true, kind: Kind = .procedure,
        connection: String, procedure: QualifiedName, resultShape: ResultShape, parameters: [ParameterSpec],
        timeoutMilliseconds: Int = 30_000, retryPolicy: String? = nil, version: Int = 1,
        arguments: [RoutineArgument] = [], argumentTypes: String? = nil, volatility: RoutineVolatility = .volatile,
        idempotent: Bool = false, errorStatuses: SQLStateStatusMap = SQLStateStatusMap()
    ) {
        self.id = id
        self.name = name
        self.description = description
        self.enabled = enabled
        self.kind = kind
        self.connection = connection
        self.procedure = procedure
        self.resultShape = resultShape
        self.parameters = parameters
        self.timeoutMilliseconds = timeoutMilliseconds
        self.retryPolicy = retryPolicy
        self.errorStatuses = errorStatuses
        self.version = version
        self.arguments = arguments
        self.argumentTypes = argumentTypes
        self.volatility = volatility
        self.idempotent = idempotent
    }

    /// Whether a call whose connection was lost after it was sent may be sent again: the routine
    /// is `IMMUTABLE` or `STABLE`, or the document declares the service idempotent.
    public var isSafeToRepeat: Bool { idempotent || volatility.isFreeOfSideEffects }

    /// The routine as a service document names it: `schema.name`, quoted where needed, with the
    /// argument types when the document chose one overload.
    public var procedureReference: String {
        procedure.description + (argumentTypes.map { "(\($0))" } ?? "")
    }

    /// Service names appear in URLs: lowercase letters, digits, `_` and `-`, starting with a letter.
    public static func isValidName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, ("a"..."z").contains(first), name.count <= 63 else { return false }
        return name.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" || $0 == "-"
        }
    }
}

/// A schema-qualified routine name, as configured (`demo.get_customer`).
public struct QualifiedName: Sendable, Equatable, Hashable, CustomStringConvertible {
    public var schema: String
    public var name: String

    public init(schema: String, name: String) {
        self.schema = schema
        self.name = name
    }

    /// Parses `schema.name` (either part may be double-quoted); a bare name means `public`.
    public init?(parsing text: String) {
        let parts = QualifiedName.splitIdentifiers(text)
        switch parts.count {
        case 1: self.init(schema: "public", name: parts[0])
        case 2: self.init(schema: parts[0], name: parts[1])
        default: return nil
        }
        guard !schema.isEmpty, !name.isEmpty else { return nil }
    }

    /// `schema.name`, each part double-quoted unless it is a plain lowercase identifier, so the
    /// text names the same routine when read again (`demo."GetOrder"`).
    public var description: String { Self.display(schema) + "." + Self.display(name) }

    private static func display(_ identifier: String) -> String {
        let plain = identifier.unicodeScalars.enumerated().allSatisfy { index, scalar in
            ("a"..."z").contains(scalar) || scalar == "_"
                || (index > 0 && (("0"..."9").contains(scalar) || scalar == "$"))
        }
        return plain && !identifier.isEmpty ? identifier : SQLIdentifier.quote(identifier)
    }

    /// Both parts quoted for SQL.
    public var quoted: String { SQLIdentifier.quote(schema) + "." + SQLIdentifier.quote(name) }

    private static func splitIdentifiers(_ text: String) -> [String] {
        var parts: [String] = []
        var current = ""
        var inQuotes = false
        var iterator = Array(text.trimmingCharacters(in: .whitespaces)).makeIterator()
        var pending: Character? = nil
        while let character = pending ?? iterator.next() {
            pending = nil
            if character == "\"" {
                if inQuotes, let next = iterator.next() {
                    if next == "\"" {
                        current.append("\"")
                    } else {
                        inQuotes = false
                        pending = next
                    }
                } else {
                    inQuotes.toggle()
                }
            } else if character == "." && !inQuotes {
                parts.append(current)
                current = ""
            } else {
                current.append(inQuotes ? character : Character(character.lowercased()))
            }
        }
        parts.append(current)
        return parts
    }
}

/// Quoting of identifiers for generated SQL. Identifiers only ever come from configuration.
public enum SQLIdentifier {
    /// `name` as a double-quoted identifier, inner quotes doubled.
    public static func quote(_ name: String) -> String {
        "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

/// A named target database. The secret is referenced (`SecretReference`), never stored.
public struct ConnectionDefinition: Sendable, Equatable {
    public var name: String
    public var conninfo: String
    public var passwordFrom: String?
    public var description: String
    /// When calls to it are refused for a while: its circuit breaker's settings.
    public var breaker = BreakerSettings()

    public init(
        name: String, conninfo: String, passwordFrom: String? = nil, description: String = "",
        breaker: BreakerSettings = BreakerSettings()
    ) {
        self.name = name
        self.conninfo = conninfo
        self.passwordFrom = passwordFrom
        self.description = description
        self.breaker = breaker
    }
}
