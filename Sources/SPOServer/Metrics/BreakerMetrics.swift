import SPOCore
import SPOPostgres

/// The circuit breakers in `/metrics` and `/api/stats`, read from the shared table, so every
/// worker (and every host on the same control database) answers the same.
enum BreakerMetrics {
    /// `spo_breaker_state{connection,state}`: 1 for each connection's current state, 0 for the
    /// others (Prometheus's way of exposing an enumeration).
    static func families(_ control: ControlDatabase) -> [MetricFamily] {
        let read = try? control.withConnection { (connection: PGConnection) throws(PGError) in
            let names = try connection.execute("SELECT name FROM spo.connection ORDER BY name")
            return ((0..<names.rowCount).compactMap { names.value($0, 0) }, try BreakerStore.all(on: connection))
        }
        guard let (names, rows) = read else { return [] }
        let shared = Dictionary(rows.map { ($0.connection, $0) }, uniquingKeysWith: { first, _ in first })
        var samples: [MetricFamily.Sample] = []
        for name in names {
            let current = shared[name].map(state) ?? .closed
            for candidate in BreakerState.allCases {
                samples.append(
                    .init(
                        labels: [("connection", name), ("state", candidate.rawValue)],
                        value: candidate == current ? 1 : 0))
            }
        }
        return [
            MetricFamily(
                name: "spo_breaker_state", help: "Circuit breaker state per connection (1 for the current state)",
                kind: .gauge, samples: samples)
        ]
    }

    /// An open breaker whose open duration has passed admits probes: it is half-open.
    private static func state(_ snapshot: BreakerSnapshot) -> BreakerState {
        snapshot.state == .open && snapshot.remainingOpenMilliseconds == 0 ? .halfOpen : snapshot.state
    }
}
