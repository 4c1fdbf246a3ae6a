import Testing

@testable import SPOServer

/// The exposition format Prometheus parses: HELP/TYPE lines, labels, cumulative buckets.
@Suite struct PrometheusTextTests {
    private func text() -> String {
        let metrics = WorkerMetrics()
        metrics.record(service: "a", status: 200, nanoseconds: 800_000, attempts: 1, replayed: false)
        metrics.record(service: "a", status: 200, nanoseconds: 3_000_000, attempts: 2, replayed: false)
        metrics.record(service: "a", status: 503, nanoseconds: 20_000_000_000, attempts: 3, replayed: false)
        let extra = MetricFamily(
            name: "spo_breaker_open", help: "1 while open", kind: .gauge,
            samples: [.init(labels: [("connection", "de\"mo")], value: 1)])
        return PrometheusText.render(MetricsSnapshot(reading: metrics.memory), extra: [extra])
    }

    @Test func countersCarryServiceAndStatus() {
        let lines = text().split(separator: "\n").map(String.init)
        #expect(lines.contains("# TYPE spo_requests_total counter"))
        #expect(lines.contains(#"spo_requests_total{service="a",status="200"} 2"#))
        #expect(lines.contains(#"spo_requests_total{service="a",status="503"} 1"#))
        #expect(lines.contains(#"spo_execution_attempts_total{service="a"} 6"#))
        #expect(lines.contains(#"spo_execution_retries_total{service="a"} 3"#))
        #expect(lines.contains("spo_workers_busy 0"))
        #expect(lines.contains("spo_workers_idle 1"))
        #expect(lines.contains(#"spo_worker_crash_looping{worker="worker"} 0"#))
        // Extra families come through with their labels escaped.
        #expect(lines.contains("# TYPE spo_breaker_open gauge"))
        #expect(lines.contains(#"spo_breaker_open{connection="de\"mo"} 1"#))
    }

    @Test func theHistogramIsCumulativeWithInfinityAndCount() {
        let lines = text().split(separator: "\n").map(String.init)
        #expect(lines.contains("# TYPE spo_request_duration_seconds histogram"))
        #expect(lines.contains(#"spo_request_duration_seconds_bucket{service="a",le="0.001"} 1"#))
        #expect(lines.contains(#"spo_request_duration_seconds_bucket{service="a",le="0.0025"} 1"#))
        #expect(lines.contains(#"spo_request_duration_seconds_bucket{service="a",le="0.005"} 2"#))
        #expect(lines.contains(#"spo_request_duration_seconds_bucket{service="a",le="10"} 2"#))
        #expect(lines.contains(#"spo_request_duration_seconds_bucket{service="a",le="+Inf"} 3"#))
        #expect(lines.contains(#"spo_request_duration_seconds_count{service="a"} 3"#))
        #expect(lines.contains(#"spo_request_duration_seconds_sum{service="a"} 20.0038"#))
    }

    @Test func everySampleLineIsNameLabelsValue() {
        for line in text().split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            #expect(parts.count == 2, "\(line)")
            #expect(Double(parts[1]) != nil, "\(line)")
            #expect(parts[0].hasPrefix("spo_"), "\(line)")
        }
    }
}
