import CLMDB
import ExactNumbers
import Foundation

/// The books: what the journal implies per account (positions and their FIFO lots,
/// balances, settlement obligations, the per-account index of entries), kept in an LMDB
/// environment of their own in the ledger folder's `books` subfolder.
///
/// The journal is the record; the books follow it. The ledger's writer commits journal
/// entries, execution identities and source progress (everything exactly-once needs) and
/// nothing else; a second thread, the `Projector`, applies committed entries to the books
/// in large transactions of their own. A booking therefore costs the writer one append
/// instead of five random B-tree leaves, and the books' pages are rewritten once per
/// projection transaction for many entries of an account rather than once per entry.
///
/// `books/meta` records the last journal offset the books include (`applied-offset`),
/// committed with the changes it covers: after a crash the projector carries on from
/// there. Every read of the books waits until they include every entry committed before
/// it began (`Ledger.readBooks`), in this process or any other.
struct BookDatabases {
    let meta: MDB_dbi
    let positions: MDB_dbi
    let lots: MDB_dbi
    let balances: MDB_dbi
    let settlement: MDB_dbi
    let accountEntries: MDB_dbi
    let indexChunks: MDB_dbi

    init(_ env: LMDBEnvironment) throws {
        meta = try env.database("meta")
        positions = try env.database("positions")
        lots = try env.database("lots")
        balances = try env.database("balances")
        settlement = try env.database("settlement")
        accountEntries = try env.database("account-entries")
        indexChunks = try env.database("index-chunks")
    }

    static let appliedOffset: [UInt8] = Array("applied-offset".utf8)
    static let nextChunk: [UInt8] = Array("next-chunk".utf8)

    /// The last journal offset the books include (0: none).
    func appliedOffset(_ txn: ReadTransaction) throws -> UInt64 {
        try txn.get(meta, Self.appliedOffset) { var r = ByteReader($0); return try r.u64() } ?? 0
    }
}

/// Applies committed journal entries to the books, on a thread of its own.
///
/// It keeps no state between transactions: each one reads the books' applied offset and
/// the journal entries after it inside the books' write transaction. So any number of
/// projectors (one per process that opens the ledger) may work on one folder; LMDB's
/// writer lock takes them in turn, and none applies an entry twice.
final class Projector: @unchecked Sendable {
    private let journal: LMDBEnvironment
    private let db: Databases
    let books: LMDBEnvironment
    let bookDB: BookDatabases
    private let settings: LedgerSettings
    private let condition = NSCondition()
    /// The highest offset anyone has asked the books to include.
    private var wanted: UInt64 = 0
    /// The books include every entry up to here (as this process last saw them).
    private var applied: UInt64 = 0
    /// What the last projection transaction failed with; waiters are told.
    private var failure: Error?
    private var stopping = false
    private let stopped = DispatchSemaphore(value: 0)
    private var scratch = ProjectionTransaction.Scratch()
    /// The most entries one projection transaction applies: bounds the memory it gathers
    /// in and its LMDB dirty pages, however far behind the books are.
    static let entriesPerTransaction = 100_000

    init(journal: LMDBEnvironment, db: Databases, books: LMDBEnvironment, settings: LedgerSettings) throws {
        self.journal = journal
        self.db = db
        self.books = books
        bookDB = try BookDatabases(books)
        self.settings = settings
        let bookDB = self.bookDB
        applied = try books.read { try bookDB.appliedOffset($0) }
        // The thread holds the object (and so the environments) only while `loop` runs,
        // and says it is done after that, so that `stop()` returning means they can close.
        let stopped = self.stopped
        let thread = Thread { [unowned self] in
            loop()
            stopped.signal()
        }
        thread.name = "counterfoil-ledger-books"
        thread.qualityOfService = .userInitiated
        thread.start()
    }

    /// Asks for the books to include entries up to `offset`, without waiting.
    func request(upTo offset: UInt64) {
        condition.lock()
        if offset > wanted {
            wanted = offset
            condition.signal()
        }
        condition.unlock()
    }

