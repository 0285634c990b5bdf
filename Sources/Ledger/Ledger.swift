import CLMDB
import ExactNumbers
import Foundation
import Synchronization

/// How a ledger books.
public struct LedgerSettings: Sendable {
    /// Chosen when the ledger is created; a ledger keeps the method it was created with.
    public var pnlMethod: RealizedPnLMethod
    public var calendar: SettlementCalendar
    public var currencies: Set<String>
    /// The most requests one write transaction (one fsync) takes.
    public var batchSizeMax: Int
    /// The map size a new environment starts with; it doubles when full.
    public var initialMapSize: Int
    /// How many journal entries the books may be behind before the writer waits for
    /// them: what bounds the wait of a current read while the writer is busy.
    public var booksLagMax: UInt64 = 400_000
    /// While nobody waits for the books, the projector lets entries gather until this many
    /// are pending or the oldest has waited `booksDelay` seconds, then applies them in one
    /// transaction. Its cost per entry falls with the entries an account gets per
    /// transaction (each touched account's leaves are rewritten once per transaction),
    /// and an account's index chunks grow with it. A current read, `waitForBooks` and a
    /// writer held back by `booksLagMax` do not wait for the batch: the books are brought
    /// up to date at once. Reads with `.projected` see the books up to this much later.
    public var booksBatch: UInt64 = 200_000
    public var booksDelay: Double = 0.5
    /// Whether bookings are held to `ExecutionLimits`. Only tests turn it off, to journal
    /// what a version before the limits could have, and see the books survive it.
    var enforcesExecutionLimits = true

    public init(pnlMethod: RealizedPnLMethod = .averageCost, calendar: SettlementCalendar = SettlementCalendar(),
                currencies: Set<String> = Currencies.iso4217, batchSizeMax: Int = 256, initialMapSize: Int = 1 << 30) {
        self.pnlMethod = pnlMethod
        self.calendar = calendar
        self.currencies = currencies
        self.batchSizeMax = batchSizeMax
        self.initialMapSize = initialMapSize
    }
}

/// The ledger: an immutable journal, and the books that follow from it (positions, cash,
/// settlement, each account's entries), in two LMDB environments in one folder.
///
/// Writes go to one writer thread, which groups whatever is waiting into one write
/// transaction and one durable commit (group commit) of the journal, the execution
/// identities and the sources' progress. A second thread applies committed entries to the
/// books (`Projector`). Reads run on the caller's thread in their own snapshot and are
/// never blocked by the writer; a read of the books first waits until they include every
/// entry committed before it began.
public final class Ledger: Sendable {
    /// The journal's environment, which layers above the books keep their records in too.
    public let environment: LMDBEnvironment
    let db: Databases
    public let settings: LedgerSettings
    let writer: LedgerWriter
    let projector: Projector

    /// The books' environment (the `books` subfolder).
    public var booksEnvironment: LMDBEnvironment { projector.books }
    var bookDB: BookDatabases { projector.bookDB }

    /// Opens the ledger in `folder`, creating it if needed.
    public init(folder: String, settings: LedgerSettings = LedgerSettings()) throws {
        environment = try LMDBEnvironment(path: folder, mapSize: settings.initialMapSize)
        db = try Databases(environment)
        // The P&L method is fixed at creation: a ledger keeps the one it was made with.
        let db = self.db
        var settings = settings
        let stored = try environment.write { txn -> UInt8 in
            if let method = try txn.get(db.meta, Keys.pnlMethod, { $0.first ?? 0 }) { return method }
            try txn.put(db.meta, Keys.pnlMethod, [settings.pnlMethod.rawValue])
            return settings.pnlMethod.rawValue
        }
        guard let method = RealizedPnLMethod(rawValue: stored) else { throw LedgerError.corrupt("P&L method \(stored)") }
        try Self.upgradeFormat(environment, db, folder: folder)
        settings.pnlMethod = method
        self.settings = settings
        let books = try LMDBEnvironment(path: URL(fileURLWithPath: folder).appendingPathComponent("books").path,
                                        mapSize: settings.initialMapSize)
        let projector = try Projector(journal: environment, db: db, books: books, settings: settings)
        self.projector = projector
        let lagMax = settings.booksLagMax
        writer = LedgerWriter(environment: environment, db: db, settings: settings, committed: { projector.request(upTo: $0) },
                              throttle: { committed in
            // A projector that fails keeps its error for the readers; the journal goes on.
            if committed > lagMax { try? projector.wait(upTo: committed - lagMax) }
        })
        // Entries committed but not yet in the books (a crash, another process) go in now.
        projector.request(upTo: try environment.read { txn in
            try txn.get(db.meta, Keys.nextOffset) { var r = ByteReader($0); return try r.u64() } ?? UInt64(1)
        } - 1)
    }

