/// Where other parts of the server add families to `/metrics` and `/api/stats`.
///
/// Each source is called on every read of either, in the worker answering it, with that worker's
/// control database (for state kept there, such as breakers or the queue). A source that fails
/// returns no families; it must not throw the read away.
public enum MetricSources {
    public typealias Source = (ControlDatabase) -> [MetricFamily]

    /// Registered sources, in order; set at start, before the worker serves.
    nonisolated(unsafe) public private(set) static var all: [Source] = []

    /// Adds `source` for every later read.
    public static func register(_ source: @escaping Source) {
        all.append(source)
    }

    /// Every registered source's families.
    static func families(_ control: ControlDatabase) -> [MetricFamily] {
        all.flatMap { $0(control) }
    }
}
