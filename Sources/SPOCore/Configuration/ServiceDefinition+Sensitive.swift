import SPOJSON

extension ServiceDefinition {
    /// The service's sensitive parameters (`"sensitive": true`).
    public var sensitiveParameters: SensitiveParameters { SensitiveParameters(parameters) }

    /// `parameters` as they may be recorded (audit, journal, spool, logs): sensitive values
    /// replaced by the marker. A service without sensitive parameters costs one scan of its specs.
    public func recordable(_ parameters: JSONValue) -> JSONValue {
        guard self.parameters.contains(where: \.sensitive) else { return parameters }
        return sensitiveParameters.redacting(parameters)
    }
}