    /// Waits until the books include every entry up to `offset`.
    func wait(upTo offset: UInt64) throws {
        condition.lock()
        defer { condition.unlock() }
        if applied >= offset { return }
        if offset > wanted { wanted = offset }
        failure = nil
        condition.broadcast()
        while applied < offset {
            if let failure { throw failure }
            if stopping { throw LedgerError.invalid("the ledger is closed") }
            condition.wait()
        }
    }

    /// Applies what has been asked for, then ends the thread.
    func stop() {
        condition.lock()
        let already = stopping
        stopping = true
        condition.broadcast()
        condition.unlock()
        if !already { stopped.wait() }
    }

    private func loop() {
        while true {
            condition.lock()
            while (wanted <= applied || failure != nil) && !stopping { condition.wait() }
            if stopping && (wanted <= applied || failure != nil) {
                condition.unlock()
                return
            }
            condition.unlock()
            do {
                let reached = try project()
                condition.lock()
                if reached <= applied && reached < wanted {
                    // Nothing to apply, yet more was asked for: never spin on it.
                    failure = LedgerError.corrupt("the books were asked to include entry \(wanted), but the journal ends at \(reached)")
                }
                applied = max(applied, reached)
                condition.broadcast()
                condition.unlock()
            } catch {
                condition.lock()
                failure = error
                condition.broadcast()
                condition.unlock()
            }
        }
    }

    /// One projection transaction: the committed entries after the books' applied offset,
    /// at most `entriesPerTransaction` of them. Returns the offset the books now include.
    private func project() throws -> UInt64 {
        let db = self.db
        let bookDB = self.bookDB
        let settings = self.settings
        let journal = self.journal
        return try books.write { txn in
            let start = try bookDB.appliedOffset(txn.reader)
            let tables = scratch
            scratch = ProjectionTransaction.Scratch()
            var projection = ProjectionTransaction(txn: txn, db: bookDB, settings: settings, scratch: consume tables)
            defer { scratch = projection.takeScratch() }
            var last = start
            try journal.read { journalTxn in
                var count = 0
                try journalTxn.scan(db.journal, from: Key.offset(start + 1)) { _, record in
                    let (entry, summaryLength) = try JournalEntry.decodingRecord(record)
                    guard entry.offset == last + 1 else {
                        throw LedgerError.corrupt("journal entry \(entry.offset) where \(last + 1) was expected")
                    }
                    try projection.apply(entry, summary: UnsafeRawBufferPointer(rebasing: record[..<summaryLength]))
                    last = entry.offset
                    count += 1
                    return count < Self.entriesPerTransaction
                }
                // The index entries point into the journal's pages: written while they are mapped.
                try projection.finish()
            }
            guard last > start else { return start }
            try txn.put(bookDB.meta, BookDatabases.appliedOffset, Key.offset(last))
            return last
        }
    }
}

/// One projection transaction's worth of applying journal entries to the books.
///
/// Changes are gathered per account, so that an entry costs one table lookup per account
/// it touches, and written in `finish()` in key order, account by account: balances and
/// obligations are sums, written once per key; positions depend on order, so each is
/// loaded at its first touch, moved in memory, and written once; index entries point at
/// the summaries in the journal's pages, which stay mapped while its read transaction
/// is open (the caller finishes inside it).
struct ProjectionTransaction {
    let txn: WriteTransaction
    let db: BookDatabases
    let settings: LedgerSettings
    /// The accounts touched in this transaction: where each one's changes are in `accounts`.
    var accountIndex: [String: Int]
    var accounts: [AccountChanges]
    /// The number the next index chunk is stored under.
    var nextChunk: UInt64 = 0

    struct AccountChanges {
        let name: String
        var balances: [(asset: Asset, delta: ExactDecimal)] = []
        var obligations: [(asset: Asset, day: CalendarDay, delta: ExactDecimal)] = []
        var positions: [Position] = []
        /// Newest last: the journal offset and the entry's summary, in the journal's pages.
        var entries: [(offset: UInt64, summary: UnsafeRawBufferPointer)] = []

