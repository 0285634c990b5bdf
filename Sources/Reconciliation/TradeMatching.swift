import ExactNumbers
import Ledger

/// A trade as it stands in our books at the cut-off: corrections applied, busts removed.
struct OurTrade {
    let entry: JournalEntry
    /// The ids it is known by: its own, and the execution it corrected.
    let ids: [String]
}

extension Matcher {
    /// Our live trades at the cut-off, from `source` when given, on `days` when not empty.
    func ourTrades(source: String?, days: Set<CalendarDay>) throws -> [OurTrade] {
        var live: [UInt64: OurTrade] = [:]
        var ids: [UInt64: [String]] = [:]
        guard cutoff > 0 else { return [] }
        try ledger.forEachEntry { entry in
            if entry.offset > cutoff { return false }
            if let source, entry.source != source { return true }
            switch entry.kind {
            case .trade:
                ids[entry.offset] = [entry.executionID]
                live[entry.offset] = OurTrade(entry: entry, ids: [entry.executionID])
            case .replacement:
                let known = [entry.executionID] + (ids[entry.reference] ?? [])
                ids[entry.offset] = known
                live[entry.offset] = OurTrade(entry: entry, ids: known)
            case .reversal:
                live[entry.reference] = nil
            case .adjustment, .settlementStatus:
                break
            }
            return true
        }
        return live.keys.sorted().compactMap { live[$0] }.filter { days.isEmpty || days.contains($0.entry.tradeDate) }
    }

    func trades(_ rows: [StatementTrade], source: String?) throws -> [Finding] {
        var findings: [Finding] = []
        var theirsByID: [String: Int] = Dictionary(minimumCapacity: rows.count)
        var statementAccounts: Set<String> = []
        var days: Set<CalendarDay> = []
        var first = [Bool](repeating: true, count: rows.count)
        for (i, row) in rows.enumerated() {
            if let earlier = theirsByID[row.tradeID] {
                first[i] = false
                findings.append(Finding(kind: .trades, type: .duplicate, account: row.account, subject: row.tradeID,
                                        theirs: "\(row.side) \(row.quantity) \(row.instrument) @ \(row.price)", line: row.line,
                                        note: "listed again (first on line \(rows[earlier].line)); the first is matched"))
                continue
            }
            theirsByID[row.tradeID] = i
            statementAccounts.insert(row.account)
            if let day = row.tradeDate { days.insert(day) }
        }
        let ours = try ourTrades(source: source, days: days).filter {
            scope == .all || statementAccounts.contains($0.entry.account)
        }
        var oursByID: [String: Int] = [:]
        for (i, trade) in ours.enumerated() {
            for id in trade.ids where oursByID[id] == nil { oursByID[id] = i }
        }
        var used = [Bool](repeating: false, count: ours.count)
        var unmatched: [Int] = []
        for (i, row) in rows.enumerated() where first[i] {
            guard let o = oursByID[row.tradeID], !used[o] else {
                unmatched.append(i)
                continue
            }
            used[o] = true
            findings += compare(ours[o].entry, row)
        }
        // Ids that differ: match on the trade's terms, the nearest in time within the window.
        struct Terms: Hashable {
            let account: String, instrument: String, side: Side, quantity: ExactDecimal, price: ExactDecimal
        }
        var byTerms: [Terms: [Int]] = [:]
        for (i, trade) in ours.enumerated() where !used[i] {
            let e = trade.entry
            byTerms[Terms(account: e.account, instrument: e.instrument, side: e.side, quantity: e.quantity.normalized, price: e.price.normalized), default: []].append(i)
        }
        var knownAccounts: [String: Bool] = [:]
        for i in unmatched {
            let row = rows[i]
            let terms = Terms(account: row.account, instrument: row.instrument, side: row.side, quantity: row.quantity.normalized, price: row.price.normalized)
            let candidates = (byTerms[terms] ?? []).filter { !used[$0] }
            let best = candidates.min { a, b in
                distance(ours[a].entry, row) < distance(ours[b].entry, row)
            }
            if let best, distance(ours[best].entry, row) <= tolerances.tradeTimeWindow {
                used[best] = true
                if let value = row.valueDate, value != ours[best].entry.valueDate {
                    findings.append(valueDateFinding(ours[best].entry, row))
                }
                continue
            }
            if knownAccounts[row.account] == nil { knownAccounts[row.account] = try knows(account: row.account) }
            if knownAccounts[row.account] == false {
                findings.append(Finding(kind: .trades, type: .mapping, account: row.account, subject: row.tradeID,
                                        theirs: describe(row), line: row.line, note: "unknown account '\(row.account)'"))
            } else {
                findings.append(Finding(kind: .trades, type: .missingOurs, account: row.account, subject: row.tradeID,
                                        theirs: describe(row), line: row.line))
            }
        }
        for (i, trade) in ours.enumerated() where !used[i] {
            findings.append(Finding(kind: .trades, type: .missingTheirs, account: trade.entry.account, subject: trade.entry.executionID,
                                    ours: describe(trade.entry), currency: trade.entry.currency))
        }
        return findings
    }

    /// Nanoseconds between our trade and theirs; 0 when they give no time.
    private func distance(_ entry: JournalEntry, _ row: StatementTrade) -> Int64 {
        guard let time = row.time else { return 0 }
        return abs(entry.transactTime - time)
    }

    private func compare(_ entry: JournalEntry, _ row: StatementTrade) -> [Finding] {
        var findings: [Finding] = []
        if entry.account != row.account || entry.instrument != row.instrument {
            findings.append(Finding(kind: .trades, type: .mapping, account: row.account, subject: row.tradeID,
                                    ours: describe(entry), theirs: describe(row), line: row.line,
                                    note: "booked to \(entry.account) in \(entry.instrument); they say \(row.account) in \(row.instrument)"))
            return findings
        }
        let ourQuantity = entry.quantity * entry.side.sign
        let theirQuantity = row.quantity * row.side.sign
        if entry.side != row.side || !tolerances.quantity(for: row.instrument).accepts(ourQuantity, theirQuantity) {
            findings.append(Finding(kind: .trades, type: .quantity, account: row.account, subject: row.tradeID,
                                    ours: ourQuantity.normalized.description, theirs: theirQuantity.normalized.description,
                                    line: row.line, oppositeSign: entry.side != row.side,
                                    note: entry.side != row.side ? "we booked a \(entry.side), they a \(row.side)" : ""))
        }
        if !tolerances.price(for: row.instrument).accepts(entry.price, row.price) {
            findings.append(Finding(kind: .trades, type: .price, account: row.account, subject: row.tradeID,
                                    ours: entry.price.normalized.description, theirs: row.price.normalized.description,
                                    currency: entry.currency, line: row.line))
        }
        if let value = row.valueDate, value != entry.valueDate { findings.append(valueDateFinding(entry, row)) }
        return findings
    }

    private func valueDateFinding(_ entry: JournalEntry, _ row: StatementTrade) -> Finding {
        Finding(kind: .trades, type: .valueDate, account: row.account, subject: row.tradeID,
                ours: entry.valueDate.description, theirs: row.valueDate?.description, line: row.line)
    }

    private func describe(_ entry: JournalEntry) -> String {
        "\(entry.side) \(entry.quantity.normalized) \(entry.instrument) @ \(entry.price.normalized)"
    }

    private func describe(_ row: StatementTrade) -> String {
        "\(row.side) \(row.quantity.normalized) \(row.instrument) @ \(row.price.normalized)"
    }
}
