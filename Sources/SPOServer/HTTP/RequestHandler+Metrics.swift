import Foundation
import SPOCore
import SPOJSON

extension RequestHandler {
    /// Runs an execution request and counts it: by the service it ran (`_unknown` when it named
    /// no enabled service it may run), the status answered and the time taken.
    func counted(_ execute: () -> HTTPResponse) -> HTTPResponse {
        let started = ContinuousClock.now
        observed = nil
        let response = execute()
        let elapsed = started.duration(to: .now).components
        metrics.record(
            service: observed?.service, status: response.status,
            nanoseconds: UInt64(max(elapsed.seconds, 0)) * 1_000_000_000 + UInt64(max(elapsed.attoseconds, 0))
                / 1_000_000_000,
            attempts: observed?.attempts ?? 0,
            replayed: response.headers.contains { $0.0 == "Idempotent-Replayed" && $0.1 == "true" })
        return response
    }

    /// `GET /metrics`: every worker's counters, summed, in Prometheus text format.
    func metricsText() -> HTTPResponse {
        let snapshot = MetricsSnapshot(reading: metrics.memory)
        let text = PrometheusText.render(snapshot, extra: MetricSources.families(control))
        return HTTPResponse(
            status: 200, headers: [("Content-Type", PrometheusText.contentType)], body: Array(text.utf8))
    }

    /// `GET /api/stats`: the same, as JSON.
    func stats(_ context: RequestContext) -> HTTPResponse {
        let snapshot = MetricsSnapshot(reading: metrics.memory)
        return .json(200, snapshot.json(extra: MetricSources.families(control)), headers: context.headers)
    }
}
