internal import CJansson

/// Why a document could not be parsed, with jansson's own description and position.
public struct JSONParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public var line: Int
    public var column: Int
    /// The document nests deeper than jansson's own limit (2048 levels), rather than being malformed.
    public var isTooDeep = false
    public var description: String { "\(message) at line \(line), column \(column)" }
}

extension JSONValue {
    /// Parses a complete JSON document with jansson.
    ///
    /// Duplicate object keys are rejected (a later key silently winning would let a client hide a
    /// value from validation). Every number keeps its literal text: jansson validates the document
    /// and builds the tree; the literals are read back from the source in document order, which is
    /// jansson's iteration order for arrays and, since 2.8, for objects too.
    public static func parse(_ bytes: [UInt8]) throws(JSONParseError) -> JSONValue {
        var error = json_error_t()
        let flags = Int(JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL)
        let root: UnsafeMutablePointer<json_t>? = bytes.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { chars in
                json_loadb(chars.baseAddress, chars.count, flags, &error)
            }
        }
        guard let root else {
            let message = withUnsafePointer(to: error.text) { pointer in
                pointer.withMemoryRebound(to: CChar.self, capacity: Int(JSON_ERROR_TEXT_LENGTH)) { String(cString: $0) }
            }
            throw JSONParseError(
                message: message, line: Int(error.line), column: Int(error.column),
                isTooDeep: json_error_code(&error) == json_error_stack_overflow)
        }
        defer { json_decref(root) }
        var literals = NumberLiterals(bytes)
        return convert(root, &literals)
    }

    /// Parses a complete JSON document given as text.
    public static func parse(_ text: String) throws(JSONParseError) -> JSONValue {
        try parse(Array(text.utf8))
    }

    private static func convert(_ node: UnsafeMutablePointer<json_t>, _ literals: inout NumberLiterals) -> JSONValue {
        switch json_type(UInt32(bitPattern: spo_json_type(node))) {
        case JSON_OBJECT:
            var members: [Member] = []
            members.reserveCapacity(json_object_size(node))
            var iterator = json_object_iter(node)
            while let current = iterator {
                let key = String(cString: json_object_iter_key(current))
                members.append(Member(key, convert(json_object_iter_value(current), &literals)))
                iterator = json_object_iter_next(node, current)
            }
            return .object(members)
        case JSON_ARRAY:
            return .array((0..<json_array_size(node)).map { convert(json_array_get(node, $0), &literals) })
        case JSON_STRING:
            let count = json_string_length(node)
            let bytes = UnsafeRawBufferPointer(start: json_string_value(node), count: count)
            return .string(String(decoding: bytes, as: UTF8.self))
        case JSON_INTEGER, JSON_REAL:
            return .number(literals.next() ?? String(json_number_value(node)))
        case JSON_TRUE:
            return .bool(true)
        case JSON_FALSE:
            return .bool(false)
        default:
            return .null
        }
    }
}

/// The number literals of a valid JSON text, in document order.
struct NumberLiterals {
    private let bytes: [UInt8]
    private var position = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func next() -> String? {
        while position < bytes.count {
            let byte = bytes[position]
            if byte == UInt8(ascii: "\"") {
                skipString()
            } else if byte == UInt8(ascii: "-") || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) {
                let start = position
                while position < bytes.count, Self.isNumberByte(bytes[position]) { position += 1 }
                return String(decoding: bytes[start..<position], as: UTF8.self)
            } else {
                position += 1
            }
        }
        return nil
    }

    private mutating func skipString() {
        position += 1
        while position < bytes.count {
            switch bytes[position] {
            case UInt8(ascii: "\\"): position += 2
            case UInt8(ascii: "\""):
                position += 1
                return
            default: position += 1
            }
        }
    }

    private static func isNumberByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: "."),
            UInt8(ascii: "e"), UInt8(ascii: "E"):
            true
        default: false
        }
    }
}
