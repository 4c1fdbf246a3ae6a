import SPOJSON

extension OpenAPIDocument {
    /// What `Idempotency-Key` adds to the execution paths: the header (required on the path of a
    /// service that requires it), `Idempotent-Replayed` on the answer, and the 400, 409 and 422 a
    /// key can end in.
    enum Idempotency {
        /// The request headers of `service`'s path; nil for the envelope, whose service is not known.
        static func headers(_ service: ServiceDefinition?) -> [JSONValue] {
            guard let service, service.idempotency == .required else { return executionHeaders }
            let key = Components.header(
                "Idempotency-Key",
                "Required by this service. " + Components.idempotencyKeyDescription
                    + " Kept \(service.idempotencyTTLSeconds) s.", required: true)
            return [Components.ref("parameters/CorrelationID"), key]
        }

        /// `responses` with the 200 saying it may be a replay, the 400 naming a bad key too, and
        /// the 409 and 422 of a key in use or used with other parameters (beside any
        /// `SP_EXECUTION_FAILED` of the same status, which `ExecutionFailures.merged` adds later).
        static func responses(_ responses: [JSONValue.Member]) -> [JSONValue.Member] {
            var members = responses
            if let index = members.firstIndex(where: { $0.key == "200" }), case .object(var ok) = members[index].value,
                let headers = ok.firstIndex(where: { $0.key == "headers" }), case .object(var list) = ok[headers].value
            {
                list.append(.init("Idempotent-Replayed", Components.ref("headers/Idempotent-Replayed")))
                ok[headers].value = .object(list)
                members[index].value = .object(ok)
            }
            if let index = members.firstIndex(where: { $0.key == "400" }) {
                members[index].value = ExecutionFailures.response(
                    "\(APIError.Code.invalidParameters.rawValue): \(Components.meaning(.invalidParameters)); or "
                        + "\(APIError.Code.idempotencyKeyInvalid.rawValue): "
                        + Components.meaning(.idempotencyKeyInvalid))
            }
            members.append(
                .init(
                    "409",
                    ExecutionFailures.response(
                        "\(APIError.Code.idempotencyKeyInUse.rawValue): \(Components.meaning(.idempotencyKeyInUse))",
                        extraHeaders: [.init("Retry-After", Components.ref("headers/Retry-After"))])))
            members.append(.init("422", Components.ref("responses/IdempotencyKeyMismatch")))
            return members
        }
    }
}
