import SPOCore
import SPOPostgres

/// The extra target connections a worker keeps for parallel services whose members share a
/// connection: members run at the same time, so each needs a libpq connection of its own.
///
/// Slot 0 of a target is the executor's own connection (`TargetConnections`); slot k > 0 is
/// the k-th extra one, opened on first use and kept like it. So a worker holds at most
/// `ParallelMember.limit - 1` extra connections per target, and only for targets that several
/// members of one parallel service use.
public final class MemberConnections {
    private var extra: [TargetConnections] = []

    public init() {}

    /// A connection of slot `slot` for `definition` (see the type's description).
    func connection(
        slot: Int, primary: TargetConnections, for definition: ConnectionDefinition, deadline: ContinuousClock.Instant,
        serverTimeout: Duration
    ) throws(PGError) -> PGConnection {
        let store = self.store(slot: slot, primary: primary)
        return try store.connection(for: definition, deadline: deadline, serverTimeout: serverTimeout)
    }

    /// Forgets a slot's connection after it failed.
    func discard(slot: Int, primary: TargetConnections, _ name: String) {
        store(slot: slot, primary: primary).discard(name)
    }

    private func store(slot: Int, primary: TargetConnections) -> TargetConnections {
        guard slot > 0 else { return primary }
        while extra.count < slot { extra.append(TargetConnections()) }
        return extra[slot - 1]
    }

    /// Calls `body` with the extra connections' sockets, watched while idle like the executor's.
    public func forEachSocket(_ body: (Int32) -> Void) {
        for connections in extra { connections.forEachSocket(body) }
    }

    /// Forgets the extra connections the server closed.
    public func dropClosed() { extra.forEach { $0.dropClosed() } }

    /// Closes every extra connection (configuration changed).
    public func closeAll() { extra.forEach { $0.closeAll() } }

    /// Closes the extra connections whose settings changed (`TargetConnections.closeChanged`).
    public func closeChanged(in configuration: Configuration, serverTimeout: (String) -> Duration) {
        extra.forEach { $0.closeChanged(in: configuration, serverTimeout: serverTimeout) }
    }
}
