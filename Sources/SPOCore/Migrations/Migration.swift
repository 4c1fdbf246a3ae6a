/// One numbered, forward-only change to the control schema.
public struct Migration: Sendable {
    public var version: Int
    public var name: String
    public var sql: String

    /// All migrations in order. Append new ones; never edit one that has shipped.
    public static let all: [Migration] = [
        controlSchema, apiKeys, auditWithoutForeignKey, routineIdentity, errorStatuses, reprocessingClaims,
        idempotencyKeys, circuitBreakers, jobQueue, errorCorrelation, compositeMembers, sagas, leastPrivilege,
        secretSources, publicServices, configurationGeneration, partitionedExecutions, executionStatusDomain,
    ]
}
