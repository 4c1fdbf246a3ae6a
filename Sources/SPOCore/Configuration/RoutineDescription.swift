/// A routine as the target database's catalog describes it.
public struct RoutineDescription: Sendable, Equatable {
    public var name: QualifiedName
    /// `schema.name(argtypes)` as `regprocedure` prints it.
    public var signature: String
    /// The input argument types (`integer, text`) when the document named this overload by them.
    public var argumentTypes: String?
    public var resultShape: ServiceDefinition.ResultShape
    /// Parameters a call can name: IN/INOUT, and OUT for procedures; defaults make them optional.
    public var parameters: [ParameterSpec]
    /// Every argument a call passes, in positional order (see `RoutineArgument`).
    public var arguments: [RoutineArgument]
    public var volatility: RoutineVolatility

    package init(
        name: QualifiedName, signature: String, argumentTypes: String? = nil,
        resultShape: ServiceDefinition.ResultShape,
        parameters: [ParameterSpec], arguments: [RoutineArgument], volatility: RoutineVolatility
    ) {
        self.name = name
        self.signature = signature
        self.argumentTypes = argumentTypes
        self.resultShape = resultShape
        self.parameters = parameters
        self.arguments = arguments
        self.volatility = volatility
    }

    /// The routine as a service document names it (see `ServiceDefinition.procedureReference`).
    public var reference: String { name.description + (argumentTypes.map { "(\($0))" } ?? "") }
}
