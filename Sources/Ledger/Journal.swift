import Foundation
import ExactNumbers

/// What a balance is held in: units of an instrument or an amount of a currency.
public enum Asset: Hashable, Sendable, Comparable, CustomStringConvertible {
    case instrument(String)
    case currency(String)

    public var description: String {
        switch self {
        case .instrument(let name): return name
        case .currency(let code): return code
        }
    }

    static let instrumentTag: UInt8 = 1
    static let currencyTag: UInt8 = 2

    var keyTag: UInt8 {
        switch self {
        case .instrument: return Self.instrumentTag
        case .currency: return Self.currencyTag
        }
    }

    var name: String {
        switch self {
        case .instrument(let name), .currency(let name): return name
        }
    }

    init(tag: UInt8, name: String) throws {
        switch tag {
        case Self.instrumentTag: self = .instrument(name)
        case Self.currencyTag: self = .currency(name)
        default: throw LedgerError.corrupt("asset tag \(tag)")
        }
    }
}

/// One leg of a double-entry booking: `amount` of `asset` to (positive) or from
/// (negative) `account`. The legs of an entry sum to zero for every asset.
public struct Posting: Hashable, Sendable {
    public var account: String
    public var asset: Asset
    public var amount: ExactDecimal

    public init(account: String, asset: Asset, amount: ExactDecimal) {
        self.account = account
        self.asset = asset
        self.amount = amount
    }
}

/// An immutable record in the journal. Nothing is ever edited: a bust is a reversal,
/// a correction a reversal and a replacement, a manual change an adjustment.
public struct JournalEntry: Hashable, Sendable {
    public enum Kind: UInt8, Sendable, CustomStringConvertible {
        case trade = 1
        case reversal = 2
        case replacement = 3
        case adjustment = 4
        case settlementStatus = 5

        public var description: String {
            switch self {
            case .trade: return "trade"
            case .reversal: return "reversal"
            case .replacement: return "replacement"
            case .adjustment: return "adjustment"
            case .settlementStatus: return "settlement"
            }
        }
    }

    public var offset: UInt64
    public var kind: Kind
    public var source: String
    public var executionID: String
    /// For a reversal or replacement: the offset of the entry it reverses or replaces.
    public var reference: UInt64
    public var account: String
    public var instrument: String
    public var side: Side
    public var quantity: ExactDecimal
    public var price: ExactDecimal
    public var currency: String
    public var tradeDate: CalendarDay
    public var valueDate: CalendarDay
    public var transactTime: Int64
    public var commission: ExactDecimal
    public var fees: ExactDecimal
    /// When the ledger booked it, nanoseconds since the epoch.
    public var bookedAt: Int64
    /// For adjustments and status changes: who, and why.
    public var memo: String
    public var postings: [Posting]

    /// Whether the entry moves a position (trades, their reversals and replacements,
    /// position adjustments); cash adjustments and status changes do not.
    public var movesPosition: Bool {
        kind != .settlementStatus && !instrument.isEmpty && !quantity.isZero
    }

    /// The record without its legs: what a listing of an account's entries shows.
    public func encodedSummary() -> [UInt8] {
        var w = ByteWriter(capacity: 256)
        encode(into: &w, withPostings: false)
        return w.bytes
    }

    /// Appends the record to `w`; returns the length of its summary (everything but the
    /// legs: the record's first part, which the accounts' index keeps).
    @discardableResult
    func encode(into w: inout ByteWriter, withPostings: Bool = true) -> Int {
        let start = w.count
        w.u8(1)  // record version
        w.u64(offset)
        w.u8(kind.rawValue)
        w.string(source)
        w.string(executionID)
        w.u64(reference)
        w.string(account)
        w.string(instrument)
        w.u8(side.rawValue)
        w.decimal(quantity)
        w.decimal(price)
        w.string(currency)
        w.day(tradeDate)
        w.day(valueDate)
        w.i64(transactTime)
        w.decimal(commission)
        w.decimal(fees)
        w.i64(bookedAt)
        w.string(memo)
        let summaryLength = w.count - start
        guard withPostings else { return summaryLength }
        w.u32(UInt32(postings.count))
        for posting in postings { Self.writeLeg(into: &w, posting.account, posting.asset, posting.amount) }
        return summaryLength
    }

    /// One leg of a record (after the summary and the count of legs).
    static func writeLeg(into w: inout ByteWriter, _ account: String, _ asset: Asset, _ amount: ExactDecimal) {
        w.string(account)
        switch asset {
        case .instrument(let name):
            w.u8(Asset.instrumentTag)
            w.string(name)
        case .currency(let code):
            w.u8(Asset.currencyTag)
            w.string(code)
        }
        w.decimal(amount)
    }

