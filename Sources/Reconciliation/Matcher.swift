import ExactNumbers
import Ledger

/// Which of our accounts a statement speaks for: only those it lists (a platform's
/// statement of its own accounts), or all of ours (a clearer's full statement).
public enum ReconScope: String, Sendable, Hashable, Codable, CaseIterable {
    case statementAccounts = "statement-accounts"
    case all
}

/// Compares a statement with the books as of a journal offset and lists the differences.
/// Reads only: the findings become breaks in `Reconciler`.
struct Matcher {
    let ledger: Ledger
    let tolerances: ReconTolerances
    let scope: ReconScope
    /// The last journal offset the statement can know of; entries after it are undone.
    let cutoff: UInt64
    let latest: UInt64

    struct Pair: Hashable {
        let first: String
        let second: String
    }

    /// What was booked after the cut-off, per account × asset: subtracted from today's
    /// books to get the books as of the cut-off.
    private(set) var positionDelta: [Pair: ExactDecimal] = [:]
    private(set) var cashDelta: [Pair: ExactDecimal] = [:]

    init(ledger: Ledger, tolerances: ReconTolerances, scope: ReconScope, cutoff: UInt64) throws {
        self.ledger = ledger
        self.tolerances = tolerances
        self.scope = scope
        latest = try ledger.nextOffset() - 1
        self.cutoff = min(cutoff, latest)
        if self.cutoff < latest {
            var positionDelta: [Pair: ExactDecimal] = [:]
            var cashDelta: [Pair: ExactDecimal] = [:]
            try ledger.forEachEntry(from: self.cutoff + 1) { entry in
                for posting in entry.postings where !LedgerAccounts.isHouse(posting.account) {
                    switch posting.asset {
                    case .instrument(let name): positionDelta[Pair(first: posting.account, second: name), default: .zero] += posting.amount
                    case .currency(let code): cashDelta[Pair(first: posting.account, second: code), default: .zero] += posting.amount
                    }
                }
                return true
            }
            self.positionDelta = positionDelta
            self.cashDelta = cashDelta
        }
    }

    /// Whether the books know `account` at all (any journal entry names it).
    func knows(account: String) throws -> Bool {
        try !ledger.entries(account: account, limit: 1, postings: false).isEmpty
    }

    // MARK: Positions

    func positions(_ rows: [StatementPosition]) throws -> [Finding] {
        var findings: [Finding] = []
        var table = PairTable(capacity: rows.count)
        var first = [Bool](repeating: true, count: rows.count)
        var statementAccounts: Set<String> = []
        for (i, row) in rows.enumerated() {
            let hash = row.account.withBytes { a in row.instrument.withBytes { b in PairTable.hash(a, b) } }
            if let earlier = table.insert(Int32(i), hash: hash, same: { rows[Int($0)].account == row.account && rows[Int($0)].instrument == row.instrument }) {
                first[i] = false
                findings.append(Finding(kind: .positions, type: .duplicate, account: row.account, subject: row.instrument,
                                        theirs: row.quantity.description, line: row.line,
                                        note: "listed again (first on line \(rows[Int(earlier)].line)); the first is matched"))
                continue
            }
            if scope == .statementAccounts { statementAccounts.insert(row.account) }
        }
        var matched = [Bool](repeating: false, count: rows.count)
        var asOfCosts: [String: [String: ExactDecimal]] = [:]
        try ledger.forEachPositionView { view in
            let hash = PairTable.hash(view.account, view.instrument)
            let found = table.find(hash: hash) { rows[Int($0)].account.equals(view.account) && rows[Int($0)].instrument.equals(view.instrument) }
            var ours = try view.quantity()
            var delta: ExactDecimal?
            if !positionDelta.isEmpty {
                delta = positionDelta[Pair(first: String(decoding: view.account, as: UTF8.self), second: String(decoding: view.instrument, as: UTF8.self))]
                if let delta { ours -= delta }
            }
            guard let found else {
                if !ours.isZero {
                    let position = try view.position()
                    if scope == .all || statementAccounts.contains(position.account) {
                        findings.append(Finding(kind: .positions, type: .missingTheirs, account: position.account, subject: position.instrument,
                                                ours: ours.normalized.description, currency: position.currency))
                    }
                }
                return
            }
            let i = Int(found)
            matched[i] = true
            let row = rows[i]
            if !tolerances.quantity(for: row.instrument).accepts(ours, row.quantity) {
                let type: BreakType = ours.isZero ? .missingOurs : (row.quantity.isZero ? .missingTheirs : .quantity)
                findings.append(Finding(kind: .positions, type: type, account: row.account, subject: row.instrument,
                                        ours: ours.normalized.description, theirs: row.quantity.normalized.description,
                                        currency: try view.position().currency, line: row.line,
                                        oppositeSign: ours.signum * row.quantity.signum < 0,
                                        note: "difference \((row.quantity - ours).normalized)"))
                return
            }
            guard let theirCost = row.averagePrice, !ours.isZero else { return }
            let position = try view.position()
            var ourCost = position.averageCost
            if delta != nil {
                // The average cost as of the cut-off comes from replaying the account.
                if asOfCosts[position.account] == nil {
                    let replayed = try ledger.positions(account: position.account, asOf: cutoff)
                    asOfCosts[position.account] = Dictionary(replayed.map { ($0.instrument, $0.averageCost) }, uniquingKeysWith: { a, _ in a })
                }
                ourCost = asOfCosts[position.account]?[position.instrument] ?? .zero
            }
            if !tolerances.price(for: position.instrument).accepts(ourCost, theirCost) {
                findings.append(Finding(kind: .positions, type: .price, account: row.account, subject: row.instrument,
                                        ours: ourCost.normalized.description, theirs: theirCost.normalized.description,
                                        currency: position.currency, line: row.line, note: "average cost differs"))
            }
        }
        // Rows nothing of ours matched: missing on our side, or codes we do not know.
        let unmatched = rows.indices.filter { !matched[$0] && first[$0] && !rows[$0].quantity.isZero }
        var knownInstruments: Set<String> = []
        if !unmatched.isEmpty {
            try ledger.forEachPositionView { knownInstruments.insert(String(decoding: $0.instrument, as: UTF8.self)) }
        }
        var knownAccounts: [String: Bool] = [:]
        for i in unmatched {
            let row = rows[i]
            if knownAccounts[row.account] == nil { knownAccounts[row.account] = try knows(account: row.account) }
            if knownAccounts[row.account] == false {
                findings.append(Finding(kind: .positions, type: .mapping, account: row.account, subject: row.instrument,
                                        theirs: row.quantity.normalized.description, line: row.line, note: "unknown account '\(row.account)'"))
            } else if !knownInstruments.contains(row.instrument) {
                findings.append(Finding(kind: .positions, type: .mapping, account: row.account, subject: row.instrument,
                                        theirs: row.quantity.normalized.description, line: row.line, note: "unknown instrument '\(row.instrument)'"))
            } else if !tolerances.quantity(for: row.instrument).accepts(.zero, row.quantity) {
                findings.append(Finding(kind: .positions, type: .missingOurs, account: row.account, subject: row.instrument,
                                        ours: "0", theirs: row.quantity.normalized.description, currency: row.currency,
                                        line: row.line))
            }
        }
        return findings
    }

