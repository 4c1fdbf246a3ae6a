/// The names prepared on one connection, with their last use: at most `limit` are kept, and the
/// least recently used one is the one to deallocate when another must be prepared.
struct PreparedStatementCache {
    let limit: Int
    private var lastUse: [String: UInt64] = [:]
    private var clock: UInt64 = 0

    init(limit: Int) {
        self.limit = limit
    }

    /// Marks `name` as used now; whether it is prepared on the connection.
    mutating func use(_ name: String) -> Bool {
        clock &+= 1
        guard let index = lastUse.index(forKey: name) else { return false }
        lastUse.values[index] = clock
        return true
    }

    /// The name to deallocate before preparing another, when the cache is full.
    var evictionCandidate: String? {
        guard lastUse.count >= limit else { return nil }
        return lastUse.min { $0.value < $1.value }?.key
    }

    mutating func insert(_ name: String) { lastUse[name] = clock }

    mutating func remove(_ name: String) { lastUse[name] = nil }
}
