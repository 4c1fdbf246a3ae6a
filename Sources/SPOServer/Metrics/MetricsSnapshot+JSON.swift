import Foundation
import SPOJSON

extension MetricsSnapshot {
    /// `GET /api/stats`: the same counters as `/metrics`, as JSON for the admin page. Counters are
    /// totals since the pool started; rates and percentiles over time are differences of two reads.
    func json(extra: [MetricFamily]) -> JSONValue {
        .object([
            "requests": .number(Int(services.reduce(0) { $0 + $1.requests })),
            "services": .array(services.map(MetricsSnapshot.json)),
            "workers": .object([
                "busy": .number(busyWorkers), "idle": .number(idleWorkers),
                "slots": .array(workers.map(MetricsSnapshot.json)),
            ]),
            "extra": .array(extra.map(MetricsSnapshot.json)),
        ])
    }

    private static func json(_ service: Service) -> JSONValue {
        var cumulative: UInt64 = 0
        let buckets: [JSONValue] = service.buckets.enumerated().map { index, count in
            cumulative += count
            let bound: JSONValue =
                index < MetricsLayout.bucketBounds.count ? .number(MetricsLayout.bucketBounds[index]) : .null
            return .object(["le": bound, "count": .number(Int(cumulative))])
        }
        return .object([
            "name": .string(service.name), "requests": .number(Int(service.requests)),
            "statuses": .object(
                service.statuses.sorted { $0.key < $1.key }.map { .init(String($0.key), .number(Int($0.value))) }
                    + (service.otherStatuses > 0 ? [.init("other", .number(Int(service.otherStatuses)))] : [])),
            "server_errors": .number(Int(service.serverErrors)),
            "attempts": .number(Int(service.attempts)), "retries": .number(Int(service.retries)),
            "replays": .number(Int(service.replays)),
            "duration_seconds_sum": .number(Double(service.durationSumNanoseconds) / 1e9),
            "duration_buckets": .array(buckets),
        ])
    }

    private static func json(_ worker: Worker) -> JSONValue {
        .object([
            "slot": .number(worker.slot), "worker": .string(worker.label),
            "pid": worker.pid == 0 ? .null : .number(worker.pid), "busy": .bool(worker.busy),
            "requests": .number(Int(worker.requests)), "restarts": .number(Int(worker.restarts)),
            "crash_looping": .bool(worker.crashLooping), "retired": .bool(worker.retired),
        ])
    }

    private static func json(_ family: MetricFamily) -> JSONValue {
        .object([
            "name": .string(family.name), "type": .string(family.kind.rawValue), "help": .string(family.help),
            "samples": .array(
                family.samples.map { sample in
                    .object([
                        "labels": .object(sample.labels.map { .init($0.name, .string($0.value)) }),
                        "value": .number(sample.value),
                    ])
                }),
        ])
    }
}
