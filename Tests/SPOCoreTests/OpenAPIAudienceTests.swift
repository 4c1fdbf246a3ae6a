import SPOJSON
import Testing

@testable import SPOCore

/// The key a rendering of the document is kept under: callers with equal audiences must get the
/// same document, callers with different ones may not share it.
@Suite struct OpenAPIAudienceTests {
    let configuration: Configuration = {
        var configuration = Configuration()
        for (name, isPublic) in [("open_one", true), ("granted_one", false), ("other_one", false)] {
            var service = ServiceDefinition(
                name: name, connection: "demo", procedure: QualifiedName(schema: "demo", name: name),
                resultShape: .scalar, parameters: [])
            service.isPublic = isPublic
            configuration.services[name] = service
        }
        return configuration
    }()

    private func caller(_ role: APIKey.Role, _ grants: [String], name: String = "k") -> Principal {
        Principal(name: name, key: APIKey(name: name, prefix: "aaaaaaaa", secretHash: "", role: role, grants: grants))
    }

    private func document(_ caller: Principal) -> String {
        OpenAPIDocument.make(configuration, for: caller).serialized()
    }

    @Test func keysWithTheSameRoleAndGrantsShareOneAudienceAndOneDocument() {
        let first = caller(.executor, ["other_one", "granted_one"], name: "reports")
        let second = caller(.executor, ["granted_one", "other_one", "granted_one"], name: "billing")
        #expect(OpenAPIAudience(first) == OpenAPIAudience(second))
        #expect(document(first) == document(second))
        let admins = (caller(.admin, [], name: "ops"), caller(.admin, ["granted_one"], name: "root"))
        #expect(OpenAPIAudience(admins.0) == OpenAPIAudience(admins.1))
        #expect(document(admins.0) == document(admins.1))
        #expect(OpenAPIAudience(caller(.executor, ["*", "granted_one"])) == OpenAPIAudience(caller(.executor, ["*"])))
        #expect(document(caller(.executor, ["*", "granted_one"])) == document(caller(.executor, ["*"])))
    }

    @Test func callersWhoSeeDifferentDocumentsHaveDifferentAudiences() {
        let callers = [
            Principal.anonymous, caller(.admin, []), caller(.executor, []), caller(.executor, ["granted_one"]),
            caller(.executor, ["*"]),
        ]
        #expect(Set(callers.map(OpenAPIAudience.init)).count == callers.count)
        #expect(Set(callers.map(document)).count == callers.count)
    }
}
