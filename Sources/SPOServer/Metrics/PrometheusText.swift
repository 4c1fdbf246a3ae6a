import Foundation

/// The Prometheus text exposition format (version 0.0.4) of a snapshot and extra families.
enum PrometheusText {
    static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    static func render(_ snapshot: MetricsSnapshot, extra: [MetricFamily]) -> String {
        var out = ""
        out.reserveCapacity(4096)
        for family in families(snapshot) + extra { write(family, to: &out) }
        writeHistogram(snapshot.services, to: &out)
        return out
    }

    /// Everything but the histogram, as families.
    static func families(_ snapshot: MetricsSnapshot) -> [MetricFamily] {
        typealias Sample = MetricFamily.Sample
        let services = snapshot.services
        func perService(_ value: (MetricsSnapshot.Service) -> UInt64) -> [Sample] {
            services.map { Sample(labels: [("service", $0.name)], value: Double(value($0))) }
        }
        let requests = services.flatMap { service in
            service.statuses.sorted { $0.key < $1.key }.map {
                Sample(labels: [("service", service.name), ("status", String($0.key))], value: Double($0.value))
            }
                + (service.otherStatuses > 0
                    ? [
                        Sample(
                            labels: [("service", service.name), ("status", "other")],
                            value: Double(service.otherStatuses))
                    ]
                    : [])
        }
        let workers = snapshot.workers
        func perWorker(_ value: (MetricsSnapshot.Worker) -> Double) -> [Sample] {
            workers.map { Sample(labels: [("worker", $0.label)], value: value($0)) }
        }
        return [
            MetricFamily(
                name: "spo_requests_total", help: "Execution requests by service and HTTP status answered.",
                kind: .counter, samples: requests),
            MetricFamily(
                name: "spo_execution_attempts_total", help: "Attempts at calling the procedure, retries included.",
                kind: .counter, samples: perService(\.attempts)),
            MetricFamily(
                name: "spo_execution_retries_total", help: "Attempts after the first (the retry policy's).",
                kind: .counter, samples: perService(\.retries)),
            MetricFamily(
                name: "spo_idempotent_replays_total",
                help: "Answers replayed from an earlier execution with the same Idempotency-Key.", kind: .counter,
                samples: perService(\.replays)),
            MetricFamily(
                name: "spo_workers_busy", help: "Workers answering a request now.", kind: .gauge,
                samples: [Sample(value: Double(snapshot.busyWorkers))]),
            MetricFamily(
                name: "spo_workers_idle", help: "Workers running and waiting for a request.", kind: .gauge,
                samples: [Sample(value: Double(snapshot.idleWorkers))]),
            MetricFamily(
                name: "spo_worker_requests_total", help: "Requests of any endpoint answered, by worker slot.",
                kind: .counter, samples: perWorker { Double($0.requests) }),
            MetricFamily(
                name: "spo_worker_restarts_total", help: "Workers started again in the slot after one exited.",
                kind: .counter, samples: perWorker { Double($0.restarts) }),
            MetricFamily(
                name: "spo_worker_crash_looping",
                help: "1 while the slot's worker keeps dying right after start and is restarted with backoff.",
                kind: .gauge, samples: perWorker { $0.crashLooping ? 1 : 0 }),
            MetricFamily(
                name: "spo_error_rows_dropped_total",
                help: "Error rows not written for requests without a valid key, over the worker's budget.",
                kind: .counter, samples: perWorker { Double($0.droppedErrorRows) }),
        ]
    }

    private static func write(_ family: MetricFamily, to out: inout String) {
        out += "# HELP \(family.name) \(escapeHelp(family.help))\n# TYPE \(family.name) \(family.kind.rawValue)\n"
        for sample in family.samples {
            out += family.name + labels(sample.labels) + " " + number(sample.value) + "\n"
        }
    }

    private static func writeHistogram(_ services: [MetricsSnapshot.Service], to out: inout String) {
        let name = "spo_request_duration_seconds"
        out += "# HELP \(name) Time to answer an execution request, by service.\n# TYPE \(name) histogram\n"
        for service in services {
            var cumulative: UInt64 = 0
            for (index, count) in service.buckets.enumerated() {
                cumulative += count
                let bound =
                    index < MetricsLayout.bucketBounds.count ? number(MetricsLayout.bucketBounds[index]) : "+Inf"
                out += "\(name)_bucket" + labels([("service", service.name), ("le", bound)]) + " \(cumulative)\n"
            }
            let seconds = Double(service.durationSumNanoseconds) / 1e9
            out += "\(name)_sum" + labels([("service", service.name)]) + " " + number(seconds) + "\n"
            out += "\(name)_count" + labels([("service", service.name)]) + " \(cumulative)\n"
        }
    }

    private static func labels(_ labels: [(name: String, value: String)]) -> String {
        guard !labels.isEmpty else { return "" }
        return "{" + labels.map { "\($0.name)=\"\(escapeLabel($0.value))\"" }.joined(separator: ",") + "}"
    }

    static func number(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }

    private static func escapeLabel(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }

    private static func escapeHelp(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n")
    }
}
