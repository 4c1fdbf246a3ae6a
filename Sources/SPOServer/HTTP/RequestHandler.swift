import Foundation
import SPOCore
import SPOJSON
import SPOPostgres

/// Turns one HTTP request into a response: routing, validation, execution and audit.
///
/// Owned by one worker process and used by one request at a time.
public final class RequestHandler {
    /// The live configuration; replaced when the control tables change.
    public private(set) var configuration: Configuration
    let control: ControlDatabase
    let executor: Executor
    private let audit = AuditLog()
    private var validators: [String: (version: Int, validator: ParameterValidator)] = [:]
    /// Authorization headers already checked against this snapshot's keys: a client sends the same
    /// key on every call, and hashing it each time showed on the request path. Emptied on reload,
    /// so a revoked key stops working with the snapshot that no longer has it.
    private var verifiedKeys: [String: Principal] = [:]
    /// Connections for `GET /api/health/services` and the catalog checks of administration, apart
    /// from the executor's; bounded by the control timeout, checked before use.
    private let adminTargets: TargetConnections
    /// Where this worker notes the execution in flight, for the supervisor to recover if it dies.
    public var journal: InFlightJournal?
    /// Journal slots not in use: the execution of an answer held for its commit keeps its slot
    /// (`DeferredAnswer`), and the next execution is noted in one of these.
    public var spareJournals: [InFlightJournal] = []
    /// Whether a plain execution's answer may wait for its row's commit while the worker serves
    /// its next request (`takeDeferredAnswer`, `settle`); the worker's choice.
    public var defersAnswers = false
    /// The answer the request just handled left waiting for its row's commit.
    private var deferredAnswer: DeferredAnswer?
    /// Where audit records go when the control database cannot take them, to be replayed later.
    public var spool: AuditSpool?
    /// The pool's group-commit audit writer (`AuditWriter`), when `spo serve` runs one.
    public var auditWriter = AuditWriterClient.fromEnvironment()
    /// This worker's counters (its region of the pool's), and through them the whole pool's.
    public var metrics = WorkerMetrics() {
        didSet { metrics.serve(generation: configuration.generation) }
    }
    /// The execution the request in hand turned into, for its counters; set by `finish`.
    var observed: (service: String, attempts: Int)?
    /// When this worker next deletes expired idempotency keys.
    var keySweep = IdempotencyKeySweep()
    /// How many error rows this worker writes for requests without a valid key
    /// (`SPO_UNAUTHENTICATED_ERROR_ROWS` per second, default 10): junk cannot grow the table
    /// without bound. Rows it does not write are counted in `/metrics`.
    public var unauthenticatedErrorRows =
        ErrorRowBudget.parse(ProcessInfo.processInfo.environment["SPO_UNAUTHENTICATED_ERROR_ROWS"])
        ?? ErrorRowBudget(perSecond: ErrorRowBudget.defaultPerSecond)
    /// Cross-origin calls from browsers (`SPO_CORS_ORIGINS`); nil when none is allowed.
    public var cors = CORSPolicy.fromEnvironment()
    /// Where `Idempotency-Key`s are claimed: a control connection of its own whose commits do not
    /// wait for the disk (see `IdempotencyClaim`), opened with the first keyed call.
    lazy var claims: ControlDatabase = {
        let database = ControlDatabase(
            conninfo: control.conninfo, pooler: control.poolerConninfo, timeout: control.timeout)
        // Behind a transaction pooler a session setting would reach other clients' transactions:
        // the claims then commit as the pooled database says.
        if !control.isPooled {
            database.onReconnect = { connection throws(PGError) in
                try connection.execute("SET synchronous_commit = off")
            }
        }
        return database
    }()

    /// The OpenAPI documents rendered for the current configuration (`RequestHandler+OpenAPI`).
    var openAPIDocuments = OpenAPICache()
    /// Each plain service's rendered operation, reused by the next rendering while unchanged.
    var openAPIOperations = OpenAPIOperationCache()

    /// Runs this worker's sagas (`RequestHandler+Saga`).
    lazy var sagaRunner = SagaRunner(
        control: control, executor: executor, configuration: configuration, holder: Consumer.holderName(pid: getpid()))

    /// Largest body accepted by default (see `HTTPRequest.maxBodyBytes`); the worker's is `limits.maxBodyBytes`.
    public static let maxBodyBytes = HTTPRequest.maxBodyBytes
    /// The bounds on bodies, their JSON and results (`RequestLimits`), set by the worker.
    public var limits = RequestLimits.defaults {
        didSet { executor.maxResultBytes = limits.maxResultBytes }
    }

    public init(configuration: Configuration, control: ControlDatabase, executor: Executor = Executor()) {
        self.configuration = configuration
        self.control = control
        self.executor = executor
        adminTargets = TargetConnections(timeout: control.timeout, checksBeforeUse: true)
        executor.breakers.control = control
        executor.breakers.configure(configuration)
    }

    /// The connections' circuit breakers as this worker sees them (for metrics and statistics).
    public var breakers: BreakerBoard { executor.breakers }

    /// Adopts the shared breaker states, after a transition was announced or the control
    /// connection was reopened.
    public func refreshBreakers(from control: PGConnection) { executor.breakers.refresh(from: control) }

