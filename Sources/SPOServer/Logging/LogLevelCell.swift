import Logging
import Synchronization

/// One component's level, shared by every copy of its handler and read on every log call: an
/// atomic, so checking whether a line is wanted costs one load and no lock.
public final class LogLevelCell: Sendable {
    private let raw: Atomic<Int>

    public init(_ level: Logger.Level) {
        raw = Atomic(LogLevelCell.index(of: level))
    }

    public var level: Logger.Level {
        get { Logger.Level.allCases[raw.load(ordering: .relaxed)] }
        set { raw.store(LogLevelCell.index(of: newValue), ordering: .relaxed) }
    }

    private static func index(of level: Logger.Level) -> Int { Logger.Level.allCases.firstIndex(of: level) ?? 2 }
}
