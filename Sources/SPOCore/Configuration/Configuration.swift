/// Everything a worker needs to serve requests: an immutable snapshot of the control tables.
public struct Configuration: Sendable {
    public var services: [String: ServiceDefinition]
    public var connections: [String: ConnectionDefinition]
    public var retryPolicies: [String: RetryPolicy]
    /// Active (not revoked) API keys by prefix.
    public var apiKeys: [String: APIKey]
    /// The configuration generation the snapshot holds (`spo.configuration_generation`): every
    /// change moves it forward, so two snapshots of the same generation are the same.
    public var generation: Int64
    /// The version of each service's rows (`ConfigurationStore`), so a reload parses again only
    /// the services whose rows changed.
    public var serviceRowVersions: [String: String] = [:]

    public init(
        services: [String: ServiceDefinition] = [:], connections: [String: ConnectionDefinition] = [:],
        retryPolicies: [String: RetryPolicy] = [:], apiKeys: [String: APIKey] = [:], generation: Int64 = 0
    ) {
        self.services = services
        self.connections = connections
        self.retryPolicies = retryPolicies
        self.apiKeys = apiKeys
        self.generation = generation
    }

    /// The enabled service called `name`.
    public func enabledService(_ name: String) -> ServiceDefinition? {
        guard let service = services[name], service.enabled else { return nil }
        return service
    }

    /// The retry policy the service names, or a single attempt.
    public func retryPolicy(for service: ServiceDefinition) -> RetryPolicy {
        service.retryPolicy.flatMap { retryPolicies[$0] } ?? .none
    }
}
