import SPOCore

/// An operating-system failure (a system call, a child process), described for the operator.
public struct SystemFailure: Error, CustomStringConvertible {
    public var description: String

    public init(description: String) {
        self.description = description
    }
}
