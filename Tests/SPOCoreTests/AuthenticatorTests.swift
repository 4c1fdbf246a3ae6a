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

    @Test func withoutAnyKeyCallersAreAnonymous() throws {
        #expect(try Authenticator.principal(authorization: nil, keys: [:]).get() == .anonymous)
        #expect(Principal.anonymous.mayExecute("anything"))
    }

    @Test func onceKeysExistAValidBearerKeyIsRequired() {
        for header in [
            nil, "", "Basic abc", "Bearer", "Bearer nonsense",
            "Bearer spo_00000000_" + String(repeating: "0", count: 32),
        ] {
            guard case .failure(let error) = Authenticator.principal(authorization: header, keys: keys) else {
                Issue.record("accepted \(header ?? "no header")")
                continue
            }
            #expect(error.code == .unauthorized)
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
