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

    /// The version of the records the ledger writes. Version 2 stores numbers in as few
    /// bytes as they need and leaves a trade's legs to be derived from its terms; version 1
    /// records (fixed-width numbers, every leg listed) are still read.
    static let recordVersion: UInt8 = 2

    /// How a version 2 record holds its legs.
    enum Legs: UInt8 {
        /// A count, then each leg: account, asset tag and name, amount.
        case listed = 0
        /// None stored: they are `forEachTradeLeg`'s, from the terms and the source's
        /// contra account (what every trade and replacement books).
        case tradeRule = 1
    }

    /// The record without its legs: what a listing of an account's entries shows.
    public func encodedSummary() -> [UInt8] {
        var w = ByteWriter(capacity: 128)
        encodeSummary(into: &w)
        return w.bytes
    }

    /// Appends the record to `w`, its legs listed.
    func encode(into w: inout ByteWriter) {
        encodeSummary(into: &w)
        w.u8(Legs.listed.rawValue)
        w.varint(UInt64(postings.count))
        for posting in postings { Self.writeLeg(into: &w, posting.account, posting.asset, posting.amount) }
    }

    /// Appends the record's first part, everything but its legs: what the accounts' index
    /// keeps (`EntrySummary` reads it). Dates after the trade date and the booking time
    /// are stored as differences, which are small.
    func encodeSummary(into w: inout ByteWriter) {
        Self.encodeSummary(into: &w, offset: offset, kind: kind, source: source, executionID: executionID, reference: reference,
                           account: account, instrument: instrument, side: side, quantity: quantity, price: price,
                           currency: currency, tradeDate: tradeDate, valueDate: valueDate, transactTime: transactTime,
                           commission: commission, fees: fees, bookedAt: bookedAt, memo: memo)
    }

    /// `encodeSummary(into:)` from the terms as they are, without an entry holding
    /// copies of them (the writer books a trade straight from its execution).
    @inline(__always)
    static func encodeSummary(into w: inout ByteWriter, offset: UInt64, kind: Kind, source: String, executionID: String,
                              reference: UInt64, account: String, instrument: String, side: Side, quantity: ExactDecimal,
                              price: ExactDecimal, currency: String, tradeDate: CalendarDay, valueDate: CalendarDay,
                              transactTime: Int64, commission: ExactDecimal, fees: ExactDecimal, bookedAt: Int64,
                              memo: String) {
        w.u8(recordVersion)
        w.u64(offset)
        w.u8(kind.rawValue)
        w.string(source)
        w.string(executionID)
        w.varint(reference)
        w.string(account)
        w.string(instrument)
        w.u8(side.rawValue)
        w.compactDecimal(quantity)
        w.compactDecimal(price)
        w.string(currency)
        w.signedVarint(Int64(tradeDate.daysSinceEpoch))
        w.signedVarint(Int64(valueDate.daysSinceEpoch) &- Int64(tradeDate.daysSinceEpoch))
        w.i64(transactTime)
        w.compactDecimal(commission)
        w.compactDecimal(fees)
        w.signedVarint(bookedAt &- transactTime)
        w.string(memo)
    }

    /// One listed leg of a record.
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
        w.compactDecimal(amount)
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
        let legs = try RecordLegs(&r, version: terms.version)
        var postings: [Posting] = []
        switch legs {
        case .listed(let count, let compact):
            postings.reserveCapacity(count)
            for _ in 0..<count {
                let account = try r.string()
                let tag = try r.u8()
                let name = try r.string()
                postings.append(Posting(account: account, asset: try Asset(tag: tag, name: name),
                                        amount: compact ? try r.compactDecimal() : try r.decimal()))
            }
        case .tradeRule:
            postings = try Self.tradePostings(account: account, contra: LedgerAccounts.contra(for: source), instrument: instrument,
                                          side: side, quantity: quantity, price: price, currency: currency,
                                          commission: commission, fees: fees)
        }
        self.postings = postings
    }
}

