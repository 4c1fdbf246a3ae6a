import Foundation
import SPOJSON
import SPOPostgres
import Testing

@testable import SPOCore
@testable import SPOServer

/// A worker's breakers when the shared table cannot be used (no control database): it still acts
/// on what it sees, alone — opens on failures, probes after the open duration, closes on success.
@Suite struct BreakerBoardTests {
    static let lost: Result<String, PGError> = .failure(PGError(kind: .connection, sqlstate: "08006", message: "gone"))
    static let raised: Result<String, PGError> = .failure(PGError(kind: .server, sqlstate: "P0001", message: "no"))

    func board(openMilliseconds: Int) -> BreakerBoard {
        var settings = BreakerSettings()
        (settings.windowCalls, settings.minimumCalls, settings.openMilliseconds) = (2, 2, openMilliseconds)
        settings.failureRateThreshold = 100
        let board = BreakerBoard()
        board.configure(
            Configuration(connections: ["db": ConnectionDefinition(name: "db", conninfo: "", breaker: settings)]))
        return board
    }

    @Test func withoutTheSharedTableAWorkerOpensProbesAndClosesAlone() throws {
        let board = board(openMilliseconds: 100)
        #expect(try board.admit("other", leaseMilliseconds: 1000) == nil, "an unknown connection has no breaker")
        let call = try #require(try board.admit("db", leaseMilliseconds: 1000))
        #expect(board.record(call, Self.raised), "a business error is a success for the breaker")
        #expect(board.record(call, Self.lost))
        #expect(board.record(call, Self.lost) == false, "the second failure of two opens it: stop retrying")
        #expect(board.snapshots.first?.state == .open)
        #expect(throws: CircuitOpen.self) { try board.admit("db", leaseMilliseconds: 1000) }

        // After the open duration, a probe alone; a failure opens it again, a success closes it.
        var probe: BreakerTicket?
        #expect(
            eventually(within: 5) {
                probe = try? board.admit("db", leaseMilliseconds: 1000); return probe != nil
            })
        #expect(board.record(try #require(probe), Self.lost) == false)
        #expect(board.snapshots.first?.state == .open)
        #expect(
            eventually(within: 5) {
                probe = try? board.admit("db", leaseMilliseconds: 1000); return probe != nil
            })
        #expect(board.record(try #require(probe), .success("42")))
        board.settle(try #require(probe))
        #expect(board.snapshots.first?.state == .closed)
        #expect(try board.admit("db", leaseMilliseconds: 1000) != nil)
    }

    @Test func aRefusalSaysWhenToComeBack() throws {
        let board = board(openMilliseconds: 30_000)
        let call = try #require(try board.admit("db", leaseMilliseconds: 1000))
        _ = board.record(call, Self.lost)
        _ = board.record(call, Self.lost)
        do {
            _ = try board.admit("db", leaseMilliseconds: 1000)
            Issue.record("admitted while open")
        } catch {
            #expect(error.retryAfterSeconds == 30)
            #expect(error.state == .open)
            let answer = error.error(service: "s")
            #expect(answer.code == .circuitOpen && answer.status == 503)
        }
    }

    /// Polls `condition` until it holds or `seconds` pass.
    func eventually(within seconds: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while !condition() {
            if Date() >= deadline { return false }
            usleep(10_000)
        }
        return true
    }
}
