/// What a caller may reach: the one rule behind authorization and the per-caller OpenAPI document.
extension Principal {
    /// Whether this caller may execute `service`: a key granted it, or anyone when it is public.
    public func mayCall(_ service: ServiceDefinition) -> Bool {
        guard let key else { return service.isPublic }
        return key.mayExecute(service.name)
    }

    /// Whether this caller may call `endpoint` at all (a service endpoint also checks the service).
    public func mayCall(_ endpoint: Endpoint) -> Bool {
        switch endpoint.access {
        case .anyone, .service: true
        case .caller: key != nil
        case .admin: key?.role == .admin
        }
    }

    /// The refusal of an anonymous call to what needs a key.
    public static var keyRequired: APIError {
        APIError(
            .unauthorized,
            "send an API key: Authorization: Bearer <key> (only services marked public may be called without one)")
    }
}
