/// How a configuration entry being written meets a stored entry of the same name.
public enum WriteMode: Sendable, Equatable {
    /// Insert, or replace what is stored: the last write wins (`spo services import`, a PUT
    /// without `version`).
    case upsert
    /// Insert only: a stored entry of that name is a conflict, even one another writer committed
    /// a moment ago (POST). A plain `INSERT`, so the unique index decides, never a read before.
    case create
    /// Replace the stored service only if it is still at `version` (a PUT with `version`): one
    /// `UPDATE … WHERE version = $n`, so of two writers that read the same version one wins.
    case replace(version: Int)
}
