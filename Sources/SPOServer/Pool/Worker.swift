import Foundation
import Glibc
import SPOCore
import SPOFastCGI
import SPOJSON
import SPOPostgres

/// One process of the pool: accepts FastCGI requests one at a time and follows configuration
/// changes.
///
/// It listens on standard input (the FastCGI convention: under `spo serve`, its own socket, for
/// asking this worker directly) and on the pool's queue, which every worker takes from, so no
/// request waits behind a busy worker while another is idle. Between requests it waits in
/// `poll(2)` on those and on the control connection, so a configuration `NOTIFY` is applied
/// within a poll interval even when idle.
public final class Worker {
    private let control: ControlDatabase
    /// The coming days' execution partitions, created between requests.
    private var partitionUpkeep = ExecutionRetention.Upkeep()
    /// Listening sockets, own first: a request sent to this worker directly is served before the queue.
    private let listenSockets: [Int32]
    private let journalPath: String?
    private let spoolPath: String?
    private var handler: RequestHandler?
    private let signals = SignalSet([SIGTERM, SIGINT, SIGQUIT])
    private let parent = getppid()
    private var nextReconnect = ContinuousClock.now
    /// Accepted connections whose request has not arrived yet: they must not hold the worker.
    private var pending = PendingConnections()
    /// What `waitForWork` polls, kept between calls: made anew it cost four arrays per request.
    private var descriptors: [pollfd] = []
    /// This worker's counters: its slot of the pool's metrics file, or memory of its own.
    private let metrics: WorkerMetrics
    /// The bounds on bodies, their JSON and results.
    private let limits: RequestLimits
    /// FastCGI request slots not in use: two, so that one can be held open while its answer waits
    /// for its audit row's commit and the other serves the next request.
    private var freeRequests = [FastCGIRequest(), FastCGIRequest()]
    /// The request whose answer waits for its row's commit (`DeferredAnswer`), at most one.
    private var heldRequest: FastCGIRequest?
    private var heldAnswer: DeferredAnswer?
    /// What the held answer's wait becomes while the next request's statements run: the answer
    /// is written as soon as its row is confirmed, not after those statements.
    private lazy var heldAnswerWork = PGWaitingWork(everyMilliseconds: Worker.heldAnswerCheck) { [unowned self] in
        writeHeldIfConfirmed()
    }
    /// How often a long call of the next request is interrupted to write the held answer once its
    /// row is confirmed: a slow procedure delays another client's answer by no more than this.
    static let heldAnswerCheck: Int32 = 5

    /// `metrics` names the pool's metrics file and this worker's slot in it.
    public init(
        controlConninfo: String, listenSockets: [Int32] = [0], journalPath: String? = nil, spoolPath: String? = nil,
        metrics: (path: String, slot: Int)? = nil, limits: RequestLimits = .defaults
    ) {
        self.control = ControlDatabase(conninfo: controlConninfo)
        self.limits = limits
        do {
            self.metrics = try metrics.map { try WorkerMetrics(path: $0.path, slot: $0.slot) } ?? WorkerMetrics()
        } catch {
            Log.error(
                "cannot open the pool's metrics file: this worker counts on its own",
                ["error": .string("\(error)")])
            self.metrics = WorkerMetrics()
        }
        self.listenSockets = listenSockets
        self.journalPath = journalPath
        self.spoolPath = spoolPath
        // Several workers wait on the same queue and all wake for one connection: the others
        // must find it taken (EAGAIN) rather than block in accept(2).
        for socket in listenSockets { _ = fcntl(socket, F_SETFL, fcntl(socket, F_GETFL) | O_NONBLOCK) }
    }

