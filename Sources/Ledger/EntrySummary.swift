import Foundation
import ExactNumbers

/// A journal entry's terms read in place from its stored bytes: the numbers decoded, the
/// texts left as views of the bytes. Listings that only copy the terms out (a client's
/// trade page as JSON) read these instead of building a `JournalEntry` with its Strings.
///
/// The views are valid as long as the bytes are: inside the read transaction that found
/// them, or over a copy the caller keeps (`EntryRecords`).
public struct EntrySummary {
    public var offset: UInt64
    public var kind: JournalEntry.Kind
    public var reference: UInt64
    public var side: Side
    public var quantity: ExactDecimal
    public var price: ExactDecimal
    public var tradeDate: CalendarDay
    public var valueDate: CalendarDay
    public var transactTime: Int64
    public var commission: ExactDecimal
    public var fees: ExactDecimal
    public var bookedAt: Int64
    public var source: UnsafeRawBufferPointer
    public var executionID: UnsafeRawBufferPointer
    public var account: UnsafeRawBufferPointer
    public var instrument: UnsafeRawBufferPointer
    public var currency: UnsafeRawBufferPointer
    /// Where the record goes on after these terms (its memo, then its legs).
    var end: Int
    /// The record's version (`JournalEntry.recordVersion` for what the ledger writes now).
    var version: UInt8

    /// Reads a journal record or an account index's summary of one (the summary is the
    /// record's first part, without the legs), of either version.
    public init(_ bytes: UnsafeRawBufferPointer) throws {
        var r = ByteReader(bytes)
        version = try r.u8()
        guard version == 1 || version == 2 else { throw LedgerError.corrupt("unknown journal record version \(version)") }
        let compact = version == 2
        offset = try r.u64()
        guard let kind = JournalEntry.Kind(rawValue: try r.u8()) else { throw LedgerError.corrupt("journal entry kind") }
        self.kind = kind
        source = try r.stringBytes()
        executionID = try r.stringBytes()
        reference = compact ? try r.varint() : try r.u64()
        account = try r.stringBytes()
        instrument = try r.stringBytes()
        guard let side = Side(rawValue: try r.u8()) else { throw LedgerError.corrupt("journal entry side") }
        self.side = side
        quantity = compact ? try r.compactDecimal() : try r.decimal()
        price = compact ? try r.compactDecimal() : try r.decimal()
        currency = try r.stringBytes()
        if compact {
            let trade = try r.signedVarint()
            tradeDate = CalendarDay(daysSinceEpoch: Int(truncatingIfNeeded: trade))
            valueDate = CalendarDay(daysSinceEpoch: Int(truncatingIfNeeded: trade &+ (try r.signedVarint())))
            transactTime = try r.i64()
            commission = try r.compactDecimal()
            fees = try r.compactDecimal()
            bookedAt = transactTime &+ (try r.signedVarint())
        } else {
            tradeDate = try r.day()
            valueDate = try r.day()
            transactTime = try r.i64()
            commission = try r.decimal()
            fees = try r.decimal()
            bookedAt = try r.i64()
        }
        end = r.offset
    }

    /// The journal offset and kind of a record, read without the rest: a listing that
    /// filters on kind alone decides from these.
    public static func peek(_ bytes: UnsafeRawBufferPointer) throws -> (offset: UInt64, kind: JournalEntry.Kind) {
        var r = ByteReader(bytes)
        let version = try r.u8()
        // Both versions begin alike.
        guard version == 1 || version == 2 else { throw LedgerError.corrupt("unknown journal record version \(version)") }
        let offset = try r.u64()
        guard let kind = JournalEntry.Kind(rawValue: try r.u8()) else { throw LedgerError.corrupt("journal entry kind") }
        return (offset, kind)
    }

    /// Whether `text` is the instrument, compared as UTF-8 bytes.
    public func instrumentIs(_ text: String) -> Bool { Self.equal(instrument, text) }

    /// Whether `text` is the account, compared as UTF-8 bytes.
    public func accountIs(_ text: String) -> Bool { Self.equal(account, text) }

