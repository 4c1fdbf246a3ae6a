import Foundation
import Glibc
import SPOSharedMemory
import Testing

@testable import SPOServer

/// The pool's counters in a real shared file: several writers, one sum, and nothing lost when a
/// worker is replaced.
@Suite struct WorkerMetricsTests {
    private func directory() -> String {
        let path = NSTemporaryDirectory() + "spo-metrics-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test func countsOfEveryWorkerAddUpAndReadersSeeThemAll() throws {
        let path = directory() + "/spo_pool.metrics"
        let pool = try PoolMetricsFile(path: path)
        let first = try WorkerMetrics(path: path, slot: #require(pool.slot(for: "unix:/run/spo/w0.sock")))
        let second = try WorkerMetrics(path: path, slot: #require(pool.slot(for: "unix:/run/spo/w1.sock")))
        for _ in 0..<3 { first.record(service: "a", status: 200, nanoseconds: 2_000_000, attempts: 1, replayed: false) }
        second.record(service: "a", status: 200, nanoseconds: 20_000_000, attempts: 3, replayed: false)
        second.record(service: "a", status: 504, nanoseconds: 6_000_000_000, attempts: 2, replayed: true)
        second.record(service: "b", status: 422, nanoseconds: 500, attempts: 1, replayed: false)

        // Any worker's view is the pool's.
        for reader in [first, second] {
            let snapshot = MetricsSnapshot(reading: reader.memory)
            #expect(snapshot.services.map(\.name) == ["a", "b"])
            let a = snapshot.services[0]
            #expect(a.statuses == [200: 4, 504: 1])
            #expect(a.requests == 5)
            #expect(a.attempts == 3 + 3 + 2)
            #expect(a.retries == 2 + 1)
            #expect(a.replays == 1)
            #expect(a.durationSumNanoseconds == 3 * 2_000_000 + 20_000_000 + 6_000_000_000)
            // 2 ms ≤ 2.5 ms; 20 ms ≤ 25 ms; 6 s ≤ 10 s.
            let bounds = MetricsLayout.bucketBounds
            #expect(a.buckets[bounds.firstIndex(of: 0.0025)!] == 3)
            #expect(a.buckets[bounds.firstIndex(of: 0.025)!] == 1)
            #expect(a.buckets[bounds.firstIndex(of: 10)!] == 1)
            #expect(a.buckets.reduce(0, +) == 5)
            #expect(snapshot.services[1].buckets[0] == 1)
            #expect(snapshot.workers.map(\.label) == ["unix:/run/spo/w0.sock", "unix:/run/spo/w1.sock"])
        }
    }

    @Test func aReplacementWorkerGoesOnFromTheDeadOnesCounts() throws {
        let path = directory() + "/spo_pool.metrics"
        let pool = try PoolMetricsFile(path: path)
        let slot = try #require(pool.slot(for: "w0"))
        var dead: WorkerMetrics? = try WorkerMetrics(path: path, slot: slot)
        dead?.record(service: "a", status: 200, nanoseconds: 1000, attempts: 1, replayed: false)
        dead?.record(service: "b", status: 500, nanoseconds: 1000, attempts: 1, replayed: false)
        dead?.begin()  // killed mid-request: its busy flag stays up until the supervisor reaps it
        pool.setPID(4242, slot: slot)
        #expect(MetricsSnapshot(reading: dead!.memory).busyWorkers == 1)
        dead = nil
        pool.setPID(0, slot: slot)
        pool.countRestart(slot: slot)

        let replacement = try WorkerMetrics(path: path, slot: slot)
        pool.setPID(4343, slot: slot)
        replacement.record(service: "b", status: 500, nanoseconds: 1000, attempts: 1, replayed: false)
        replacement.record(service: "c", status: 200, nanoseconds: 1000, attempts: 1, replayed: false)
        let snapshot = MetricsSnapshot(reading: replacement.memory)
        #expect(snapshot.services.map(\.name) == ["a", "b", "c"])
        #expect(snapshot.services.map(\.requests) == [1, 2, 1])
        #expect(snapshot.busyWorkers == 0)
        #expect(snapshot.idleWorkers == 1)
        #expect(snapshot.workers.first?.restarts == 1)
        #expect(snapshot.workers.first?.pid == 4343)
    }

    @Test func servicesBeyondTheCapAndUnknownNamesShareFixedLabels() {
        let metrics = WorkerMetrics()
        for index in 0..<(MetricsLayout.maxServices + 5) {
            metrics.record(service: "s\(index)", status: 200, nanoseconds: 1, attempts: 1, replayed: false)
        }
        metrics.record(service: nil, status: 404, nanoseconds: 1, attempts: 0, replayed: false)
        let snapshot = MetricsSnapshot(reading: metrics.memory)
        #expect(snapshot.services.count == MetricsLayout.maxServices + 2)
        #expect(snapshot.services.first { $0.name == MetricsLayout.otherServices }?.requests == 5)
        #expect(snapshot.services.first { $0.name == MetricsLayout.unknownService }?.statuses == [404: 1])
        #expect(snapshot.services.reduce(0) { $0 + $1.requests } == UInt64(MetricsLayout.maxServices + 6))
    }

    @Test func statusesBeyondSixteenAreCountedAsOther() {
        let metrics = WorkerMetrics()
        for status in 400..<420 {
            metrics.record(service: "a", status: status, nanoseconds: 1, attempts: 1, replayed: false)
        }
        let service = MetricsSnapshot(reading: metrics.memory).services[0]
        #expect(service.statuses.count == 16)
        #expect(service.otherStatuses == 4)
        #expect(service.requests == 20)
    }

    @Test func theFileIsPrivateAndNeverOpenedThroughALink() throws {
        let directory = directory()
        let path = directory + "/spo_pool.metrics"
        _ = try PoolMetricsFile(path: path)
        var status = stat()
        #expect(stat(path, &status) == 0)
        #expect(status.st_mode & 0o777 == 0o600)

        let symbolic = directory + "/link.metrics"
        #expect(symlink(path, symbolic) == 0)
        #expect(throws: SharedMemoryError.self) { try WorkerMetrics(path: symbolic, slot: 0) }
        // The supervisor makes its file anew: whatever is at its path — a link, a hard link, a
        // previous pool's file handed over to the workers' user — is replaced, never opened.
        let hard = directory + "/hard.metrics"
        #expect(link(path, hard) == 0)
        for planted in [symbolic, hard] {
            _ = try PoolMetricsFile(path: planted)
            var replaced = stat()
            #expect(lstat(planted, &replaced) == 0)
            #expect(replaced.st_mode & S_IFMT == S_IFREG && replaced.st_nlink == 1 && replaced.st_ino != status.st_ino)
        }
        #expect(stat(path, &status) == 0 && status.st_nlink == 1)

        // A file that is not the pool's (no magic) is refused too.
        let stray = directory + "/stray.metrics"
        FileManager.default.createFile(atPath: stray, contents: Data(count: 64))
        #expect(throws: SharedMemoryError.self) { try WorkerMetrics(path: stray, slot: 0) }
    }
}
