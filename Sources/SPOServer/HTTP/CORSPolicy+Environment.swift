import Foundation
import SPOCore

extension CORSPolicy {
    /// The policy of `SPO_CORS_ORIGINS` in this process's environment (`spo serve` and `spo dev`
    /// refuse to start with a value that is not one, so a worker sees a valid one or none).
    public static func fromEnvironment() -> CORSPolicy? {
        (try? parse(ProcessInfo.processInfo.environment["SPO_CORS_ORIGINS"]).get()) ?? nil
    }
}
