import Foundation
import Glibc
import Testing

@testable import SPODev
@testable import SPOServer

private let users = InstanceUsers(
    postgres: ProcessUser(name: "postgres", uid: 101, gid: 102), pool: ProcessUser(name: "spo", uid: 201, gid: 202),
    nginx: ProcessUser(name: "spo-www", uid: 301, gid: 302))

@Suite struct InstancePermissionsTests {
    private let permissions = InstancePermissions(stateDirectory: "/src/.spo", clusterBase: "/src/.spo")

    @Test func asRootEachSocketDirectoryBelongsToItsUsersAlone() {
        let rules = permissions.rules(users: users)
        #expect(
            rules.first { $0.path == "/src/.spo/run" }
                == .init(path: "/src/.spo/run", owner: 201, group: 302, mode: 0o2750))
        #expect(
            rules.first { $0.path == "/src/.spo/pgsocket" }
                == .init(path: "/src/.spo/pgsocket", owner: 101, group: 202, mode: 0o2750))
        #expect(rules.first { $0.path == "/src/.spo" }?.mode == 0o711)
        // Others may at most pass through; nothing is writable or listable by them.
        #expect(rules.allSatisfy { $0.mode & 0o006 == 0 })
        #expect(Set(rules.map(\.path)).count == rules.count)
    }

    @Test func asRootWithTheClusterElsewhereBothPlacesArePassages() {
        let elsewhere = InstancePermissions(stateDirectory: "/root/src/.spo", clusterBase: "/var/tmp/spo-dev-1")
        let paths = elsewhere.rules(users: users).map(\.path)
        #expect(paths.contains("/root/src/.spo") && paths.contains("/var/tmp/spo-dev-1"))
        #expect(paths.contains("/var/tmp/spo-dev-1/run") && paths.contains("/var/tmp/spo-dev-1/pgsocket"))
        #expect(elsewhere.postgresLogDirectory == "/var/tmp/spo-dev-1/log")
    }

    @Test func notRootEverythingIsPrivate() {
        let rules = permissions.rules(users: nil)
        #expect(!rules.isEmpty)
        #expect(rules.allSatisfy { $0.mode == 0o700 && $0.owner == nil && $0.group == nil })
    }

    @Test func applyMakesTheDirectoriesWithTheirModes() throws {
        let base = NSTemporaryDirectory() + "spo-perm-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: base) }
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        chmod(base, 0o1777)  // a state directory left world-writable by an older version
        let local = InstancePermissions(stateDirectory: base, clusterBase: base)
        try local.apply(users: nil)
        for rule in local.rules(users: nil) {
            var info = stat()
            #expect(stat(rule.path, &info) == 0)
            #expect(info.st_mode & 0o7777 == 0o700, "\(rule.path)")
        }
    }

    @Test func applyRefusesALinkWhereADirectoryBelongs() throws {
        let base = NSTemporaryDirectory() + "spo-perm-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: base) }
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        symlink("/tmp", base + "/run")
        #expect(throws: SystemFailure.self) {
            try InstancePermissions(stateDirectory: base, clusterBase: base).apply(users: nil)
        }
        var info = stat()
        stat("/tmp", &info)
        #expect(info.st_mode & 0o7777 == 0o1777)
    }
}
