import ExactNumbers
import Foundation
import Ledger

/// Which of a client's trades to list.
public struct TradeFilter: Sendable, Hashable {
    /// Trade time (TransactTime) from, inclusive, and to, exclusive; nanoseconds.
    public var from: Int64?
    public var to: Int64?
    public var instrument: String?
    public var side: Side?
    public var account: String?

    public init(from: Int64? = nil, to: Int64? = nil, instrument: String? = nil, side: Side? = nil, account: String? = nil) {
        self.from = from
        self.to = to
        self.instrument = instrument
        self.side = side
        self.account = account
    }

    /// Whether the stored record of a journal entry is a trade this filter lets through;
    /// with nothing but the kind to check, without reading the record's other fields.
    func accepts(record: UnsafeRawBufferPointer) throws -> (offset: UInt64, accepted: Bool) {
        let (offset, kind) = try EntrySummary.peek(record)
        guard kind == .trade || kind == .replacement || kind == .reversal else { return (offset, false) }
        guard from != nil || to != nil || instrument != nil || side != nil else { return (offset, true) }
        let entry = try EntrySummary(record)
        if let from, entry.transactTime < from { return (offset, false) }
        if let to, entry.transactTime >= to { return (offset, false) }
        if let instrument, !entry.instrumentIs(instrument) { return (offset, false) }
        if let side, entry.side != side { return (offset, false) }
        return (offset, true)
    }
}

/// One page of a client's trades, newest first. `nextCursor` (a journal offset) asks for
/// the page after it; pages stay stable while new trades are booked, which only ever
/// arrive above the first page.
public struct TradePage: Sendable {
    /// The trades' records as stored: what the API writes out without decoding them.
    public var records: EntryRecords
    public var nextCursor: UInt64?

    public var trades: [JournalEntry] {
        get throws { try records.entries() }
    }
}

extension CRMStore {
    func accounts(of clientID: String, only account: String?) throws -> [String] {
        try ledger.environment.read { try accounts(of: clientID, only: account, in: $0) }
    }

    func accounts(of clientID: String, only account: String?, in txn: ReadTransaction) throws -> [String] {
        guard try exists(clientID, in: txn) else { throw CRMError(.notFound, "no client \(clientID)") }
        let accounts = try self.accounts(of: clientID, in: txn)
        if let account {
            guard accounts.contains(account) else { throw CRMError.invalid("account", "'\(account)' is not linked to client \(clientID)") }
            return [account]
        }
        return accounts
    }

    /// A client's trades (fills, corrections' replacements and the reversals of corrected
    /// or busted fills) across every linked account, newest first; read from one snapshot.
    public func trades(of clientID: String, filter: TradeFilter = TradeFilter(), before cursor: UInt64? = nil,
                       limit: Int = 100) throws -> TradePage {
        guard (1...1000).contains(limit) else { throw CRMError.invalid("limit", "from 1 to 1000") }
        let accounts = try self.accounts(of: clientID, only: filter.account)
        return try ledger.readBooks { books in
            // Each account gives at most limit + 1 (one more says there is a next page);
            // the newest `limit` of them all make the page.
            var records = EntryRecords(expected: limit + 1)
            for account in accounts {
                var found = 0
                try ledger.forEachEntryRecord(account: account, before: cursor ?? .max, in: books) { record in
                    let (offset, accepted) = try filter.accepts(record: record)
                    guard accepted else { return true }
                    records.append(offset: offset, bytes: record)
                    found += 1
                    return found <= limit
                }
            }
            let more = records.count > limit
            if accounts.count > 1 || more { records.keepNewest(limit) }
            return TradePage(records: records, nextCursor: more ? records.lastOffset : nil)
        }
    }

    /// A client's positions, now or as they stood at `asOf` (nanoseconds).
    public func positions(of clientID: String, asOf: Int64? = nil) throws -> [Position] {
        var result: [Position] = []
        let offset = try asOf.map { try ledger.offset(atOrBefore: $0) }
        for account in try accounts(of: clientID, only: nil) {
            if let offset {
                result += try ledger.positions(account: account, asOf: offset)
            } else {
                result += try ledger.positions(account: account)
            }
        }
        return result
    }

    public func cash(of clientID: String) throws -> [(account: String, currency: String, amount: ExactDecimal)] {
        try accounts(of: clientID, only: nil).flatMap { try ledger.cash(account: $0) }
    }

    public func obligations(of clientID: String) throws -> [SettlementObligation] {
        try accounts(of: clientID, only: nil).flatMap { try ledger.obligations(account: $0) }
    }

    /// Commission and fees the client paid, per currency, over the trades `filter` selects.
    public func fees(of clientID: String, filter: TradeFilter = TradeFilter()) throws -> [String: (commission: ExactDecimal, fees: ExactDecimal)] {
        var totals: [String: (commission: ExactDecimal, fees: ExactDecimal)] = [:]
        let accounts = try self.accounts(of: clientID, only: filter.account)
        try ledger.readBooks { books in
            for account in accounts {
                try ledger.forEachEntryRecord(account: account, in: books) { record in
                    guard try filter.accepts(record: record).accepted else { return true }
                    let entry = try EntrySummary(record)
                    // A reversal carries its original's charges negated: it gives them back.
                    let currency = String(decoding: entry.currency, as: UTF8.self)
                    var total = totals[currency] ?? (.zero, .zero)
                    total.commission += entry.commission
                    total.fees += entry.fees
                    totals[currency] = total
                    return true
                }
            }
        }
        return totals
    }
}
