/// Where the values of an audit statement go, in the statement's order: the prepared statement's
/// parameters (`[String?]`), or straight into the frame a worker hands the pool's audit writer
/// (`AuditWriterFrame.Builder`), which then makes no string per value on the request path.
///
/// `AuditLog.statement(for:finishedAt:into:)` is the one place that says which values a record
/// has; both forms are filled by it.
protocol AuditValues {
    /// The next value, NULL when nil.
    mutating func append(_ value: String?)
    /// The next value, whose UTF-8 text `write` appends to the bytes it is given (a JSON document).
    mutating func appendText(_ write: (inout [UInt8]) -> Void)
}

extension Array: AuditValues where Element == String? {
    mutating func appendText(_ write: (inout [UInt8]) -> Void) {
        var text: [UInt8] = []
        text.reserveCapacity(256)
        write(&text)
        append(String(decoding: text, as: UTF8.self))
    }
}
