import Glibc
import SPOCore
import SPOPostgres

/// Read-your-writes across the pool: configuration snapshots carry the generation they hold
/// (`spo.configuration_generation`), each worker publishes the one it serves in its metrics region,
/// and an admin write answers once every worker of the pool serves it.
extension RequestHandler {
    /// The longest an admin write waits for the other workers to serve it. They follow the change's
    /// `NOTIFY` between requests, within milliseconds; only a worker busy with a long call is later.
    static let convergenceDeadline = Duration.seconds(2)

    /// The committed configuration: this worker's snapshot when its generation is current (one
    /// small query), otherwise loaded and installed here at once.
    func currentConfiguration() throws(APIError) -> Configuration {
        do throws(PGError) {
            try control.withConnection { (connection: PGConnection) throws(PGError) in
                if try ConfigurationStore.generation(on: connection) != configuration.generation {
                    reload(try ConfigurationStore.load(from: connection, reusing: configuration))
                }
            }
            return configuration
        } catch {
            throw AdminWrites.unavailable(error)
        }
    }

    /// After a committed configuration change: serves it on this worker, then waits (at most
    /// `convergenceDeadline`) until every other live worker of the pool serves it too, so the
    /// caller's next request finds it whichever worker answers. Changes other workers commit
    /// meanwhile are followed as well: two workers answering writes at once never wait on each other.
    func awaitPoolServingCommittedConfiguration() {
        let started = ContinuousClock.now
        let target: Int64
        do throws(APIError) {
            target = try currentConfiguration().generation
        } catch {
            return
        }
        var nextRefresh = started + .milliseconds(20)
        while true {
            let behind = metrics.workersBehind(generation: target)
            if behind.isEmpty { return }
            if ContinuousClock.now - started >= Self.convergenceDeadline {
                Log.warning(
                    "configuration change answered before every worker serves it",
                    ["generation": .number(Int(target)), "workers_behind": .array(behind.map { .number($0) })])
                return
            }
            if ContinuousClock.now >= nextRefresh {
                nextRefresh = .now + .milliseconds(20)
                _ = try? currentConfiguration()
            }
            usleep(2000)
        }
    }
}