/// How a record read from the journal holds its legs, read from the bytes after its memo
/// (`r` is left at the first listed leg).
enum RecordLegs {
    /// `count` legs follow; their amounts are compact decimals (version 2) or fixed (version 1).
    case listed(count: Int, compact: Bool)
    /// The trade rule's legs, derived from the terms.
    case tradeRule

    init(_ r: inout ByteReader, version: UInt8) throws {
        guard version >= 2 else {
            self = .listed(count: Int(try r.u32()), compact: false)
            return
        }
        switch JournalEntry.Legs(rawValue: try r.u8()) {
        case .listed:
            let count = try r.varint()
            guard count <= 1 << 16 else { throw LedgerError.corrupt("journal record with \(count) legs") }
            self = .listed(count: Int(count), compact: true)
        case .tradeRule:
            self = .tradeRule
        case nil:
            throw LedgerError.corrupt("journal record legs")
        }
    }
}

/// Accounts the ledger books against on the other side of a client's trades.
public enum LedgerAccounts {
    /// The counterparty of everything a source reports: the platform, LP or exchange.
    public static func contra(for source: String) -> String { contraPrefix.description + source }
    static let contraPrefix: StaticString = "contra:"
    public static let commissionRevenue = commissionRevenueName.description
    public static let feeRevenue = feeRevenueName.description
    /// The revenue accounts' names where a view of their bytes is wanted.
    static let commissionRevenueName: StaticString = "revenue:commission"
    static let feeRevenueName: StaticString = "revenue:fees"
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
                              commission: ExactDecimal, fees: ExactDecimal) throws -> [Posting] {
        var legs: [Posting] = []
        legs.reserveCapacity(tradeLegCount(commission: commission, fees: fees))
        try forEachTradeLeg(account: account, contra: contra, commissionRevenue: LedgerAccounts.commissionRevenue,
                        feeRevenue: LedgerAccounts.feeRevenue, instrument: instrument, currency: currency, side: side,
                        quantity: quantity, price: price, commission: commission, fees: fees) { account, tag, name, amount in
            legs.append(Posting(account: account, asset: tag == Asset.instrumentTag ? .instrument(name) : .currency(name), amount: amount))
        }
        return legs
    }

    /// How many legs `forEachTradeLeg` gives.
    static func tradeLegCount(commission: ExactDecimal, fees: ExactDecimal) -> Int {
        4 + (commission.isZero ? 0 : 2) + (fees.isZero ? 0 : 2)
    }

    /// The trade rule: the balanced legs of a trade-shaped entry, whatever holds the names
    /// (Strings, or views of a record's bytes). Version 2 records of trades and replacements
    /// store no legs but these, so the rule, and the names of the accounts it books against
    /// (`LedgerAccounts.contra(for:)`, the revenue accounts), must not change without a new
    /// record version.
    @inline(__always)
    static func forEachTradeLeg<Name>(account: Name, contra: Name, commissionRevenue: Name, feeRevenue: Name,
                                      instrument: Name, currency: Name, side: Side, quantity: ExactDecimal,
                                      price: ExactDecimal, commission: ExactDecimal, fees: ExactDecimal,
                                      _ leg: (Name, UInt8, Name, ExactDecimal) throws -> Void) throws {
        let units = side == .buy ? quantity : -quantity
        // Checked: a record journaled before the execution limits existed may hold a
        // product that does not fit; it is set aside, never a trap.
        let cash = -(try units.multiplied(by: price))
        try leg(account, Asset.instrumentTag, instrument, units)
        try leg(contra, Asset.instrumentTag, instrument, -units)
        try leg(account, Asset.currencyTag, currency, cash)
        try leg(contra, Asset.currencyTag, currency, -cash)
        if !commission.isZero {
            try leg(account, Asset.currencyTag, currency, -commission)
            try leg(commissionRevenue, Asset.currencyTag, currency, commission)
        }
        if !fees.isZero {
            try leg(account, Asset.currencyTag, currency, -fees)
            try leg(feeRevenue, Asset.currencyTag, currency, fees)
        }
    }
}
