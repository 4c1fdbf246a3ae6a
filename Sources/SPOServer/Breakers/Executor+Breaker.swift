import SPOCore

extension Executor {
    /// Runs the call through its connection's circuit breaker: refused at once while the breaker
    /// is open (nothing is sent to the database), let through as a probe once it may be tested,
    /// counted otherwise. Every caller that runs a service (requests, queue consumers) goes here.
    public func executeThroughBreaker(
        _ service: ServiceDefinition, parameters: [BoundParameter], configuration: Configuration
    ) throws(CircuitOpen) -> ExecutionOutcome {
        let ticket = try breakers.admit(service)
        let outcome = execute(service, parameters: parameters, configuration: configuration, ticket: ticket)
        if let ticket { breakers.settle(ticket) }
        return outcome
    }
}