        init(name: String) { self.name = name }
    }

    /// The tables a transaction gathers in, kept from one transaction to the next: they
    /// grow to a transaction's size once, not by doubling (and rehashing) every time.
    struct Scratch {
        var accountIndex: [String: Int] = [:]
        var accounts: [AccountChanges] = []
    }

    /// `scratch` is emptied first (a retried transaction may hand back what an aborted
    /// attempt gathered); pass it uniquely held, and take it back with `takeScratch()`.
    init(txn: WriteTransaction, db: BookDatabases, settings: LedgerSettings, scratch: consuming Scratch) {
        self.txn = txn
        self.db = db
        self.settings = settings
        scratch.accountIndex.removeAll(keepingCapacity: true)
        scratch.accounts.removeAll(keepingCapacity: true)
        accountIndex = scratch.accountIndex
        accounts = scratch.accounts
    }

    /// The tables, for the next transaction to reuse.
    mutating func takeScratch() -> Scratch {
        let scratch = Scratch(accountIndex: accountIndex, accounts: accounts)
        accountIndex = [:]
        accounts = []
        return scratch
    }

    mutating func slot(of account: String) -> Int {
        if let known = accountIndex[account] { return known }
        accounts.append(AccountChanges(name: account))
        accountIndex[account] = accounts.count - 1
        return accounts.count - 1
    }

    /// Applies `entry` to balances, positions, settlement and the per-account index;
    /// `summary` is its record without the legs, which the index keeps.
    mutating func apply(_ entry: JournalEntry, summary: UnsafeRawBufferPointer) throws {
        // An entry's legs name two to four accounts, each a few times: remember the last
        // two looked up rather than hashing every leg's account.
        var last: (name: String, slot: Int)?
        var previous: (name: String, slot: Int)?
        // The accounts touched, for the index (at most one entry each).
        var indexed: [Int] = []
        indexed.reserveCapacity(4)
        let movesPosition = entry.movesPosition
        let settles = entry.kind != .settlementStatus
        for posting in entry.postings {
            let slot: Int
            if let last, last.name == posting.account {
                slot = last.slot
            } else if let previous, previous.name == posting.account {
                slot = previous.slot
            } else {
                slot = self.slot(of: posting.account)
                previous = last
                last = (posting.account, slot)
            }
            if !indexed.contains(slot) { indexed.append(slot) }
            accounts[slot].add(posting.amount, to: posting.asset)
            if settles { accounts[slot].add(posting.amount, to: posting.asset, on: entry.valueDate) }
            if movesPosition, case .instrument(let instrument) = posting.asset {
                try applyToPosition(slot: slot, instrument: instrument, units: posting.amount, price: entry.price,
                                    currency: entry.currency)
            }
        }
        if entry.postings.isEmpty { indexed.append(slot(of: entry.account)) }
        if !settles { try applyStatus(of: entry) }
        // Each client's index holds a summary of the entry, so that a client's latest
        // trades are read from a few neighbouring index pages, not from all over the journal.
        for slot in indexed where !LedgerAccounts.isHouse(accounts[slot].name) {
            accounts[slot].entries.append((entry.offset, summary))
        }
    }

    /// Writes what was gathered, account by account in key order; call once, inside the
    /// journal's read transaction, before commit.
    mutating func finish() throws {
        nextChunk = try txn.get(db.meta, BookDatabases.nextChunk) { var r = ByteReader($0); return try r.u64() } ?? 1
        let order = accounts.indices.sorted { Self.keyOrder(accounts[$0].name, accounts[$1].name) }
        for slot in order {
            let account = accounts[slot].name
            for (asset, delta) in accounts[slot].balances.sorted(by: { $0.asset.keyPrecedes($1.asset) }) where !delta.isZero {
                let stored = Keys.balance(account, asset)
                let current = try txn.get(db.balances, stored) { var r = ByteReader($0); return try r.decimal() } ?? .zero
                var w = ByteWriter(capacity: 17)
                w.decimal(current + delta)
                try txn.put(db.balances, stored, w.bytes)
            }
            try flushObligations(slot: slot)
            for position in accounts[slot].positions.sorted(by: { Self.keyOrder($0.instrument, $1.instrument) }) {
                try txn.put(db.positions, Keys.position(account, position.instrument), position.encoded())
            }
            try writeIndex(slot: slot)
        }
        try txn.put(db.meta, BookDatabases.nextChunk, Key.offset(nextChunk))
    }

