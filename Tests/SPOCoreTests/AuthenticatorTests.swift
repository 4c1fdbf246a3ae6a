import SPOCrypto
import Testing

@testable import SPOCore

@Suite struct AuthenticatorTests {
    let admin = APIKey.generate(name: "ops", role: .admin, grants: [])
    let executor = APIKey.generate(name: "reports", role: .executor, grants: ["customer_get"])

    var keys: [String: APIKey] { [admin.record.prefix: admin.record, executor.record.prefix: executor.record] }

    @Test func generatedKeysHaveTheDocumentedShapeAndAreStoredAsDigests() {
        #expect(admin.key.hasPrefix("spo_\(admin.record.prefix)_"))
        #expect(admin.key.count == 45)
        #expect(APIKey.prefix(of: admin.key) == admin.record.prefix)
        #expect(admin.record.secretHash == SHA256.hex(admin.key))
        #expect(!admin.record.secretHash.contains(admin.key.suffix(32)))
        #expect(admin.key != APIKey.generate(name: "ops", role: .admin, grants: []).key)
    }

    /// Fails closed: no header is an anonymous caller whether or not keys exist (a fresh install
    /// included), and anonymous callers may execute public services only.
    @Test func withoutAKeyCallersAreAnonymousAndReachOnlyPublicServices() throws {
        #expect(try Authenticator.principal(authorization: nil, keys: [:]).get() == .anonymous)
        #expect(try Authenticator.principal(authorization: "", keys: keys).get() == .anonymous)
        #expect(!Principal.anonymous.mayExecute("anything"))
        var service = ServiceDefinition(
            name: "s", connection: "c", procedure: QualifiedName(schema: "a", name: "b"), resultShape: .scalar,
            parameters: [])
        #expect(!Principal.anonymous.mayCall(service))
        service.isPublic = true
        #expect(Principal.anonymous.mayCall(service))
        let reports = Principal(name: "reports", key: executor.record)
        #expect(!reports.mayCall(service), "a key's grants decide, public or not")
    }

    @Test func whatEachCallerMayCallOfTheTable() {
        let reports = Principal(name: "reports", key: executor.record)
        let ops = Principal(name: "ops", key: admin.record)
        for endpoint in EndpointTable.all {
            switch endpoint.access {
            case .anyone, .service:
                #expect(Principal.anonymous.mayCall(endpoint) && reports.mayCall(endpoint) && ops.mayCall(endpoint))
            case .caller:
                #expect(!Principal.anonymous.mayCall(endpoint) && reports.mayCall(endpoint) && ops.mayCall(endpoint))
            case .admin:
                #expect(!Principal.anonymous.mayCall(endpoint) && !reports.mayCall(endpoint) && ops.mayCall(endpoint))
            }
        }
    }

    @Test func aPresentedKeyMustBeValid() {
        for header in [
            "Basic abc", "Bearer", "Bearer nonsense", "Bearer spo_00000000_" + String(repeating: "0", count: 32),
        ] {
            for known in [keys, [:]] {
                guard case .failure(let error) = Authenticator.principal(authorization: header, keys: known) else {
                    Issue.record("accepted \(header)")
                    continue
                }
                #expect(error.code == .unauthorized)
            }
        }
    }

    @Test func aKeyWithTheRightPrefixButAnotherSecretIsRefused() {
        let forged = "spo_\(admin.record.prefix)_" + String(repeating: "a", count: 32)
        #expect(throws: APIError.self) {
            try Authenticator.principal(authorization: "Bearer \(forged)", keys: keys).get()
        }
    }

    @Test func validKeysNameTheCallerAndCarryTheirGrants() throws {
        let ops = try Authenticator.principal(authorization: "Bearer \(admin.key)", keys: keys).get()
        #expect(ops.name == "ops")
        #expect(ops.mayExecute("anything"))
        let reports = try Authenticator.principal(authorization: "bearer  \(executor.key) ", keys: keys).get()
        #expect(reports.name == "reports")
        #expect(reports.mayExecute("customer_get"))
        #expect(!reports.mayExecute("transfer"))
        let everything = APIKey(name: "all", prefix: "x", secretHash: "", role: .executor, grants: ["*"])
        #expect(everything.mayExecute("transfer"))
    }
}
