import Foundation
import Glibc
import Testing

@testable import SPOCore
@testable import SPOServer

/// Where a worker reads a connection's secret: only a prefixed variable, or a private regular
/// file of the secrets directory, opened without following links.
@Suite struct SecretStoreTests {
    let directory: String
    let policy: SecretPolicy

    init() throws {
        directory = NSTemporaryDirectory() + "spo-secrets-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        chmod(directory, 0o700)
        policy = SecretPolicy(environmentPrefix: "SPO_SECRET_", directory: directory)
    }

    private func plant(_ name: String, _ content: String, mode: mode_t = 0o600) {
        let path = directory + "/" + name
        FileManager.default.createFile(atPath: path, contents: Data(content.utf8))
        chmod(path, mode)
    }

    private func problem(_ reference: String, environment: [String: String] = [:]) -> String? {
        guard case .failure(let problem) = SecretStore.secret(reference, policy: policy, environment: environment)
        else { return nil }
        return problem.description
    }

    @Test func aPrivateFileIsRead() throws {
        plant("demo.pw", "s3cret\n")
        plant("read-only.pw", "r0\r\n", mode: 0o400)
        #expect(try SecretStore.secret("file:demo.pw", policy: policy).get() == "s3cret")
        #expect(try SecretStore.secret("file:read-only.pw", policy: policy).get() == "r0")
    }

    @Test(arguments: [0o644, 0o640, 0o660, 0o700, 0o604] as [mode_t])
    func aFileOthersCouldReadIsRefused(mode: mode_t) {
        plant("open.pw", "s3cret", mode: mode)
        let found = problem("file:open.pw")
        #expect(found?.contains("must be 0600 or 0400") == true, "\(found ?? "accepted")")
        #expect(found?.contains("s3cret") == false)
    }

    @Test func aSymbolicLinkIsRefusedEvenToAPrivateFile() {
        plant("target.pw", "s3cret")
        symlink(directory + "/target.pw", directory + "/link.pw")
        #expect(problem("file:link.pw")?.contains("symbolic link") == true)
        // Nor is a link out of the directory followed.
        symlink("/etc/shadow", directory + "/shadow")
        #expect(problem("file:shadow")?.contains("symbolic link") == true)
    }

    @Test func aFileOfAnotherUserIsRefused() throws {
        plant("theirs.pw", "s3cret")
        guard geteuid() == 0 else { return }  // only root can give a file away
        try #require(chown(directory + "/theirs.pw", 65534, 65534) == 0)
        #expect(problem("file:theirs.pw")?.contains("not owned by the pool's user") == true)
    }

    @Test func aDirectoryOrAMissingFileIsRefused() {
        mkdir(directory + "/sub", 0o700)
        #expect(problem("file:sub")?.contains("not a regular file") == true)
        #expect(problem("file:missing.pw") == "file:missing.pw does not exist in the secrets directory")
    }

    @Test func aPathEscapeNeverReachesTheFileSystem() {
        #expect(problem("file:../etc/shadow")?.contains("plain file name") == true)
        #expect(problem("file:/etc/shadow")?.contains("plain file name") == true)
    }

    @Test func withoutASecretsDirectoryFilesAreUnavailable() {
        let none = SecretPolicy()
        guard case .failure(.unavailable(let text)) = SecretStore.secret("file:demo.pw", policy: none) else {
            Issue.record("a file secret without a directory was read")
            return
        }
        #expect(text.contains("no secrets directory"))
    }

    @Test func onlyPrefixedVariablesAreRead() throws {
        let environment = ["SPO_SECRET_DEMO": "v4lue", "HOME": "/root"]
        #expect(
            try SecretStore.secret("env:SPO_SECRET_DEMO", policy: policy, environment: environment).get() == "v4lue")
        #expect(problem("env:HOME", environment: environment)?.contains("starting with SPO_SECRET_") == true)
        #expect(
            problem("env:SPO_SECRET_UNSET", environment: environment)
                == "env:SPO_SECRET_UNSET is not set in the pool's environment")
    }

    @Test func pgpassHandsNoPasswordOver() throws {
        #expect(try SecretStore.secret("pgpass", policy: policy).get() == nil)
    }
}
