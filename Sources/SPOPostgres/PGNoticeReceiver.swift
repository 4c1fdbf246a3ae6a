internal import CLibPQ

/// Hands one connection's notices to a Swift handler, as libpq's notice receiver (replacing its
/// default, which prints them on standard error). The connection keeps it alive until `PQfinish`.
final class PGNoticeReceiver {
    private let handler: PGNoticeHandler

    init(handler: @escaping PGNoticeHandler, on connection: OpaquePointer) {
        self.handler = handler
        PQsetNoticeReceiver(
            connection,
            { argument, result in
                guard let argument, let result else { return }
                let receiver = Unmanaged<PGNoticeReceiver>.fromOpaque(argument).takeUnretainedValue()
                receiver.handler(PGNoticeReceiver.notice(from: result))
            }, Unmanaged.passUnretained(self).toOpaque())
    }

    private static func notice(from result: OpaquePointer) -> PGNotice {
        func field(_ code: UInt8) -> String? {
            guard let text = PQresultErrorField(result, Int32(code)) else { return nil }
            return String(cString: text)
        }
        // `V` is the severity never localized; a DEBUG1…DEBUG5 is a debug message.
        let severity = field(UInt8(ascii: "V")) ?? field(UInt8(ascii: "S")) ?? "NOTICE"
        return PGNotice(
            severity: severity.hasPrefix("DEBUG") ? .debug : PGNotice.Severity(rawValue: severity) ?? .notice,
            sqlstate: field(UInt8(ascii: "C")), message: field(UInt8(ascii: "M")) ?? "",
            detail: field(UInt8(ascii: "D")), hint: field(UInt8(ascii: "H")))
    }
}
