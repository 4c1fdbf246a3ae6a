/// A metric family another part of the server adds to `/metrics` and `/api/stats` (breaker
/// states, queue depth): its name, help, type and samples.
public struct MetricFamily: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case counter, gauge
    }

    /// One value with its labels, in order.
    public struct Sample: Sendable, Equatable {
        public var labels: [(name: String, value: String)]
        public var value: Double

        public init(labels: [(name: String, value: String)] = [], value: Double) {
            self.labels = labels
            self.value = value
        }

        public static func == (lhs: Sample, rhs: Sample) -> Bool {
            lhs.value == rhs.value && lhs.labels.map(\.name) == rhs.labels.map(\.name)
                && lhs.labels.map(\.value) == rhs.labels.map(\.value)
        }
    }

    /// `spo_…`, Prometheus's `[a-zA-Z_:][a-zA-Z0-9_:]*`; counters end in `_total`.
    public var name: String
    public var help: String
    public var kind: Kind
    public var samples: [Sample]

    public init(name: String, help: String, kind: Kind, samples: [Sample]) {
        self.name = name
        self.help = help
        self.kind = kind
        self.samples = samples
    }
}
