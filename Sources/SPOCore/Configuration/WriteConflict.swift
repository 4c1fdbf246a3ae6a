/// Why a configuration write was not made although the document was valid.
public enum WriteConflict: Error, Sendable, Equatable, CustomStringConvertible {
    /// Creating an entry whose name is taken (`kind` is "service", "connection", "retry policy").
    case exists(kind: String, name: String)
    /// The service is no longer at the version the writer read.
    case changed(name: String, expected: Int, current: Int)
    /// Replacing a service that does not exist.
    case missing(name: String)

    public var description: String {
        switch self {
        case .exists(let kind, let name): "a \(kind) named \(name) exists; use PUT to replace it"
        case .changed(let name, let expected, let current):
            "the service \(name) changed since version \(expected) (now \(current)); read it again"
        case .missing(let name): "no service named \(name)"
        }
    }
}
