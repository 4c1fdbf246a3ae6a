import Foundation
import Glibc
import SPOCore
import SPOJSON
import SPOPostgres

/// `spo audit-writer`: the pool's group commit of execution rows.
///
/// Workers hand it their rows over a unix socket in the pool's private run directory
/// (`AuditWriterClient`) and wait. It takes every row that has arrived, from all workers, writes
/// them in one INSERT — one statement, one transaction, one commit to wait for (`AuditBatch`) —
/// and then answers each worker. While that commit is in flight the next rows queue up in the
/// sockets, so under load each transaction carries the rows of many workers: PostgreSQL's own
/// group commit, one level up, which saves the database a transaction, a statement and a WAL
/// flush per row. Workers under `spo serve` serve their next request while their row commits, so
/// the writer holds a group for more rows (PostgreSQL's `commit_delay` and `commit_siblings`, one
/// level up) until every worker that sent a row in the last `activeWindow` has one in it, or a
/// worker says it is waiting with nothing else to do (an empty frame), or `commitDelay` has
/// passed since its first row. A lone worker's row is written at once. A row is answered `committed` only after its transaction committed on a
/// connection with the pool's `synchronous_commit` (`SPO_AUDIT_COMMIT`), so a worker answers
/// its client no earlier than when it wrote the row itself.
///
/// When a batch fails for a reason of its rows (a row already written: the worker gave up
/// waiting and wrote it itself), each row is written alone, tolerating one that exists. When
/// the control database fails, every row of the batch is answered `failed`, and its worker writes
/// it itself (and spools it). A writer that dies takes no committed row with it: its workers
/// see the socket close and write their rows themselves.
public final class AuditWriter {
    private let control: ControlDatabase
    private let listener: ListeningSocket
    private var clients: [Client] = []
    /// What `recv` reads into, kept: made per read, its 16 KiB were zeroed for every worker on
    /// every wake-up (most reads find nothing).
    private var chunk = [UInt8](repeating: 0, count: 16_384)
    private let parent = getppid()
    private let signals = SignalSet([SIGTERM, SIGINT, SIGQUIT])
    private var nextCheck = ContinuousClock.now
    /// What `serveOnce` polls, kept from one wake-up to the next.
    private var descriptors: [pollfd] = []
    /// How long a group is held for more rows at most (`SPO_AUDIT_COMMIT_DELAY`, µs; 0: never).
    public let commitDelay: Duration
    /// The rows read and not yet written: the group being held.
    private var group: [(Client, [String?])] = []
    /// When the group's first row was read.
    private var groupSince: ContinuousClock.Instant?
    /// A worker is waiting for an answer: the group is written now.
    private var hurried = false
    /// A group of this many rows is written without waiting for more.
    static let maxGroupRows = 64
    /// The default of `SPO_AUDIT_COMMIT_DELAY`.
    static let defaultCommitDelay: Duration = .microseconds(1000)
    /// A worker that sent a row this recently is expected to send another soon: a group is
    /// held for its row.
    public let activeWindow: Duration
    public static let defaultActiveWindow: Duration = .milliseconds(10)
    /// Rows committed and transactions used, for the log and tests.
    public private(set) var committedRows = 0
    public private(set) var transactions = 0

    private final class Client {
        let descriptor: Int32
        var buffer: [UInt8] = []
        var closed = false
        /// When this worker's last row arrived.
        var lastRowAt: ContinuousClock.Instant?
        init(descriptor: Int32) { self.descriptor = descriptor }
    }

    /// Listens at `socketPath` (replacing a socket file left there).
    public init(
        controlConninfo: String, socketPath: String, commitDelay: Duration = AuditWriter.commitDelayFromEnvironment(),
        activeWindow: Duration = AuditWriter.defaultActiveWindow
    ) throws {
        control = ControlDatabase(conninfo: controlConninfo)
        self.commitDelay = commitDelay
        self.activeWindow = activeWindow
        let commit = AuditLog.CommitMode.fromEnvironment()
        control.onReconnect = { connection throws(PGError) in
            try connection.execute("SET synchronous_commit = \(commit.synchronousCommit)")
        }
        listener = try ListeningSocket(.unix(path: socketPath), backlog: 256)
        _ = fcntl(listener.descriptor, F_SETFL, fcntl(listener.descriptor, F_GETFL) | O_NONBLOCK)
    }

    /// `SPO_AUDIT_COMMIT_DELAY` (microseconds, 0 – 100000, as PostgreSQL's `commit_delay`), else 1000.
    public static func commitDelayFromEnvironment() -> Duration {
        guard let text = ProcessInfo.processInfo.environment["SPO_AUDIT_COMMIT_DELAY"],
            let microseconds = Int(text), (0...100_000).contains(microseconds)
        else { return defaultCommitDelay }
        return .microseconds(microseconds)
    }

    /// The socket path of writer `index` beside the pool's state files.
    public static func socketPath(runDirectory: String, index: Int = 0) -> String {
        runDirectory + "/audit-writer-\(index).sock"
    }

    /// Serves until SIGTERM/SIGINT (after answering the batch in hand) or until its supervisor is gone.
    public func run() -> Int32 {
        Log.component = "audit"
        signals.block()
        SignalSet.ignoreBrokenPipes()
        Log.info("audit writer started", ["socket": .string(listenerPath)])
        _ = try? control.open()
        while serveOnce(waitingMilliseconds: 1000) {}
        Log.info(
            "audit writer stopping",
            ["rows": .number(committedRows), "transactions": .number(transactions)])
        close()
        return 0
    }

    /// Stops listening and hangs up on every worker, as a writer that died would.
    func close() {
        listener.close()
        for client in clients { Glibc.close(client.descriptor) }
        clients.removeAll()
    }

