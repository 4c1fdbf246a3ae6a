import Foundation
import Glibc
import Testing

@testable import SPOServer

/// The pool's state files are created exclusively and private, and a link or a special file
/// planted at their path is refused rather than opened.
@Suite struct PrivateFileTests {
    let directory: String

    init() throws {
        directory = NSTemporaryDirectory() + "spo-private-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
    }

    @Test func aNewFileIsMadePrivateAndReopened() throws {
        let path = directory + "/w0.sock.spool"
        let made = PrivateFile.open(path, O_RDWR)
        try #require(made >= 0)
        close(made)
        var status = stat()
        stat(path, &status)
        #expect(status.st_mode & 0o777 == 0o600)
        let again = PrivateFile.open(path, O_RDWR)
        #expect(again >= 0)
        close(again)
    }

    @Test func aSymbolicLinkIsRefused() {
        let target = directory + "/victim"
        FileManager.default.createFile(atPath: target, contents: Data("keep".utf8))
        symlink(target, directory + "/w0.sock.inflight")
        #expect(PrivateFile.open(directory + "/w0.sock.inflight", O_RDWR) < 0)
        #expect(InFlightJournal.takeLeftover(at: directory + "/w0.sock.inflight") == nil)
        #expect(AuditSpool(path: directory + "/w0.sock.inflight") == nil)
        #expect(try! String(contentsOfFile: target, encoding: .utf8) == "keep", "the target is untouched")
    }

    @Test func aHardLinkIsRefused() {
        let target = directory + "/victim"
        FileManager.default.createFile(atPath: target, contents: Data("{\"x\":1}\n".utf8))
        link(target, directory + "/w1.sock.inflight")
        #expect(PrivateFile.open(directory + "/w1.sock.inflight", O_RDWR) < 0)
        #expect(InFlightJournal.takeLeftover(at: directory + "/w1.sock.inflight") == nil)
        #expect(try! String(contentsOfFile: target, encoding: .utf8) == "{\"x\":1}\n", "the target is untouched")
    }

    @Test func aFIFOIsRefusedWithoutBlocking() {
        mkfifo(directory + "/w2.sock.spool", 0o600)
        #expect(PrivateFile.open(directory + "/w2.sock.spool", O_RDWR) < 0)
        #expect(PrivateFile.open(directory + "/w2.sock.spool", O_WRONLY | O_APPEND) < 0)
    }
}