    /// Serves until SIGTERM/SIGINT (finishing the request in hand) or until the supervisor is gone.
    public func run() -> Int32 {
        Log.component = "worker"
        signals.block()
        SignalSet.ignoreBrokenPipes()
        MetricSources.register(BreakerMetrics.families)
        MetricSources.register(QueueMetrics.families)
        let auditCommit = AuditLog.CommitMode.fromEnvironment()
        if control.isPooled && auditCommit == .async {
            // A session setting cannot travel through a transaction pooler.
            Log.warning(
                "SPO_AUDIT_COMMIT=async has no effect behind a transaction pooler: set synchronous_commit = off on the pooled database (README, Scaling out)"
            )
        }
        control.onReconnect = { [weak self] connection throws(PGError) in
            try connection.execute("LISTEN \(ConfigurationStore.channel)")
            try connection.execute("LISTEN \(BreakerStore.channel)")
            try connection.execute("SET synchronous_commit = \(auditCommit.synchronousCommit)")
            self?.reload(from: connection)
            // Breaker transitions announced while this worker was not listening are in the table.
            self?.handler?.refreshBreakers(from: connection)
        }
        // Whatever ends the loop, the answer held for its commit is written first.
        defer { settleHeld(idle: true) }
        Log.info(
            "worker started",
            [
                "journal": journalPath.map(JSONValue.string) ?? .null,
                "spool": spoolPath.map(JSONValue.string) ?? .null,
                "audit_commit": .string(auditCommit.rawValue),
            ])
        var nextCheck = ContinuousClock.now
        while true {
            // Signals and the supervisor are checked ten times a second, not on every request:
            // two system calls saved per request under load.
            if ContinuousClock.now >= nextCheck {
                nextCheck = .now + .milliseconds(100)
                if let signal = signals.next(waitingMilliseconds: 0) {
                    Log.info("worker stopping", ["signal": .number(Int(signal))])
                    settleHeld(idle: true)
                    // Connections accepted before their request arrived may be nginx's, a moment late.
                    for connection in pending.drain(within: .milliseconds(500)) { answer(connection) }
                    return 0
                }
                if getppid() != parent {
                    Log.warning("supervisor is gone; worker exiting")
                    return 0
                }
                handler?.sweepExpiredKeys()
                if let connection = control.current, connection.isHealthy { partitionUpkeep.runIfDue(on: connection) }
            }
            guard let connection = try? waitForWork() else {
                Log.error("a listening socket is no longer usable; exiting to be replaced")
                return 1
            }
            if connection >= 0 { answer(connection) }
        }
    }

    /// Reads the request arriving on an accepted connection and answers it — or holds it open
    /// while its audit row commits, answering the request held before first.
    private func answer(_ connection: Int32) {
        let request = freeRequests.removeLast()
        guard request.accept(connection: connection) else {
            freeRequests.append(request)
            return
        }
        metrics.begin()
        defer { metrics.end() }
        guard let handler else {
            // No configuration yet (control database down since start): answer instead of
            // leaving nginx waiting.
            let error = APIError(.dbConnectionFailed, "the control database is unreachable; try again later")
            finish(request, HTTPResponse.error(error, reference: nil))
            return
        }
        let response = serve(request, with: handler)
        // A held answer waits through one more request at most.
        settleHeld(idle: false)
        if let deferred = handler.takeDeferredAnswer() {
            heldRequest = request
            heldAnswer = deferred
        } else {
            finish(request, response)
        }
    }

    /// Writes the held answer once its row is confirmed, waiting for that if need be; `idle`
    /// when there is no other request to serve meanwhile.
    private func settleHeld(idle: Bool) {
        guard let request = heldRequest, let answer = heldAnswer, let handler else { return }
        heldRequest = nil
        heldAnswer = nil
        finish(request, handler.settle(answer, idle: idle))
    }

    /// Writes the response and ends the request, making its slot free again.
    private func finish(_ request: FastCGIRequest, _ response: HTTPResponse) {
        let bytes = response.cgiBytes()
        // A response that fits in the socket's buffer cannot block; a larger one can, if the peer
        // stops reading (one system call, for large responses only).
        if bytes.count > 64 * 1024 { request.limitWrites(to: pending.readTimeout) }
        request.write(bytes)
        request.finish()
        freeRequests.append(request)
    }

    /// Writes the held answer if its row is confirmed already; true once nothing is held.
    private func writeHeldIfConfirmed() -> Bool {
        guard let request = heldRequest, let answer = heldAnswer, let handler else { return true }
        guard let response = handler.settledWithoutWaiting(answer) else { return false }
        heldRequest = nil
        heldAnswer = nil
        finish(request, response)
        return true
    }

