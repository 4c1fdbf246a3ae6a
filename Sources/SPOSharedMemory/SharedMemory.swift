import CSharedMemory
import Glibc

/// 64-bit words of memory shared between processes: a file mapped `MAP_SHARED`, or an anonymous
/// mapping private to this process.
///
/// Every access is an atomic load or store with relaxed ordering, so several processes may read
/// a word while one writes it without tearing (on x86-64 and arm64 these are plain moves: no lock,
/// no fence, no system call). The memory is meant for regions with a single writer each, which is
/// why `add` is a load and a store rather than a read-modify-write.
///
/// The mapping lives as long as the object; the kernel keeps a file's pages when the process
/// dies, so what a killed process wrote is still there for the next one that maps the file.
public final class SharedMemory: @unchecked Sendable {
    // @unchecked: the words are only touched through atomic operations; the pointer never changes.

    /// How many words the memory holds.
    public let wordCount: Int
    private let words: UnsafeMutablePointer<UInt64>
    private let byteCount: Int

    /// Maps the file at `path`, sized to `wordCount` words. It is created with mode 0600 when
    /// missing, never opened through a symbolic link, and must be a regular file owned by this
    /// user. With `reset`, it starts all zeros; otherwise what it held is kept (grown with zeros).
    public init(path: String, wordCount: Int, reset: Bool) throws(SharedMemoryError) {
        let byteCount = wordCount * MemoryLayout<UInt64>.size
        let descriptor = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw SharedMemoryError("cannot open \(path)") }
        defer { close(descriptor) }  // the mapping outlives the descriptor
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw SharedMemoryError("cannot inspect \(path)") }
        // One link: a hard link planted at the path would map (and reset) another file of ours.
        guard status.st_mode & S_IFMT == S_IFREG, status.st_uid == geteuid(), status.st_nlink == 1 else {
            throw SharedMemoryError("\(path) is not a regular file of this user", code: 0)
        }
        if reset, ftruncate(descriptor, 0) != 0 { throw SharedMemoryError("cannot empty \(path)") }
        if reset || Int(status.st_size) < byteCount, ftruncate(descriptor, off_t(byteCount)) != 0 {
            throw SharedMemoryError("cannot size \(path)")
        }
        _ = fchmod(descriptor, 0o600)
        guard let mapping = mmap(nil, byteCount, PROT_READ | PROT_WRITE, MAP_SHARED, descriptor, 0),
            mapping != MAP_FAILED
        else { throw SharedMemoryError("cannot map \(path)") }
        self.wordCount = wordCount
        self.byteCount = byteCount
        words = mapping.bindMemory(to: UInt64.self, capacity: wordCount)
    }

    /// Zeroed memory of `wordCount` words that only this process sees.
    public init(anonymousWordCount wordCount: Int) throws(SharedMemoryError) {
        let byteCount = wordCount * MemoryLayout<UInt64>.size
        guard let mapping = mmap(nil, byteCount, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
            mapping != MAP_FAILED
        else { throw SharedMemoryError("cannot map anonymous memory") }
        self.wordCount = wordCount
        self.byteCount = byteCount
        words = mapping.bindMemory(to: UInt64.self, capacity: wordCount)
    }

    deinit {
        munmap(UnsafeMutableRawPointer(words), byteCount)
    }

    /// The word at `index`.
    @inline(__always)
    public func load(_ index: Int) -> UInt64 {
        precondition(index >= 0 && index < wordCount, "shared memory index out of range")
        return spo_load_relaxed(words + index)
    }

    /// Sets the word at `index`.
    @inline(__always)
    public func store(_ index: Int, _ value: UInt64) {
        precondition(index >= 0 && index < wordCount, "shared memory index out of range")
        spo_store_relaxed(words + index, value)
    }

    /// Adds `delta` to the word at `index` (wrapping). Not a read-modify-write: correct only for
    /// the word's single writer, which is what makes it cost two moves.
    @inline(__always)
    public func add(_ index: Int, _ delta: UInt64) {
        store(index, load(index) &+ delta)
    }

    /// Publishes the word at `index` after the stores before it: a reader that sees it with
    /// `loadAcquiring` sees them too (for a record written once, then marked present).
    public func storeReleasing(_ index: Int, _ value: UInt64) {
        precondition(index >= 0 && index < wordCount, "shared memory index out of range")
        spo_store_release(words + index, value)
    }

    /// The word at `index`, and everything stored before a `storeReleasing` of it.
    public func loadAcquiring(_ index: Int) -> UInt64 {
        precondition(index >= 0 && index < wordCount, "shared memory index out of range")
        return spo_load_acquire(words + index)
    }
}