    /// Writes an account's index entries as chunks of up to `AccountIndex.chunkEntries`
    /// summaries, newest first, and lists each chunk under the account and its oldest
    /// offset (inverted, so newer chunks sort first).
    mutating func writeIndex(slot: Int) throws {
        let entries = accounts[slot].entries
        guard !entries.isEmpty else { return }
        var key = ByteWriter(capacity: 80)
        var value = ByteWriter(capacity: 4096)
        // Newest first: chunks from the end of the list (entries are in journal order).
        var end = entries.count
        while end > 0 {
            let start = max(0, end - AccountIndex.chunkEntries)
            value.removeAll()
            for (_, summary) in entries[start..<end].reversed() {
                value.u32(UInt32(summary.count))
                value.raw(summary)
            }
            let chunk = nextChunk
            nextChunk += 1
            try withUnsafeBytes(of: chunk.bigEndian) { number in
                try value.withBytes { try txn.put(db.indexChunks, number, $0, append: true) }
                key.removeAll()
                key.string(accounts[slot].name)
                key.u64(~entries[start].offset)
                try key.withBytes { try txn.put(db.accountEntries, $0, number) }
            }
            end = start
        }
    }

    /// Whether `a` sorts before `b` as a key (length-prefixed: shorter first).
    static func keyOrder(_ a: String, _ b: String) -> Bool {
        let (x, y) = (a.utf8.count, b.utf8.count)
        if x != y { return x < y }
        return a.utf8.lexicographicallyPrecedes(b.utf8)
    }

    /// Writes an account's gathered obligation changes.
    mutating func flushObligations(slot: Int) throws {
        let account = accounts[slot].name
        let sorted = accounts[slot].obligations.sorted {
            $0.asset != $1.asset ? $0.asset.keyPrecedes($1.asset) : $0.day < $1.day
        }
        for (asset, day, delta) in sorted where !delta.isZero {
            let stored = Keys.obligation(account, asset, day)
            let (current, status) = try txn.get(db.settlement, stored) { bytes -> (ExactDecimal, SettlementStatus) in
                var r = ByteReader(bytes)
                return (try r.decimal(), SettlementStatus(rawValue: try r.u8()) ?? .pending)
            } ?? (.zero, .pending)
            var w = ByteWriter(capacity: 18)
            w.decimal(current + delta)
            w.u8(status.rawValue)
            try txn.put(db.settlement, stored, w.bytes)
        }
        accounts[slot].obligations.removeAll()
    }

    /// A settlement status entry sets its obligation's status (the word its memo opens with).
    mutating func applyStatus(of entry: JournalEntry) throws {
        let word = entry.memo.split(separator: " ").first.map(String.init) ?? ""
        guard let status = SettlementStatus(name: word) else {
            throw LedgerError.corrupt("settlement entry \(entry.offset) has no status")
        }
        // Amounts gathered so far in this transaction go in first: the status applies to them.
        try flushObligations(slot: slot(of: entry.account))
        let asset: Asset = entry.instrument.isEmpty ? .currency(entry.currency) : .instrument(entry.instrument)
        let key = Keys.obligation(entry.account, asset, entry.valueDate)
        let amount = try txn.get(db.settlement, key) { var r = ByteReader($0); return try r.decimal() } ?? .zero
        var w = ByteWriter(capacity: 18)
        w.decimal(amount)
        w.u8(status.rawValue)
        try txn.put(db.settlement, key, w.bytes)
    }