    private func serve(_ request: FastCGIRequest, with handler: RequestHandler) -> HTTPResponse {
        let values = request.values(of: Worker.requestParameters)
        let headers = HTTPHeaders(names: Worker.headerNames, values: values)
        let first = Worker.forwardedHeaders.count
        let (contentLength, method, uri, scriptName, query) = (
            values[first], values[first + 1], values[first + 2], values[first + 3], values[first + 4]
        )
        let response: HTTPResponse
        let limit = limits.maxBodyBytes
        if let length = contentLength.flatMap(Int.init), length > limit {
            response = .error(APIError(.payloadTooLarge, "the body exceeds \(limit) bytes"), reference: nil)
        } else if let body = request.readBody(limit: limit) {
            let http = HTTPRequest(
                method: method ?? "GET", path: uri ?? scriptName ?? "/", query: query ?? "", headers: headers,
                body: body)
            if heldAnswer != nil {
                heldAnswerWork.rearm()
                response = PGWaitingWork.$current.withValue(heldAnswerWork) { handler.handle(http) }
            } else {
                response = handler.handle(http)
            }
        } else {
            response = .error(APIError(.payloadTooLarge, "the body exceeds \(limit) bytes"), reference: nil)
        }
        return response
    }

    /// Every parameter a request is served from, read in one pass: the forwarded headers, then
    /// five more in the order `serve` takes them.
    private static let requestParameters = ParameterNames(
        forwardedHeaders.map(\.0) + ["CONTENT_LENGTH", "REQUEST_METHOD", "DOCUMENT_URI", "SCRIPT_NAME", "QUERY_STRING"])

    /// The names of `forwardedHeaders`, the first values of `requestParameters`.
    private static let headerNames = forwardedHeaders.map(\.1)

    /// FastCGI parameters carrying the request headers the API reads.
    private static let forwardedHeaders: [(String, String)] = [
        ("CONTENT_TYPE", "content-type"), ("HTTP_X_CORRELATION_ID", "x-correlation-id"),
        ("HTTP_IDEMPOTENCY_KEY", "idempotency-key"), ("HTTP_AUTHORIZATION", "authorization"),
        ("HTTP_PREFER", "prefer"), ("HTTP_ORIGIN", "origin"), ("HTTP_IF_NONE_MATCH", "if-none-match"),
        ("HTTP_ACCEPT_ENCODING", "accept-encoding"),
        ("HTTP_ACCESS_CONTROL_REQUEST_METHOD", "access-control-request-method"),
        ("SPO_REQUEST_ID", HTTPHeaders.nginxRequestID),
    ]

    /// Waits up to a second for a connection or a configuration change; the accepted connection
    /// with a request to read, or -1 when there is none (a timeout, a change applied, another
    /// worker was faster, a connection that has sent nothing yet). Throws when a listening socket
    /// is closed or broken: polling it would return at once, forever.
    private func waitForWork() throws(SystemFailure) -> Int32 {
        // Notifications that arrived while a request used the control connection are already
        // buffered by libpq and will not make the socket readable again: look at them first.
        followConfiguration(readingSocket: false)
        descriptors.removeAll(keepingCapacity: true)
        for socket in listenSockets { descriptors.append(pollfd(fd: socket, events: Int16(POLLIN), revents: 0)) }
        let controlIndex = descriptors.count
        if let connection = control.listener, connection.isHealthy, connection.socket >= 0 {
            descriptors.append(pollfd(fd: connection.socket, events: Int16(POLLIN), revents: 0))
        }
        let pendingIndex = descriptors.count
        pending.appendDescriptors(to: &descriptors)
        // The target connections too: one that the database closed while idle is noticed now
        // rather than by the next request (which would send on it and fail).
        let targetsIndex = descriptors.count
        handler?.forEachIdleConnectionSocket { socket in
            descriptors.append(pollfd(fd: socket, events: Int16(POLLIN), revents: 0))
        }
        // With an answer held, only work already waiting is taken before it is written.
        var ready = poll(
            &descriptors, nfds_t(descriptors.count), heldAnswer == nil ? pending.pollTimeout(atMost: 1000) : 0)
        if ready == 0 && heldAnswer != nil {
            settleHeld(idle: true)
            ready = poll(&descriptors, nfds_t(descriptors.count), pending.pollTimeout(atMost: 1000))
        }
        if ready < 0 { return -1 }
        if pendingIndex > controlIndex && descriptors[controlIndex].revents != 0 {
            followConfiguration(readingSocket: true)
        }
        if descriptors[targetsIndex...].contains(where: { $0.revents != 0 }) { handler?.checkIdleConnections() }
        let broken = Int16(POLLNVAL) | Int16(POLLERR)
        if listenSockets.indices.contains(where: { descriptors[$0].revents & broken != 0 }) {
            throw SystemFailure(description: "listening socket failed")
        }
        // Connections that were waiting go first, and expired ones are closed.
        if let ready = pending.take(descriptors[pendingIndex..<targetsIndex]) { return ready }
        for index in listenSockets.indices where descriptors[index].revents & Int16(POLLIN) != 0 {
            // The connection is blocking whatever the listening socket is (Linux does not pass
            // O_NONBLOCK on); workers start no processes, so close-on-exec does not matter.
            let connection = accept(listenSockets[index], nil, nil)
            if connection >= 0, let ready = pending.admit(connection) { return ready }
        }
        return -1
    }

