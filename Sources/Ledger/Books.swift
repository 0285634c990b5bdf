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
    /// `set-aside/` + offset: a journal entry the books cannot apply (its arithmetic does
    /// not fit), with the reason. The books carry on without it; `check` reports it.
    static let setAsidePrefix: [UInt8] = Array("set-aside/".utf8)
    static let nextChunk: [UInt8] = Array("next-chunk".utf8)
    static let formatKey: [UInt8] = Array("format".utf8)
    /// The shape of the books' records. Books stored in another shape (or in none: before
    /// the marker) are emptied on open and rebuilt from the journal, which is the record.
    /// 2: an account's small index chunks are stored in its `account-entries` rows.
    /// 3: `account-entries` holds one head row per account, its chunks linked from there.
    static let format: UInt64 = 3

    var all: [MDB_dbi] { [meta, positions, lots, balances, settlement, accountEntries, indexChunks] }

    /// Empties books stored in another shape than this code's, so that the projector
    /// rebuilds them; true if it did.
    @discardableResult
    func rebuildIfOtherFormat(_ env: LMDBEnvironment) throws -> Bool {
        func stored(_ txn: ReadTransaction) throws -> UInt64? {
            try txn.get(meta, Self.formatKey) { var r = ByteReader($0); return try r.u64() }
        }
        if try env.read({ try stored($0) }) == Self.format { return false }
        return try env.write { txn in
            // Another process may have done it meanwhile.
            if try stored(txn.reader) == Self.format { return false }
            for dbi in all { try txn.empty(dbi) }
            try txn.put(meta, Self.formatKey, Key.offset(Self.format))
            return true
        }
    }

    /// The last journal offset the books include (0: none).
    func appliedOffset(_ txn: ReadTransaction) throws -> UInt64 {
        try txn.get(meta, Self.appliedOffset) { var r = ByteReader($0); return try r.u64() } ?? 0
    }

    /// The entries set aside, by offset, with their reasons.
    func setAside(_ txn: ReadTransaction) throws -> [UInt64: String] {
        var entries: [UInt64: String] = [:]
        try txn.scan(meta, from: Self.setAsidePrefix) { key, value in
            guard key.count == Self.setAsidePrefix.count + 8, key.starts(with: Self.setAsidePrefix) else { return false }
            var k = ByteReader(UnsafeRawBufferPointer(rebasing: key[Self.setAsidePrefix.count...]))
            var v = ByteReader(value)
            entries[try k.u64()] = try v.string()
            return true
        }
        return entries
    }

    static func setAsideKey(_ offset: UInt64) -> [UInt8] { setAsidePrefix + Key.offset(offset) }
}

/// A journal entry whose arithmetic does not fit: the projector sets it aside.
struct EntryOverflow: Error {
    /// The entry, when one is to blame; nil when the transaction's sums overflowed as a whole.
    let offset: UInt64?
    /// The last entry of the failing transaction.
    let last: UInt64
    let reason: String
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
    /// How many callers wait in `wait(upTo:)`: while any does, the projector applies
    /// what there is without waiting for a fuller batch.
    private var waiting = 0
    /// When `wanted` first went past `applied` since the last transaction.
    private var pendingSince: DispatchTime?
    /// The books include every entry up to here (as this process last saw them).
    private var applied: UInt64 = 0
    /// What the last projection transaction failed with; waiters are told.
    private var failure: Error?
    private var stopping = false
    private let stopped = DispatchSemaphore(value: 0)
    private var scratch = ProjectionTransaction.Scratch()
    /// Entries the books do without (`BookDatabases.setAside`); touched by the thread only.
    private var setAside: Set<UInt64> = []
    /// While the books are below this offset, one entry per transaction: a transaction's
    /// sums overflowed, and the entry to blame is found one at a time.
    private var singleEntriesUntil: UInt64 = 0
    /// The most entries one projection transaction applies: bounds the memory it gathers
    /// in and its LMDB dirty pages, however far behind the books are.
    static let entriesPerTransaction = 400_000

    init(journal: LMDBEnvironment, db: Databases, books: LMDBEnvironment, settings: LedgerSettings) throws {
        self.journal = journal
        self.db = db
        self.books = books
        bookDB = try BookDatabases(books)
        self.settings = settings
        let bookDB = self.bookDB
        try bookDB.rebuildIfOtherFormat(books)
        applied = try books.read { try bookDB.appliedOffset($0) }
        setAside = Set(try books.read { try bookDB.setAside($0) }.keys)
        // The thread holds the object (and so the environments) only while `loop` runs,
        // and says it is done after that, so that `stop()` returning means they can close.
        let stopped = self.stopped
        let thread = Thread { [unowned self] in
            BatchWork.markThisThread()
            loop()
            stopped.signal()
        }
        thread.name = "counterfoil-ledger-books"
        thread.qualityOfService = .utility
        thread.start()
    }

