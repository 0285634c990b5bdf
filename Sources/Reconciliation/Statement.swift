import ExactNumbers
import Ledger

/// What a platform, liquidity provider or clearer says an account holds or did, as of a
/// time: the other side of a reconciliation. Every row keeps the line it came from.
public struct Statement: Sendable {
    /// Where it came from: a file path, or `fix:SESSION` for PositionReports.
    public var origin: String
    /// SHA-256 of the statement's bytes (hex): the same statement twice is noticed.
    public var digest: String
    /// The statement's cut-off, nanoseconds since the epoch, if it names one.
    public var asOf: Int64?
    /// The last journal offset the statement knows of, when that is known exactly (the
    /// PositionReports of a FIX session: everything booked before they arrived). It wins
    /// over `asOf`.
    public var cutoffOffset: UInt64?
    public var positions: [StatementPosition] = []
    public var cash: [StatementCash] = []
    public var trades: [StatementTrade] = []
    /// What it speaks for, even where it lists nothing (a positions statement with no
    /// rows says the accounts hold nothing): only these kinds are compared.
    public var kinds: [ReconKind]

    public init(origin: String, digest: String, asOf: Int64? = nil, kinds: [ReconKind] = []) {
        self.origin = origin
        self.digest = digest
        self.asOf = asOf
        self.kinds = kinds
    }

}

/// What a statement row is about.
public enum ReconKind: String, Sendable, Hashable, CaseIterable, Codable, Comparable {
    case positions
    case cash
    case trades

    public static func < (a: ReconKind, b: ReconKind) -> Bool { a.rawValue < b.rawValue }
}

public struct StatementPosition: Sendable, Hashable {
    public var line: Int
    public var account: String
    public var instrument: String
    /// Signed: negative is short.
    public var quantity: ExactDecimal
    public var averagePrice: ExactDecimal?
    public var currency: String?

    public init(line: Int, account: String, instrument: String, quantity: ExactDecimal,
                averagePrice: ExactDecimal? = nil, currency: String? = nil) {
        self.line = line
        self.account = account
        self.instrument = instrument
        self.quantity = quantity
        self.averagePrice = averagePrice
        self.currency = currency
    }
}

public struct StatementCash: Sendable, Hashable {
    public var line: Int
    public var account: String
    public var currency: String
    public var amount: ExactDecimal

    public init(line: Int, account: String, currency: String, amount: ExactDecimal) {
        self.line = line
        self.account = account
        self.currency = currency
        self.amount = amount
    }
}

public struct StatementTrade: Sendable, Hashable {
    public var line: Int
    /// The counterparty's id for the trade (our ExecID or platform trade id when they agree).
    public var tradeID: String
    public var account: String
    public var instrument: String
    public var side: Side
    public var quantity: ExactDecimal
    public var price: ExactDecimal
    /// When it traded, nanoseconds since the epoch, if given.
    public var time: Int64?
    public var tradeDate: CalendarDay?
    public var valueDate: CalendarDay?

    public init(line: Int, tradeID: String, account: String, instrument: String, side: Side, quantity: ExactDecimal,
                price: ExactDecimal, time: Int64? = nil, tradeDate: CalendarDay? = nil, valueDate: CalendarDay? = nil) {
        self.line = line
        self.tradeID = tradeID
        self.account = account
        self.instrument = instrument
        self.side = side
        self.quantity = quantity
        self.price = price
        self.time = time
        self.tradeDate = tradeDate
        self.valueDate = valueDate
    }
}

/// A statement that cannot be read, named by file, line and column. Nothing of a
/// statement with one is applied.
public struct StatementError: Error, CustomStringConvertible, Sendable, Equatable {
    public let file: String
    /// 0 when the problem is not on one line (an unreadable file, a missing header).
    public let line: Int
    public let column: String?
    public let why: String

    public init(file: String, line: Int, column: String? = nil, why: String) {
        self.file = file
        self.line = line
        self.column = column
        self.why = why
    }

    public var description: String {
        var text = file
        if line > 0 { text += ":\(line)" }
        if let column { text += ": column '\(column)'" }
        return text + ": " + why
    }
}