    private var listenerPath: String {
        if case .unix(let path) = listener.address { return path }
        return ""
    }

    /// Waits for rows, writes those that arrived and answers them. False once it should stop.
    public func serveOnce(waitingMilliseconds: Int32) -> Bool {
        // Signals and the supervisor are checked ten times a second, not on every wake-up (two
        // system calls per group under load), as a worker does.
        if ContinuousClock.now >= nextCheck {
            nextCheck = .now + .milliseconds(100)
            if signals.next(waitingMilliseconds: 0) != nil || getppid() != parent {
                writeGroup()
                return false
            }
        }
        descriptors.removeAll(keepingCapacity: true)
        descriptors.append(pollfd(fd: listener.descriptor, events: Int16(POLLIN), revents: 0))
        for client in clients { descriptors.append(pollfd(fd: client.descriptor, events: Int16(POLLIN), revents: 0)) }
        let ready =
            groupSince.map { ($0 + commitDelay).poll(&descriptors) }
            ?? poll(&descriptors, nfds_t(descriptors.count), waitingMilliseconds)
        if ready > 0 {
            if descriptors[0].revents != 0 { acceptAll() }
            // Only the workers poll found readable (or hung up): reading every one on every wake-up
            // cost a system call per idle worker.
            for (index, client) in clients.enumerated()
            where index + 1 >= descriptors.count || descriptors[index + 1].revents != 0 {
                group += readFrames(client)
            }
        }
        if !group.isEmpty {
            let now = ContinuousClock.now
            let since = groupSince ?? now
            groupSince = since
            if hurried || now >= since + commitDelay || group.count >= min(activeClients(now), Self.maxGroupRows) {
                writeGroup()
            }
        }
        hurried = false
        clients.removeAll { client in
            if client.closed { Glibc.close(client.descriptor) }
            return client.closed
        }
        return true
    }

    /// The workers that sent a row within `activeWindow`: those a group may wait for.
    private func activeClients(_ now: ContinuousClock.Instant) -> Int {
        var count = 0
        for client in clients where client.lastRowAt.map({ $0.duration(to: now) < activeWindow }) ?? false {
            count += 1
        }
        return count
    }

    private func acceptAll() {
        while case let descriptor = accept(listener.descriptor, nil, nil),
            descriptor >= 0
        {
            clients.append(Client(descriptor: descriptor))
        }
    }

    /// The complete frames a client has sent, reading what is there without waiting.
    private func readFrames(_ client: Client) -> [(Client, [String?])] {
        while true {
            let count = chunk.withUnsafeMutableBytes {
                recv(client.descriptor, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT))
            }
            if count > 0 {
                client.buffer += chunk[..<count]
                // A short read took all there was: what comes next makes poll report it again.
                if count < chunk.count { break }
                continue
            }
            if count == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) { client.closed = true }
            if count < 0 && errno == EINTR { continue }
            break
        }
        var frames: [(Client, [String?])] = []
        var start = 0
        while let length = AuditWriterFrame.bodyLength(client.buffer, at: start) {
            guard length <= AuditWriterFrame.maxBytes else {
                client.closed = true
                return frames
            }
            guard client.buffer.count - start - 4 >= length else { break }
            if length == 0 {
                // Its worker waits for an answer (AuditWriterFrame.hurry): no row, no answer.
                hurried = true
                start += 4
                continue
            }
            let range = start + 4..<start + 4 + length
            start = range.upperBound
            guard let values = AuditWriterFrame.decode(client.buffer, range), AuditBatch.accepts(values) else {
                answer(client, .failed)
                continue
            }
            frames.append((client, values))
        }
        if !frames.isEmpty { client.lastRowAt = .now }
        client.buffer.removeFirst(start)
        return frames
    }

    /// Writes the group held, if any.
    private func writeGroup() {
        guard !group.isEmpty else { return }
        write(group)
        group.removeAll(keepingCapacity: true)
        groupSince = nil
    }

    private func write(_ batch: [(Client, [String?])]) {
        var rows = AuditBatch()
        for (_, values) in batch { rows.append(values) }
        let deadline = ContinuousClock.now + control.timeout
        do throws(PGError) {
            try control.withConnection { (connection: PGConnection) throws(PGError) in
                try rows.write(to: connection, deadline: deadline)
            }
            committedRows += batch.count
            transactions += 1
            for (client, _) in batch { answer(client, .committed) }
        } catch  where error.kind == .connection || error.kind == .timeout {
            Log.warning(
                "control database unavailable; workers write their audit rows themselves",
                ["rows": .number(batch.count), "error": .string(error.description)])
            for (client, _) in batch { answer(client, .failed) }
        } catch {
            writeAlone(batch, after: error)
        }
    }

    /// Each row in a transaction of its own, tolerating one already written.
    private func writeAlone(_ batch: [(Client, [String?])], after error: PGError) {
        Log.warning(
            "an audit batch failed; writing its rows one by one",
            ["rows": .number(batch.count), "error": .string(error.description)])
        for (client, values) in batch {
            let written =
                (try? control.withConnection { (connection: PGConnection) throws(PGError) in
                    try AuditLog.run(
                        .execution, Array(values.prefix(AuditBatch.valueCount)) + [nil], on: connection,
                        tolerant: true)
                }) != nil
            if written {
                committedRows += 1
                transactions += 1
            }
            answer(client, written ? .committed : .failed)
        }
    }

    private func answer(_ client: Client, _ answer: AuditWriterFrame.Answer) {
        guard !client.closed else { return }
        var byte = answer.rawValue
        if send(client.descriptor, &byte, 1, Int32(MSG_DONTWAIT | MSG_NOSIGNAL)) != 1 { client.closed = true }
    }
}