    /// Asks for the books to include entries up to `offset`, without waiting.
    func request(upTo offset: UInt64) {
        condition.lock()
        if offset > wanted {
            if wanted <= applied { pendingSince = .now() }
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
        waiting += 1
        defer { waiting -= 1 }
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
            // Let a fuller batch gather while nobody waits for the books.
            while waiting == 0, !stopping, failure == nil, wanted - applied < settings.booksBatch,
                  let since = pendingSince {
                let due = since.uptimeNanoseconds + UInt64(max(0, settings.booksDelay) * 1e9)
                let now = DispatchTime.now().uptimeNanoseconds
                if now >= due { break }
                _ = condition.wait(until: Date(timeIntervalSinceNow: Double(due - now) / 1e9))
            }
            condition.unlock()
            do {
                let reached = try project()
                if singleEntriesUntil > 0 && reached >= singleEntriesUntil { singleEntriesUntil = 0 }
                condition.lock()
                if reached <= applied && reached < wanted {
                    // Nothing to apply, yet more was asked for: never spin on it.
                    failure = LedgerError.corrupt("the books were asked to include entry \(wanted), but the journal ends at \(reached)")
                }
                applied = max(applied, reached)
                // What came in meanwhile starts the next batch.
                if wanted > applied { pendingSince = .now() }
                condition.broadcast()
                condition.unlock()
            } catch let overflow as EntryOverflow {
                // Never a trap, never a stall: the entry to blame is set aside and the books
                // carry on; a transaction whose sums overflowed is retried entry by entry.
                do {
                    try setAside(overflow)
                } catch {
                    condition.lock()
                    failure = error
                    condition.broadcast()
                    condition.unlock()
                }
            } catch {
                condition.lock()
                failure = error
                condition.broadcast()
                condition.unlock()
            }
        }
    }

    private func setAside(_ overflow: EntryOverflow) throws {
        guard let offset = overflow.offset else {
            singleEntriesUntil = overflow.last
            return
        }
        let bookDB = self.bookDB
        try books.write { txn in
            var w = ByteWriter(capacity: overflow.reason.utf8.count + 4)
            w.string(overflow.reason)
            try txn.put(bookDB.meta, BookDatabases.setAsideKey(offset), w.bytes)
        }
        setAside.insert(offset)
        if offset >= singleEntriesUntil { singleEntriesUntil = 0 }
    }

    /// One projection transaction: the committed entries after the books' applied offset,
    /// at most `entriesPerTransaction` of them. Returns the offset the books now include.
    private func project() throws -> UInt64 {
        let single = singleEntriesUntil > 0
        let limit = single ? 1 : Self.entriesPerTransaction
        let setAside = self.setAside
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
                    let view = try JournalRecordView(record)
                    let offset = view.terms.offset
                    guard offset == last + 1 else {
                        throw LedgerError.corrupt("journal entry \(offset) where \(last + 1) was expected")
                    }
                    if !setAside.contains(offset) {
                        do {
                            try projection.apply(view)
                        } catch let overflow as ExactDecimalOverflow {
                            throw EntryOverflow(offset: offset, last: offset, reason: "\(overflow)")
                        }
                    }
                    last = offset
                    count += 1
                    return count < limit
                }
                // The index entries point into the journal's pages: written while they are
                // mapped. With nothing to apply, nothing is written (and no fsync paid).
                if last > start {
                    do {
                        try projection.finish()
                    } catch let overflow as ExactDecimalOverflow {
                        // The stored sums overflow: one entry alone is to blame, or it is found one by one.
                        throw EntryOverflow(offset: single ? last : nil, last: last, reason: "\(overflow)")
                    }
                }
            }
            guard last > start else { return start }
            try txn.put(bookDB.meta, BookDatabases.appliedOffset, Key.offset(last))
            return last
        }
    }
}

/// One projection transaction's worth of applying journal entries to the books.
///
/// Records are read in place (`JournalRecordView`): account and asset names stay views of
/// the journal's pages, which stay mapped while its read transaction is open (the caller
/// applies and finishes inside it), so applying an entry builds no String. Changes are
/// gathered per account, one table lookup per account an entry touches, and written in
/// `finish()` in key order, account by account: balances and obligations are sums,
/// written once per key; positions depend on order, so each is loaded at its first
/// touch, moved in memory, and written once.
struct ProjectionTransaction {
    let txn: WriteTransaction
    let db: BookDatabases
    let settings: LedgerSettings
    /// The accounts touched in this transaction: where each one's changes are in `accounts`.
    var accountIndex: NameTable
    /// The first `touched` are this transaction's; the rest are kept from earlier ones to be
    /// reused, their tables' storage with them (no allocation per account touched).
    var accounts: [AccountChanges]
    var touched = 0
    /// The number the next index chunk is stored under.
    var nextChunk: UInt64 = 0
    /// The contra accounts' names, kept from one transaction to the next.
    let contraNames: ContraNames
    /// The two accounts last looked up, tried before the table: an entry's legs name two to
    /// four accounts, each a few times, and one source's entries share a contra account.
    var recent = (name: UnsafeRawBufferPointer(start: nil, count: 0), slot: -1)
    var previous = (name: UnsafeRawBufferPointer(start: nil, count: 0), slot: -1)