    /// The sockets of the target connections kept between requests, for the worker to watch
    /// while idle: a database that restarts closes them, and noticing it then means the next
    /// request reconnects instead of sending on a dead connection.
    public var idleConnectionSockets: [Int32] {
        var sockets: [Int32] = []
        forEachIdleConnectionSocket { sockets.append($0) }
        return sockets
    }

    /// Calls `body` with each of `idleConnectionSockets`, making no array (the worker polls them
    /// between every two requests).
    public func forEachIdleConnectionSocket(_ body: (Int32) -> Void) {
        executor.connections.forEachSocket(body)
        executor.memberConnections.forEachSocket(body)
        adminTargets.forEachSocket(body)
    }

    /// Deletes a batch of expired `Idempotency-Key`s when one is due (see `IdempotencyKeySweep`);
    /// the worker calls it between requests.
    public func sweepExpiredKeys() {
        guard let connection = control.current, connection.isHealthy else { return }
        keySweep.runIfDue(on: connection)
    }

    /// Reads what arrived on the kept target connections and forgets those that were closed.
    public func checkIdleConnections() {
        executor.connections.dropClosed()
        executor.memberConnections.dropClosed()
        adminTargets.dropClosed()
    }

    /// Installs a new configuration snapshot.
    public func reload(_ configuration: Configuration) {
        self.configuration = configuration
        metrics.serve(generation: configuration.generation)
        validators.removeAll()
        verifiedKeys.removeAll()
        executor.configurationChanged(to: configuration)
        executor.breakers.configure(configuration)
    }

    public func handle(_ request: HTTPRequest) -> HTTPResponse {
        let context = RequestContext(request)
        // Every log line written while the request is handled carries its ids (RequestScope).
        return RequestScope.$current.withValue(RequestScope(correlationID: context.correlationID)) {
            let response = route(request, context)
            Log.debug(
                "request handled",
                [
                    "method": .string(request.method), "path": .string(request.path),
                    "status": .number(response.status),
                ])
            return response
        }
    }

    private func route(_ request: HTTPRequest, _ context: RequestContext) -> HTTPResponse {
        var context = context
        let endpoint: Endpoint
        let arguments: [String]
        switch EndpointTable.match(method: request.method, path: request.path) {
        case .found(let found, let values):
            (endpoint, arguments) = (found, values)
        case .methodNotAllowed(let allowed):
            identifyIfKeyed(request, &context)
            return fail(
                APIError(.methodNotAllowed, "use \(allowed) for \(request.path)"), context,
                extraHeaders: [("Allow", allowed)])
        case .preflight(let endpoint, let allowed):
            return preflight(request, endpoint, allowed: allowed, context)
        case .notFound:
            identifyIfKeyed(request, &context)
            return fail(APIError(.notFound, "no such endpoint: \(request.method) \(request.path)"), context)
        }
        // The document is per caller: a key sent with it counts (and must be valid).
        if endpoint.access != .anyone || endpoint.id == .openAPIDocument && request.header("authorization") != nil {
            switch authenticate(request.header("authorization")) {
            case .success(let principal):
                context.principal = principal
            case .failure(let error):
                return fail(error, context, extraHeaders: [("WWW-Authenticate", "Bearer")])
            }
        }
        if endpoint.access == .admin, let refusal = refuseUnlessAdmin(context) { return refusal }
        if endpoint.access == .caller && context.principal.isAnonymous {
            return fail(Principal.keyRequired, context, extraHeaders: [("WWW-Authenticate", "Bearer")])
        }
        let response = respond(to: endpoint.id, arguments, request, context)
        guard let cors, endpoint.isCrossOrigin else { return response }
        // A held answer is decorated when it is given (`DeferredAnswer.given`).
        deferredAnswer?.crossOrigin = (cors, request.header("origin"))
        return cors.decorate(response, origin: request.header("origin"))
    }

    /// A request that matched no endpoint still counts as its key's when it carries a valid one,
    /// so a keyed client's mistakes are always recorded (only keyless junk is budgeted).
    private func identifyIfKeyed(_ request: HTTPRequest, _ context: inout RequestContext) {
        guard request.header("authorization") != nil,
            case .success(let principal) = authenticate(request.header("authorization"))
        else { return }
        context.principal = principal
    }

    /// `OPTIONS` on an endpoint browsers may call across origins: a CORS preflight answered by
    /// the policy, or, without one or without `Origin`, the methods the path allows (RFC 9110).
    private func preflight(_ request: HTTPRequest, _ endpoint: Endpoint, allowed: String, _ context: RequestContext)
        -> HTTPResponse
    {
        let plain = HTTPResponse(status: 204, headers: context.headers + [("Allow", allowed)])
        guard let cors else { return plain }
        return cors.preflight(
            plain, origin: request.header("origin"),
            method: request.header("access-control-request-method"), allowed: allowed)
    }

