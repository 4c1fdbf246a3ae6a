import Logging
import Synchronization

/// One component's level, shared by every copy of its handler and read on every log call: an
/// atomic, so checking whether a line is wanted costs one load and no lock.
public final class LogLevelCell: Sendable {
    private let raw: Atomic<Int>

    public init(_ level: Logger.Level) {
        raw = Atomic(LogLevelCell.rank(of: level))
    }

    public var level: Logger.Level {
        get { LogLevelCell.level(ranked: raw.load(ordering: .relaxed)) }
        set { raw.store(LogLevelCell.rank(of: newValue), ordering: .relaxed) }
    }

    /// Whether a line of `level` is written.
    public func allows(_ level: Logger.Level) -> Bool {
        raw.load(ordering: .relaxed) <= LogLevelCell.rank(of: level)
    }

    // A switch rather than `allCases`, which builds an array on each use.
    private static func rank(of level: Logger.Level) -> Int {
        switch level {
        case .trace: 0
        case .debug: 1
        case .info: 2
        case .notice: 3
        case .warning: 4
        case .error: 5
        case .critical: 6
        }
    }

    private static func level(ranked rank: Int) -> Logger.Level {
        switch rank {
        case 0: .trace
        case 1: .debug
        case 2: .info
        case 3: .notice
        case 4: .warning
        case 5: .error
        default: .critical
        }
    }
}