    /// The assets named in this transaction, by number: accounts' changes are matched by
    /// these numbers, not by comparing names. Instruments and currencies are numbered from
    /// one sequence, each kind looked up in its own table.
    var assetNames: [UnsafeRawBufferPointer] = []
    var instrumentNumbers = NameTable()
    var currencyNumbers = NameTable()
    /// The last currency numbered: most entries share one.
    var lastCurrency = (name: UnsafeRawBufferPointer(start: nil, count: 0), number: Int32(-1))
    /// `writeIndex`'s working room: a head row's summaries copied out, and an account's
    /// summaries to write, oldest first.
    var carried: [UInt8] = []
    var pending: [(offset: UInt64, summary: UnsafeRawBufferPointer)] = []

    /// An asset as its key tag and name, the name a view of the journal's bytes.
    struct AssetName {
        let tag: UInt8
        let name: UnsafeRawBufferPointer

        /// Whether this asset's key part (tag, then length-prefixed name) sorts first.
        func precedes(_ other: AssetName) -> Bool {
            tag != other.tag ? tag < other.tag : NameTable.keyOrder(name, other.name)
        }
    }

    struct AccountChanges {
        var name: UnsafeRawBufferPointer
        /// The ledger's own accounts have no index.
        var isHouse: Bool
        /// Each asset is named and numbered (`assetNumber`); the number finds it.
        var balances: [(number: Int32, asset: AssetName, delta: ExactDecimal)] = []
        var obligations: [(number: Int32, asset: AssetName, day: CalendarDay, delta: ExactDecimal)] = []
        var positions: [(number: Int32, instrument: UnsafeRawBufferPointer, position: Position)] = []
        /// In journal order: the offset and the entry's summary, in the journal's pages.
        var entries: [(offset: UInt64, summary: UnsafeRawBufferPointer)] = []

        init(name: UnsafeRawBufferPointer) {
            self.name = name
            isHouse = LedgerAccounts.isHouse(name)
        }

        /// Empty, for `name`, keeping the tables' storage (but not an index list grown
        /// large by one busy account: the slots are many and are reused by any account).
        mutating func reuse(for name: UnsafeRawBufferPointer) {
            self.name = name
            isHouse = LedgerAccounts.isHouse(name)
            balances.removeAll(keepingCapacity: true)
            obligations.removeAll(keepingCapacity: true)
            positions.removeAll(keepingCapacity: true)
            entries.removeAll(keepingCapacity: entries.capacity <= 1024)
        }

        mutating func add(_ amount: ExactDecimal, to asset: AssetName, number: Int32) throws {
            if let index = balances.firstIndex(where: { $0.number == number }) {
                balances[index].delta = try balances[index].delta.adding(amount)
            } else {
                balances.append((number, asset, amount))
            }
        }

        mutating func add(_ amount: ExactDecimal, to asset: AssetName, number: Int32, on day: CalendarDay) throws {
            if let index = obligations.firstIndex(where: { $0.number == number && $0.day == day }) {
                obligations[index].delta = try obligations[index].delta.adding(amount)
            } else {
                obligations.append((number, asset, day, amount))
            }
        }
    }

    /// The tables a transaction gathers in, kept from one transaction to the next: they
    /// grow to a transaction's size once, not by doubling (and rehashing) every time.
    struct Scratch {
        var accountIndex = NameTable()
        var accounts: [AccountChanges] = []
        var contraNames = ContraNames()
        var assetNames: [UnsafeRawBufferPointer] = []
        var instrumentNumbers = NameTable()
        var currencyNumbers = NameTable()
        var carried: [UInt8] = []
        var pending: [(offset: UInt64, summary: UnsafeRawBufferPointer)] = []
    }

    /// `scratch` is emptied first (a retried transaction may hand back what an aborted
    /// attempt gathered); pass it uniquely held, and take it back with `takeScratch()`.
    init(txn: WriteTransaction, db: BookDatabases, settings: LedgerSettings, scratch: consuming Scratch) {
        self.txn = txn
        self.db = db
        self.settings = settings
        scratch.accountIndex.removeAll()
        scratch.assetNames.removeAll(keepingCapacity: true)
        scratch.instrumentNumbers.removeAll()
        scratch.currencyNumbers.removeAll()
        accountIndex = scratch.accountIndex
        accounts = scratch.accounts
        contraNames = scratch.contraNames
        assetNames = scratch.assetNames
        instrumentNumbers = scratch.instrumentNumbers
        currencyNumbers = scratch.currencyNumbers
        carried = scratch.carried
        pending = scratch.pending
    }

    /// The tables, for the next transaction to reuse.
    mutating func takeScratch() -> Scratch {
        let scratch = Scratch(accountIndex: accountIndex, accounts: accounts, contraNames: contraNames, assetNames: assetNames,
                              instrumentNumbers: instrumentNumbers, currencyNumbers: currencyNumbers,
                              carried: carried, pending: pending)
        accountIndex = NameTable()
        accounts = []
        assetNames = []
        instrumentNumbers = NameTable()
        currencyNumbers = NameTable()
        carried = []
        pending = []
        return scratch
    }

