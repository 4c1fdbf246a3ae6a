/// Where a connection's password comes from (`password_from` of a connection document). The one
/// place that decides what a reference means: the document check, the worker that reads the
/// secret, the OpenAPI description and the README all follow it.
///
/// Only three sources exist, so an admin key cannot make a worker read an arbitrary variable or
/// file: a variable whose name starts with the configured prefix, a plain file name inside the
/// configured secrets directory, or libpq's own password file.
public enum SecretReference: Sendable, Equatable {
    /// `env:NAME`: the environment variable NAME of the worker, which starts with the policy's prefix.
    case environment(String)
    /// `file:NAME`: the file NAME (no `/`, no `..`) in the policy's secrets directory.
    case file(String)
    /// `pgpass`: libpq's own look-up (`PGPASSFILE`, else `~/.pgpass`); no password is handed over.
    case pgpass

    /// How the reference is written in a document.
    public var text: String {
        switch self {
        case .environment(let name): "env:\(name)"
        case .file(let name): "file:\(name)"
        case .pgpass: "pgpass"
        }
    }

    /// One line for documentation (OpenAPI, errors): the accepted forms under `policy`.
    public static func forms(under policy: SecretPolicy) -> String {
        "env:NAME (NAME starts with \(policy.environmentPrefix)), "
            + "file:NAME (a plain file name in the secrets directory, spo serve --secrets-dir), "
            + "or pgpass (libpq's PGPASSFILE or ~/.pgpass)"
    }

    /// The reference `text` names under `policy`, or why it names none. Never looks at the
    /// environment or the file system: whether the secret exists is the worker's check
    /// (`SecretStore`).
    public static func parse(_ text: String, under policy: SecretPolicy) -> Result<SecretReference, Problem> {
        if text == "pgpass" { return .success(.pgpass) }
        if text.hasPrefix("env:") {
            let name = String(text.dropFirst(4))
            guard isVariableName(name) else {
                return .failure(.malformed("env: must be followed by a variable name (letters, digits, _)"))
            }
            guard name.hasPrefix(policy.environmentPrefix), name.count > policy.environmentPrefix.count else {
                return .failure(
                    .outsideSources("env:NAME must name a variable starting with \(policy.environmentPrefix)"))
            }
            return .success(.environment(name))
        }
        if text.hasPrefix("file:") {
            let name = String(text.dropFirst(5))
            guard isPlainFileName(name) else {
                return .failure(.malformed("file: must be followed by a plain file name (no /, no .., no NUL)"))
            }
            return .success(.file(name))
        }
        return .failure(.malformed("must be " + forms(under: policy)))
    }

    /// Why a reference is refused, said without revealing any secret.
    public enum Problem: Error, Sendable, Equatable, CustomStringConvertible {
        /// Not one of the three forms.
        case malformed(String)
        /// A well-formed reference outside what the policy allows.
        case outsideSources(String)
        /// The worker cannot read the secret it names (unset, missing, wrong owner or mode).
        case unavailable(String)

        public var description: String {
            switch self {
            case .malformed(let text), .outsideSources(let text), .unavailable(let text): text
            }
        }
    }

    /// Whether `name` is an environment variable's name: ASCII letters, digits and `_`, not
    /// starting with a digit.
    public static func isVariableName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, !("0"..."9").contains(first) else { return false }
        return name.unicodeScalars.allSatisfy {
            $0.isASCII && ($0 == "_" || $0.properties.isAlphabetic || ("0"..."9").contains($0))
        }
    }

    static func isPlainFileName(_ name: String) -> Bool {
        !name.isEmpty && name != "." && !name.contains("..") && name.utf8.count <= 255
            && !name.unicodeScalars.contains { $0 == "/" || $0 == "\0" || $0.value < 0x20 }
    }
}
