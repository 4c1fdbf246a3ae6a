import Foundation
import Glibc
import SPOCore
import SPOJSON
import SPOPostgres

/// A worker's circuit breakers, one per configured connection: the pool's shared state as this
/// worker last heard it, and this worker's window of recent calls.
///
/// A call reads the local copy only (one dictionary look-up; no clock while closed, no system
/// call, no round trip). The control database is written on transitions alone — open, a probe
/// slot claimed or released, close — and its trigger's `NOTIFY` brings the change to every
/// worker of every host within a poll interval (`refresh(from:)`). When the control database
/// cannot be written, a worker still acts on what it saw, alone, until it can.
public final class BreakerBoard {
    /// By connection: the ticket of a call while its breaker is closed, which holds the breaker.
    /// Such a ticket carries no state of its own, so one per breaker serves every call: the
    /// request path allocates nothing.
    private var calls: [String: BreakerTicket] = [:]
    /// Where the shared state lives; nil: this worker's breakers are its own (tests, tools).
    var control: ControlDatabase?
    /// Who makes transitions, as `changed_by` records it.
    let owner: String

    public init() {
        var name = [CChar](repeating: 0, count: 256)
        let host =
            gethostname(&name, name.count) == 0
            ? String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "unknown"
        owner = "worker \(getpid())@\(host)"
    }

    /// The breakers' states as this worker sees them, by connection name: for `/metrics`,
    /// `/api/stats` and the admin page (each worker's copy is the pool's within a poll interval).
    public var snapshots: [BreakerSnapshot] {
        let now = ContinuousClock.now
        return calls.keys.sorted().map { calls[$0]!.breaker.snapshot(at: now) }
    }

    /// Follows a configuration snapshot: a breaker per connection, with its settings.
    public func configure(_ configuration: Configuration) {
        for name in calls.keys where configuration.connections[name] == nil { calls[name] = nil }
        for (name, definition) in configuration.connections {
            if let call = calls[name] {
                call.breaker.configure(definition.breaker)
            } else {
                calls[name] = BreakerTicket(CircuitBreaker(connection: name, settings: definition.breaker), .call)
            }
        }
    }

    /// Adopts the shared rows (after a `NOTIFY` on `BreakerStore.channel`, or a reconnect that
    /// may have missed some). A connection without a row is closed.
    public func refresh(from control: PGConnection) {
        do throws(PGError) {
            adopt(try BreakerStore.all(on: control), replacingAll: true)
        } catch {
            Log.warning("could not read the circuit breakers", ["error": .string(error.description)])
        }
    }

    /// Adopts rows read elsewhere (an administrator's reset answered by this worker).
    func adopt(_ rows: [BreakerSnapshot], replacingAll: Bool = false) {
        let now = ContinuousClock.now
        let byName = Dictionary(rows.map { ($0.connection, $0) }, uniquingKeysWith: { $1 })
        for (name, call) in calls {
            let breaker = call.breaker
            if let row = byName[name] {
                breaker.adopt(row, at: now)
            } else if replacingAll, breaker.generation != 0 || breaker.state != .closed {
                breaker.adopt(BreakerSnapshot(connection: name), at: now)
            }
        }
    }

    // MARK: - Calls

    /// Lets a call of `service` through, or refuses it; a probe's slot is leased for the longest
    /// the call can take, and a margin.
    public func admit(_ service: ServiceDefinition) throws(CircuitOpen) -> BreakerTicket? {
        try admit(service.connection, leaseMilliseconds: service.timeoutMilliseconds + 5000)
    }

    /// Lets a call to `connection` through, or refuses it. Nil: no breaker (an unknown connection,
    /// which fails on its own). A probe claims a pool-wide slot leased for `leaseMilliseconds`.
    public func admit(_ connection: String, leaseMilliseconds: Int) throws(CircuitOpen) -> BreakerTicket? {
        guard let call = calls[connection] else { return nil }
        let breaker = call.breaker
        switch breaker.admission(at: .now) {
        case .call:
            return call
        case .refuse(let retryAfter):
            throw CircuitOpen(
                connection: connection, state: breaker.state,
                retryAfterSeconds: Self.wholeSeconds(retryAfter))
        case .probe:
            return try claimProbe(breaker, leaseMilliseconds: leaseMilliseconds)
        }
    }

    /// Counts an attempt's result; false when no further attempt may be made (the breaker is no
    /// longer closed: it opened on this result, or while the call was running).
    public func record(_ ticket: BreakerTicket, _ result: Result<String, PGError>) -> Bool {
        var counted: PGError?
        if case .failure(let error) = result, CircuitBreaker.countsAgainst(error) { counted = error }
        let failure = counted != nil
        let breaker = ticket.breaker
        switch ticket.kind {
        case .call:
            if breaker.record(failure: failure) { open(breaker) }
            return breaker.state == .closed || !breaker.settings.enabled
        case .probe(_, let generation):
            guard let counted else { return true }
            ticket.failed = true
            reopen(breaker, generation: generation, error: counted)
            return false
        case .localProbe:
            guard failure else { return true }
            ticket.failed = true
            breaker.openLocally(at: .now, reason: "a probe failed (control database unreachable)")
            return false
        }
    }

