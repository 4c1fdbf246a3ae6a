import Foundation
import Glibc
import Logging
import SPOJSON
import SPOPostgres
import Testing

@testable import SPOServer

@Suite struct JSONLogHandlerTests {
    /// A pipe the handler writes to, read back line by line.
    final class Capture {
        let read: Int32
        let write: Int32

        init() {
            var ends: [Int32] = [0, 0]
            pipe(&ends)
            (read, write) = (ends[0], ends[1])
            _ = fcntl(read, F_SETFL, fcntl(read, F_GETFL) | O_NONBLOCK)
        }

        deinit {
            close(read)
            close(write)
        }

        func logger(_ component: String, level: Logger.Level = .info) -> Logger {
            Logger(label: component) { _ in
                JSONLogHandler(
                    component: component, level: LogLevelCell(level), output: self.write,
                    metadataProvider: RequestScope.metadataProvider)
            }
        }

        /// Everything written so far, as lines.
        func lines() -> [String] {
            var bytes: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = Glibc.read(read, &buffer, buffer.count)
                if count <= 0 { break }
                bytes += buffer[0..<count]
            }
            return String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
                .map(String.init)
        }
    }

    @Test func aLineIsOneJSONObjectWithTheFixedFieldsFirst() throws {
        let capture = Capture()
        capture.logger("worker").warning(
            "execution failed",
            metadata: ["zeta": "last", "service": "customer_get", "attempts": .stringConvertible(2)])
        let lines = capture.lines()
        #expect(lines.count == 2 && lines.last == "", "one line ending in a newline: \(lines)")
        let json = try JSONValue.parse(Array(lines[0].utf8))
        let keys = json.members?.map(\.key) ?? []
        #expect(keys == ["time", "level", "component", "pid", "event", "service", "attempts", "zeta"])
        #expect(json["level"] == .string("warning"))
        #expect(json["component"] == .string("worker"))
        #expect(json["pid"]?.intValue == Int(getpid()))
        #expect(json["event"] == .string("execution failed"))
        #expect(json["attempts"] == .number(2), "numbers stay numbers")
        let time = try #require(json["time"]?.stringValue)
        #expect(time.count == 24 && time.hasSuffix("Z"), "\(time)")
        #expect(ISO8601DateFormatter.withMilliseconds.date(from: time) != nil, "\(time)")
    }

    @Test func theTimeIsUTCWithMilliseconds() {
        var time = timespec()
        time.tv_sec = 1_795_614_187  // 2026-11-25T13:43:07Z
        time.tv_nsec = 45_000_000
        #expect(JSONLogHandler.timestamp(time) == "2026-11-25T13:43:07.045Z")
    }

    @Test func theRequestScopeAddsItsIdsToEveryLine() throws {
        let capture = Capture()
        let scope = RequestScope(correlationID: "req-42")
        RequestScope.$current.withValue(scope) {
            capture.logger("audit").info("before the execution is known")
            scope.identify(executionID: "0190-e", service: "customer_get")
            capture.logger("postgres").info("a notice", metadata: ["severity": "NOTICE"])
        }
        capture.logger("worker").info("after the request")
        let lines = try capture.lines().filter { !$0.isEmpty }.map { try JSONValue.parse(Array($0.utf8)) }
        #expect(lines.count == 3)
        #expect(lines[0]["correlation_id"] == .string("req-42"))
        #expect(lines[0]["execution_id"] == nil)
        #expect(
            lines[1].members?.map(\.key)
                == [
                    "time", "level", "component", "pid", "event", "correlation_id", "execution_id", "service",
                    "severity",
                ])
        #expect(lines[1]["execution_id"] == .string("0190-e"))
        #expect(lines[1]["service"] == .string("customer_get"))
        #expect(lines[2]["correlation_id"] == nil, "the scope ends with the request")
    }

    @Test func linesBelowTheLevelAreNotWrittenNorBuilt() {
        let capture = Capture()
        let logger = capture.logger("executor", level: .info)
        var built = 0
        func message() -> Logger.Message {
            built += 1
            return "expensive"
        }
        logger.debug(message())
        #expect(built == 0)
        #expect(capture.lines() == [""])
        logger.info(message())
        #expect(built == 1)
    }

    @Test func theFacadeBuildsNothingForALevelThatIsOff() {
        var built = 0
        func fields() -> KeyValuePairs<String, JSONValue> {
            built += 1
            return ["a": .null]
        }
        #expect(!Log.isEnabled(.debug, component: .supervisor))
        Log.debug("never", fields(), component: .supervisor)
        #expect(built == 0)
    }

    @Test func strangeTextIsEscapedAndStaysOneLine() throws {
        let capture = Capture()
        capture.logger("worker").error("two\nlines \"quoted\" \u{1}", metadata: ["path": "/a\\b"])
        let lines = capture.lines()
        #expect(lines.count == 2)
        let json = try JSONValue.parse(Array(lines[0].utf8))
        #expect(json["event"] == .string("two\nlines \"quoted\" \u{1}"))
        #expect(json["path"] == .string("/a\\b"))
    }

    @Test func metadataCannotReplaceTheFixedFields() throws {
        let capture = Capture()
        capture.logger("worker").info("real", metadata: ["event": "forged", "level": "error"])
        let json = try JSONValue.parse(Array(capture.lines()[0].utf8))
        #expect(json["event"] == .string("real"))
        #expect(json["level"] == .string("info"))
        #expect(json.members?.count == 5)
    }

    @Test func noticesMapToLevelsBySeverity() {
        let cases: [(PGNotice.Severity, Logger.Level)] = [
            (.debug, .debug), (.log, .debug), (.info, .info), (.notice, .info), (.warning, .warning),
        ]
        for (severity, level) in cases {
            let entry = Log.entry(for: PGNotice(severity: severity, sqlstate: "00000", message: "m", hint: "h"))
            #expect(entry.level == level, "\(severity)")
            #expect(entry.metadata()["severity"] == .string(severity.rawValue))
            #expect(entry.metadata()["hint"] == .string("h"))
            #expect(entry.metadata()["detail"] == nil)
        }
    }
}

extension ISO8601DateFormatter {
    nonisolated(unsafe) static let withMilliseconds: ISO8601DateFormatter = {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter
    }()
}