    /// Stops the writer after the requests already queued, then brings the books up to
    /// date; further writes fail.
    public func close() {
        writer.stop()
        projector.stop()
        environment.waitForReleases()
        projector.books.waitForReleases()
    }

    deinit {
        // The threads hold the environments open; a ledger dropped without close() must
        // still let them go.
        close()
    }

    /// Waits until the books include every journal entry committed so far.
    public func waitForBooks() throws {
        try projector.wait(upTo: try nextOffset() - 1)
    }

    /// Runs `body` on a snapshot of the books. `.current` (the default) waits until they
    /// include every entry committed before the call; `.projected` reads them as the
    /// projector last committed them, without waiting (`BooksTransaction.appliedOffset`
    /// says how far that is).
    public func readBooks<R>(_ freshness: BooksFreshness = .current, _ body: (BooksTransaction) throws -> R) throws -> R {
        if freshness == .current { try waitForBooks() }
        return try projector.books.read { try body(BooksTransaction(txn: $0, db: bookDB)) }
    }

    // MARK: Writing

    /// Books `executions` and keeps `rejected` inputs in quarantine, advancing `progress`,
    /// all in one transaction. Waits until it is durable.
    @discardableResult
    public func book(_ executions: [Execution], rejected: [Rejected] = [], progress: SourceProgress? = nil) throws -> [BookingOutcome] {
        try writer.submitAndWait { booking in
            var outcomes: [BookingOutcome] = []
            outcomes.reserveCapacity(executions.count + rejected.count)
            for execution in executions { outcomes.append(try booking.book(execution)) }
            for item in rejected { outcomes.append(try booking.quarantine(source: item.source, raw: item.raw, reason: item.reason)) }
            if let progress { try booking.setProgress(progress) }
            return outcomes
        }
    }

    /// As `book`, for async callers: suspends instead of blocking a thread.
    public func bookAsync(_ executions: [Execution], rejected: [Rejected] = [], progress: SourceProgress? = nil) async throws -> [BookingOutcome] {
        try await writer.submit { booking in
            var outcomes: [BookingOutcome] = []
            for execution in executions { outcomes.append(try booking.book(execution)) }
            for item in rejected { outcomes.append(try booking.quarantine(source: item.source, raw: item.raw, reason: item.reason)) }
            if let progress { try booking.setProgress(progress) }
            return outcomes
        }
    }

    /// Books a manual adjustment; returns its journal offset.
    @discardableResult
    public func adjust(_ adjustment: Adjustment) throws -> UInt64 {
        try Self.validate(adjustment, settings: settings)
        return try writer.submitAndWait { try $0.adjust(adjustment) }
    }

    static func validate(_ adjustment: Adjustment, settings: LedgerSettings) throws {
        guard settings.currencies.contains(adjustment.currency) else {
            throw LedgerError.invalid("unknown currency '\(adjustment.currency)'")
        }
        guard !adjustment.account.isEmpty, !adjustment.who.isEmpty, !adjustment.why.isEmpty else {
            throw LedgerError.invalid("an adjustment needs an account, who and why")
        }
    }

    /// Runs `body` in the writer's next transaction and waits until it is durable. Layers
    /// above the books (reconciliation, the CRM) keep their own records this way, in the
    /// same environment and, when they book an adjustment too, in the same commit.
    ///
    /// The transaction is shared with other requests (group commit): `body` must refuse
    /// (throw) before it writes anything. Its error then fails this request alone; a
    /// storage error fails the batch.
    public func write<R>(_ body: @escaping (inout LedgerWrite) throws -> R) throws -> R {
        let settings = self.settings
        do {
            return try writer.submitAndWait { booking in
                var write = LedgerWrite(booking: booking, settings: settings)
                defer { booking = write.booking }
                do {
                    return try body(&write)
                } catch let error as LedgerError {
                    throw error
                } catch let error as StorageError {
                    throw error
                } catch {
                    throw LedgerError.refused(error)
                }
            }
        } catch LedgerError.refused(let error) {
            throw error
        }
    }

