import ArgumentParser
import Foundation
import SPOCore

/// `--cors-origins` of `spo serve` and `spo dev`: checked at start and handed to every worker
/// through `SPO_CORS_ORIGINS` in the environment they inherit.
enum CORSOrigins {
    /// Puts `option` (when given) into the environment and refuses a value that is not a list of
    /// origins, so a worker never starts with a policy it would have to ignore.
    static func adopt(_ option: String?) throws {
        if let option { setenv("SPO_CORS_ORIGINS", option, 1) }
        if case .failure(let error) = CORSPolicy.parse(ProcessInfo.processInfo.environment["SPO_CORS_ORIGINS"]) {
            throw ValidationError(error.description)
        }
    }
}
