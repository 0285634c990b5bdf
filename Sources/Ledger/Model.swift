import ExactNumbers

/// Buy or sell, from the account's point of view.
public enum Side: UInt8, Sendable, Hashable, Codable, CustomStringConvertible {
    case buy = 1
    case sell = 2

    /// +1 for a buy, -1 for a sell.
    public var sign: ExactDecimal { self == .buy ? 1 : -1 }
    public var description: String { self == .buy ? "buy" : "sell" }
}

/// What an execution does to the books.
public enum ExecutionKind: Sendable, Hashable {
    /// A fill: books a trade.
    case trade
    /// Replaces the execution `executionID` (same source) with this one.
    case correction(of: String)
    /// Cancels the execution `executionID` (same source).
    case bust(of: String)
}

/// The ledger's input: one execution, whoever reported it (a FIX ExecutionReport or
/// TradeCaptureReport, a FAST trade, a manual entry). The ledger knows nothing of FIX.
public struct Execution: Sendable, Hashable {
    /// Who reported it: a FIX session, a feed, "manual".
    public var source: String
    /// The source's identity for it (ExecID, trade id). With `source`, unique.
    public var executionID: String
    public var kind: ExecutionKind
    public var account: String
    public var instrument: String
    public var side: Side
    public var quantity: ExactDecimal
    public var price: ExactDecimal
    public var currency: String
    public var tradeDate: CalendarDay
    /// When it happened, nanoseconds since the epoch.
    public var transactTime: Int64
    /// The value date the source gave (SettlDate 64), if any.
    public var settlementDate: CalendarDay?
    /// Commission charged to the account, in `currency`.
    public var commission: ExactDecimal
    /// Other fees charged to the account, in `currency`.
    public var fees: ExactDecimal

    public init(source: String, executionID: String, kind: ExecutionKind = .trade, account: String,
                instrument: String, side: Side, quantity: ExactDecimal, price: ExactDecimal, currency: String,
                tradeDate: CalendarDay, transactTime: Int64, settlementDate: CalendarDay? = nil,
                commission: ExactDecimal = .zero, fees: ExactDecimal = .zero) {
        self.source = source
        self.executionID = executionID
        self.kind = kind
        self.account = account
        self.instrument = instrument
        self.side = side
        self.quantity = quantity
        self.price = price
        self.currency = currency
        self.tradeDate = tradeDate
        self.transactTime = transactTime
        self.settlementDate = settlementDate
        self.commission = commission
        self.fees = fees
    }
}

/// Something that could not be turned into an execution or booked, kept with its raw
/// input so that ops can fix and rebook it.
public struct Rejected: Sendable, Hashable {
    public var source: String
    /// The raw input (a FIX message, a feed record) as received.
    public var raw: [UInt8]
    public var reason: String

    public init(source: String, raw: [UInt8], reason: String) {
        self.source = source
        self.raw = raw
        self.reason = reason
    }
}

/// How far a source has been booked: for a FIX session, the last inbound MsgSeqNum
/// covered. Committed in the same transaction as the bookings it covers.
public struct SourceProgress: Sendable, Hashable {
    public var source: String
    public var position: UInt64

    public init(source: String, position: UInt64) {
        self.source = source
        self.position = position
    }
}

/// What booking one execution did.
public enum BookingOutcome: Sendable, Hashable {
    /// Booked at this journal offset (for a correction, the replacement's offset).
    case booked(offset: UInt64)
    /// Already booked (a resend, a replay): nothing changed.
    case duplicate(offset: UInt64)
    /// The identity was used before for a different execution: refused, nothing changed.
    case refused(reason: String)
    /// Invalid: kept in quarantine with the reason, nothing booked.
    case quarantined(id: UInt64, reason: String)
    /// A correction or bust of an execution not (yet) booked: kept until it arrives.
    case parked(reason: String)
}

/// Errors of the ledger as a whole (not of one booking).
public enum LedgerError: Error, CustomStringConvertible, Sendable {
    case corrupt(String)
    case invalid(String)
    case notFound(String)
    /// A `Ledger.write` body refused its request (before writing anything): only that
    /// request fails, not the batch it was committed with.
    case refused(any Error & Sendable)

    public var description: String {
        switch self {
        case .corrupt(let what): return "ledger store is corrupt: \(what)"
        case .invalid(let what): return what
        case .notFound(let what): return what
        case .refused(let error): return "\(error)"
        }
    }
}

/// The P&L method a ledger realizes profits with; chosen when the ledger is created.
public enum RealizedPnLMethod: UInt8, Sendable, Hashable, CaseIterable {
    case averageCost = 1
    case fifo = 2
}