    /// Marks a settlement obligation settled or failed (journaled); returns the entry's offset.
    @discardableResult
    public func setSettlementStatus(account: String, asset: Asset, valueDate: CalendarDay, status: SettlementStatus,
                                    who: String, why: String) throws -> UInt64 {
        let exists = try readBooks { books in
            try books.txn.get(bookDB.settlement, Keys.obligation(account, asset, valueDate)) { _ in true } ?? false
        }
        guard exists else { throw LedgerError.notFound("no obligation for \(account) in \(asset) on \(valueDate)") }
        return try writer.submitAndWait {
            try $0.setSettlementStatus(account: account, asset: asset, valueDate: valueDate, status: status, who: who, why: why)
        }
    }

    /// Records the latest price of an instrument, for unrealized P&L.
    public func setMark(instrument: String, price: ExactDecimal, time: Int64) throws {
        try writer.submitAndWait { try $0.setMark(instrument: instrument, price: price, time: time) }
    }

    /// A consistent, compacted copy in `destination`, taken while writes carry on. The
    /// books are copied first, so the copy's journal holds everything its books include;
    /// the copy's books catch up with its journal when it is opened.
    public func backup(to destination: String) throws {
        try projector.books.backup(to: URL(fileURLWithPath: destination).appendingPathComponent("books").path)
        try environment.backup(to: destination)
    }

    // MARK: Reading

    /// How far `source` has been booked (0: nothing yet).
    public func progress(of source: String) throws -> UInt64 {
        try environment.read { txn in
            try txn.get(db.progress, Key.of { $0.string(source) }) { var r = ByteReader($0); return try r.u64() } ?? UInt64(0)
        }
    }

    /// The next journal offset; entries are `1 ..< nextOffset`.
    public func nextOffset() throws -> UInt64 {
        try environment.read { txn in
            try txn.get(db.meta, Keys.nextOffset) { var r = ByteReader($0); return try r.u64() } ?? UInt64(1)
        }
    }

    public func entry(at offset: UInt64) throws -> JournalEntry? {
        try environment.read { txn in try txn.get(db.journal, Key.offset(offset)) { try JournalEntry(decoding: $0) } }
    }

    /// Journal entries from `start`, in order, while `body` returns true.
    public func forEachEntry(from start: UInt64 = 1, _ body: (JournalEntry) throws -> Bool) throws {
        try environment.read { txn in
            try txn.scan(db.journal, from: Key.offset(start)) { _, value in try body(try JournalEntry(decoding: value)) }
        }
    }

    public func position(account: String, instrument: String, freshness: BooksFreshness = .current) throws -> Position? {
        try readBooks(freshness) { books in
            try books.txn.get(bookDB.positions, Keys.position(account, instrument)) {
                try Position(account: account, instrument: instrument, decoding: $0)
            }
        }
    }

    /// Positions of one account, or of every account (house accounts included on request).
    public func positions(account: String? = nil, includeHouse: Bool = false) throws -> [Position] {
        var result: [Position] = []
        try forEachPosition(account: account, includeHouse: includeHouse) { result.append($0) }
        return result
    }

    /// Calls `body` with each position of one account, or of every account, from one
    /// snapshot, without gathering them.
    public func forEachPosition(account: String? = nil, includeHouse: Bool = false, _ body: (Position) throws -> Void) throws {
        try readBooks { books in
            let start = account.map { a in Key.of { $0.string(a) } } ?? []
            try books.txn.scan(bookDB.positions, from: start) { key, value in
                var r = ByteReader(key)
                let owner = try r.string()
                let instrument = try r.string()
                if let account, owner != account { return false }
                if includeHouse || !LedgerAccounts.isHouse(owner) {
                    try body(try Position(account: owner, instrument: instrument, decoding: value))
                }
                return true
            }
        }
    }

    /// Calls `body` with every client position in key order, read in place: nothing is
    /// decoded until asked for, and the view is valid only during the call. What a
    /// reconciliation of millions of positions walks.
    public func forEachPositionView(_ body: (PositionView) throws -> Void) throws {
        try readBooks { books in
            try books.txn.scan(bookDB.positions, from: []) { key, value in
                var r = ByteReader(key)
                let account = try r.stringBytes()
                if !LedgerAccounts.isHouse(account) {
                    try body(PositionView(account: account, instrument: try r.stringBytes(), value: value))
                }
                return true
            }
        }
    }

    /// Balances per account × asset (cash when the asset is a currency).
    public func balances(account: String? = nil, includeHouse: Bool = false) throws -> [(account: String, asset: Asset, amount: ExactDecimal)] {
        var result: [(String, Asset, ExactDecimal)] = []
        try forEachBalance(account: account, includeHouse: includeHouse) { result.append(($0, $1, $2)) }
        return result
    }