    public init(offset: UInt64, kind: Kind, source: String, executionID: String, reference: UInt64, account: String,
         instrument: String, side: Side, quantity: ExactDecimal, price: ExactDecimal, currency: String,
         tradeDate: CalendarDay, valueDate: CalendarDay, transactTime: Int64, commission: ExactDecimal,
         fees: ExactDecimal, bookedAt: Int64, memo: String, postings: [Posting]) {
        self.offset = offset
        self.kind = kind
        self.source = source
        self.executionID = executionID
        self.reference = reference
        self.account = account
        self.instrument = instrument
        self.side = side
        self.quantity = quantity
        self.price = price
        self.currency = currency
        self.tradeDate = tradeDate
        self.valueDate = valueDate
        self.transactTime = transactTime
        self.commission = commission
        self.fees = fees
        self.bookedAt = bookedAt
        self.memo = memo
        self.postings = postings
    }

    /// Decodes a stored entry; without `postings`, the legs are skipped (listings need
    /// only the trade's terms, and the legs are most of the work).
    init(decoding bytes: UnsafeRawBufferPointer, postings withPostings: Bool = true) throws {
        let terms = try EntrySummary(bytes)
        func text(_ bytes: UnsafeRawBufferPointer) -> String { String(decoding: bytes, as: UTF8.self) }
        offset = terms.offset
        kind = terms.kind
        source = text(terms.source)
        executionID = text(terms.executionID)
        reference = terms.reference
        account = text(terms.account)
        instrument = text(terms.instrument)
        side = terms.side
        quantity = terms.quantity
        price = terms.price
        currency = text(terms.currency)
        tradeDate = terms.tradeDate
        valueDate = terms.valueDate
        transactTime = terms.transactTime
        commission = terms.commission
        fees = terms.fees
        bookedAt = terms.bookedAt
        var r = ByteReader(UnsafeRawBufferPointer(rebasing: bytes[terms.end...]))
        memo = try r.string()
        guard withPostings else {
            postings = []
            return
        }
        let count = Int(try r.u32())
        var postings: [Posting] = []
        postings.reserveCapacity(count)
        for _ in 0..<count {
            let account = try r.string()
            let tag = try r.u8()
            let name = try r.string()
            postings.append(Posting(account: account, asset: try Asset(tag: tag, name: name), amount: try r.decimal()))
        }
        self.postings = postings
    }
}

/// Accounts the ledger books against on the other side of a client's trades.
public enum LedgerAccounts {
    /// The counterparty of everything a source reports: the platform, LP or exchange.
    public static func contra(for source: String) -> String { "contra:" + source }
    public static let commissionRevenue = "revenue:commission"
    public static let feeRevenue = "revenue:fees"
    public static let adjustments = "adjustments"

    /// Client accounts are everything that is not the ledger's own.
    public static func isHouse(_ account: String) -> Bool {
        account.hasPrefix("contra:") || account.hasPrefix("revenue:") || account == adjustments
    }

    /// `isHouse` for an account's UTF-8 bytes.
    public static func isHouse(_ account: UnsafeRawBufferPointer) -> Bool {
        func starts(_ prefix: StaticString) -> Bool {
            account.count >= prefix.utf8CodeUnitCount
                && memcmp(account.baseAddress!, prefix.utf8Start, prefix.utf8CodeUnitCount) == 0
        }
        return starts("contra:") || starts("revenue:") || (account.count == 11 && starts("adjustments"))
    }
}

extension JournalEntry {
    /// The balanced legs of a trade-shaped entry: units against the contra account,
    /// their price in cash the other way, commission and fees to revenue.
    static func tradePostings(account: String, contra: String, instrument: String, side: Side,
                              quantity: ExactDecimal, price: ExactDecimal, currency: String,
                              commission: ExactDecimal, fees: ExactDecimal) -> [Posting] {
        var legs: [Posting] = []
        legs.reserveCapacity(tradeLegCount(commission: commission, fees: fees))
        forEachTradeLeg(account: account, contra: contra, instrument: instrument, side: side, quantity: quantity,
                        price: price, currency: currency, commission: commission, fees: fees) { account, asset, amount in
            legs.append(Posting(account: account, asset: asset, amount: amount))
        }
        return legs
    }

    /// How many legs `forEachTradeLeg` gives.
    static func tradeLegCount(commission: ExactDecimal, fees: ExactDecimal) -> Int {
        4 + (commission.isZero ? 0 : 2) + (fees.isZero ? 0 : 2)
    }

    /// The legs of a trade-shaped entry, one by one (what the writer encodes without
    /// gathering them).
    static func forEachTradeLeg(account: String, contra: String, instrument: String, side: Side,
                                quantity: ExactDecimal, price: ExactDecimal, currency: String,
                                commission: ExactDecimal, fees: ExactDecimal,
                                _ leg: (String, Asset, ExactDecimal) -> Void) {
        let units = side.sign * quantity
        let cash = -(units * price)
        leg(account, .instrument(instrument), units)
        leg(contra, .instrument(instrument), -units)
        leg(account, .currency(currency), cash)
        leg(contra, .currency(currency), -cash)
        if !commission.isZero {
            leg(account, .currency(currency), -commission)
            leg(LedgerAccounts.commissionRevenue, .currency(currency), commission)
        }
        if !fees.isZero {
            leg(account, .currency(currency), -fees)
            leg(LedgerAccounts.feeRevenue, .currency(currency), fees)
        }
    }
}
