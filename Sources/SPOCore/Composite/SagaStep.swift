import SPOJSON

/// One step of a saga: the action service, where its parameters come from, and the service that
/// undoes it.
public struct SagaStep: Sendable, Equatable {
    /// Unique in the saga; names the step's output in the context (`$.steps.<name>.data`).
    public var name: String
    /// The action: an ordinary (procedure) service of the same configuration.
    public var service: String
    /// Each of the service's parameters and where its value comes from, in document order.
    public var parameters: [SagaMapping]
    /// What undoes the step; nil only on the last step (nothing after it can fail).
    public var compensation: SagaCompensation?

    public init(name: String, service: String, parameters: [SagaMapping], compensation: SagaCompensation?) {
        self.name = name
        self.service = service
        self.parameters = parameters
        self.compensation = compensation
    }
}

/// The service that undoes a saga step, and its parameters (which may read the step's own output).
public struct SagaCompensation: Sendable, Equatable {
    public var service: String
    public var parameters: [SagaMapping]

    public init(service: String, parameters: [SagaMapping]) {
        self.service = service
        self.parameters = parameters
    }

    /// The name of the compensation's execution in the audit (`member_name`): `<step>:compensation`.
    public static func memberName(of step: String) -> String { step + ":compensation" }
}

/// One entry of a step's `parameters`: the member service's parameter and its source.
public struct SagaMapping: Sendable, Equatable {
    public var parameter: String
    public var source: ParameterSource

    public init(parameter: String, source: ParameterSource) {
        self.parameter = parameter
        self.source = source
    }

    /// The member's parameters as a JSON object resolved against `context`; a path that leads
    /// nowhere leaves the parameter out (the member's validation then says it is missing).
    public static func resolve(_ mappings: [SagaMapping], in context: JSONValue) -> JSONValue {
        .object(
            mappings.compactMap { mapping in mapping.source.value(in: context).map { .init(mapping.parameter, $0) } })
    }
}