    /// Calls `body` with each balance of one account, or of every account, from one snapshot.
    public func forEachBalance(account: String? = nil, includeHouse: Bool = false,
                               _ body: (String, Asset, ExactDecimal) throws -> Void) throws {
        try readBooks { books in
            let start = account.map { a in Key.of { $0.string(a) } } ?? []
            try books.txn.scan(bookDB.balances, from: start) { key, value in
                var r = ByteReader(key)
                let owner = try r.string()
                let asset = try Asset(tag: try r.u8(), name: try r.string())
                if let account, owner != account { return false }
                if includeHouse || !LedgerAccounts.isHouse(owner) {
                    var v = ByteReader(value)
                    try body(owner, asset, try v.decimal())
                }
                return true
            }
        }
    }

    /// Cash per account × currency.
    public func cash(account: String? = nil, includeHouse: Bool = false) throws -> [(account: String, currency: String, amount: ExactDecimal)] {
        try balances(account: account, includeHouse: includeHouse).compactMap { row in
            if case .currency(let code) = row.asset { return (row.account, code, row.amount) }
            return nil
        }
    }

    /// Settlement obligations, netted per account × asset × value date.
    public func obligations(account: String? = nil, includeHouse: Bool = false) throws -> [SettlementObligation] {
        var result: [SettlementObligation] = []
        try readBooks { books in
            let start = account.map { a in Key.of { $0.string(a) } } ?? []
            try books.txn.scan(bookDB.settlement, from: start) { key, value in
                var r = ByteReader(key)
                let owner = try r.string()
                let asset = try Asset(tag: try r.u8(), name: try r.string())
                let day = try r.day()
                if let account, owner != account { return false }
                if includeHouse || !LedgerAccounts.isHouse(owner) {
                    var v = ByteReader(value)
                    let amount = try v.decimal()
                    let status = SettlementStatus(rawValue: try v.u8()) ?? .pending
                    result.append(SettlementObligation(account: owner, asset: asset, valueDate: day, amount: amount, status: status))
                }
                return true
            }
        }
        return result
    }

    /// An account's journal entries, newest first, starting below `before` (an offset).
    /// Without `postings` the entries' legs are left empty, which makes listing cheaper.
    public func entries(account: String, before: UInt64 = .max, limit: Int = 100, postings: Bool = true,
                        freshness: BooksFreshness = .current) throws -> [JournalEntry] {
        var result: [JournalEntry] = []
        result.reserveCapacity(min(limit, 1000))
        guard limit > 0 else { return result }
        if !postings {
            try readBooks(freshness) { books in
                try forEachEntryRecord(account: account, before: before, in: books) { record in
                    result.append(try JournalEntry(decoding: record, postings: false))
                    return result.count < limit
                }
            }
            return result
        }
        // The legs are in the journal only: the index gives the offsets.
        var offsets: [UInt64] = []
        try readBooks(freshness) { books in
            try forEachEntryRecord(account: account, before: before, in: books) { record in
                offsets.append(try EntrySummary.peek(record).offset)
                return offsets.count < limit
            }
        }
        try environment.read { txn in
            for offset in offsets {
                guard let entry = try txn.get(db.journal, Key.offset(offset), { try JournalEntry(decoding: $0) }) else {
                    throw LedgerError.corrupt("the index lists entry \(offset) of \(account), which is not in the journal")
                }
                result.append(entry)
            }
        }
        return result
    }

    /// The latest mark of an instrument.
    public func mark(instrument: String) throws -> (price: ExactDecimal, time: Int64)? {
        try environment.read { txn in
            try txn.get(db.marks, Key.of { $0.string(instrument) }) { bytes in
                var r = ByteReader(bytes)
                return (try r.decimal(), try r.i64())
            }
        }
    }

    /// What is in quarantine: id, source, time, reason, raw input.
    public func quarantined() throws -> [(id: UInt64, source: String, time: Int64, reason: String, raw: [UInt8])] {
        var result: [(UInt64, String, Int64, String, [UInt8])] = []
        try environment.read { txn in
            try txn.scan(db.quarantine, from: []) { key, value in
                var k = ByteReader(key)
                var r = ByteReader(value)
                result.append((try k.u64(), try r.string(), try r.i64(), try r.string(), try r.blob()))
                return true
            }
        }
        return result
    }

