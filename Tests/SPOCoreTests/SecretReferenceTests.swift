import Testing

@testable import SPOCore

/// What a connection's `password_from` may name: a variable with the configured prefix, a plain
/// file name of the secrets directory, or libpq's pgpass — nothing else.
@Suite struct SecretReferenceTests {
    let policy = SecretPolicy(environmentPrefix: "SPO_SECRET_", directory: "/etc/spo/secrets")

    @Test func theThreeSources() throws {
        #expect(
            try SecretReference.parse("env:SPO_SECRET_DEMO", under: policy).get() == .environment("SPO_SECRET_DEMO"))
        #expect(try SecretReference.parse("file:demo.pw", under: policy).get() == .file("demo.pw"))
        #expect(try SecretReference.parse("pgpass", under: policy).get() == .pgpass)
        #expect(SecretReference.file("demo.pw").text == "file:demo.pw")
    }

    @Test(arguments: ["env:HOME", "env:PGPASSWORD", "env:SPO_CONTROL", "env:spo_secret_x", "env:SPO_SECRET_"])
    func aVariableOutsideThePrefixIsRefused(reference: String) {
        guard case .failure(let problem) = SecretReference.parse(reference, under: policy) else {
            Issue.record("\(reference) was accepted")
            return
        }
        #expect(problem.description.contains("SPO_SECRET_") || problem.description.contains("variable name"))
    }

    @Test func theConfiguredPrefixDecides() {
        let other = SecretPolicy(environmentPrefix: "VAULT_")
        #expect((try? SecretReference.parse("env:VAULT_DB", under: other).get()) == .environment("VAULT_DB"))
        #expect((try? SecretReference.parse("env:SPO_SECRET_DB", under: other).get()) == nil)
    }

    @Test(arguments: [
        "file:/etc/shadow", "file:../../etc/shadow", "file:..", "file:.", "file:a/b", "file:x..y", "file:a\0b",
        "file:", "file:line\nbreak",
    ])
    func aPathEscapeIsRefused(reference: String) {
        #expect(
            SecretReference.parse(reference, under: policy)
                == .failure(.malformed("file: must be followed by a plain file name (no /, no .., no NUL)")))
    }

    @Test(arguments: ["", "password", "ENV:SPO_SECRET_X", "pgpass:/root/.pgpass", "vault:x", "env:", "env:1X"])
    func anythingElseIsMalformed(reference: String) {
        guard case .failure(.malformed) = SecretReference.parse(reference, under: policy) else {
            Issue.record("\(reference) was not refused as malformed")
            return
        }
    }

    @Test func thePolicyComesFromTheEnvironment() {
        let configured = SecretPolicy(environment: ["SPO_SECRET_ENV_PREFIX": "APP_", "SPO_SECRETS_DIR": "/s"])
        #expect(configured == SecretPolicy(environmentPrefix: "APP_", directory: "/s"))
        #expect(SecretPolicy(environment: [:]) == SecretPolicy(environmentPrefix: "SPO_SECRET_", directory: nil))
        #expect(SecretPolicy(environment: configured.environment) == configured)
    }
}
