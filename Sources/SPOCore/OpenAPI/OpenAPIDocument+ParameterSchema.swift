import SPOJSON

// MARK: - Parameter schemas

extension OpenAPIDocument {
    /// JSON schemas of parameter values, mirroring what `ParameterValidator` accepts.
    enum ParameterSchema {
        /// The schema of an input parameter as a client sends it, with its constraints.
        static func input(_ spec: ParameterSpec) -> JSONValue {
            var members: [JSONValue.Member] = []
            if let description = spec.description { members.append(.init("description", .string(description))) }
            if spec.type.isArray {
                members.append(.init("type", .string("array")))
                // Arrays may hold NULL elements; the element rules apply to the others.
                members.append(.init("items", .object(nullable(element(spec)))))
                // For arrays `maxLength` counts elements (see `ParameterValidator`).
                if let limit = spec.maxLength { members.append(.init("maxItems", .number(limit))) }
            } else {
                members += element(spec)
            }
            if !spec.required { members = nullable(members) }
            if let value = documentedDefault(spec) { members.append(.init("default", value)) }
            // Sent, never answered or recorded: redacted in the audit, logs and journals.
            if spec.sensitive { members.append(.init("writeOnly", .bool(true))) }
            return .object(members)
        }

        /// The schema of an OUT or INOUT parameter's value in a response: the type alone (the input
        /// constraints are not promised of what the procedure hands back), always nullable.
        static func output(_ spec: ParameterSpec) -> JSONValue {
            var members: [JSONValue.Member] = []
            if let description = spec.description { members.append(.init("description", .string(description))) }
            if spec.type.isArray {
                members.append(.init("type", .string("array")))
                members.append(.init("items", .object(nullable(outputElement(spec.type.base)))))
            } else {
                members += outputElement(spec.type.base)
            }
            return .object(nullable(members))
        }

        /// Adds `nullable: true`. OpenAPI 3.0.3 only honours it beside a `type`, so a `oneOf` also
        /// gets it in its first branch (and only there: `null` must match exactly one branch).
        static func nullable(_ members: [JSONValue.Member]) -> [JSONValue.Member] {
            var members = members
            if let index = members.firstIndex(where: { $0.key == "oneOf" }),
                case .array(var branches) = members[index].value, case .object(let first)? = branches.first
            {
                branches[0] = .object(first + [.init("nullable", .bool(true))])
                members[index].value = .array(branches)
            }
            return members + [.init("nullable", .bool(true))]
        }

