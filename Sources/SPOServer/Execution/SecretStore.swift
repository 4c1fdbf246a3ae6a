import Foundation
import Glibc
import SPOCore

/// Reads the secret a connection's `password_from` names, under the process's `SecretPolicy`:
/// a variable with the policy's prefix, a file of the secrets directory, or nothing (`pgpass`:
/// libpq looks the password up itself). What a reference means is `SecretReference.parse`'s
/// decision; this is only where the worker looks.
///
/// A secrets file is opened without following a link (`O_NOFOLLOW`, relative to the directory)
/// and must be a regular file owned by this process's user with mode 0600 or 0400, so another
/// local user can neither plant nor read it. Problems name the reference, never a value.
public enum SecretStore {
    /// The longest secret file read; a password is far shorter.
    static let maxFileBytes = 64 * 1024

    /// The password `text` names (nil for `pgpass`), or why it cannot be had.
    public static func secret(
        _ text: String, policy: SecretPolicy = .current,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> Result<String?, SecretReference.Problem> {
        switch SecretReference.parse(text, under: policy) {
        case .failure(let problem): return .failure(problem)
        case .success(.pgpass): return .success(nil)
        case .success(.environment(let name)):
            guard let value = environment[name] else {
                return .failure(.unavailable("env:\(name) is not set in the pool's environment"))
            }
            return .success(value)
        case .success(.file(let name)):
            guard let directory = policy.directory else {
                return .failure(
                    .unavailable("file:\(name): no secrets directory is configured (spo serve --secrets-dir)"))
            }
            return readFile(name, in: directory).map { Optional($0) }
        }
    }

    /// Whether the secret `text` names can be read now (the admin write's check).
    public static func problem(_ text: String, policy: SecretPolicy = .current) -> SecretReference.Problem? {
        if case .failure(let problem) = secret(text, policy: policy) { return problem }
        return nil
    }

    static func readFile(_ name: String, in directory: String) -> Result<String, SecretReference.Problem> {
        let folder = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard folder >= 0 else { return .failure(.unavailable("the secrets directory cannot be opened")) }
        defer { close(folder) }
        let descriptor = openat(folder, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard descriptor >= 0 else {
            switch errno {
            case ELOOP: return .failure(.unavailable("file:\(name) is a symbolic link; secrets files must not be"))
            case ENOENT: return .failure(.unavailable("file:\(name) does not exist in the secrets directory"))
            default: return .failure(.unavailable("file:\(name) cannot be opened by the pool's user"))
            }
        }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0, status.st_mode & S_IFMT == S_IFREG else {
            return .failure(.unavailable("file:\(name) is not a regular file"))
        }
        guard status.st_uid == geteuid() else {
            return .failure(.unavailable("file:\(name) is not owned by the pool's user"))
        }
        let mode = status.st_mode & 0o7777
        guard mode == 0o600 || mode == 0o400 else {
            return .failure(
                .unavailable("file:\(name) has mode \(String(mode, radix: 8)); it must be 0600 or 0400"))
        }
        var bytes = [UInt8](repeating: 0, count: maxFileBytes + 1)
        var count = 0
        while count < bytes.count {
            let read = bytes[count...].withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            if read < 0 && errno == EINTR { continue }
            if read <= 0 { break }
            count += read
        }
        guard count <= maxFileBytes else { return .failure(.unavailable("file:\(name) is too large for a secret")) }
        var text = String(decoding: bytes[..<count], as: UTF8.self)
        while let last = text.unicodeScalars.last, last == "\n" || last == "\r" { text.unicodeScalars.removeLast() }
        return .success(text)
    }
}
