/// Which secrets a worker may read for a connection: the prefix an `env:` reference's variable
/// must start with, and the directory `file:` references are resolved in. Set by the operator
/// (`spo serve --secret-env-prefix`, `--secrets-dir`, or `SPO_SECRET_ENV_PREFIX`,
/// `SPO_SECRETS_DIR`), never by a document.
public struct SecretPolicy: Sendable, Equatable {
    /// The prefix of variables `env:` may name.
    public var environmentPrefix: String
    /// The directory `file:` names a file in; nil: `file:` references are refused.
    public var directory: String?

    public static let defaultEnvironmentPrefix = "SPO_SECRET_"
    /// The environment variables that configure it (and pass it from `spo serve` to its workers).
    public static let prefixVariable = "SPO_SECRET_ENV_PREFIX"
    public static let directoryVariable = "SPO_SECRETS_DIR"

    public init(environmentPrefix: String = SecretPolicy.defaultEnvironmentPrefix, directory: String? = nil) {
        self.environmentPrefix = environmentPrefix.isEmpty ? SecretPolicy.defaultEnvironmentPrefix : environmentPrefix
        self.directory = directory.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The policy the environment `variables` configure.
    public init(environment variables: [String: String]) {
        self.init(
            environmentPrefix: variables[SecretPolicy.prefixVariable] ?? SecretPolicy.defaultEnvironmentPrefix,
            directory: variables[SecretPolicy.directoryVariable])
    }

    /// The environment variables that carry this policy to another process.
    public var environment: [String: String] {
        var variables = [SecretPolicy.prefixVariable: environmentPrefix]
        if let directory { variables[SecretPolicy.directoryVariable] = directory }
        return variables
    }

    /// The policy of this process, which documents are checked against: set once at start,
    /// before configuration is read.
    nonisolated(unsafe) public static var current = SecretPolicy()
}
