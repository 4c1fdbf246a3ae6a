import Glibc

/// Why shared memory could not be set up, with the system's reason.
public struct SharedMemoryError: Error, CustomStringConvertible, Sendable {
    public let description: String

    /// `what` failed; `code` is the `errno` to explain it with (0 for none).
    init(_ what: String, code: Int32 = errno) {
        description = code == 0 ? what : "\(what): \(String(cString: strerror(code)))"
    }

    /// A failure the caller explains itself.
    public init(description: String) {
        self.description = description
    }
}