    /// Every endpoint's handler: the one switch over the table's ids.
    private func respond(to id: Endpoint.ID, _ arguments: [String], _ request: HTTPRequest, _ context: RequestContext)
        -> HTTPResponse
    {
        switch id {
        case .executeService:
            return counted { execute(serviceName: arguments[0], body: request.body, envelope: false, context) }
        case .executeEnvelope:
            return counted { execute(serviceName: nil, body: request.body, envelope: true, context) }
        case .metrics:
            return metricsText()
        case .stats:
            return stats(context)
        case .health:
            return .json(200, .object(["status": .string("ok"), "services": .number(configuration.services.count)]))
        case .openAPIDocument:
            return openAPIDocument(request, context)
        case .reprocessExecution:
            return reprocess(arguments[0], body: request.body, context)
        case .resetBreaker:
            return resetBreaker(arguments[0], context)
        case .getExecution:
            return readExecution(arguments[0], query: request.query, context)
        case .executionStatuses:
            return executionStatuses(request.body, context)
        case .listSagas:
            return answer(context) { () throws(APIError) in
                try SagaQueries(control: control).list(SagaQueries.Filter(QueryString.parse(request.query)))
            }
        case .getSaga:
            return answer(context) { () throws(APIError) in
                try SagaQueries(control: control).saga(arguments[0], for: context.principal)
            }
        case .compensateSaga:
            return compensateSaga(arguments[0], context)
        case .servicesHealth, .listServices, .getService, .listConnections, .getConnection, .listRetryPolicies,
            .getRetryPolicy, .listExecutions, .getError:
            return administer(AdminRoute(id, arguments), query: request.query, context)
        case .createService, .replaceService, .deleteService, .createConnection, .replaceConnection,
            .deleteConnection, .createRetryPolicy, .replaceRetryPolicy, .deleteRetryPolicy:
            return change(AdminRoute(id, arguments), method: request.method, body: request.body, context)
        }
    }

    // MARK: - Asynchronous executions

    /// Admin keys read any execution as administration does; other callers only the asynchronous
    /// executions they queued (`AsyncExecutions`).
    private func readExecution(_ id: String, query: String, _ context: RequestContext) -> HTTPResponse {
        if context.principal.key?.role == .admin {
            return administer(AdminRoute(.getExecution, [id]), query: query, context)
        }
        do throws(APIError) {
            let found = try AsyncExecutions(control: control).ownExecution(id, context.principal)
            return .json(200, found, headers: context.headers)
        } catch {
            return fail(error, context)
        }
    }

    private func executionStatuses(_ body: [UInt8], _ context: RequestContext) -> HTTPResponse {
        guard context.isJSON else {
            return fail(APIError(.unsupportedMediaType, "send {\"ids\": [...]} as application/json"), context)
        }
        do throws(APIError) {
            let found = try AsyncExecutions(control: control).statuses(body, context.principal)
            return .json(200, found, headers: context.headers)
        } catch {
            return fail(error, context)
        }
    }

    /// Queues a validated call (`Prefer: respond-async`) and answers 202 at once.
    private func enqueue(
        _ service: ServiceDefinition, _ bound: [BoundParameter], _ context: RequestContext, executionID: String
    ) -> HTTPResponse {
        let effective = JSONValue.object(bound.map { JSONValue.Member($0.spec.name, $0.value) })
        // A queued job's parameters wait in the control database, where a secret must never be.
        let sensitive = service.sensitiveParameters
        if !sensitive.isEmpty {
            return finish(
                service, parameters: effective, outcome: nil, error: AsyncExecutions.refusesSensitive(sensitive),
                context, executionID: executionID)
        }
        do throws(APIError) {
            try AsyncExecutions(control: control).enqueue(
                service, parameters: effective, executionID: executionID, context)
        } catch {
            return .error(error, reference: nil, headers: context.headers)
        }
        let accepted = AsyncExecutions.accepted(executionID, service: service.name, headers: context.headers)
        // A replay with the key answers this 202 again (the same execution), not a second job.
        if let claim = context.heldKey { keep(accepted, for: claim, executionID: executionID) }
        return accepted
    }

    // MARK: - Administration

    private func administer(_ route: AdminRoute, query: String, _ context: RequestContext) -> HTTPResponse {
        do throws(APIError) {
            // Administration reads the committed configuration, not a snapshot that may be a few
            // milliseconds behind: a write handled by another worker must show on the very next read.
            let current = route.readsConfiguration ? try currentConfiguration() : configuration
            let admin = AdminAPI(configuration: current, control: control, targets: adminTargets)
            return .json(200, try admin.respond(to: route, query: QueryString.parse(query)), headers: context.headers)
        } catch {
            return fail(error, context)
        }
    }

    private func change(_ route: AdminRoute, method: String, body: [UInt8], _ context: RequestContext)
        -> HTTPResponse
    {
        do throws(APIError) {
            let document: JSONValue
            if method == HTTPMethod.delete.rawValue {
                document = .null
            } else {
                guard context.isJSON else {
                    throw APIError(
                        .unsupportedMediaType, "send the document as JSON with Content-Type: application/json")
                }
                switch limits.decode(body) {
                case .success(let decoded): document = decoded
                case .failure(let failure): throw .invalidParameters(failure.problems)
                }
            }
            let writes = AdminWrites(control: control, targets: adminTargets)
            let (status, answer) = try writes.respond(to: route, method: method, body: document)
            awaitPoolServingCommittedConfiguration()
            guard let answer else { return HTTPResponse(status: status, headers: context.headers) }
            return .json(status, answer, headers: context.headers)
        } catch {
            return fail(error, context)
        }
    }

    // MARK: - Execution