    mutating func slot(of account: UnsafeRawBufferPointer) -> Int {
        accountIndex.slot(of: account, names: touched) { accounts[$0].name } add: {
            if touched < accounts.count {
                accounts[touched].reuse(for: account)
            } else {
                accounts.append(AccountChanges(name: account))
            }
            touched += 1
        }
    }

    /// The number of the asset `tag` `name` in this transaction.
    mutating func assetNumber(_ tag: UInt8, _ name: UnsafeRawBufferPointer) -> Int32 {
        let next = assetNames.count
        if tag == Asset.instrumentTag {
            return Int32(instrumentNumbers.slot(of: name, names: next) { assetNames[$0] } add: { assetNames.append(name) })
        }
        return Int32(currencyNumbers.slot(of: name, names: next) { assetNames[$0] } add: { assetNames.append(name) })
    }

    /// Applies the journal record `record` to balances, positions, settlement and the
    /// per-account index.
    mutating func apply(_ record: JournalRecordView) throws {
        let terms = record.terms
        let movesPosition = terms.kind != .settlementStatus && !terms.instrument.isEmpty && !terms.quantity.isZero
        let settles = terms.kind != .settlementStatus
        // The legs name the entry's own instrument and currency (the trade rule's, as the
        // same views of its terms): number them once.
        let instrument = terms.instrument.isEmpty ? -1 : assetNumber(Asset.instrumentTag, terms.instrument)
        if !NameTable.equal(lastCurrency.name, terms.currency) || lastCurrency.number < 0 {
            lastCurrency = (terms.currency, assetNumber(Asset.currencyTag, terms.currency))
        }
        let currency = lastCurrency.number
        try record.forEachPosting(contra: contraNames.name(for:)) { account, tag, name, amount in
            let slot: Int
            if recent.slot >= 0, NameTable.equal(recent.name, account) {
                slot = recent.slot
            } else if previous.slot >= 0, NameTable.equal(previous.name, account) {
                slot = previous.slot
                swap(&recent, &previous)
            } else {
                slot = self.slot(of: account)
                previous = recent
                recent = (account, slot)
            }
            index(slot, record)
            let number: Int32
            if tag == Asset.instrumentTag, instrument >= 0, Self.same(name, terms.instrument) {
                number = instrument
            } else if tag == Asset.currencyTag, Self.same(name, terms.currency) {
                number = currency
            } else {
                number = assetNumber(tag, name)
            }
            let asset = AssetName(tag: tag, name: name)
            try accounts[slot].add(amount, to: asset, number: number)
            if settles { try accounts[slot].add(amount, to: asset, number: number, on: terms.valueDate) }
            if movesPosition && tag == Asset.instrumentTag {
                try applyToPosition(slot: slot, instrument: name, number: number, units: amount, price: terms.price,
                                    currency: terms.currency)
            }
        }
        if record.postingCount == 0 { index(slot(of: terms.account), record) }
        if !settles { try applyStatus(of: record) }
    }

    /// Whether two views are of the same bytes in memory.
    @inline(__always)
    static func same(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        a.baseAddress == b.baseAddress && a.count == b.count
    }

    /// Each client's index holds a summary of each entry that touches it (once), so that
    /// a client's latest trades are read from a few chunks, not from all over the journal.
    mutating func index(_ slot: Int, _ record: JournalRecordView) {
        guard !accounts[slot].isHouse, accounts[slot].entries.last?.offset != record.terms.offset else { return }
        accounts[slot].entries.append((record.terms.offset, record.summary))
    }

    /// Writes what was gathered, account by account in key order; call once, inside the
    /// journal's read transaction, before commit.
    mutating func finish() throws {
        nextChunk = try txn.get(db.meta, BookDatabases.nextChunk) { var r = ByteReader($0); return try r.u64() } ?? 1
        let order = (0..<touched).sorted { NameTable.keyOrder(accounts[$0].name, accounts[$1].name) }
        // Keys go in in order, each table through one cursor.
        try txn.withCursor(db.balances) { balances in
            for slot in order { try writeBalances(slot: slot, balances) }
        }
        try txn.withCursor(db.settlement) { settlement in
            for slot in order { try flushObligations(slot: slot, settlement) }
        }
        try txn.withCursor(db.positions) { positions in
            var key = ByteWriter(capacity: 160)
            var value = ByteWriter(capacity: 160)
            for slot in order {
                accounts[slot].positions.sort { NameTable.keyOrder($0.instrument, $1.instrument) }
                for (_, instrument, position) in accounts[slot].positions {
                    key.removeAll()
                    key.string(accounts[slot].name)
                    key.string(instrument)
                    value.removeAll()
                    position.encode(into: &value)
                    try key.withBytes { k in try value.withBytes { try positions.put(k, $0) } }
                }
            }
        }
        try txn.withCursor(db.accountEntries) { heads in
            try txn.withCursor(db.indexChunks) { chunks in
                for slot in order { try writeIndex(slot: slot, heads, chunks) }
            }
        }
        try txn.put(db.meta, BookDatabases.nextChunk, Key.offset(nextChunk))
    }

