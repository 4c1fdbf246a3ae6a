import Testing

@testable import SPOCore

/// `spo keys create` refuses nonsense before it reaches the table: a name its CHECK constraint
/// would refuse (a database error before), grants that no service name could ever match (stored
/// before, a key that silently runs nothing).
@Suite struct APIKeyValidationTests {
    @Test(arguments: ["gateway", "ci.deploy@example.com", "A1", "x-y_z", String(repeating: "k", count: 63)])
    func namesTheTableAllows(name: String) {
        #expect(APIKey.problem(name: name, role: .admin, grants: []) == nil)
    }

    @Test(arguments: ["", "-leading", "with space", "semi;colon", "ünicode", String(repeating: "k", count: 64)])
    func namesTheTableRefuses(name: String) {
        #expect(APIKey.problem(name: name, role: .admin, grants: [])?.hasPrefix("--name") == true)
    }

    @Test func grantsAreServiceNamesOrTheWildcard() {
        #expect(APIKey.problem(name: "k", role: .executor, grants: ["customer_get", "*", "not-yet-created"]) == nil)
        #expect(APIKey.problem(name: "k", role: .executor, grants: []) != nil)
        for grant in ["Customer_Get", "", "a b", "'; DROP TABLE x; --", "**"] {
            #expect(APIKey.problem(name: "k", role: .executor, grants: [grant])?.contains("--grant") == true)
        }
    }
}
