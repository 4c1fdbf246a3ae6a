/// A connection string libpq could not read, with libpq's own message (which may quote the
/// offending part of the text).
public struct PGConninfoError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String

    public init(message: String) {
        self.message = message
    }

    public var description: String { message }
}