    mutating func writeBalances(slot: Int, _ balances: WriteCursor) throws {
        var key = ByteWriter(capacity: 160)
        var value = ByteWriter(capacity: 18)
        let account = accounts[slot].name
        accounts[slot].balances.sort { $0.asset.precedes($1.asset) }
        for (_, asset, delta) in accounts[slot].balances where !delta.isZero {
            key.removeAll()
            key.string(account)
            key.u8(asset.tag)
            key.string(asset.name)
            try key.withBytes { stored in
                let current = try balances.get(stored) { var r = ByteReader($0); return try r.decimal() }
                value.removeAll()
                value.decimal(try (current ?? .zero).adding(delta))
                try value.withBytes { current == nil ? try balances.put(stored, $0) : try balances.replaceCurrent(stored, $0) }
            }
        }
    }

    /// Adds an account's new index entries to its index (`AccountIndex`): they join the
    /// summaries its head row holds; all but the newest few of them go out in chunks of up
    /// to `AccountIndex.chunkBytes`, appended to `index-chunks` and linked newest first
    /// from the head row, which keeps the rest.
    mutating func writeIndex(slot: Int, _ heads: WriteCursor, _ chunks: WriteCursor) throws {
        guard !accounts[slot].entries.isEmpty else { return }
        var key = ByteWriter(capacity: 80)
        key.string(accounts[slot].name)
        // The head row is replaced below: what it holds is copied out first.
        var newest: UInt64 = 0
        carried.removeAll(keepingCapacity: true)
        let found = try key.withBytes { k in
            try heads.get(k) { row -> Bool in
                var r = ByteReader(row)
                newest = try AccountIndex.readHead(&r)
                carried.append(contentsOf: try r.bytes(r.remaining))
                return true
            }
        } ?? false
        var value = ByteWriter(capacity: 2048)
        try carried.withUnsafeBytes { carried in
            // Oldest first: the carried summaries (stored newest first), then the new ones.
            // The carried ones are views of `carried`, used only inside this closure.
            pending.removeAll(keepingCapacity: true)
            _ = try AccountIndex.forEach(in: carried) { pending.append((try EntrySummary.peek($0).offset, $0)); return true }
            pending.reverse()
            pending.append(contentsOf: accounts[slot].entries)
            var start = 0
            while pending.count - start > AccountIndex.headEntries {
                // As many as fit in a chunk (at least one).
                var end = start + 1
                var size = AccountIndex.chunkHeader + 4 + pending[start].summary.count
                while end < pending.count, size + 4 + pending[end].summary.count <= AccountIndex.chunkBytes {
                    size += 4 + pending[end].summary.count
                    end += 1
                }
                value.removeAll()
                value.u64(newest)
                value.u64(pending[start].offset)
                for (_, summary) in pending[start..<end].reversed() {
                    value.u32(UInt32(summary.count))
                    value.raw(summary)
                }
                try withUnsafeBytes(of: nextChunk.bigEndian) { number in
                    try value.withBytes { try chunks.put(number, $0, append: true) }
                }
                newest = nextChunk
                nextChunk += 1
                start = end
            }
            value.removeAll()
            value.u8(AccountIndex.headRow)
            value.u64(newest)
            for (_, summary) in pending[start...].reversed() {
                value.u32(UInt32(summary.count))
                value.raw(summary)
            }
        }
        try key.withBytes { k in
            try value.withBytes { found ? try heads.replaceCurrent(k, $0) : try heads.put(k, $0) }
        }
    }

    /// Writes an account's gathered obligation changes.
    mutating func flushObligations(slot: Int, _ settlement: WriteCursor) throws {
        let account = accounts[slot].name
        accounts[slot].obligations.sort {
            $0.number == $1.number ? $0.day < $1.day : $0.asset.precedes($1.asset)
        }
        var key = ByteWriter(capacity: 160)
        var value = ByteWriter(capacity: 18)
        for (_, asset, day, delta) in accounts[slot].obligations where !delta.isZero {
            key.removeAll()
            key.string(account)
            key.u8(asset.tag)
            key.string(asset.name)
            key.day(day)
            try key.withBytes { keyBytes in
                let found = try settlement.get(keyBytes) { bytes -> (ExactDecimal, SettlementStatus) in
                    var r = ByteReader(bytes)
                    return (try r.decimal(), SettlementStatus(rawValue: try r.u8()) ?? .pending)
                }
                let (current, status) = found ?? (.zero, .pending)
                value.removeAll()
                value.decimal(try current.adding(delta))
                value.u8(status.rawValue)
                try value.withBytes {
                    found == nil ? try settlement.put(keyBytes, $0) : try settlement.replaceCurrent(keyBytes, $0)
                }
            }
        }
        accounts[slot].obligations.removeAll(keepingCapacity: true)
    }