    /// Ends a call: a probe that never failed against the database counts as a success.
    public func settle(_ ticket: BreakerTicket) {
        guard !ticket.failed else { return }
        switch ticket.kind {
        case .call:
            return
        case .probe(let id, let generation):
            let breaker = ticket.breaker
            shared(breaker) { (control) throws(PGError) in
                try BreakerStore.probeSucceeded(
                    breaker.connection, id: id, generation: generation, for: breaker.settings, by: owner, on: control)
            }
        case .localProbe:
            ticket.breaker.closeLocally()
        }
    }

    /// `duration` in whole seconds, rounded up, at least 1 (a `Retry-After`).
    static func wholeSeconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        return max(1, Int(seconds) + (attoseconds > 0 ? 1 : 0))
    }

    // MARK: - Transitions

    private func claimProbe(_ breaker: CircuitBreaker, leaseMilliseconds: Int) throws(CircuitOpen) -> BreakerTicket {
        guard let control else { return BreakerTicket(breaker, .localProbe) }
        let id = RandomID.uuid()
        let claimed: BreakerSnapshot?
        do throws(PGError) {
            claimed = try control.withConnection { (connection: PGConnection) throws(PGError) in
                try BreakerStore.claimProbe(
                    breaker.connection, id: id, leaseMilliseconds: leaseMilliseconds, for: breaker.settings,
                    by: owner, on: connection)
            }
        } catch {
            Log.warning(
                "circuit breaker probe not shared: the control database is unreachable",
                ["connection": .string(breaker.connection), "error": .string(error.description)])
            return BreakerTicket(breaker, .localProbe)
        }
        if let claimed {
            breaker.adopt(claimed, at: .now)
            return BreakerTicket(breaker, .probe(id: id, generation: claimed.generation))
        }
        // Every slot is taken, or the breaker moved on meanwhile (a reset): learn which.
        if let rows = try? control.withConnection({ (connection: PGConnection) throws(PGError) in
            try BreakerStore.all(on: connection)
        }) {
            adopt(rows, replacingAll: true)
        }
        if breaker.state == .closed, let call = calls[breaker.connection] { return call }
        if case .refuse(let retryAfter) = breaker.admission(at: .now) {
            throw CircuitOpen(
                connection: breaker.connection, state: breaker.state, retryAfterSeconds: Self.wholeSeconds(retryAfter))
        }
        breaker.probeSlotsTaken(at: .now)
        throw CircuitOpen(connection: breaker.connection, state: breaker.state, retryAfterSeconds: 1)
    }

    private func open(_ breaker: CircuitBreaker) {
        let (calls, failures) = breaker.window
        let reason =
            "\(failures) of the last \(calls) calls failed (threshold \(breaker.settings.failureRateThreshold) %)"
        Log.warning("circuit breaker opening", ["connection": .string(breaker.connection), "reason": .string(reason)])
        let opened = shared(breaker) { (control) throws(PGError) in
            try BreakerStore.open(breaker.connection, for: breaker.settings, by: owner, reason: reason, on: control)
        }
        if !opened { breaker.openLocally(at: .now, reason: reason) }
    }

    private func reopen(_ breaker: CircuitBreaker, generation: Int64, error: PGError) {
        let reason = "a probe failed: " + error.description.prefix(200)
        Log.warning(
            "circuit breaker reopening", ["connection": .string(breaker.connection), "reason": .string(reason)])
        let reopened = shared(breaker) { (control) throws(PGError) in
            try BreakerStore.probeFailed(
                breaker.connection, generation: generation, for: breaker.settings, by: owner, reason: reason,
                on: control)
        }
        if !reopened { breaker.openLocally(at: .now, reason: reason) }
    }

    /// Runs a transition on the shared row and adopts what it returns; when it found the row moved
    /// on, adopts the row as it is. False when the control database could not be used at all.
    @discardableResult
    private func shared(
        _ breaker: CircuitBreaker, _ transition: (PGConnection) throws(PGError) -> BreakerSnapshot?
    ) -> Bool {
        guard let control else { return false }
        do throws(PGError) {
            let row = try control.withConnection { (connection: PGConnection) throws(PGError) -> BreakerSnapshot? in
                if let made = try transition(connection) { return made }
                return try BreakerStore.all(on: connection).first { $0.connection == breaker.connection }
            }
            breaker.adopt(row ?? BreakerSnapshot(connection: breaker.connection), at: .now)
            return true
        } catch {
            Log.warning(
                "circuit breaker transition not shared: the control database is unreachable",
                ["connection": .string(breaker.connection), "error": .string(error.description)])
            return false
        }
    }
}