    /// Applies pending configuration notifications; reconnects (and reloads) when the control
    /// connection was lost, at most twice a second.
    private func followConfiguration(readingSocket: Bool) {
        if control.current?.isHealthy != true || control.listener?.isHealthy != true {
            guard ContinuousClock.now >= nextReconnect else { return }
            nextReconnect = .now + .milliseconds(500)
        }
        do {
            let connection = try control.open()
            let listener = control.listener ?? connection
            let channels = Set(listener.notifications(readingSocket: readingSocket).map(\.channel))
            if channels.contains(ConfigurationStore.channel) {
                reload(from: connection)
            } else if channels.contains(BreakerStore.channel) {
                handler?.refreshBreakers(from: connection)
            }
            replaySpool(on: connection)
        } catch {
            Log.warning("control database unreachable; retrying", ["error": .string(error.description)])
        }
    }

    /// Writes audit records spooled during an outage back to the control database, one batch
    /// between requests, so a long outage's backlog never holds a request up for long.
    private func replaySpool(on connection: PGConnection) {
        guard let spool = handler?.spool, spool.hasPending else { return }
        do throws(PGError) {
            let count = try spool.replay(on: connection)
            Log.info("replayed spooled audit records", ["records": .number(count), "spool": .string(spool.path)])
        } catch {
            Log.warning("could not replay the audit spool yet", ["error": .string(error.description)])
        }
    }

    private func reload(from connection: PGConnection) {
        let start = ContinuousClock.now
        do {
            // A change this worker installed while answering it (or an echo of one) needs no reload.
            if let handler, try ConfigurationStore.generation(on: connection) == handler.configuration.generation {
                return
            }
            let configuration = try ConfigurationStore.load(from: connection, reusing: handler?.configuration) {
                problem in Log.warning("configuration problem", ["problem": .string(problem)])
            }
            if let handler {
                handler.reload(configuration)
            } else {
                let handler = RequestHandler(configuration: configuration, control: control)
                handler.metrics = metrics
                handler.limits = limits
                let journals = journalPath.map { InFlightJournal.slotPaths($0).compactMap(InFlightJournal.init(path:)) }
                handler.journal = journals?.first
                handler.spareJournals = Array(journals?.dropFirst() ?? [])
                // Answers wait for their rows' commits only while a slot can note each execution.
                handler.defersAnswers = journalPath == nil || journals?.count == InFlightJournal.slotCount
                handler.spool = spoolPath.flatMap(AuditSpool.init(path:))
                if let spoolPath, handler.spool == nil {
                    Log.error(
                        "cannot open the audit spool: executions are refused while the control database is away",
                        ["spool": .string(spoolPath)])
                }
                self.handler = handler
            }
            Log.info(
                "configuration loaded",
                [
                    "services": .number(configuration.services.count),
                    "duration_ms": .number(milliseconds(start.duration(to: .now))),
                ])
        } catch {
            Log.error("could not load configuration", ["error": .string(error.description)])
        }
    }
}
