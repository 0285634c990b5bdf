import ExactNumbers
import FIXCore
import Ledger

/// What a drop-copy message means for the books.
public enum MappedMessage: Sendable {
    /// An execution to book.
    case execution(Execution)
    /// Not for the books (a New, Canceled, Rejected ExecutionReport; a session message):
    /// kept in the audit log only.
    case notBooked
    /// Meant for the books but unusable: quarantine it with the reason.
    case invalid(String)
}

/// Turns FIX drop-copy messages into ledger executions.
///
/// ExecutionReports (35=8): fills and partial fills are trades; ExecType G (Trade
/// Correct) and H (Trade Cancel) with ExecRefID (19) correct or bust an earlier fill.
/// FIX 4.0–4.2 say the same with ExecTransType (20): 1 cancels and 2 corrects the
/// execution named in ExecRefID. TradeCaptureReports (35=AE) are trades identified by
/// TradeReportID (571); TradeReportTransType (487) 1 cancels and 2 replaces the report
/// named in TradeReportRefID (572).
public struct ExecutionMapping: Sendable {
    public init() {}

    /// The ledger source name of a FIX session: `FIX.4.4:SENDER->TARGET`.
    public static func source(of message: FIXMessage) -> String {
        let sender = message[tag: 49]?.string ?? "?"
        let target = message[tag: 56]?.string ?? "?"
        return "\(message.beginString.string):\(sender)->\(target)"
    }

    public func map(_ message: FIXMessage, source: String) -> MappedMessage {
        let type = message.msgType
        if type.equals("8") { return mapExecutionReport(message, source: source) }
        if type.equals("AE") { return mapTradeCapture(message, source: source) }
        return .notBooked
    }

    func mapExecutionReport(_ m: FIXMessage, source: String) -> MappedMessage {
        let begin = m.beginString
        let legacy = begin.equals("FIX.4.0") || begin.equals("FIX.4.1") || begin.equals("FIX.4.2")
        guard let execID = m[tag: 17]?.string, !execID.isEmpty else { return .invalid("ExecutionReport without ExecID (17)") }
        let execType = try? m[tag: 150]?.char()
        var kind = ExecutionKind.trade
        if legacy, let transType = try? m[tag: 20]?.char(), transType != UInt8(ascii: "0") {
            guard let reference = m[tag: 19]?.string else { return .invalid("ExecTransType \(Character(Unicode.Scalar(transType))) without ExecRefID (19)") }
            switch transType {
            case UInt8(ascii: "1"): kind = .bust(of: reference)
            case UInt8(ascii: "2"): kind = .correction(of: reference)
            default: return .notBooked  // 3 = Status
            }
        } else {
            switch execType {
            case UInt8(ascii: "F"): kind = .trade
            case UInt8(ascii: "1"), UInt8(ascii: "2"):
                // Partial fill / fill: the pre-4.3 way of saying Trade.
                guard legacy else { return .notBooked }
                kind = .trade
            case UInt8(ascii: "G"), UInt8(ascii: "H"):
                guard let reference = m[tag: 19]?.string else { return .invalid("trade correction or bust without ExecRefID (19)") }
                kind = execType == UInt8(ascii: "G") ? .correction(of: reference) : .bust(of: reference)
            case nil:
                return .invalid("ExecutionReport without ExecType (150)")
            default:
                return .notBooked
            }
        }
        return build(m, source: source, id: execID, kind: kind, account: m[tag: 1]?.string, side: m[tag: 54])
    }

    func mapTradeCapture(_ m: FIXMessage, source: String) -> MappedMessage {
        guard let reportID = m[tag: 571]?.string, !reportID.isEmpty else { return .invalid("TradeCaptureReport without TradeReportID (571)") }
        var kind = ExecutionKind.trade
        if let transType = try? m[tag: 487]?.int(), transType != 0 {
            guard let reference = m[tag: 572]?.string else { return .invalid("TradeReportTransType \(transType) without TradeReportRefID (572)") }
            switch transType {
            case 1: kind = .bust(of: reference)
            case 2: kind = .correction(of: reference)
            default: return .notBooked
            }
        } else if let execType = try? m[tag: 150]?.char(), execType == UInt8(ascii: "H"), let reference = m[tag: 572]?.string {
            kind = .bust(of: reference)
        }
        // The first side of the sides group (552) is the account's side in a drop copy.
        let sidePosition = m.firstPosition(of: 552).flatMap { m.position(of: 54, from: $0) }
        let side = sidePosition.map { m[$0].value }
        let account = sidePosition.flatMap { m.position(of: 1, from: $0) }.map { m[$0].value.string } ?? m[tag: 1]?.string
        return build(m, source: source, id: reportID, kind: kind, account: account, side: side)
    }

