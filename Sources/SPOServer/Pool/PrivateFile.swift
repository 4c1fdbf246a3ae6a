import Glibc

/// Opening the pool's state files (in-flight journals, audit spools): never through a symbolic
/// link (`O_NOFOLLOW`), created exclusively (`O_CREAT | O_EXCL`, mode 0600) when missing, and
/// otherwise only when what is there is a regular file with one link, owned by this user (or
/// opened by root, which recovers the files its workers own). So a link planted at the path —
/// symbolic or hard, to `/etc/shadow` say — is refused instead of read, truncated or written by
/// a supervisor running as root.
enum PrivateFile {
    /// A descriptor of the file at `path` opened with `flags` (`O_RDWR`, `O_APPEND`, …), or -1.
    static func open(_ path: String, _ flags: Int32, create: Bool = true) -> Int32 {
        let safe = flags | O_NOFOLLOW | O_CLOEXEC
        if create {
            let made = Glibc.open(path, safe | O_CREAT | O_EXCL, 0o600)
            if made >= 0 || errno != EEXIST { return made }
        }
        // O_NONBLOCK: a FIFO planted at the path must not block the open; it is refused below.
        let descriptor = Glibc.open(path, safe | O_NONBLOCK)
        guard descriptor >= 0 else { return -1 }
        var status = stat()
        guard fstat(descriptor, &status) == 0, status.st_mode & S_IFMT == S_IFREG, status.st_nlink == 1,
            status.st_uid == geteuid() || geteuid() == 0
        else {
            close(descriptor)
            errno = EPERM
            return -1
        }
        _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) & ~O_NONBLOCK)
        return descriptor
    }
}