    private func execute(serviceName: String?, body: [UInt8], envelope: Bool, _ context: RequestContext) -> HTTPResponse
    {
        if let serviceName, let refusal = refuseAnonymous(serviceName, context) { return refusal }
        if context.idempotencyKeyIsMalformed {
            return reject(IdempotencyAnswers.malformed, serviceName, context)
        }
        let document: JSONValue
        if body.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) {
            document = .object([])
        } else {
            guard context.isJSON else {
                return reject(
                    APIError(.unsupportedMediaType, "send the parameters as JSON with Content-Type: application/json"),
                    serviceName, context)
            }
            switch limits.decode(body) {
            case .success(let decoded): document = decoded
            case .failure(let failure): return reject(.invalidParameters(failure.problems), serviceName, context)
            }
        }
        var name = serviceName
        var parameters = document
        if envelope {
            guard case .string(let named)? = document["service"] else {
                let problem = ParameterProblem(parameter: "service", problem: "is required: the name of the service")
                return fail(.invalidParameters([problem]), context)
            }
            name = named
            if let refusal = refuseAnonymous(named, context) { return refusal }
            parameters = document["parameters"] ?? .object([])
            let extra = (document.members ?? []).map(\.key).filter { $0 != "service" && $0 != "parameters" }
            if !extra.isEmpty {
                let problems = extra.map {
                    ParameterProblem(parameter: $0, problem: "unknown field; use service and parameters")
                }
                return reject(.invalidParameters(problems), name, context)
            }
        }
        let tooMany = limits.parameterCountProblems(parameters)
        if !tooMany.isEmpty { return reject(.invalidParameters(tooMany), name, context) }
        guard let name else { return fail(APIError(.serviceNotFound, "no service named"), context) }
        // Checked before looking the service up, so a key learns nothing about services it may not call.
        guard context.principal.isAnonymous || context.principal.mayExecute(name) else {
            return fail(APIError(.forbidden, "the key \(context.user) may not execute service \(name)"), context)
        }
        guard let service = configuration.enabledService(name) else {
            return fail(APIError(.serviceNotFound, "no enabled service named \(name)"), context)
        }
        if service.idempotency == .required && context.idempotencyKey == nil {
            return finish(
                service, parameters: parameters, outcome: nil, error: IdempotencyAnswers.missing(service.name), context)
        }
        switch validator(for: service).validate(parameters) {
        case .failure(let failure):
            return finish(
                service, parameters: parameters, outcome: nil, error: .invalidParameters(failure.problems), context)
        case .success(let bound):
            guard let key = context.idempotencyKey else { return run(service, bound, context) }
            return runOnce(service, bound, key: key, context)
        }
    }

    /// Runs a validated call that carries an `Idempotency-Key`: only when this request claims the
    /// key; otherwise answers what the key's row says (the stored answer, 422, 409, or that a
    /// dead worker's run may have happened). Validation comes first, so a rejected call never
    /// touches the key.
    private func runOnce(
        _ service: ServiceDefinition, _ bound: [BoundParameter], key: String, _ context: RequestContext
    )
        -> HTTPResponse
    {
        let claim = IdempotencyClaim(
            scope: context.idempotencyScope, key: key,
            fingerprint: IdempotencyFingerprint.of(service: service.name, bound), service: service.name,
            executionID: RandomID.uuid(),
            lockMilliseconds: service.timeoutMilliseconds + IdempotencyClaim.margin(controlTimeout: control.timeout),
            ttlSeconds: service.idempotencyTTLSeconds)
        let decision: IdempotencyClaim.Decision
        do throws(PGError) {
            decision = try claims.withConnection { (connection: PGConnection) throws(PGError) in
                try claim.take(safeToRepeat: service.isSafeToRepeat, on: connection)
            }
        } catch {
            return fail(IdempotencyAnswers.unavailable(error), context, service: service.name)
        }
        switch decision {
        case .claimed:
            var holder = context
            holder.heldKey = claim
            return run(service, bound, holder, executionID: claim.executionID)
        case .replay(let answer):
            observed = (service.name, 0)
            return HTTPResponse(
                status: answer.status, headers: answer.headers + context.headers + [("Idempotent-Replayed", "true")],
                body: answer.body)
        case .mismatch(let original):
            return fail(
                IdempotencyAnswers.mismatch(key, original: original, service.name), context, service: service.name)
        case .inUse(let executionID):
            return fail(
                IdempotencyAnswers.inUse(key, executionID), context, service: service.name,
                extraHeaders: [("Retry-After", String(IdempotencyAnswers.retryAfterSeconds))])
        case .abandoned(let executionID):
            return fail(IdempotencyAnswers.abandoned(key, executionID, service.name), context, service: service.name)
        }
    }

    /// Runs a validated call: journal, execution with retries, audit, response.
    private func run(
        _ service: ServiceDefinition, _ bound: [BoundParameter], _ context: RequestContext,
        executionID: String = RandomID.uuid(), reprocessOf: String? = nil
    ) -> HTTPResponse {
        if context.prefersAsync && reprocessOf == nil {
            return enqueue(service, bound, context, executionID: executionID)
        }
        // A procedure never runs unaudited: without a control connection and without room in the
        // spool, the call is refused before it starts.
        guard auditIsPossible() else {
            releaseHeldKey(context, executionID)
            return .error(
                APIError(.auditUnavailable, "the audit is unavailable (control database and local spool); not run"),
                reference: nil, headers: context.headers)
        }
        if service.kind == .saga { return runSaga(service, bound, context, executionID: executionID) }
        let effective = JSONValue.object(bound.map { JSONValue.Member($0.spec.name, $0.value) })
        RequestScope.current?.identify(executionID: executionID, service: service.name)
        if service.kind == .parallel {
            return runParallel(service, bound, effective, context, executionID: executionID, reprocessOf: reprocessOf)
        }
        // An open breaker refuses before anything is noted or sent (one look-up while closed).
        let ticket: BreakerTicket?
        do throws(CircuitOpen) {
            ticket = try executor.breakers.admit(service)
        } catch {
            return finish(
                service, parameters: effective, outcome: nil, error: error.error(service: service.name), context,
                executionID: executionID, reprocessOf: reprocessOf,
                extraHeaders: [("Retry-After", String(error.retryAfterSeconds))])
        }
        let noted = journal
        noted?.begin(
            InFlightEntry(
                executionID: executionID, service: service, parameters: effective, user: context.user,
                correlationID: context.correlationID))
        let outcome = executor.execute(service, parameters: bound, configuration: configuration, ticket: ticket)
        if let ticket { executor.breakers.settle(ticket) }
        let error = outcome.result.failure.map {
            APIError.executionFailed(
                $0, service: service.name, timeoutMilliseconds: service.timeoutMilliseconds,
                statuses: service.errorStatuses)
        }
        let response = finish(
            service, parameters: effective, outcome: outcome, error: error, context, executionID: executionID,
            reprocessOf: reprocessOf, deferrable: true)
        if let deferredAnswer {
            // Noted until its row is confirmed; the next execution takes a spare slot.
            deferredAnswer.journal = noted
            journal = spareJournals.popLast()
        } else {
            noted?.end()
        }
        return response
    }

    /// Runs a recorded execution again, with its parameters or an override validated like any call,
    /// and records who asked and why. Nothing is written when the request is refused.
    private func reprocess(_ id: String, body: [UInt8], _ context: RequestContext) -> HTTPResponse {
        let queries = ExecutionQueries(control: control)
        var request = JSONValue.object([])
        if !body.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D }) {
            switch limits.decode(body) {
            case .success(let decoded): request = decoded
            case .failure(let failure): return fail(.invalidParameters(failure.problems), context)
            }
        }
        var problems: [ParameterProblem] = []
        for member in request.members ?? [] where !["reason", "parameters", "force"].contains(member.key) {
            problems.append(.init(parameter: member.key, problem: "unknown field; use reason, parameters and force"))
        }
        if request.members == nil { problems.append(.init(parameter: nil, problem: "the body must be a JSON object")) }
        problems += limits.parameterCountProblems(request["parameters"] ?? .object([]))
        let reason = request["reason"]?.stringValue ?? ""
        if let given = request["reason"], given.stringValue == nil || reason.count > 1000 {
            problems.append(.init(parameter: "reason", problem: "must be a string of at most 1000 characters"))
        }
        let force = request["force"]?.boolValue ?? false
        if let given = request["force"], given.boolValue == nil {
            problems.append(.init(parameter: "force", problem: "must be true or false"))
        }
        if !problems.isEmpty { return fail(.invalidParameters(problems), context) }
        let original: (service: String, parameters: JSONValue?, status: String)
        do throws(APIError) {
            original = try queries.original(id)
        } catch {
            return fail(error, context)
        }
        // Said before the parameters are checked: without force, they would not matter. The claim
        // checks again, atomically.
        if !force, ExecutionStatus(rawValue: original.status)?.isReprocessable != true {
            return fail(ReprocessingClaim.Refusal.status(original.status).error(for: id), context)
        }
        guard let service = configuration.enabledService(original.service) else {
            return fail(APIError(.serviceNotFound, "service \(original.service) is gone or disabled"), context)
        }
        guard let parameters = request["parameters"] ?? original.parameters, parameters != .null else {
            let problem = ParameterProblem(
                parameter: "parameters", problem: "the original had none that were valid; send them")
            return fail(.invalidParameters([problem]), context)
        }
        // Sensitive values were never recorded: the re-run needs them in the request (an override
        // copied from the recorded parameters still holds the marker).
        let missing = service.sensitiveParameters.redacted(in: parameters)
        if !missing.isEmpty { return fail(ReprocessingClaim.sensitiveMissing(missing), context) }
        switch validator(for: service).validate(parameters) {
        case .failure(let failure):
            return fail(.invalidParameters(failure.problems), context)
        case .success(let bound):
            let newID = RandomID.uuid()
            do throws(APIError) {
                try ReprocessingClaim.take(
                    original: id, new: newID, by: context.user, reason: reason, force: force,
                    timeoutMilliseconds: service.timeoutMilliseconds, on: control)
            } catch {
                return fail(error, context)
            }
            return run(service, bound, context, executionID: newID, reprocessOf: id)
        }
    }

    /// `POST /api/connections/{name}/breaker/reset`: closes the breaker in the shared table (every
    /// worker follows its notification) and on this worker at once.
    private func resetBreaker(_ name: String, _ context: RequestContext) -> HTTPResponse {
        let reset: BreakerSnapshot?
        do throws(PGError) {
            reset = try control.withConnection { (connection: PGConnection) throws(PGError) in
                try BreakerStore.reset(name, by: context.user, on: connection)
            }
        } catch {
            return fail(AdminWrites.unavailable(error), context)
        }
        guard let reset else { return fail(APIError(.notFound, "no connection named \(name)"), context) }
        executor.breakers.adopt([reset])
        Log.info(
            "circuit breaker reset",
            [
                "connection": .string(name), "user": .string(context.user),
                "correlation_id": .string(context.correlationID),
            ])
        return .json(200, reset.document, headers: context.headers)
    }

    /// Audits an execution of an existing service and builds its response.
    private func finish(
        _ service: ServiceDefinition, parameters: JSONValue, outcome: ExecutionOutcome?, error: APIError?,
        _ context: RequestContext, executionID: String = RandomID.uuid(), reprocessOf: String? = nil,
        extraHeaders: [(String, String)] = [], deferrable: Bool = false
    ) -> HTTPResponse {
        observed = (service.name, outcome?.attempts.count ?? 0)
        let reference = error.map { _ in RandomID.uuid() }
        let status = ExecutionStatus(answering: error)
        RequestScope.current?.identify(executionID: executionID, service: service.name)
        var record = AuditRecord(
            execution: .init(
                id: executionID, serviceID: service.id, serviceName: service.name,
                parameters: service.recordable(parameters),
                status: status, httpStatus: error?.status ?? 200, errorCode: error?.code.rawValue,
                durationMilliseconds: outcome?.durationMilliseconds ?? 0, user: context.user,
                correlationID: context.correlationID, idempotencyKey: context.idempotencyKey, reprocessOf: reprocessOf,
                attempts: outcome?.attempts ?? []),
            failure: reference.map { .init(reference: $0, serviceName: service.name, error: error!) })
        let response = answer(
            service, outcome, error, reference, context, executionID, reprocessOf, extraHeaders: extraHeaders)
        if let claim = context.heldKey {
            record.idempotency = IdempotencyCompletion(
                claim, answer: IdempotencyAnswers.keeps(outcome) ? response : nil)
        }
        if deferrable && defersAnswers, let writer = auditWriter, let ticket = audit.offer(record, to: writer) {
            deferredAnswer = DeferredAnswer(
                response: response, record: record, ticket: ticket, context: context,
                deadline: .now + control.timeout)
        } else if !write(record, context) {
            return unaudited(error, ran: outcome != nil, context)
        }
        Log.debug(
            "execution finished",
            [
                "status": .string(status.rawValue), "http_status": .number(error?.status ?? 200),
                "attempts": .number(outcome?.attempts.count ?? 0),
                "duration_ms": .number(outcome?.durationMilliseconds ?? 0),
            ], component: .executor)
        if let error, error.code != .invalidParameters {
            Log.warning(
                "execution failed",
                [
                    "service": .string(service.name), "code": .string(error.code.rawValue),
                    "sqlstate": error.sqlstate.map(JSONValue.string) ?? .null, "reference": .string(reference!),
                    "correlation_id": .string(context.correlationID),
                    // What the client was not told (DatabaseFailureText): libpq's own text.
                    "database_error": outcome?.result.failure.flatMap {
                        $0.kind == .connection ? .string($0.description) : nil
                    } ?? .null,
                ])
        }
        return response
    }

    /// The response of an execution: its error, or the success envelope.
    private func answer(
        _ service: ServiceDefinition, _ outcome: ExecutionOutcome?, _ error: APIError?, _ reference: String?,
        _ context: RequestContext, _ executionID: String, _ reprocessOf: String?, extraHeaders: [(String, String)]
    ) -> HTTPResponse {
        let headers = context.headers(executionID: executionID, extraHeaders)
        if let error {
            return .error(error, reference: reference, headers: headers, audience: context.audience)
        }
        let outcome = outcome!
        var body: JSONValue = .object([
            "execution_id": .string(executionID), "service": .string(service.name),
            "status": .string(ExecutionStatus.succeeded.rawValue),
            "attempts": .number(outcome.attempts.count),
            "duration_ms": .milliseconds(outcome.durationMilliseconds),
            "data": .raw((try? outcome.result.get()) ?? "null"),
        ])
        if let reprocessOf, case .object(var members) = body {
            members.insert(.init("reprocess_of", .string(reprocessOf)), at: 1)
            body = .object(members)
        }
        return .json(200, body, headers: headers)
    }

    /// Gives back a key this request claimed but did not run under (nothing to keep), so the client
    /// may use it again. Best effort: a claim left behind stops counting once its lock passes.
    private func releaseHeldKey(_ context: RequestContext, _ executionID: String) {
        guard let claim = context.heldKey else { return }
        _ = try? control.withConnection { (connection: PGConnection) throws(PGError) in
            try connection.execute(
                "DELETE FROM spo.idempotency_key WHERE scope = $1 AND key = $2 AND execution_id = $3::uuid",
                [claim.scope, claim.key, executionID])
        }
    }

    /// An input error before validation proper: audited as rejected when the service exists.
    private func reject(_ error: APIError, _ serviceName: String?, _ context: RequestContext) -> HTTPResponse {
        if let serviceName, let service = configuration.enabledService(serviceName) {
            return finish(service, parameters: .null, outcome: nil, error: error, context)
        }
        return fail(error, context)
    }

    /// 200 with what `read` answers, or its error.
    private func answer(_ context: RequestContext, _ read: () throws(APIError) -> JSONValue) -> HTTPResponse {
        do throws(APIError) {
            return .json(200, try read(), headers: context.headers)
        } catch {
            return fail(error, context)
        }
    }

    /// An error that belongs to no execution: only a `service_error` row.
    /// Without a key, only a public service may run, and not queued (only the key that queued an
    /// execution reads it back). 401 alike for a service that is private or does not exist, so an
    /// anonymous caller learns nothing about either. Nil when the call may go on.
    private func refuseAnonymous(_ name: String, _ context: RequestContext) -> HTTPResponse? {
        guard context.principal.isAnonymous else { return nil }
        var refusal = Principal.keyRequired
        if configuration.enabledService(name)?.isPublic == true {
            guard context.prefersAsync else { return nil }
            refusal = APIError(.unauthorized, "Prefer: respond-async needs an API key: the key that queues reads back")
        }
        return fail(refusal, context, extraHeaders: [("WWW-Authenticate", "Bearer")])
    }

    /// An error that belongs to no execution: only a `service_error` row — for a request without
    /// a valid key, only within the worker's budget (`unauthenticatedErrorRows`).
    func fail(
        _ error: APIError, _ context: RequestContext, service: String? = nil, extraHeaders: [(String, String)] = []
    ) -> HTTPResponse {
        if context.principal.isAnonymous, !unauthenticatedErrorRows.take(at: Self.monotonicSeconds()) {
            metrics.countDroppedErrorRow()
            return .error(error, reference: nil, headers: context.headers + extraHeaders, audience: context.audience)
        }
        let reference = RandomID.uuid()
        let record = AuditRecord(
            execution: nil,
            failure: .init(
                reference: reference, serviceName: service, error: error, correlationID: context.correlationID))
        let written = write(record, context)
        return .error(
            error, reference: written ? reference : nil, headers: context.headers + extraHeaders,
            audience: context.audience)
    }

    /// Commits the record, or spools it when the control database cannot take it. False when
    /// neither worked: the answer must then name no execution and no error reference.
    func write(_ record: AuditRecord, _ context: RequestContext) -> Bool {
        let handedOver = auditWriter.map { audit.handOver(record, to: $0, timeout: control.timeout) } ?? .notOffered
        if handedOver == .committed { return true }
        return writeItself(record, context, tolerant: handedOver == .unconfirmed)
    }

    /// Commits the record on the worker's control connection, or spools it; `tolerant` of a row
    /// the writer may have committed after all.
    private func writeItself(_ record: AuditRecord, _ context: RequestContext, tolerant: Bool) -> Bool {
        do {
            try control.withConnection { (connection: PGConnection) throws(PGError) in
                try audit.write(record, to: connection, tolerant: tolerant)
            }
            return true
        } catch {
            let ids: KeyValuePairs<String, JSONValue> = [
                "execution_id": record.execution.map { .string($0.id) } ?? .null,
                "reference": record.failure.map { .string($0.reference) } ?? .null,
                "correlation_id": .string(context.correlationID), "error": .string(error.description),
            ]
            if let spool, let (statement, values) = audit.statement(for: record, finishedAt: Date()),
                spool.append(statement, values)
            {
                Log.warning("control database unavailable; audit record spooled", ids, component: .audit)
                return true
            }
            Log.error("audit record lost: the control database and the spool both failed", ids, component: .audit)
            return false
        }
    }

    // MARK: - Answers held for their commit

    /// The answer the request just handled left waiting for its row's commit (`defersAnswers`):
    /// the worker writes it once `settle` returns.
    func takeDeferredAnswer() -> DeferredAnswer? {
        defer { deferredAnswer = nil }
        return deferredAnswer
    }

    /// The answer to write for a held execution: as prepared once the writer confirms its row;
    /// otherwise the row is written by this worker (or spooled) first, and without either the
    /// answer is 503 `AUDIT_UNAVAILABLE`, as for an execution that was never held. `idle`: the
    /// worker has no other request to serve, so the writer is asked to commit the row's group now.
    func settle(_ held: DeferredAnswer, idle: Bool) -> HTTPResponse {
        defer { release(held.journal) }
        let settlement =
            auditWriter?.settlement(of: held.ticket, deadline: held.deadline, hurry: idle) ?? .unconfirmed
        if settlement == .committed { return held.given(held.response) }
        let scope = RequestScope(correlationID: held.context.correlationID)
        if let execution = held.record.execution {
            scope.identify(executionID: execution.id, service: execution.serviceName)
        }
        return RequestScope.$current.withValue(scope) {
            held.given(
                writeItself(held.record, held.context, tolerant: true)
                    ? held.response : unaudited(nil, ran: true, held.context))
        }
    }

    /// The held execution's answer if its row is confirmed already (no waiting); its slot is then
    /// free. Nil leaves it for `settle`.
    func settledWithoutWaiting(_ held: DeferredAnswer) -> HTTPResponse? {
        guard auditWriter?.peek(held.ticket) == .committed else { return nil }
        _ = auditWriter?.settlement(of: held.ticket, deadline: held.deadline, hurry: false)
        release(held.journal)
        return held.given(held.response)
    }

    /// Ends a held execution's journal record and gives its slot back.
    private func release(_ slot: InFlightJournal?) {
        guard let slot else { return }
        slot.end()
        if journal == nil { journal = slot } else { spareJournals.append(slot) }
    }

    /// Whether an execution's audit can be counted on: the control connection is up (no system
    /// call on the request path), or the spool has room, or the control database can be reached now.
    private func auditIsPossible() -> Bool {
        if control.current?.isHealthy == true || spool?.isWritable == true { return true }
        return (try? control.open()) != nil
    }

    /// The answer when the record could be neither written nor spooled: no id a client could look
    /// up in vain. A procedure that already ran (the spool failed after the check) answers 503.
    func unaudited(_ error: APIError?, ran: Bool, _ context: RequestContext) -> HTTPResponse {
        guard let error, !ran else {
            return .error(
                APIError(
                    .auditUnavailable, "the execution ran but could not be audited; check before running it again"),
                reference: nil, headers: context.headers)
        }
        return .error(error, reference: nil, headers: context.headers)
    }

    private static func monotonicSeconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }

    /// 401 without an admin key (even while no key exists: administration is never anonymous),
    /// 403 for other keys; nil for admins.
    private func refuseUnlessAdmin(_ context: RequestContext) -> HTTPResponse? {
        guard context.principal.key?.role != .admin else { return nil }
        let error =
            context.principal.isAnonymous
            ? APIError(.unauthorized, "administration needs an admin key: spo keys create --role admin")
            : APIError(.forbidden, "the key \(context.user) is not an admin key")
        return fail(error, context, extraHeaders: [("WWW-Authenticate", "Bearer")])
    }

    private func authenticate(_ authorization: String?) -> Result<Principal, APIError> {
        if let authorization, let known = verifiedKeys[authorization] { return .success(known) }
        var result = Authenticator.principal(authorization: authorization, keys: configuration.apiKeys)
        // A key created after this worker's snapshot is looked up directly, so a new key works at
        // once (the snapshot follows within a second). Only unknown prefixes get here, and a
        // refusal writes a service_error row anyway, so this adds no new kind of database work.
        if case .failure = result, let authorization, let presented = Authenticator.presentedKey(authorization),
            let prefix = APIKey.prefix(of: presented), configuration.apiKeys[prefix] == nil,
            let created = try? control.withConnection({ (connection: PGConnection) throws(PGError) in
                try APIKeyStore.active(on: connection, prefix: prefix)
            }), !created.isEmpty
        {
            result = Authenticator.principal(
                authorization: authorization, keys: configuration.apiKeys.merging(created) { $1 })
        }
        // Only valid keys are remembered (a few per client), so bad headers cannot grow the cache.
        if let authorization, case .success(let principal) = result, principal.key != nil, verifiedKeys.count < 1024 {
            verifiedKeys[authorization] = principal
        }
        return result
    }

    private func validator(for service: ServiceDefinition) -> ParameterValidator {
        if let cached = validators[service.name], cached.version == service.version { return cached.validator }
        let validator = ParameterValidator(parameters: service.parameters)
        validators[service.name] = (service.version, validator)
        return validator
    }
}

