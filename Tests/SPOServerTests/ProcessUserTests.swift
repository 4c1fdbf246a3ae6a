import Foundation
import Glibc
import Testing

@testable import SPOServer

@Suite struct ProcessUserTests {
    @Test func aMissingUserSaysHowToCreateIt() {
        #expect {
            try ProcessUser(named: "spo-no-such-user")
        } throws: { error in
            "\(error)".contains("make deps")
        }
    }

    @Test func becomingTheUserThisProcessIsChangesNothing() throws {
        let me = try #require(getpwuid(getuid())).pointee
        let user = try ProcessUser(named: String(cString: me.pw_name))
        #expect(user.uid == getuid())
        try user.become()
        #expect(getuid() == user.uid && geteuid() == user.uid)
    }

    /// The supervisor hands a worker's files over as root, in a directory the worker's user owns:
    /// a link planted there must not hand over what it points to.
    @Test func handingOverChangesALinkNotItsTarget() throws {
        let directory = NSTemporaryDirectory() + "spo-handover-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let target = directory + "/target"
        try "x".write(toFile: target, atomically: false, encoding: .utf8)
        symlink(target, directory + "/link")
        var before = stat()
        stat(target, &before)
        let other = ProcessUser(name: "other", uid: getuid() == 0 ? 65534 : getuid(), gid: getgid())
        other.handOver([directory + "/link", directory + "/missing"])
        var after = stat()
        stat(target, &after)
        #expect(after.st_uid == before.st_uid)
        var link = stat()
        lstat(directory + "/link", &link)
        #expect(link.st_uid == other.uid)
    }
}