    /// A settlement status entry sets its obligation's status (the word its memo opens with).
    mutating func applyStatus(of record: JournalRecordView) throws {
        let terms = record.terms
        let word = String(decoding: record.memo, as: UTF8.self).split(separator: " ").first.map(String.init) ?? ""
        guard let status = SettlementStatus(name: word) else {
            throw LedgerError.corrupt("settlement entry \(terms.offset) has no status")
        }
        // Amounts gathered so far in this transaction go in first: the status applies to them.
        let slot = slot(of: terms.account)
        try txn.withCursor(db.settlement) { try flushObligations(slot: slot, $0) }
        let text = { (bytes: UnsafeRawBufferPointer) in String(decoding: bytes, as: UTF8.self) }
        let asset: Asset = terms.instrument.isEmpty ? .currency(text(terms.currency)) : .instrument(text(terms.instrument))
        let key = Keys.obligation(text(terms.account), asset, terms.valueDate)
        let amount = try txn.get(db.settlement, key) { var r = ByteReader($0); return try r.decimal() } ?? .zero
        var w = ByteWriter(capacity: 18)
        w.decimal(amount)
        w.u8(status.rawValue)
        try txn.put(db.settlement, key, w.bytes)
    }

    mutating func applyToPosition(slot: Int, instrument: UnsafeRawBufferPointer, number: Int32, units: ExactDecimal,
                                  price: ExactDecimal, currency: UnsafeRawBufferPointer) throws {
        let index: Int
        if let known = accounts[slot].positions.firstIndex(where: { $0.number == number }) {
            index = known
        } else {
            // First touch in this transaction: the stored position, or a new one.
            let account = String(decoding: accounts[slot].name, as: UTF8.self)
            let name = String(decoding: instrument, as: UTF8.self)
            let stored = try txn.get(db.positions, Keys.position(account, name)) {
                try Position(account: account, instrument: name, decoding: $0)
            }
            let position = stored ?? Position(account: account, instrument: name, currency: String(decoding: currency, as: UTF8.self))
            accounts[slot].positions.append((number, instrument, position))
            index = accounts[slot].positions.count - 1
        }
        switch settings.pnlMethod {
        case .averageCost:
            try PositionMath.applyAverageCost(&accounts[slot].positions[index].position, units: units, price: price)
        case .fifo:
            let position = accounts[slot].positions[index].position
            var lots = StoredLots(txn: txn, dbi: db.lots, account: position.account, instrument: position.instrument)
            try PositionMath.applyFIFO(&accounts[slot].positions[index].position, lots: &lots, units: units, price: price)
        }
    }
}

/// A journal record read in place: its terms, memo and summary, its legs walked without
/// building `Posting`s. Valid while the bytes are.
struct JournalRecordView {
    let terms: EntrySummary
    let memo: UnsafeRawBufferPointer
    /// The record less its legs, which the account index keeps.
    let summary: UnsafeRawBufferPointer
    let postingCount: Int
    private let legs: RecordLegs
    /// The listed legs' bytes (nothing for the trade rule's).
    private let listed: UnsafeRawBufferPointer

    init(_ bytes: UnsafeRawBufferPointer) throws {
        terms = try EntrySummary(bytes)
        var r = ByteReader(UnsafeRawBufferPointer(rebasing: bytes[terms.end...]))
        memo = try r.stringBytes()
        summary = UnsafeRawBufferPointer(rebasing: bytes[..<(terms.end + r.offset)])
        legs = try RecordLegs(&r, version: terms.version)
        switch legs {
        case .listed(let count, _): postingCount = count
        case .tradeRule: postingCount = JournalEntry.tradeLegCount(commission: terms.commission, fees: terms.fees)
        }
        listed = UnsafeRawBufferPointer(rebasing: bytes[(terms.end + r.offset)...])
    }

    /// Calls `body` with each leg: account, asset tag and name, amount. The trade rule's
    /// legs name the source's contra account, which no record holds: `contra` gives its
    /// name for the source's, in memory that lasts as long as the caller keeps the names.
    @inline(__always)
    func forEachPosting(contra: (UnsafeRawBufferPointer) -> UnsafeRawBufferPointer,
                        _ body: (UnsafeRawBufferPointer, UInt8, UnsafeRawBufferPointer, ExactDecimal) throws -> Void) throws {
        switch legs {
        case .listed(let count, let compact):
            var r = ByteReader(listed)
            for _ in 0..<count {
                let account = try r.stringBytes()
                let tag = try r.u8()
                guard tag == Asset.instrumentTag || tag == Asset.currencyTag else { throw LedgerError.corrupt("asset tag \(tag)") }
                let name = try r.stringBytes()
                try body(account, tag, name, compact ? try r.compactDecimal() : try r.decimal())
            }
        case .tradeRule:
            try JournalEntry.forEachTradeLeg(
                account: terms.account, contra: contra(terms.source),
                commissionRevenue: Self.bytes(of: LedgerAccounts.commissionRevenueName),
                feeRevenue: Self.bytes(of: LedgerAccounts.feeRevenueName), instrument: terms.instrument,
                currency: terms.currency, side: terms.side, quantity: terms.quantity, price: terms.price,
                commission: terms.commission, fees: terms.fees, body)
        }
    }