extension Result {
    var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}

/// What every response of one request shares: its correlation id, user and idempotency key.
struct RequestContext {
    var correlationID: String
    /// Who is calling; anonymous until authenticated.
    var principal = Principal.anonymous
    var user: String { principal.name }
    var idempotencyKey: String?
    /// An `Idempotency-Key` header was sent but is not a valid token: refused, never ignored.
    var idempotencyKeyIsMalformed = false
    /// The key this request claimed, once it did: its answer is kept with the audit.
    var heldKey: IdempotencyClaim?
    var isJSON: Bool
    /// `Prefer: respond-async`: queue a valid call and answer 202.
    var prefersAsync: Bool

    init(_ request: HTTPRequest) {
        if let given = request.header("x-correlation-id"), ClientToken.isValid(given) {
            correlationID = given
        } else {
            // nginx's request id, shaped as nginx shapes it for its own answers: so a 502 nginx
            // gives after this worker died carries the id the journal audits the execution with.
            correlationID =
                request.header(HTTPHeaders.nginxRequestID).flatMap(RandomID.uuid(fromHex:)) ?? RandomID.uuid()
        }
        let givenKey = request.header("idempotency-key")
        idempotencyKey = givenKey.flatMap { ClientToken.isValid($0) ? $0 : nil }
        idempotencyKeyIsMalformed = givenKey != nil && idempotencyKey == nil
        isJSON = JSONMediaType.accepts(request.header("content-type"))
        prefersAsync = request.header("prefer").map(Preference.respondsAsync) ?? false
    }

    var headers: [(String, String)] { [("X-Correlation-ID", correlationID)] }

    /// The headers of an answer about execution `executionID`, then `extra`: made in one array
    /// (each concatenation cost an allocation, on every request).
    func headers(executionID: String, _ extra: [(String, String)] = []) -> [(String, String)] {
        var headers: [(String, String)] = []
        headers.reserveCapacity(2 + extra.count)
        headers.append(("X-Correlation-ID", correlationID))
        headers.append(("X-Execution-ID", executionID))
        headers += extra
        return headers
    }

    /// Whose `Idempotency-Key`s these are: the API key's prefix (unique per key, unlike a name that
    /// a revoked key may pass on), or `anonymous` while no key exists.
    var idempotencyScope: String { principal.key?.prefix ?? "anonymous" }

    /// Admin keys see an error's confidential details; everyone else (anonymous too) does not.
    var audience: APIError.Audience { principal.key?.role == .admin ? .administrator : .client }
}
