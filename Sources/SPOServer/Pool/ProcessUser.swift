import Foundation
import Glibc

/// An unprivileged system user that processes started as root switch to for good: the pool's
/// workers (`spo worker --user`), so a request is never handled by a root process.
///
/// The supervisor (`spo serve --user`) binds its sockets as root and then becomes the user too,
/// when that user can still start workers and read the configuration; otherwise it stays root, as
/// nginx's and php-fpm's masters do, handling no request itself.
public struct ProcessUser: Sendable, Equatable {
    public let name: String
    public let uid: uid_t
    public let gid: gid_t

    /// The user of that name in the system's user database.
    public init(named name: String) throws {
        guard let entry = getpwnam(name) else {
            throw SystemFailure(
                description: "there is no user \(name): `make deps` creates it (useradd --system), or name another")
        }
        self.init(name: name, uid: entry.pointee.pw_uid, gid: entry.pointee.pw_gid)
    }

    init(name: String, uid: uid_t, gid: gid_t) {
        self.name = name
        self.uid = uid
        self.gid = gid
    }

    /// Whether this process runs as root and may switch users.
    public static var isRoot: Bool { geteuid() == 0 }

    /// Becomes this user irrevocably: its groups first, then its group, then the user itself (after
    /// `setuid` the others are no longer allowed). Nothing to do when the process already runs as
    /// this user; a process that is neither cannot switch, and says so.
    public func become() throws {
        if getuid() == uid && geteuid() == uid { return }
        guard ProcessUser.isRoot else {
            throw SystemFailure(description: "only root can switch to the user \(name)")
        }
        guard initgroups(name, gid) == 0, setgid(gid) == 0, setuid(uid) == 0 else {
            throw SystemFailure(description: "cannot switch to the user \(name): \(String(cString: strerror(errno)))")
        }
        // setuid from root sets the saved user id too; make sure nothing can switch back.
        guard setuid(0) != 0, geteuid() == uid else {
            throw SystemFailure(description: "switched to the user \(name) but root could be regained")
        }
    }

    /// Whether this user may open `path` for `access` (`R_OK` or `X_OK`), going by the mode bits of
    /// the file and of every directory on the way (ACLs and capabilities aside): what a process
    /// about to drop root for good can still do afterwards.
    public func mayAccess(_ path: String, _ access: Int32) -> Bool {
        let groups = memberships()
        func allows(_ path: String, _ bit: mode_t) -> Bool {
            var info = stat()
            guard stat(path, &info) == 0 else { return false }
            let shift: mode_t = info.st_uid == uid ? 6 : groups.contains(info.st_gid) ? 3 : 0
            return (info.st_mode >> shift) & bit != 0
        }
        var directory = ""
        for component in path.split(separator: "/").dropLast() {
            directory += "/" + component
            if !allows(directory, 1) { return false }
        }
        return allows(path, access == X_OK ? 1 : 4)
    }

    /// The user's group and the groups it is a member of.
    private func memberships() -> Set<gid_t> {
        var count: Int32 = 64
        var groups = [gid_t](repeating: 0, count: Int(count))
        if getgrouplist(name, gid, &groups, &count) < 0 {
            groups = [gid_t](repeating: 0, count: Int(count))
            _ = getgrouplist(name, gid, &groups, &count)
        }
        return Set(groups.prefix(Int(max(count, 0)))).union([gid])
    }

    /// Gives the files at `paths` that exist to this user (those root made on the user's behalf,
    /// such as a worker's audit spool replayed by the supervisor). A symbolic link is changed
    /// itself, never what it points to: the directory belongs to this user, who could plant one.
    /// `keepingGroup`: only the owner changes (a socket nginx reaches through its group).
    public func handOver(_ paths: [String], keepingGroup: Bool = false) {
        for path in paths { _ = fchownat(AT_FDCWD, path, uid, keepingGroup ? gid_t.max : gid, AT_SYMLINK_NOFOLLOW) }
    }
}
