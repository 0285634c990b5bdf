import FIXBooking
import Foundation
import FIXCore
import FIXSession
import Ledger

/// Counterfoil's application behind a drop-copy session: ExecutionReports and
/// TradeCaptureReports that are trades become bookings in the session's next write
/// (the same transaction that moves its sequence number); PositionReports,
/// RequestForPositionsAcks and, on sessions that do not book them, TradeCaptureReports
/// are kept for reconciliation; everything else an initiator
/// may send is refused with a BusinessMessageReject.
final class BookingApplication: SessionApplication {
    struct Reference {
        let seqNum: Int
        let msgType: String
        /// TradeCaptureReports: what the ack needs.
        let tradeReportID: String?
        let symbol: String?
    }

    let store: LedgerSessionStore
    let settings: SessionSettings
    let mapping = ExecutionMapping()
    let clock: () -> Int64
    /// One per booking in `store.pending.bookings`, in the same order.
    /// (The application lives on its connection's event loop: one access at a time, so no
    /// run-time exclusivity check on the hot path.)
    @exclusivity(unchecked) private(set) var references: [Reference] = []
    /// The day (days since the epoch, in the session's time zone) of the last scheduled
    /// RequestForPositions.
    private var lastScheduledRequestDay: Int?
    private var requestCount = 0
    /// The ledger source of this session's messages (`ExecutionMapping.source(of:)` of
    /// one that names it in its header), built once: building it costs Strings. Its
    /// header fields' bytes, to check a message against.
    private let source: String
    /// BeginString, the counterparty's CompID, ours: memory of its own, read without
    /// reference counting.
    private let header: UnsafeMutableRawBufferPointer
    private let beginString: UnsafeRawBufferPointer
    private let counterparty: UnsafeRawBufferPointer
    private let us: UnsafeRawBufferPointer

    deinit { header.deallocate() }

    init(store: LedgerSessionStore, settings: SessionSettings, clock: @escaping () -> Int64) {
        self.store = store
        self.settings = settings
        self.clock = clock
        let id = settings.id
        let fields = [Array(id.beginString.utf8), Array(id.targetCompID.utf8), Array(id.senderCompID.utf8)]
        header = .allocate(byteCount: max(1, fields.map(\.count).reduce(0, +)), alignment: 1)
        var views: [UnsafeRawBufferPointer] = []
        var at = 0
        for field in fields {
            let view = UnsafeMutableRawBufferPointer(rebasing: header[at..<(at + field.count)])
            view.copyBytes(from: field)
            views.append(UnsafeRawBufferPointer(view))
            at += field.count
        }
        (beginString, counterparty, us) = (views[0], views[1], views[2])
        source = "\(id.beginString):\(id.targetCompID)->\(id.senderCompID)"
    }

    func fromApp(_ message: FIXMessage, raw: UnsafeRawBufferPointer, seqNum: Int, session: Session) -> BusinessReject? {
        let type = message.msgType
        if type.equals("AE") && !settings.bookTradeCaptureReports {
            // A trade feed to reconcile against, not to book (BookTradeCaptureReports=N).
            store.pending.reports.append(SessionReport(kind: "TradeCaptureReport", time: clock(), message: Array(raw),
                                                       afterBookings: store.pending.bookings.count))
            if settings.tradeCaptureReportAck {
                acknowledge(session, reportID: message[tag: 571]?.string, symbol: message[tag: 55]?.string, accepted: true, text: nil)
            }
            return nil
        }
        if type.equals("8") || type.equals("AE") {
            let source = sourceName(of: message)
            let isTradeCapture = type.equals("AE")
            switch mapping.map(message, source: source) {
            case .execution(let execution):
                store.pending.bookings.append(SessionBooking(execution: execution, raw: store.inboundBytes(raw)))
                references.append(Reference(seqNum: seqNum, msgType: type.string,
                                            tradeReportID: isTradeCapture ? message[tag: 571]?.string : nil,
                                            symbol: isTradeCapture ? message[tag: 55]?.string : nil))
            case .notBooked:
                break
            case .invalid(let reason):
                store.pending.rejected.append(Rejected(source: source, raw: Array(raw), reason: reason))
                if isTradeCapture && settings.tradeCaptureReportAck {
                    acknowledge(session, reportID: message[tag: 571]?.string, symbol: message[tag: 55]?.string, accepted: false, text: reason)
                }
                if settings.rejectRefusedBookings { return BusinessReject(reason: 0, text: reason) }
            }
            return nil
        }
        if type.equals("AP") || type.equals("AO") {
            store.pending.reports.append(SessionReport(kind: type.equals("AP") ? "PositionReport" : "RequestForPositionsAck", time: clock(),
                                                       message: Array(raw), afterBookings: store.pending.bookings.count))
            return nil
        }
        return .unsupportedMessageType
    }

