import SPOJSON

/// The rendered `POST /api/services/{name}/execute` operation of each plain service, kept from one
/// rendering of the document to the next: after a change to one of 1,000 services, the next
/// document renders that one and copies the text of the other 999.
///
/// An operation is a function of its service's definition alone (not of the caller, nor of the
/// other services), so an entry is valid while its definition is equal. Composite services are
/// not kept: their operations describe their members. Removed services' operations do not stay.
public struct OpenAPIOperationCache: Sendable {
    private var operations: [String: (service: ServiceDefinition, text: String)] = [:]
    /// Rendered or reused by the rendering under way.
    private var used: [String: (service: ServiceDefinition, text: String)] = [:]

    /// False for a rendering that keeps nothing: its operations stay trees rather than text, so
    /// the document can be read back member by member (`OpenAPIDocument.make` without a cache).
    private let keeps: Bool

    public init() { keeps = true }

    /// A cache that keeps nothing.
    static var none: OpenAPIOperationCache { OpenAPIOperationCache(keeps: false) }

    private init(keeps: Bool) { self.keeps = keeps }

    /// The operation of `service`, as kept or rendered by `render` now.
    mutating func operation(of service: ServiceDefinition, _ render: () -> JSONValue) -> JSONValue {
        guard keeps, service.kind == .procedure, service.saga == nil else { return render() }
        if let kept = operations[service.name], kept.service == service {
            used[service.name] = kept
            return .raw(kept.text)
        }
        let text = render().serialized()
        used[service.name] = (service, text)
        return .raw(text)
    }

    /// Ends a rendering of `configuration`: what it rendered is kept, and the operations of
    /// services no longer in it are dropped (one caller's rendering may skip services that
    /// another's uses, so those stay).
    mutating func finishRendering(of configuration: Configuration) {
        operations.merge(used) { $1 }
        used.removeAll(keepingCapacity: true)
        if operations.count > configuration.services.count {
            operations = operations.filter { configuration.services[$0.key] != nil }
        }
    }

    /// How many operations are kept (for tests).
    public var count: Int { operations.count }
}
