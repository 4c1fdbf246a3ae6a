import SPOPostgres

/// The job queue in `/metrics` and `/api/stats`: read from the queue table itself, so it is the
/// same whichever worker (or host) answers.
enum QueueMetrics {
    static func families(_ control: ControlDatabase) -> [MetricFamily] {
        guard
            let depth = try? control.withConnection({ (connection: PGConnection) throws(PGError) in
                try JobQueue.depth(on: connection)
            })
        else { return [] }
        return [
            MetricFamily(
                name: "spo_queue_jobs", help: "Asynchronous jobs in the queue, by state", kind: .gauge,
                samples: [
                    .init(labels: [("state", "queued")], value: Double(depth.queued)),
                    .init(labels: [("state", "running")], value: Double(depth.running)),
                ]),
            MetricFamily(
                name: "spo_queue_oldest_job_age_seconds", help: "Age of the oldest job still waiting (0 when none)",
                kind: .gauge, samples: [.init(value: depth.oldestQueuedSeconds)]),
        ]
    }
}
