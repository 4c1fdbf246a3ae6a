import Foundation
import SPOCore
import SPOJSON
import SPOPostgres

/// What a worker slot can leave behind when its worker (and perhaps the supervisor) died: audit
/// records spooled during a control-database outage, and the execution in flight. The supervisor
/// recovers both before it starts the slot's worker — at start too, so a worker and a supervisor
/// killed together lose nothing.
public struct LeftoverRecovery {
    public let journalPath: String
    public let spoolPath: String
    public let controlConninfo: String
    private let audit = AuditLog()

    public init(journalPath: String, spoolPath: String, controlConninfo: String) {
        self.journalPath = journalPath
        self.spoolPath = spoolPath
        self.controlConninfo = controlConninfo
    }

    /// Replays the spool, then audits the executions in flight (one running, perhaps one whose
    /// answer waited for its row's commit: every journal slot) as `interrupted`. In that order: an
    /// execution that finished and was spooled keeps its real outcome (the `interrupted` record of
    /// the same id then changes nothing). What the control database cannot take now is spooled,
    /// for the next worker of the slot to replay.
    public func recover() {
        let spool = AuditSpool(path: spoolPath)
        // Connecting authenticates and starts a backend: only when there is something to write.
        // The supervisor recovers each slot before starting its worker, and a connection per slot
        // regardless made starting a pool of 8 take seconds.
        var connection: PGConnection?
        if let spool, spool.hasPending, let opened = try? ControlDatabase.connect(controlConninfo) {
            connection = opened
            do throws(PGError) {
                let count = try spool.replayAll(on: opened)
                Log.info(
                    "replayed a worker's spooled audit records",
                    ["records": .number(count), "spool": .string(spoolPath)])
            } catch {
                Log.warning("could not replay a worker's audit spool yet", ["error": .string(error.description)])
            }
        }
        for path in InFlightJournal.slotPaths(journalPath) {
            guard let entry = InFlightJournal.takeLeftover(at: path) else { continue }
            if connection == nil { connection = try? ControlDatabase.connect(controlConninfo) }
            audit(entry, connection, spool)
        }
    }

    private func audit(_ entry: InFlightEntry, _ connection: PGConnection?, _ spool: AuditSpool?) {
        let interrupted = interrupted(entry)
        let executionID = interrupted.execution?.id ?? ""
        // The supervisor's lines about it carry the request's ids, as the worker's would have.
        let scope = RequestScope(correlationID: interrupted.execution?.correlationID ?? "")
        scope.identify(executionID: executionID, service: interrupted.execution?.serviceName ?? "")
        RequestScope.$current.withValue(scope) { write(interrupted, executionID, connection, spool) }
    }

    private func write(
        _ interrupted: AuditRecord, _ executionID: String, _ connection: PGConnection?, _ spool: AuditSpool?
    ) {
        do throws(PGError) {
            guard let connection else { throw PGError(kind: .connection, sqlstate: "08001", message: "no connection") }
            // It may have finished and been audited already: that row stays.
            try audit.write(interrupted, to: connection, tolerant: true)
            Log.warning("audited the interrupted execution of a dead worker", ["execution_id": .string(executionID)])
        } catch {
            if let spool, let (statement, values) = audit.statement(for: interrupted, finishedAt: Date()),
                spool.append(statement, values)
            {
                Log.warning(
                    "spooled the interrupted execution of a dead worker", ["execution_id": .string(executionID)])
            } else {
                Log.error(
                    "could not audit an interrupted execution",
                    ["execution_id": .string(executionID), "error": .string(error.description)])
            }
        }
    }

    /// The audit record of an execution a worker noted in its journal and never finished.
    func interrupted(_ entry: InFlightEntry) -> AuditRecord {
        let error = APIError(.internalError, "the worker running this execution died before it finished")
        return AuditRecord(
            execution: .init(
                id: entry.executionID, serviceID: entry.serviceID, serviceName: entry.serviceName,
                parameters: entry.parameters, status: .interrupted, httpStatus: 502, errorCode: error.code.rawValue,
                durationMilliseconds: Date().timeIntervalSince1970 * 1000 - Double(entry.startedAtMilliseconds),
                user: entry.user, correlationID: entry.correlationID, idempotencyKey: nil, reprocessOf: nil,
                attempts: []),
            failure: .init(reference: RandomID.uuid(), serviceName: entry.serviceName, error: error))
    }
}