    mutating func applyToPosition(slot: Int, instrument: String, units: ExactDecimal, price: ExactDecimal,
                                  currency: String) throws {
        let account = accounts[slot].name
        let index: Int
        if let known = accounts[slot].positions.firstIndex(where: { $0.instrument == instrument }) {
            index = known
        } else {
            let stored = try txn.get(db.positions, Keys.position(account, instrument)) {
                try Position(account: account, instrument: instrument, decoding: $0)
            }
            accounts[slot].positions.append(stored ?? Position(account: account, instrument: instrument, currency: currency))
            index = accounts[slot].positions.count - 1
        }
        switch settings.pnlMethod {
        case .averageCost:
            PositionMath.applyAverageCost(&accounts[slot].positions[index], units: units, price: price)
        case .fifo:
            var lots = StoredLots(txn: txn, dbi: db.lots, account: account, instrument: instrument)
            try PositionMath.applyFIFO(&accounts[slot].positions[index], lots: &lots, units: units, price: price)
        }
    }
}

extension ProjectionTransaction.AccountChanges {
    mutating func add(_ amount: ExactDecimal, to asset: Asset) {
        if let index = balances.firstIndex(where: { $0.asset == asset }) {
            balances[index].delta += amount
        } else {
            balances.append((asset, amount))
        }
    }

    mutating func add(_ amount: ExactDecimal, to asset: Asset, on day: CalendarDay) {
        if let index = obligations.firstIndex(where: { $0.day == day && $0.asset == asset }) {
            obligations[index].delta += amount
        } else {
            obligations.append((asset, day, amount))
        }
    }
}

extension Asset {
    /// Whether this asset's key part (tag, then length-prefixed name) sorts before `other`'s.
    func keyPrecedes(_ other: Asset) -> Bool {
        keyTag != other.keyTag ? keyTag < other.keyTag : ProjectionTransaction.keyOrder(name, other.name)
    }
}

/// The per-account index in the books: each client's journal entries as summaries (the
/// record less its legs), newest first, in chunks. A chunk is one projection transaction's
/// entries of one account (at most `chunkEntries` of them), the summaries newest first,
/// each after its length (u32).
///
/// Chunks are stored in the order they are written, under a counter (`index-chunks`):
/// appended, so a projection transaction writes new pages instead of rewriting the
/// leaves of every account it touches. `account-entries` lists an account's chunks,
/// keyed (account, ~oldest offset), newest first, each row the chunk's number: small
/// rows, so the leaves a transaction rewrites there are few.
enum AccountIndex {
    static let chunkEntries = 16

    /// Calls `body` with each chunk listed in `account-entries` from `start` on while its
    /// key starts with `prefix` and `body` returns true.
    static func forEachChunk(_ txn: ReadTransaction, _ db: BookDatabases, from start: [UInt8], prefixCount: Int,
                             _ body: (_ key: UnsafeRawBufferPointer, _ chunk: UnsafeRawBufferPointer) throws -> Bool) throws {
        try start.withUnsafeBytes { startBytes in
            let prefix = UnsafeRawBufferPointer(rebasing: startBytes[..<prefixCount])
            try txn.scan(db.accountEntries, from: start) { key, number in
                guard key.count >= prefixCount, memcmp(key.baseAddress!, prefix.baseAddress!, prefixCount) == 0 else { return false }
                guard let going = try txn.get(db.indexChunks, number, { try body(key, $0) }) else {
                    throw LedgerError.corrupt("index chunk \(Array(number)) is missing")
                }
                return going
            }
        }
    }

    /// Calls `body` with each summary in `chunk`, newest first, while it returns true.
    /// Returns false if `body` stopped.
    static func forEach(in chunk: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) throws -> Bool) throws -> Bool {
        var r = ByteReader(chunk)
        while !r.isAtEnd {
            let length = Int(try r.u32())
            if try !body(try r.bytes(length)) { return false }
        }
        return true
    }
}