    /// Without an Account (1), the account a PartyID names: the first party whose role
    /// (452) is customer account (24) or client ID (3), as `source:role:id` (447:452:448),
    /// the form a CRM links PartyIDs to clients with.
    static func partyAccount(_ m: FIXMessage) -> String? {
        var best: (rank: Int, value: String)?
        var position = 0
        while let idPosition = m.position(of: 448, from: position) {
            let id = m[idPosition].value.string
            var source = ""
            var role = ""
            var next = idPosition + 1
            while next < m.count, m.tag(at: next) == 447 || m.tag(at: next) == 452 || m.tag(at: next) == 802 {
                if m.tag(at: next) == 447 { source = m[next].value.string }
                if m.tag(at: next) == 452 { role = m[next].value.string }
                next += 1
            }
            let rank = role == "24" ? 0 : (role == "3" ? 1 : 2)
            if rank < 2 && !id.isEmpty && (best == nil || rank < best!.rank) { best = (rank, "\(source):\(role):\(id)") }
            position = idPosition + 1
        }
        return best?.value
    }

    func build(_ m: FIXMessage, source: String, id: String, kind: ExecutionKind, account: String?, side sideValue: FIXValue?) -> MappedMessage {
        let account = (account?.isEmpty ?? true) ? Self.partyAccount(m) : account
        guard let account, !account.isEmpty else { return .invalid("missing Account (1) and no PartyID (448) with role 24 or 3") }
        guard let instrument = m[tag: 55]?.string, !instrument.isEmpty else { return .invalid("missing Symbol (55)") }
        guard let sideValue, let sideByte = try? sideValue.char() else { return .invalid("missing or malformed Side (54)") }
        let side: Side
        switch sideByte {
        case UInt8(ascii: "1"), UInt8(ascii: "3"): side = .buy       // Buy, Buy minus
        case UInt8(ascii: "2"), UInt8(ascii: "4"), UInt8(ascii: "5"), UInt8(ascii: "6"): side = .sell  // Sell, Sell plus, Sell short (exempt)
        default: return .invalid("Side (54) \(sideValue.printable) is neither a buy nor a sell")
        }
        let quantity: ExactDecimal
        let price: ExactDecimal
        if case .bust = kind {
            quantity = (try? m[tag: 32]?.decimal()) ?? .zero
            price = (try? m[tag: 31]?.decimal()) ?? .zero
        } else {
            guard let q = m[tag: 32] else { return .invalid("missing LastQty (32)") }
            guard let qv = try? q.decimal() else { return .invalid("LastQty (32) '\(q.printable)' is not a number") }
            guard let p = m[tag: 31] else { return .invalid("missing LastPx (31)") }
            guard let pv = try? p.decimal() else { return .invalid("LastPx (31) '\(p.printable)' is not a number") }
            quantity = qv
            price = pv
        }
        // Currency (15); for a currency pair without it, the quote currency.
        var currency = m[tag: 15]?.string ?? ""
        if currency.isEmpty {
            let parts = instrument.split(separator: "/")
            if parts.count == 2 && parts[1].count == 3 { currency = String(parts[1]) }
        }
        guard !currency.isEmpty else { return .invalid("missing Currency (15)") }
        var transactTime: Int64 = 0
        if let value = m[tag: 60] {
            guard let time = try? value.timestamp() else { return .invalid("TransactTime (60) '\(value.printable)' is not a UTCTimestamp") }
            transactTime = time.nanosecondsSinceEpoch
        } else if let time = try? m[tag: 52]?.timestamp() {
            transactTime = time.nanosecondsSinceEpoch
        }
        let tradeDate: CalendarDay
        if let value = m[tag: 75] {
            guard let date = try? value.date() else { return .invalid("TradeDate (75) '\(value.printable)' is not a date") }
            tradeDate = date.calendarDay
        } else {
            tradeDate = CalendarDay(daysSinceEpoch: Int(transactTime / 86_400_000_000_000))
        }
        var settlementDate: CalendarDay?
        if let value = m[tag: 64] {
            guard let date = try? value.date() else { return .invalid("SettlDate (64) '\(value.printable)' is not a date") }
            settlementDate = date.calendarDay
        }
        var commission = ExactDecimal.zero
        if let value = m[tag: 12] {
            guard let amount = try? value.decimal() else { return .invalid("Commission (12) '\(value.printable)' is not a number") }
            // CommType (13): 1 per unit, 2 percent of the notional, 3 absolute (the default).
            switch (try? m[tag: 13]?.char()) ?? UInt8(ascii: "3") {
            case UInt8(ascii: "1"): commission = amount * quantity
            case UInt8(ascii: "2"): commission = (amount * quantity * price).divided(by: 100, scale: 8)
            default: commission = amount
            }
        }
        return .execution(Execution(
            source: source, executionID: id, kind: kind, account: account, instrument: instrument, side: side,
            quantity: quantity, price: price, currency: currency, tradeDate: tradeDate, transactTime: transactTime,
            settlementDate: settlementDate, commission: commission, fees: .zero))
    }
}
