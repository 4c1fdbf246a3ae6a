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

    /// What the supervisor checks before it drops root: the mode bits of the file and of every
    /// directory on the way, for the user's owner, group or other class.
    @Test func mayAccessFollowsTheModeBitsOnTheWay() throws {
        let directory = NSTemporaryDirectory() + "spo-access-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let file = directory + "/file"
        try "x".write(toFile: file, atomically: false, encoding: .utf8)
        let stranger = ProcessUser(name: "stranger", uid: 4_000_001, gid: 4_000_001)
        chmod(directory, 0o755)
        chmod(file, 0o644)
        #expect(stranger.mayAccess(file, R_OK))
        #expect(!stranger.mayAccess(file, X_OK))
        chmod(file, 0o600)
        #expect(!stranger.mayAccess(file, R_OK))
        chmod(file, 0o644)
        chmod(directory, 0o700)
        #expect(!stranger.mayAccess(file, R_OK))
        let owner = ProcessUser(name: "owner", uid: getuid(), gid: getgid())
        #expect(owner.mayAccess(file, R_OK))
        #expect(!stranger.mayAccess(directory + "/missing", R_OK))
    }
}