    static func equal(_ bytes: UnsafeRawBufferPointer, _ text: String) -> Bool {
        var text = text
        return text.withUTF8 { $0.count == bytes.count && $0.elementsEqual(bytes) }
    }
}

/// Journal records copied out of a read transaction into one buffer, in the order they
/// were added: a page of entries that outlives the snapshot it was read from at the cost
/// of one copy of its bytes, not a `JournalEntry` per record.
public struct EntryRecords: Sendable {
    private var storage: [UInt8] = []
    /// Each record's journal offset and where its bytes are in `storage`.
    private var records: [(offset: UInt64, start: Int, count: Int)] = []

    public init(expected count: Int = 0) {
        // A summary is about 100 bytes (175 in version 1 records); room for 192 each
        // saves a reallocation.
        storage.reserveCapacity(count * 192)
        records.reserveCapacity(count)
    }

    public var count: Int { records.count }
    public var isEmpty: Bool { records.isEmpty }
    /// The offset of the last record (the oldest, once `keepNewest` has sorted them).
    public var lastOffset: UInt64? { records.last?.offset }

    /// Adds the record of the entry at `offset`.
    public mutating func append(offset: UInt64, bytes: UnsafeRawBufferPointer) {
        records.append((offset, storage.count, bytes.count))
        storage.append(contentsOf: bytes)
    }

    /// Newest first, and at most `count` of them.
    public mutating func keepNewest(_ count: Int) {
        records.sort { $0.offset > $1.offset }
        if records.count > count { records.removeLast(records.count - count) }
    }

    /// Calls `body` with each record's terms, in order.
    public func forEach(_ body: (EntrySummary) throws -> Void) throws {
        try storage.withUnsafeBytes { all in
            for record in records {
                try body(try EntrySummary(UnsafeRawBufferPointer(rebasing: all[record.start..<(record.start + record.count)])))
            }
        }
    }

    /// The records as entries (without their legs).
    public func entries() throws -> [JournalEntry] {
        var result: [JournalEntry] = []
        result.reserveCapacity(records.count)
        try storage.withUnsafeBytes { all in
            for record in records {
                result.append(try JournalEntry(decoding: UnsafeRawBufferPointer(rebasing: all[record.start..<(record.start + record.count)]),
                                               postings: false))
            }
        }
        return result
    }
}

extension Ledger {
    /// `account`'s latest entries before `before`, newest first, at most `limit`, as
    /// records (without their legs): read in place and copied once, with no
    /// `JournalEntry` and no `String` built. `EntrySummary` reads them. The cheap way to
    /// list a client's latest trades.
    public func entryRecords(account: String, before: UInt64 = .max, limit: Int = 100,
                             freshness: BooksFreshness = .current) throws -> EntryRecords {
        var records = EntryRecords(expected: min(max(limit, 0), 1000))
        guard limit > 0 else { return records }
        try readBooks(freshness) { books in
            try forEachEntryRecord(account: account, before: before, in: books) { record in
                records.append(offset: try EntrySummary.peek(record).offset, bytes: record)
                return records.count < limit
            }
        }
        return records
    }

    /// Calls `body` with the records of `account`'s journal entries (without their legs),
    /// newest first, from the entry before `before` on, while it returns true; read in
    /// place from the account's index in `books` (one snapshot for a caller that reads
    /// more than one account). `EntrySummary` reads them.
    public func forEachEntryRecord(account: String, before: UInt64 = .max, in books: BooksTransaction,
                                   _ body: (UnsafeRawBufferPointer) throws -> Bool) throws {
        // Offsets start at 1: nothing comes before 1 (or 0).
        guard before > 1 else { return }
        _ = try Keys.withAccountHead(account) { key in
            try books.txn.get(bookDB.accountEntries, key) { head in
                try AccountIndex.forEach(books.txn, bookDB, head: head, before: before) { record in
                    // Stored chunks wholly from `before` on are skipped; the rest may hold some.
                    if before != .max, try EntrySummary.peek(record).offset >= before { return true }
                    return try body(record)
                }
            }
        }
    }
}
