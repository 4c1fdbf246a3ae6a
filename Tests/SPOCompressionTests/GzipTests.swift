import Foundation
import SPOCompression
import Testing

@Suite struct GzipTests {
    /// What the system's gzip (not zlib through this wrapper) reads back from `bytes`.
    private func gunzip(_ bytes: [UInt8]) throws -> (status: Int32, output: [UInt8]) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/gzip")
        process.arguments = ["-dc"]
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Written from another thread: a large output would otherwise fill the pipe and block both.
        let writer = Thread {
            input.fileHandleForWriting.write(Data(bytes))
            try? input.fileHandleForWriting.close()
        }
        writer.start()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, [UInt8](data))
    }

    @Test func theSystemsGzipReadsBackWhatWasCompressed() throws {
        let document = Array(
            (0..<20_000).map { "{\"service_\($0)\": {\"type\": \"object\", \"required\": [\"p_id\"]}}," }.joined().utf8)
        let compressed = Gzip.compress(document)
        #expect(compressed.starts(with: [0x1f, 0x8b]))  // the gzip magic number
        #expect(compressed.count * 10 < document.count)  // repetitive JSON shrinks by far more than 10 ×
        let (status, output) = try gunzip(compressed)
        #expect(status == 0)
        #expect(output == document)
    }

    @Test func anEmptyBodyIsAValidEmptyStream() throws {
        let (status, output) = try gunzip(Gzip.compress([]))
        #expect(status == 0)
        #expect(output.isEmpty)
    }

    @Test func aCorruptedStreamIsRefusedByTheReader() throws {
        var compressed = Gzip.compress(Array(repeating: UInt8(ascii: "a"), count: 10_000))
        compressed[compressed.count - 6] ^= 0xff  // inside the CRC-32 trailer
        #expect(try gunzip(compressed).status != 0)
    }
}
