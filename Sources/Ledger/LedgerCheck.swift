import ExactNumbers

/// What `Ledger.check()` found.
public struct CheckReport: Sendable {
    public var entries: Int = 0
    /// The books were compared with the journal up to this entry (the last they include;
    /// entries committed after their snapshot are checked for balance only).
    public var booksOffset: UInt64 = 0
    public var accounts: Int = 0
    public var positions: Int = 0
    public var problems: [String] = []
    public var isClean: Bool { problems.isEmpty }
}

extension Ledger {
    /// Recomputes balances, positions and settlement from the journal alone and compares
    /// them with the books (one snapshot of each; the books' snapshot is compared with the
    /// journal up to the last entry it includes, after waiting for them to include every
    /// entry committed before the call); checks that every entry balances and that every
    /// asset sums to zero over all accounts.
    public func check() throws -> CheckReport {
        var report = CheckReport()
        var balances: [BalanceKey: ExactDecimal] = [:]
        var obligations: [ObligationKey: (amount: ExactDecimal, status: SettlementStatus)] = [:]
        var replay = PositionReplay(method: settings.pnlMethod)
        var indexEntries = 0
        let problemsMax = 1000
        func problem(_ text: String) {
            if report.problems.count < problemsMax { report.problems.append(text) }
        }
        try waitForBooks()
        try projector.books.read { books in
            let applied = try bookDB.appliedOffset(books)
            report.booksOffset = applied
            let setAside = try bookDB.setAside(books)
            for (offset, reason) in setAside.sorted(by: { $0.key < $1.key }) {
                problem("journal: entry \(offset) cannot be applied to the books and is set aside (\(reason))")
            }
            try environment.read { txn in
                var sourceNumbers: [String: UInt32] = [:]
                try txn.scan(db.sources, from: []) { key, value in
                    var k = ByteReader(key)
                    var v = ByteReader(value)
                    sourceNumbers[try k.string()] = try v.u32()
                    return true
                }
                var expectedOffset: UInt64 = 1
                try txn.scan(db.journal, from: []) { key, value in
                    var keyReader = ByteReader(key)
                    let offset = try keyReader.u64()
                    if setAside[offset] != nil {
                        // Reported above; the books do without it, and so does the replay.
                        report.entries += 1
                        if offset != expectedOffset { problem("journal: entry \(offset) where \(expectedOffset) was expected") }
                        expectedOffset = offset + 1
                        return true
                    }
                    let entry = try JournalEntry(decoding: value)
                    report.entries += 1
                    if entry.offset != expectedOffset { problem("journal: entry \(entry.offset) where \(expectedOffset) was expected") }
                    expectedOffset = entry.offset + 1
                    // Exactly once rests on every booked execution's identity being kept.
                    if entry.kind == .trade || entry.kind == .reversal || entry.kind == .replacement {
                        if let number = sourceNumbers[entry.source] {
                            if try txn.get(db.executions, Keys.execution(number, entry.executionID), { _ in true }) == nil {
                                problem("identities: entry \(entry.offset) (execution \(entry.executionID) from \(entry.source)) has none: a re-delivery would be booked again")
                            }
                        } else {
                            problem("identities: entry \(entry.offset) is from \(entry.source), which has no number")
                        }
                    }
                    // Entries committed after the books' snapshot are checked for balance only.
                    guard entry.offset <= applied else {
                        var sums: [Asset: ExactDecimal] = [:]
                        for posting in entry.postings { sums[posting.asset, default: .zero] += posting.amount }
                        for (asset, sum) in sums where !sum.isZero {
                            problem("journal: entry \(entry.offset) does not balance in \(asset) (off by \(sum))")
                        }
                        return true
                    }
                    var sums: [Asset: ExactDecimal] = [:]
                    var accounts: Set<String> = []
                    for posting in entry.postings {
                        sums[posting.asset, default: .zero] += posting.amount
                        accounts.insert(posting.account)
                        balances[BalanceKey(account: posting.account, asset: posting.asset), default: .zero] += posting.amount
                        if entry.kind != .settlementStatus {
                            let key = ObligationKey(account: posting.account, asset: posting.asset, day: entry.valueDate)
                            obligations[key, default: (.zero, .pending)].amount += posting.amount
                        }
                        try replay.apply(posting, of: entry)
                    }
                    for (asset, sum) in sums where !sum.isZero {
                        problem("journal: entry \(entry.offset) does not balance in \(asset) (off by \(sum))")
                    }
                    if entry.kind == .settlementStatus {
                        let asset: Asset = entry.instrument.isEmpty ? .currency(entry.currency) : .instrument(entry.instrument)
                        let word = entry.memo.split(separator: " ").first.map(String.init) ?? ""
                        if let status = SettlementStatus(name: word) {
                            obligations[ObligationKey(account: entry.account, asset: asset, day: entry.valueDate), default: (.zero, .pending)].status = status
                        } else {
                            problem("journal: settlement entry \(entry.offset) has no status")
                        }
                    }
                    if entry.postings.isEmpty { accounts.insert(entry.account) }
                    indexEntries += accounts.filter { !LedgerAccounts.isHouse($0) }.count
                    return true
                }
                let next = try txn.get(db.meta, Keys.nextOffset) { var r = ByteReader($0); return try r.u64() } ?? UInt64(1)
                if next != expectedOffset { problem("journal: next offset is \(next) but the journal ends at \(expectedOffset - 1)") }
                let sourceNames = Dictionary(sourceNumbers.map { ($0.value, $0.key) }, uniquingKeysWith: { first, _ in first })
                if sourceNames.count != sourceNumbers.count { problem("identities: two sources share a number") }
                try txn.scan(db.executions, from: []) { key, value in
                    var k = ByteReader(key)
                    let number = try k.u32()
                    let id = try k.string()
                    guard let source = sourceNames[number] else {
                        problem("identities: execution \(id) is from source number \(number), which no source has")
                        return true
                    }
                    let record = try ExecutionRecord(decoding: value)
                    if record.state != .parked, record.offset == 0 || record.offset >= expectedOffset {
                        problem("identities: execution \(id) from \(source) points at entry \(record.offset), which the journal does not have")
                    }
                    return true
                }
                if applied > expectedOffset - 1 {
                    problem("books: they include entries up to \(applied) but the journal ends at \(expectedOffset - 1)")
                }

                // Stored balances against the replay, both ways.
                var stored: Set<BalanceKey> = []
                var storedTotals: [Asset: ExactDecimal] = [:]
                try books.scan(bookDB.balances, from: []) { key, value in
                    var k = ByteReader(key)
                    let balanceKey = BalanceKey(account: try k.string(), asset: try Asset(tag: try k.u8(), name: try k.string()))
                    var v = ByteReader(value)
                    let amount = try v.decimal()
                    stored.insert(balanceKey)
                    storedTotals[balanceKey.asset, default: .zero] += amount
                    let expected = balances[balanceKey] ?? .zero
                    if amount != expected { problem("balance: \(balanceKey.account) \(balanceKey.asset) is \(amount), the journal says \(expected)") }
                    return true
                }
                for (key, amount) in balances where !stored.contains(key) && !amount.isZero {
                    problem("balance: \(key.account) \(key.asset) is missing, the journal says \(amount)")
                }
                report.accounts = Set(balances.keys.map(\.account)).count

                var storedPositions: Set<PositionKey> = []
                try books.scan(bookDB.positions, from: []) { key, value in
                    var k = ByteReader(key)
                    let positionKey = PositionKey(account: try k.string(), instrument: try k.string())
                    let position = try Position(account: positionKey.account, instrument: positionKey.instrument, decoding: value)
                    storedPositions.insert(positionKey)
                    report.positions += 1
                    guard let expected = replay.positions[positionKey] else {
                        problem("position: \(positionKey.account) \(positionKey.instrument) is stored but has no entries")
                        return true
                    }
                    if position.quantity != expected.quantity || position.averageCost != expected.averageCost
                        || position.realizedPnL != expected.realizedPnL {
                        problem("position: \(positionKey.account) \(positionKey.instrument) is \(position.quantity) @ \(position.averageCost) realized \(position.realizedPnL); the journal says \(expected.quantity) @ \(expected.averageCost) realized \(expected.realizedPnL)")
                    }
                    return true
                }
                for key in replay.positions.keys where !storedPositions.contains(key) {
                    problem("position: \(key.account) \(key.instrument) is missing")
                }

                var storedObligations: Set<ObligationKey> = []
                try books.scan(bookDB.settlement, from: []) { key, value in
                    var k = ByteReader(key)
                    let obligationKey = ObligationKey(account: try k.string(), asset: try Asset(tag: try k.u8(), name: try k.string()), day: try k.day())
                    var v = ByteReader(value)
                    let amount = try v.decimal()
                    let status = SettlementStatus(rawValue: try v.u8())
                    storedObligations.insert(obligationKey)
                    let expected = obligations[obligationKey] ?? (.zero, .pending)
                    if amount != expected.amount || status != expected.status {
                        problem("settlement: \(obligationKey.account) \(obligationKey.asset) on \(obligationKey.day) is \(amount) \(status.map { "\($0)" } ?? "?"), the journal says \(expected.amount) \(expected.status)")
                    }
                    return true
                }
                for (key, value) in obligations where !storedObligations.contains(key) && !value.amount.isZero {
                    problem("settlement: \(key.account) \(key.asset) on \(key.day) is missing")
                }

                // Every index entry is a journal entry of its account, its summary is that
                // entry's, each account's entries are listed newest first, and every stored
                // chunk is one account's, reached once.
                var indexed = 0
                var reached = 0
                try books.scan(bookDB.accountEntries, from: []) { key, head in
                    var k = ByteReader(key)
                    let account = try k.string()
                    var previous = UInt64.max
                    var chunkOldest: UInt64 = 0
                    do { try AccountIndex.forEach(books, bookDB, head: head, chunk: { number, oldest in
                        reached += 1
                        if oldest >= previous { problem("index: \(account)'s chunk \(number) starts at entry \(oldest), after \(previous)") }
                        chunkOldest = oldest
                    }) { summary in
                        indexed += 1
                        let offset = try EntrySummary.peek(summary).offset
                        if offset >= previous || offset < chunkOldest {
                            problem("index: \(account) lists entry \(offset) out of order")
                        }
                        previous = offset
                        guard let (stored, storedSummary) = try txn.get(db.journal, Key.offset(offset), { record in
                            (try JournalEntry(decoding: record), Array(try JournalRecordView(record).summary))
                        }) else {
                            problem("index: \(account) lists entry \(offset), which is not in the journal")
                            return true
                        }
                        if !stored.postings.contains(where: { $0.account == account }) && stored.account != account {
                            problem("index: \(account) lists entry \(offset), which does not touch it")
                        }
                        if !summary.elementsEqual(storedSummary) {
                            problem("index: the summary of entry \(offset) for \(account) differs from the journal")
                        }
                        return true
                    } } catch LedgerError.corrupt(let what) {
                        problem("index: \(account): \(what)")
                    }
                    return true
                }
                var chunks = 0
                try books.scan(bookDB.indexChunks, from: []) { _, _ in chunks += 1; return true }
                if reached != chunks { problem("index: \(chunks) stored chunks, of which the accounts reach \(reached)") }
                if indexed != indexEntries { problem("index: \(indexed) account entries where the journal gives \(indexEntries)") }
                // Double entry: every asset's stored balances sum to zero over all accounts.
                for (asset, total) in storedTotals.sorted(by: { $0.key < $1.key }) where !total.isZero {
                    problem("books: \(asset) sums to \(total) over all accounts, not zero")
                }
            }
        }
        return report
    }
}

struct BalanceKey: Hashable {
    let account: String
    let asset: Asset
}

struct PositionKey: Hashable {
    let account: String
    let instrument: String
}

struct ObligationKey: Hashable {
    let account: String
    let asset: Asset
    let day: CalendarDay
}
