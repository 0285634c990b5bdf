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

    func accepts(_ entry: JournalEntry) -> Bool {
        guard entry.kind == .trade || entry.kind == .replacement || entry.kind == .reversal else { return false }
        if let from, entry.transactTime < from { return false }
        if let to, entry.transactTime >= to { return false }
        if let instrument, entry.instrument != instrument { return false }
        if let side, entry.side != side { return false }
        return true
    }
}

/// One page of a client's trades, newest first. `nextCursor` (a journal offset) asks for
/// the page after it; pages stay stable while new trades are booked, which only ever
/// arrive above the first page.
public struct TradePage: Sendable {
    public var trades: [JournalEntry]
    public var nextCursor: UInt64?
}

extension CRMStore {
    func accounts(of clientID: String, only account: String?) throws -> [String] {
        guard try exists(clientID) else { throw CRMError(.notFound, "no client \(clientID)") }
        let accounts = try self.accounts(of: clientID)
        if let account {
            guard accounts.contains(account) else { throw CRMError.invalid("account", "'\(account)' is not linked to client \(clientID)") }
            return [account]
        }
        return accounts
    }

    /// A client's trades (fills, corrections' replacements and the reversals of corrected
    /// or busted fills) across every linked account, newest first.
    public func trades(of clientID: String, filter: TradeFilter = TradeFilter(), before cursor: UInt64? = nil,
                       limit: Int = 100) throws -> TradePage {
        guard (1...1000).contains(limit) else { throw CRMError.invalid("limit", "from 1 to 1000") }
        let accounts = try self.accounts(of: clientID, only: filter.account)
        var merged: [JournalEntry] = []
        var more = false
        for account in accounts {
            var before = cursor ?? .max
            var found: [JournalEntry] = []
            // Read in chunks until this account has a page's worth that pass the filter.
            while found.count <= limit {
                let chunk = try ledger.entries(account: account, before: before, limit: 256, postings: false)
                for entry in chunk where filter.accepts(entry) { found.append(entry) }
                guard chunk.count == 256, let last = chunk.last else { break }
                before = last.offset
            }
            if found.count > limit { more = true }
            merged += found.prefix(limit + 1)
        }
        merged.sort { $0.offset > $1.offset }
        if merged.count > limit { more = true }
        let page = Array(merged.prefix(limit))
        return TradePage(trades: page, nextCursor: more ? page.last?.offset : nil)
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
        for account in try accounts(of: clientID, only: filter.account) {
            var before = UInt64.max
            while true {
                let chunk = try ledger.entries(account: account, before: before, limit: 1000, postings: false)
                for entry in chunk where filter.accepts(entry) {
                    // A reversal carries its original's charges negated: it gives them back.
                    var total = totals[entry.currency] ?? (.zero, .zero)
                    total.commission += entry.commission
                    total.fees += entry.fees
                    totals[entry.currency] = total
                }
                guard chunk.count == 1000, let last = chunk.last else { break }
                before = last.offset
            }
        }
        return totals
    }
}
