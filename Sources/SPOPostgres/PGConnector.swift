internal import CLibPQ
import Foundation
import Glibc

/// Opens libpq connections without blocking: `PQconnectStartParams`, then `PQconnectPoll` driven
/// by `poll(2)` until the caller's deadline, so an unresponsive host (one that accepts TCP and
/// never answers) costs the deadline, not forever.
///
/// Host names are still resolved synchronously by libpq (`getaddrinfo`); give `hostaddr` to
/// avoid even that.
enum PGConnector {
    /// A connected handle, or an error; nothing is left open when it throws.
    static func connect(_ conninfo: String, _ options: PGConnectOptions) throws(PGError) -> OpaquePointer {
        var settings = try parse(conninfo)
        let deadline = options.deadline ?? connectTimeout(settings).map { .now + $0 }
        complete(&settings, options)
        let keywords = settings.map { strdup($0.keyword) } + [nil]
        let values = settings.map { strdup($0.value) } + [nil]
        defer { (keywords + values).forEach { free($0) } }
        let started = keywords.map { UnsafePointer($0) }.withUnsafeBufferPointer { keywordPointers in
            values.map { UnsafePointer($0) }.withUnsafeBufferPointer { valuePointers in
                PQconnectStartParams(keywordPointers.baseAddress, valuePointers.baseAddress, 0)
            }
        }
        guard let handle = started else {
            throw PGError(kind: .connection, sqlstate: "08001", message: "out of memory creating a connection")
        }
        do throws(PGError) {
            try finishConnecting(handle, deadline: deadline)
            return handle
        } catch {
            PQfinish(handle)
            throw error
        }
    }

    /// The conninfo's settings (keyword or URI form), only those it gives: libpq applies its
    /// defaults and the environment for the rest when connecting.
    static func parse(_ conninfo: String) throws(PGError) -> [(keyword: String, value: String)] {
        do throws(PGConninfoError) {
            return try PGConninfo(parsing: conninfo).options.map { ($0.keyword, $0.value) }
        } catch {
            throw PGError(kind: .connection, sqlstate: "08001", message: "invalid conninfo: " + error.message)
        }
    }

    /// Adds the password, the keepalive settings and the server-side statement timeout the conninfo
    /// leaves out. The password is a setting of its own, never text appended to the conninfo (which
    /// a URI would read as part of its last component).
    static func complete(_ settings: inout [(keyword: String, value: String)], _ options: PGConnectOptions) {
        if let password = options.password {
            settings.removeAll { $0.keyword == "password" }
            settings.append(("password", password))
        }
        let given = Set(settings.map(\.keyword))
        for setting in PGConnectOptions.keepalives where !given.contains(setting.keyword) {
            settings.append(setting)
        }
        guard let timeout = options.serverStatementTimeout else { return }
        let milliseconds = max(
            1, timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        let backstop = "-c statement_timeout=\(milliseconds)"
        if let index = settings.firstIndex(where: { $0.keyword == "options" }) {
            // `options=''` says to send none (a connection pooler that refuses them).
            let given = settings[index].value
            if !given.isEmpty && !given.contains("statement_timeout") { settings[index].value += " " + backstop }
        } else {
            settings.append(("options", backstop))
        }
    }

    /// `connect_timeout` of the conninfo, which libpq honours only when connecting blocks.
    private static func connectTimeout(_ settings: [(keyword: String, value: String)]) -> Duration? {
        guard let text = settings.first(where: { $0.keyword == "connect_timeout" })?.value,
            let seconds = Int(text.trimmingCharacters(in: .whitespaces)), seconds > 0
        else { return nil }
        return .seconds(max(2, seconds))
    }

    /// Drives the connection to its end, as libpq's documentation prescribes: wait for the socket
    /// in the direction `PQconnectPoll` asks for (writing first), then call it again.
    private static func finishConnecting(_ handle: OpaquePointer, deadline: ContinuousClock.Instant?) throws(PGError) {
        guard PQstatus(handle) != CONNECTION_BAD else { throw failure(handle) }
        var state = PGRES_POLLING_WRITING
        while true {
            switch state {
            case PGRES_POLLING_OK:
                return
            case PGRES_POLLING_READING, PGRES_POLLING_WRITING:
                // The socket can change between calls (another host of a list, a retry without TLS).
                let events = state == PGRES_POLLING_READING ? POLLIN : POLLOUT
                var descriptor = pollfd(fd: PQsocket(handle), events: Int16(events), revents: 0)
                let ready = poll(&descriptor, 1, remainingMilliseconds(until: deadline))
                if ready < 0 && errno == EINTR { continue }
                if ready < 0 { throw failure(handle) }
                if ready == 0 {
                    throw PGError(
                        kind: .timeout, sqlstate: "08001",
                        message: "the database did not complete the connection before the deadline")
                }
            default:
                throw failure(handle)
            }
            state = PQconnectPoll(handle)
        }
    }

    private static func failure(_ handle: OpaquePointer) -> PGError {
        let message = String(cString: PQerrorMessage(handle)).trimmingCharacters(in: .whitespacesAndNewlines)
        return PGError(kind: .connection, sqlstate: "08001", message: message.isEmpty ? "could not connect" : message)
    }

    /// Milliseconds until `deadline` for `poll(2)` (-1: no deadline; at least 0).
    static func remainingMilliseconds(until deadline: ContinuousClock.Instant?) -> Int32 {
        guard let deadline else { return -1 }
        let remaining = ContinuousClock.now.duration(to: deadline)
        if remaining <= .zero { return 0 }
        let (seconds, attoseconds) = remaining.components
        return Int32(clamping: seconds * 1000 + attoseconds / 1_000_000_000_000_000 + 1)
    }
}