    // MARK: Cash

    func cash(_ rows: [StatementCash]) throws -> [Finding] {
        var findings: [Finding] = []
        var index: [Pair: Int] = Dictionary(minimumCapacity: rows.count)
        var statementAccounts: Set<String> = []
        for (i, row) in rows.enumerated() {
            let key = Pair(first: row.account, second: row.currency)
            if let first = index[key] {
                findings.append(Finding(kind: .cash, type: .duplicate, account: row.account, subject: row.currency,
                                        theirs: row.amount.description, currency: row.currency, line: row.line,
                                        note: "listed again (first on line \(rows[first].line)); the first is matched"))
                continue
            }
            index[key] = i
            statementAccounts.insert(row.account)
        }
        var matched = [Bool](repeating: false, count: rows.count)
        var knownAccounts: Set<String> = []
        try ledger.forEachBalance { account, asset, amount in
            guard case .currency(let code) = asset else { return }
            knownAccounts.insert(account)
            let key = Pair(first: account, second: code)
            let ours = cashDelta[key].map { amount - $0 } ?? amount
            guard let i = index[key] else {
                if !ours.isZero && (scope == .all || statementAccounts.contains(account)) {
                    findings.append(Finding(kind: .cash, type: .missingTheirs, account: account, subject: code,
                                            ours: ours.normalized.description, currency: code))
                }
                return
            }
            matched[i] = true
            let row = rows[i]
            if !tolerances.cash(for: code).accepts(ours, row.amount) {
                findings.append(Finding(kind: .cash, type: .quantity, account: account, subject: code,
                                        ours: ours.normalized.description, theirs: row.amount.normalized.description, currency: code,
                                        line: row.line, oppositeSign: ours.signum * row.amount.signum < 0,
                                        note: "difference \((row.amount - ours).normalized)"))
            }
        }
        for (i, row) in rows.enumerated() where !matched[i] && index[Pair(first: row.account, second: row.currency)] == i {
            if row.amount.isZero { continue }
            if !knownAccounts.contains(row.account), try !knows(account: row.account) {
                findings.append(Finding(kind: .cash, type: .mapping, account: row.account, subject: row.currency,
                                        theirs: row.amount.normalized.description, currency: row.currency, line: row.line,
                                        note: "unknown account '\(row.account)'"))
            } else if !tolerances.cash(for: row.currency).accepts(.zero, row.amount) {
                findings.append(Finding(kind: .cash, type: .missingOurs, account: row.account, subject: row.currency,
                                        ours: "0", theirs: row.amount.normalized.description, currency: row.currency, line: row.line))
            }
        }
        return findings
    }
}