    private static func bytes(of name: StaticString) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)
    }
}

/// The contra accounts' names (`LedgerAccounts.contra(for:)` of each source) for the
/// trade rule's legs, which no record holds: kept in memory of their own for as long as
/// the projector runs, so that its tables hold views of them as they do of the names
/// read in place from the journal. There are as many as there are sources.
/// Used by the projector's thread alone: no run-time exclusivity checks.
final class ContraNames {
    @exclusivity(unchecked) private var table = NameTable()
    /// Each contra account's name; its source's name is what follows the prefix.
    @exclusivity(unchecked) private var names: [UnsafeMutableRawBufferPointer] = []
    /// The slot last asked for: most entries in a row come from one source.
    @exclusivity(unchecked) private var last = -1
    private static let prefix = LedgerAccounts.contraPrefix

    deinit {
        for name in names { name.deallocate() }
    }

    func name(for source: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        let prefixCount = Self.prefix.utf8CodeUnitCount
        if last >= 0, NameTable.equal(UnsafeRawBufferPointer(rebasing: names[last][prefixCount...]), source) {
            return UnsafeRawBufferPointer(names[last])
        }
        let slot = table.slot(of: source, names: names.count, { UnsafeRawBufferPointer(rebasing: self.names[$0][prefixCount...]) }) {
            let name = UnsafeMutableRawBufferPointer.allocate(byteCount: prefixCount + source.count, alignment: 1)
            name.baseAddress!.copyMemory(from: Self.prefix.utf8Start, byteCount: prefixCount)
            UnsafeMutableRawBufferPointer(rebasing: name[prefixCount...]).copyMemory(from: source)
            names.append(name)
        }
        last = slot
        return UnsafeRawBufferPointer(names[slot])
    }
}

/// Names (UTF-8 views) to slots, by open addressing over an FNV-1a hash: the projector's
/// account table, which looks names up as bytes without making Strings of them.
struct NameTable {
    private var slots: [Int32] = Array(repeating: -1, count: 1024)
    private var hashes: [UInt64] = Array(repeating: 0, count: 1024)
    private var count = 0

    mutating func removeAll() {
        for i in slots.indices { slots[i] = -1 }
        count = 0
    }

    /// The slot of `name`; when new, `add()` appends it (as slot `names`, the count so far).
    mutating func slot(of name: UnsafeRawBufferPointer, names: Int, _ nameOf: (Int) -> UnsafeRawBufferPointer,
                       add: () -> Void) -> Int {
        if (count + 1) * 2 > slots.count { grow() }
        let hash = Self.hash(name)
        let mask = slots.count - 1
        var i = Int(truncatingIfNeeded: hash) & mask
        while slots[i] >= 0 {
            if hashes[i] == hash && Self.equal(nameOf(Int(slots[i])), name) { return Int(slots[i]) }
            i = (i + 1) & mask
        }
        slots[i] = Int32(names)
        hashes[i] = hash
        count += 1
        add()
        return names
    }

    private mutating func grow() {
        let old = zip(slots, hashes).filter { $0.0 >= 0 }
        slots = Array(repeating: -1, count: slots.count * 2)
        hashes = Array(repeating: 0, count: slots.count)
        let mask = slots.count - 1
        for (slot, hash) in old {
            var i = Int(truncatingIfNeeded: hash) & mask
            while slots[i] >= 0 { i = (i + 1) & mask }
            slots[i] = slot
            hashes[i] = hash
        }
    }