        /// The schema of one (non-null) value of the parameter's element type with the constraints
        /// that apply to each value.
        static func element(_ spec: ParameterSpec) -> [JSONValue.Member] {
            var members: [JSONValue.Member]
            switch spec.type.base {
            case .smallint: members = integer(spec, format: "int32", lower: String(Int16.min), upper: String(Int16.max))
            case .integer: members = integer(spec, format: "int32", lower: String(Int32.min), upper: String(Int32.max))
            case .bigint:
                // Clients whose numbers are doubles would round past 2^53, so a string of digits is accepted too.
                let digits: JSONValue = .object([
                    "type": .string("string"), "pattern": .string("^-?[0-9]+$"),
                    "description": .string("The integer as a string of digits (keeps every digit)"),
                ])
                let number = integer(spec, format: "int64", lower: String(Int64.min), upper: String(Int64.max))
                members = [.init("oneOf", .array([.object(number), digits]))]
            case .numeric:
                let decimal: JSONValue = .object([
                    "type": .string("string"), "pattern": .string(#"^-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?$"#),
                    "description": .string("The decimal as a string (keeps every digit)"),
                ])
                members = [.init("oneOf", .array([.object(number(spec, format: nil)), decimal]))]
            case .real: members = number(spec, format: "float")
            case .doublePrecision: members = number(spec, format: "double")
            case .text, .varchar:
                members = [.init("type", .string("string"))]
                if let limit = lengthLimit(spec) { members.append(.init("maxLength", .number(limit))) }
            case .boolean: members = [.init("type", .string("boolean"))]
            case .date: members = [.init("type", .string("string")), .init("format", .string("date"))]
            case .timestamp, .timestamptz:
                members = [.init("type", .string("string")), .init("format", .string("date-time"))]
            case .uuid: members = [.init("type", .string("string")), .init("format", .string("uuid"))]
            case .json, .jsonb: members = []  // any JSON value
            }
            if let pattern = spec.pattern, isStringTyped(spec.type.base) {
                members.append(.init("pattern", .string(anchored(pattern))))
            }
            if let allowed = spec.allowedValues, !allowed.isEmpty {
                members.append(.init("enum", .array(allowed.map { normalized($0, spec.type.base) })))
            }
            return members
        }

        /// The schema of one value of `base` as the executor renders it in a response.
        static func outputElement(_ base: SQLType.Base) -> [JSONValue.Member] {
            func typed(_ type: String, _ format: String? = nil) -> [JSONValue.Member] {
                [.init("type", .string(type))] + (format.map { [.init("format", .string($0))] } ?? [])
            }
            switch base {
            case .smallint, .integer: return typed("integer", "int32")
            case .bigint: return typed("integer", "int64")
            case .numeric: return typed("number")
            case .real: return typed("number", "float")
            case .doublePrecision: return typed("number", "double")
            case .text, .varchar: return typed("string")
            case .boolean: return typed("boolean")
            case .date: return typed("string", "date")
            case .timestamp, .timestamptz: return typed("string", "date-time")
            case .uuid: return typed("string", "uuid")
            case .json, .jsonb: return []
            }
        }

        /// An integer schema within the type's range, narrowed by the configured bounds.
        private static func integer(_ spec: ParameterSpec, format: String, lower: String, upper: String)
            -> [JSONValue.Member]
        {
            [.init("type", .string("integer")), .init("format", .string(format))]
                + bounds(spec, lower: lower, upper: upper)
        }

        private static func number(_ spec: ParameterSpec, format: String?) -> [JSONValue.Member] {
            [.init("type", .string("number"))] + (format.map { [.init("format", .string($0))] } ?? [])
                + bounds(spec, lower: nil, upper: nil)
        }

        /// `minimum` and `maximum`: the tighter of the type's range and the configured bound, written
        /// as the exact literal (a Double would turn 9223372036854775807 into 9223372036854775808).
        private static func bounds(_ spec: ParameterSpec, lower: String?, upper: String?) -> [JSONValue.Member] {
            func tighter(_ configured: String?, _ limit: String?, _ keep: Int) -> String? {
                // A bound that is not a JSON number is a configuration mistake the validator reports;
                // written as a number it would make the whole document unreadable.
                guard let configured, isJSONNumber(configured) else { return limit }
                guard let limit, let order = ParameterValidator.DecimalText.compare(configured, limit) else {
                    return configured
                }
                return order == keep ? configured : limit
            }
            var members: [JSONValue.Member] = []
            if let minimum = tighter(spec.minimum, lower, 1) { members.append(.init("minimum", .number(minimum))) }
            if let maximum = tighter(spec.maximum, upper, -1) { members.append(.init("maximum", .number(maximum))) }
            return members
        }

        /// The character limit of a text value: `maxLength` (for scalars) tightened by `varchar(n)`,
        /// as `ParameterValidator` enforces it.
        private static func lengthLimit(_ spec: ParameterSpec) -> Int? {
            let modifier = spec.type.base == .varchar ? spec.type.modifier.flatMap { Int($0) } : nil
            let configured = spec.type.isArray ? nil : spec.maxLength
            switch (configured, modifier) {
            case let (a?, b?): return min(a, b)
            case let (a, b): return a ?? b
            }
        }

        /// Types whose JSON form is a string, the only values an OpenAPI `pattern` applies to.
        private static func isStringTyped(_ base: SQLType.Base) -> Bool {
            switch base {
            case .text, .varchar, .date, .timestamp, .timestamptz, .uuid: true
            default: false
            }
        }

        /// The validator matches a pattern against the whole value, OpenAPI's `pattern` searches
        /// anywhere in it: anchor it, unless it plainly already is.
        static func anchored(_ pattern: String) -> String {
            let plainlyAnchored =
                pattern.hasPrefix("^") && pattern.hasSuffix("$") && !pattern.hasSuffix("\\$") && !pattern.contains("|")
            return plainlyAnchored ? pattern : "^(?:" + pattern + ")$"
        }

        /// The default, when it is one the validator accepts. A default it rejects fails every
        /// request that omits the parameter (with its own error), and written here it would make
        /// the document invalid: tools check defaults against the schema.
        static func documentedDefault(_ spec: ParameterSpec) -> JSONValue? {
            guard let value = spec.defaultValue, value != .null else { return nil }
            var optional = spec
            optional.required = false
            guard case .success = ParameterValidator(parameters: [optional]).validate(.object([])) else { return nil }
            if spec.type.base == .timestamp || spec.type.base == .timestamptz {
                // The validator also takes `2024-01-01 10:00`; format date-time (RFC 3339) does not.
                let values = spec.type.isArray ? (value.arrayValue ?? []) : [value]
                guard values.allSatisfy({ $0 == .null || $0.stringValue.map(isRFC3339DateTime) == true }) else {
                    return nil
                }
            }
            return normalized(value, spec.type.base)
        }

        /// Integers the validator took as strings (`"5"`), written as the numbers the schema says
        /// (smallint and integer have no string form there).
        private static func normalized(_ value: JSONValue, _ base: SQLType.Base) -> JSONValue {
            switch value {
            case .array(let items): return .array(items.map { normalized($0, base) })
            case .string(let text) where base == .smallint || base == .integer:
                return ParameterValidator.DecimalText.canonicalInteger(text).map(JSONValue.number) ?? value
            default: return value
            }
        }

        /// JSON's number grammar: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
        static func isJSONNumber(_ text: String) -> Bool {
            var bytes = Array(text.utf8)[...]
            func digits() -> Int {
                let count = bytes.prefix { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }.count
                bytes = bytes.dropFirst(count)
                return count
            }
            if bytes.first == UInt8(ascii: "-") { bytes = bytes.dropFirst() }
            let leadingZero = bytes.first == UInt8(ascii: "0")
            let integerDigits = digits()
            guard integerDigits > 0, !(leadingZero && integerDigits > 1) else { return false }
            if bytes.first == UInt8(ascii: ".") {
                bytes = bytes.dropFirst()
                guard digits() > 0 else { return false }
            }
            if bytes.first == UInt8(ascii: "e") || bytes.first == UInt8(ascii: "E") {
                bytes = bytes.dropFirst()
                if bytes.first == UInt8(ascii: "+") || bytes.first == UInt8(ascii: "-") { bytes = bytes.dropFirst() }
                guard digits() > 0 else { return false }
            }
            return bytes.isEmpty
        }

        /// `YYYY-MM-DDTHH:MM:SS[.f]` and `Z` or `±HH:MM`, on top of what the validator checked.
        static func isRFC3339DateTime(_ text: String) -> Bool {
            let bytes = Array(text.utf8)
            guard ParameterValidator.TemporalText.isTimestamp(text), bytes.count >= 20,
                bytes[10] == UInt8(ascii: "T") || bytes[10] == UInt8(ascii: "t"), bytes[16] == UInt8(ascii: ":")
            else { return false }
            let last = bytes[bytes.count - 1]
            if last == UInt8(ascii: "Z") || last == UInt8(ascii: "z") { return true }
            let zone = bytes.suffix(6)
            return (zone.first == UInt8(ascii: "+") || zone.first == UInt8(ascii: "-"))
                && zone[zone.startIndex + 3] == UInt8(ascii: ":")
        }
    }
}
