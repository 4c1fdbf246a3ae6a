import Foundation
import Glibc
import SPOCore
import SPOJSON

extension RequestHandler {
    /// Runs an execution request and counts it: by the service it ran (`_unknown` when it named
    /// no enabled service it may run), the status answered and the time taken.
    func counted(_ execute: () -> HTTPResponse) -> HTTPResponse {
        let started = RequestHandler.monotonicNanoseconds()
        observed = nil
        let response = execute()
        metrics.record(
            service: observed?.service, status: response.status,
            nanoseconds: RequestHandler.monotonicNanoseconds() &- started, attempts: observed?.attempts ?? 0,
            replayed: response.headers.contains { $0.0.utf8.count == 19 && $0.0 == "Idempotent-Replayed" })
        return response
    }

    /// The monotonic clock in nanoseconds: `ContinuousClock`'s `Duration` arithmetic (128-bit
    /// attoseconds) showed in the instruction count; this is one vDSO call, no system call.
    private static func monotonicNanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) &* 1_000_000_000 &+ UInt64(now.tv_nsec)
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