    /// A name's hash, for this process's tables only (it is never stored): eight bytes
    /// at a time, each word folded in by a multiply and a shift, so that a contra
    /// account's forty-byte name costs five steps, not forty.
    @inline(__always)
    static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        let multiplier: UInt64 = 0xFF51_AFD7_ED55_8CCD
        var hash = 0x9E37_79B9_7F4A_7C15 &* UInt64(truncatingIfNeeded: bytes.count &+ 1)
        guard var p = bytes.baseAddress else { return hash }
        var left = bytes.count
        while left >= 8 {
            hash = (hash ^ p.loadUnaligned(as: UInt64.self)) &* multiplier
            hash ^= hash >> 32
            p += 8
            left -= 8
        }
        if left > 0 {
            // One to seven bytes: two overlapping loads cover them (the length is in the seed).
            let tail: UInt64
            if left >= 4 {
                tail = UInt64(p.loadUnaligned(as: UInt32.self)) | UInt64(p.loadUnaligned(fromByteOffset: left - 4, as: UInt32.self)) << 32
            } else {
                tail = UInt64(p.load(as: UInt8.self)) | UInt64(p.load(fromByteOffset: left / 2, as: UInt8.self)) << 8
                    | UInt64(p.load(fromByteOffset: left - 1, as: UInt8.self)) << 16
            }
            hash = (hash ^ tail) &* multiplier
            hash ^= hash >> 32
        }
        return hash
    }

    /// Whether two names are the same bytes. Names are short (accounts, instruments,
    /// currencies): up to sixteen bytes compare as two overlapping words each, not
    /// through a call to `memcmp`.
    @inline(__always)
    static func equal(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        let count = a.count
        guard count == b.count else { return false }
        guard count > 0, a.baseAddress != b.baseAddress else { return true }
        let x = a.baseAddress!, y = b.baseAddress!
        switch count {
        case 8...16:
            return x.loadUnaligned(as: UInt64.self) == y.loadUnaligned(as: UInt64.self)
                && x.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self) == y.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self)
        case 4..<8:
            return x.loadUnaligned(as: UInt32.self) == y.loadUnaligned(as: UInt32.self)
                && x.loadUnaligned(fromByteOffset: count - 4, as: UInt32.self) == y.loadUnaligned(fromByteOffset: count - 4, as: UInt32.self)
        case 1..<4:
            for i in 0..<count where x.load(fromByteOffset: i, as: UInt8.self) != y.load(fromByteOffset: i, as: UInt8.self) {
                return false
            }
            return true
        default:
            return memcmp(x, y, count) == 0
        }
    }

    /// Whether `a` sorts before `b` as a key (length-prefixed: shorter first).
    static func keyOrder(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        if a.count != b.count { return a.count < b.count }
        return a.count > 0 && memcmp(a.baseAddress!, b.baseAddress!, a.count) < 0
    }
}

/// The per-account index in the books: each client's journal entries as summaries (the
/// record less its legs), newest first, so that a client's latest trades are read from a
/// row or two, not from all over the journal.
///
/// `account-entries` holds one head row per account, keyed by the account: the number of
/// its newest stored chunk (0: none), then its newest summaries, at most `headEntries`,
/// newest first, each after its length (u32). Older summaries are in chunks of at most
/// `chunkBytes` in `index-chunks`, keyed by a counter in the order they are written, so
/// a projection transaction appends new pages there. A chunk holds the number of the
/// account's chunk before it (0: none) and the offset of its oldest summary, then its
/// summaries newest first.
///
/// A projection transaction rewrites the head row of each account it touches, in a table
/// of one small row per account, and appends chunks: its writes do not grow with the
/// index, which a table of rows per chunk, keyed by account and offset, made it do (every
/// transaction inserted a row at the head of each account's range, dirtying a leaf of a
/// table that grows with the journal).
enum AccountIndex {
    /// The most bytes a chunk holds unless one summary is larger: LMDB stores a value of
    /// up to this size with its 8-byte key in a leaf of a 4 KiB page (half the page, less
    /// the page and node headers), so chunks pack into leaves whatever their size. A
    /// larger value would take whole overflow pages of its own, half of each unused.
    static let chunkBytes = 2022
    /// A chunk's header: the account's previous chunk and the offset of its oldest summary.
    static let chunkHeader = 16
    static let headEntries = 6
    /// The first byte of a head row.
    static let headRow: UInt8 = 3

    /// Reads a head row's kind and newest chunk number; `r` is then at its summaries.
    static func readHead(_ r: inout ByteReader) throws -> UInt64 {
        let kind = try r.u8()
        guard kind == headRow else { throw LedgerError.corrupt("an account index row of unknown kind \(kind)") }
        return try r.u64()
    }

    /// Calls `body` with the summaries of the account whose head row is `head`, newest
    /// first, while it returns true, skipping stored chunks whose entries are all from
    /// `before` on (the summaries themselves are the caller's to skip). `chunk` is called
    /// with each stored chunk's number and the offset of its oldest summary as it is
    /// reached. Returns false if `body` stopped.
    @discardableResult
    static func forEach(_ txn: ReadTransaction, _ db: BookDatabases, head: UnsafeRawBufferPointer, before: UInt64 = .max,
                        chunk: (_ number: UInt64, _ oldest: UInt64) throws -> Void = { _, _ in },
                        _ body: (UnsafeRawBufferPointer) throws -> Bool) throws -> Bool {
        var r = ByteReader(head)
        var number = try readHead(&r)
        guard try forEach(in: try r.bytes(r.remaining), body) else { return false }
        while number != 0 {
            let found = try withUnsafeBytes(of: number.bigEndian) { key in
                try txn.get(db.indexChunks, key) { stored -> (UInt64, Bool) in
                    var r = ByteReader(stored)
                    let previous = try r.u64()
                    let oldest = try r.u64()
                    try chunk(number, oldest)
                    if oldest >= before { return (previous, true) }
                    return (previous, try forEach(in: try r.bytes(r.remaining), body))
                }
            }
            guard let (previous, going) = found else { throw LedgerError.corrupt("index chunk \(number) is missing") }
            guard going else { return false }
            guard previous < number else { throw LedgerError.corrupt("index chunk \(number) links to a later one, \(previous)") }
            number = previous
        }
        return true
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