    /// `ExecutionMapping.source(of:)`: the session's own when the header names it (the
    /// session layer has checked it does), built afresh otherwise.
    private func sourceName(of message: FIXMessage) -> String {
        if let sender = message[tag: 49], let target = message[tag: 56], message.beginString.equals(beginString),
           sender.equals(counterparty), target.equals(us) {
            return source
        }
        return ExecutionMapping.source(of: message)
    }

    func onLogon(_ session: Session) {
        store.setStatus(loggedOn: true, time: clock())
    }

    func onLogout(_ session: Session) {
        store.setStatus(loggedOn: false, time: clock())
    }

    /// The references of the bookings now pending; they go with the write `store.take()` returns.
    func takeReferences() -> [Reference] {
        let taken = references
        // Room for as many next time (the list goes with the write, its storage too).
        references = []
        references.reserveCapacity(taken.count)
        return taken
    }

    /// The ledger's verdicts on committed bookings: refusals get a BusinessMessageReject
    /// (when the session says so), TradeCaptureReports their ack.
    func committed(_ references: [Reference], outcomes: [BookingOutcome], session: Session) {
        for (reference, outcome) in zip(references, outcomes) {
            var refusal: String?
            switch outcome {
            case .quarantined(_, let reason), .refused(let reason): refusal = reason
            case .booked, .duplicate, .parked: refusal = nil
            }
            if reference.msgType == "AE" && settings.tradeCaptureReportAck {
                acknowledge(session, reportID: reference.tradeReportID, symbol: reference.symbol, accepted: refusal == nil, text: refusal)
            }
            if let refusal, settings.rejectRefusedBookings {
                session.sendBusinessReject(refSeqNum: reference.seqNum, refMsgType: reference.msgType,
                                           reject: BusinessReject(reason: 0, text: "not booked: \(refusal)"), now: clock())
            }
        }
    }

    /// Sends a RequestForPositions (35=AN) for `account` (all accounts when nil) as of
    /// today; returns its PosReqID, or nil when the session is not logged on. The
    /// PositionReports that answer it are kept for `counterfoil recon --fix-session`.
    func requestPositions(_ session: Session, account: String?, now: Int64) -> String? {
        guard session.isLoggedOn else { return nil }
        requestCount += 1
        let id = "CF-\(now / 1_000_000)-\(requestCount)"
        session.sendApplication(msgType: "AN", now: now) { encoder in
            encoder.append(710, id)
            encoder.append(724, 0)  // PosReqType: positions
            encoder.append(1, account ?? "ALL")
            encoder.append(581, 1)  // AccountType: carried on the books of the platform
            encoder.append(715, FIXDate(daysSinceEpoch: Int(now / 86_400_000_000_000)))
            encoder.append(60, FIXTimestamp(nanosecondsSinceEpoch: now, fractionDigits: 3))
        }
        return id
    }

    /// Sends the day's RequestForPositions once its time (RequestForPositionsTime, in the
    /// session's time zone) has come, if the session is logged on then.
    func requestPositionsIfDue(_ session: Session, now: Int64) {
        guard let seconds = settings.requestForPositionsSeconds, session.isLoggedOn else { return }
        let offset = Int64(settings.timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(now / 1_000_000_000))))
        let local = now / 1_000_000_000 + offset
        let day = Int(local / 86_400)
        guard local % 86_400 >= Int64(seconds), lastScheduledRequestDay != day else { return }
        if lastScheduledRequestDay == nil && local % 86_400 > Int64(seconds) + 3600 {
            // Started well after the time: the first request is tomorrow's.
            lastScheduledRequestDay = day
            return
        }
        lastScheduledRequestDay = day
        _ = requestPositions(session, account: nil, now: now)
    }

    /// TradeCaptureReportAck (35=AR): TrdRptStatus (939) 0 accepted, 1 rejected.
    private func acknowledge(_ session: Session, reportID: String?, symbol: String?, accepted: Bool, text: String?) {
        session.sendApplication(msgType: "AR", now: clock()) { encoder in
            if let text, !accepted { encoder.append(58, text) }
            encoder.append(55, symbol ?? "[N/A]")
            encoder.append(571, reportID ?? "")
            encoder.append(939, accepted ? 0 : 1)
            if !accepted { encoder.append(751, 99) }
        }
    }
}