    /// Journal entries the books could not apply (their arithmetic does not fit, as an
    /// entry journaled before the execution limits could), oldest first, with the reason
    /// and the entry's source and execution id. The books carry on without them; `check`
    /// reports them as problems.
    public func setAsideEntries() throws -> [(offset: UInt64, reason: String, source: String, executionID: String)] {
        try waitForBooks()
        let reasons = try projector.books.read { try bookDB.setAside($0) }
        return try environment.read { txn in
            try reasons.keys.sorted().map { offset in
                let (source, id) = try txn.get(db.journal, Key.offset(offset)) { bytes -> (String, String) in
                    let terms = try EntrySummary(bytes)
                    return (String(decoding: terms.source, as: UTF8.self), String(decoding: terms.executionID, as: UTF8.self))
                } ?? ("?", "?")
                return (offset, reasons[offset]!, source, id)
            }
        }
    }

    /// Corrections and busts waiting for the execution they refer to.
    public func parked() throws -> [Execution] {
        var result: [Execution] = []
        try environment.read { txn in
            try txn.scan(db.parked, from: []) { _, value in
                result.append(try Execution(decoding: value))
                return true
            }
        }
        return result
    }

    // MARK: As of

    /// The last journal offset booked at or before `time` (nanoseconds), or 0.
    public func offset(atOrBefore time: Int64) throws -> UInt64 {
        let next = try nextOffset()
        var low: UInt64 = 1
        var high = next  // entries [low, high) unknown
        var found: UInt64 = 0
        while low < high {
            let middle = low + (high - low) / 2
            guard let entry = try entry(at: middle) else { throw LedgerError.corrupt("journal entry \(middle) is missing") }
            if entry.bookedAt <= time {
                found = middle
                low = middle + 1
            } else {
                high = middle
            }
        }
        return found
    }

    /// An account's positions as they stood after journal offset `offset`, replayed from
    /// the account's own entries.
    public func positions(account: String, asOf offset: UInt64) throws -> [Position] {
        let entries = try self.entries(account: account, before: offset == .max ? .max : offset + 1, limit: .max).reversed()
        var replay = PositionReplay(method: settings.pnlMethod)
        for entry in entries {
            for posting in entry.postings where posting.account == account { try replay.apply(posting, of: entry) }
        }
        return replay.positions.values.sorted { $0.instrument < $1.instrument }
    }
}

/// FIFO lots in memory (checks and as-of replays).
struct MemoryLots: LotQueue {
    var lots: [UInt64: Lot] = [:]

    func lot(_ number: UInt64) throws -> Lot {
        guard let lot = lots[number] else { throw LedgerError.corrupt("lot \(number) missing in replay") }
        return lot
    }

    mutating func set(_ number: UInt64, _ lot: Lot) { lots[number] = lot }
    mutating func remove(_ number: UInt64) { lots[number] = nil }
}

/// One write transaction of the ledger's writer, for layers above the books: their own
/// named databases, and adjustments that commit with them.
public struct LedgerWrite {
    var booking: BookingTransaction
    let settings: LedgerSettings

    public var transaction: WriteTransaction { booking.txn }

    /// Books a manual adjustment in this transaction; returns its journal offset.
    public mutating func adjust(_ adjustment: Adjustment) throws -> UInt64 {
        try Ledger.validate(adjustment, settings: settings)
        return try booking.adjust(adjustment)
    }
}

/// A stored position seen where it lies in the map: the account's and instrument's UTF-8
/// bytes, the quantity and cost decoded on demand. Valid only inside the call that
/// hands it out.
public struct PositionView {
    public let account: UnsafeRawBufferPointer
    public let instrument: UnsafeRawBufferPointer
    let value: UnsafeRawBufferPointer

    public func quantity() throws -> ExactDecimal {
        var r = ByteReader(value)
        return try r.decimal()
    }

    /// The whole position, with its codes as Strings.
    public func position() throws -> Position {
        try Position(account: String(decoding: account, as: UTF8.self), instrument: String(decoding: instrument, as: UTF8.self),
                     decoding: value)
    }
}

/// A read-only snapshot of the books (`Ledger.readBooks`).
public struct BooksTransaction {
    let txn: ReadTransaction
    let db: BookDatabases

    /// The last journal offset these books include.
    public var appliedOffset: UInt64 {
        get throws { try db.appliedOffset(txn) }
    }
}

/// How current a read of the books must be.
public enum BooksFreshness: Sendable {
    /// Every entry committed before the read is in (the read may wait for the projector).
    case current
    /// The books as the projector last committed them: a consistent snapshot as of
    /// `BooksTransaction.appliedOffset`, read at once. While the writer is busy it is
    /// one projection transaction (milliseconds) behind the journal.
    case projected
}
