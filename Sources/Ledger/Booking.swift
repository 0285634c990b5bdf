import CLMDB
import ExactNumbers

/// The named databases of the ledger's main environment: the journal and what booking
/// exactly once needs. The books that follow from the journal have their own
/// (`BookDatabases`).
struct Databases {
    let meta: MDB_dbi
    let journal: MDB_dbi
    /// Every booked execution's identity: its source's number and its id.
    let executions: MDB_dbi
    /// The identities as kept before sources had numbers (keyed by the source's name),
    /// moved into `executions` when the ledger opens.
    let legacyExecutions: MDB_dbi
    /// Each source's number, by name.
    let sources: MDB_dbi
    let progress: MDB_dbi
    let quarantine: MDB_dbi
    let parked: MDB_dbi
    let marks: MDB_dbi
    let sessions: MDB_dbi
    let sessionOutbound: MDB_dbi
    /// Every session's messages in and out, keyed by the session's number and the record's.
    let sessionLog: MDB_dbi
    /// The audit log as kept before sessions had numbers (keyed by name), emptied into
    /// `sessionLog` when the ledger opens.
    let legacyAudit: MDB_dbi
    let reports: MDB_dbi

    init(_ env: LMDBEnvironment) throws {
        meta = try env.database("meta")
        journal = try env.database("journal")
        executions = try env.database("execution-ids")
        legacyExecutions = try env.database("executions")
        sources = try env.database("sources")
        progress = try env.database("progress")
        quarantine = try env.database("quarantine")
        parked = try env.database("parked")
        marks = try env.database("marks")
        sessions = try env.database("sessions")
        sessionOutbound = try env.database("session-outbound")
        sessionLog = try env.database("session-log")
        legacyAudit = try env.database("session-audit")
        reports = try env.database("reports")
    }
}

/// Keys of the ledger's databases.
enum Keys {
    static let nextOffset: [UInt8] = Array("next-offset".utf8)
    static let nextQuarantine: [UInt8] = Array("next-quarantine".utf8)
    static let pnlMethod: [UInt8] = Array("pnl-method".utf8)
    static let format: [UInt8] = Array("format".utf8)
    static let nextSessionNumber: [UInt8] = Array("next-session-number".utf8)
    static let nextSourceNumber: [UInt8] = Array("next-source-number".utf8)

    /// The number `counter` (in meta) holds, 1 at first, leaving the next one there.
    static func take(_ counter: [UInt8], _ txn: WriteTransaction, _ db: Databases) throws -> UInt32 {
        let next = try txn.get(db.meta, counter) { bytes -> UInt32 in var r = ByteReader(bytes); return try r.u32() } ?? 1
        try txn.put(db.meta, counter, Key.of { $0.u32(next + 1) })
        return next
    }

    static func auditRecord(_ session: UInt32, _ number: UInt64) -> [UInt8] { Key.of { $0.u32(session); $0.u64(number) } }

    /// An execution's identity: its source's number and its id.
    static func execution(_ source: UInt32, _ id: String) -> [UInt8] { Key.of { $0.u32(source); $0.string(id) } }
    static func position(_ account: String, _ instrument: String) -> [UInt8] { Key.of { $0.string(account); $0.string(instrument) } }
    static func lot(_ account: String, _ instrument: String, _ number: UInt64) -> [UInt8] {
        Key.of { $0.string(account); $0.string(instrument); $0.u64(number) }
    }
    static func balance(_ account: String, _ asset: Asset) -> [UInt8] {
        Key.of { $0.string(account); $0.u8(asset.keyTag); $0.string(asset.name) }
    }
    static func obligation(_ account: String, _ asset: Asset, _ day: CalendarDay) -> [UInt8] {
        Key.of { $0.string(account); $0.u8(asset.keyTag); $0.string(asset.name); $0.day(day) }
    }
    /// An account's head row in the books' index (`AccountIndex`).
    static func accountHead(_ account: String) -> [UInt8] { Key.of { $0.string(account) } }
    /// `accountHead(account)` built on the stack for the length of `body`, for the hot
    /// read that lists a client's entries; nil (and `body` not called) when the name is
    /// too long for an LMDB key (511 bytes), so no such account has entries.
    static func withAccountHead<R>(_ account: String, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R? {
        var account = account
        return try account.withUTF8 { name -> R? in
            let count = 2 + name.count
            guard count <= 511 else { return nil }
            return try withUnsafeTemporaryAllocation(byteCount: count, alignment: 1) { key in
                withUnsafeBytes(of: UInt16(name.count).bigEndian) { key.copyMemory(from: $0) }
                UnsafeMutableRawBufferPointer(rebasing: key[2...]).copyMemory(from: UnsafeRawBufferPointer(name))
                return try body(UnsafeRawBufferPointer(key))
            }
        }
    }
    static func parked(_ source: String, _ reference: String, _ id: String) -> [UInt8] {
        Key.of { $0.string(source); $0.string(reference); $0.string(id) }
    }
}

/// What the ledger remembers of an execution identity.
struct ExecutionRecord {
    enum State: UInt8 {
        /// A trade whose entry (or latest replacement) is `offset`.
        case active = 1
        /// Busted: reversed by the entry at `offset`.
        case busted = 2
        /// A correction or bust message that was applied; `offset` is its entry.
        case applied = 3
        /// A correction or bust waiting for its original.
        case parked = 4
    }

    var state: State
    var offset: UInt64
    var fingerprint: UInt64
    /// Applied corrections and busts: the execution id of the trade they apply to, so that
    /// a later correction or bust may refer to them instead of the trade.
    var trade: String?

    func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: 17)
        encode(into: &w)
        return w.bytes
    }

    func encode(into w: inout ByteWriter) {
        w.u8(state.rawValue)
        w.u64(offset)
        w.u64(fingerprint)
        if let trade { w.string(trade) }
    }

    init(state: State, offset: UInt64, fingerprint: UInt64, trade: String? = nil) {
        self.state = state
        self.offset = offset
        self.fingerprint = fingerprint
        self.trade = trade
    }

    init(decoding bytes: UnsafeRawBufferPointer) throws {
        var r = ByteReader(bytes)
        guard let state = State(rawValue: try r.u8()) else { throw LedgerError.corrupt("execution record state") }
        self.state = state
        offset = try r.u64()
        fingerprint = try r.u64()
        trade = r.isAtEnd ? nil : try r.string()
    }
}

extension Execution {
    /// Everything but the identity, as bytes: what makes two reports "the same execution".
    func canonicalBytes() -> [UInt8] {
        var w = ByteWriter(capacity: 128)
        writeCanonical(into: &w)
        return w.bytes
    }

    func writeCanonical(into w: inout ByteWriter) {
        switch kind {
        case .trade: w.u8(1); w.string("")
        case .correction(let of): w.u8(2); w.string(of)
        case .bust(let of): w.u8(3); w.string(of)
        }
        w.string(account)
        w.string(instrument)
        w.u8(side.rawValue)
        w.decimal(quantity.normalized)
        w.decimal(price.normalized)
        w.string(currency)
        w.day(tradeDate)
        w.optionalDay(settlementDate)
        w.decimal(commission.normalized)
        w.decimal(fees.normalized)
    }

    /// FNV-1a over the canonical bytes: stable across runs and machines.
    var fingerprint: UInt64 {
        var scratch = ByteWriter(capacity: 128)
        return fingerprint(using: &scratch)
    }

    /// The fingerprint, with the canonical bytes built in `scratch` (emptied first).
    func fingerprint(using scratch: inout ByteWriter) -> UInt64 {
        scratch.removeAll()
        writeCanonical(into: &scratch)
        return scratch.withBytes { bytes in
            var hash: UInt64 = 0xCBF2_9CE4_8422_2325
            for byte in bytes {
                hash ^= UInt64(byte)
                hash &*= 0x0000_0100_0000_01B3
            }
            return hash
        }
    }

    func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: 160)
        w.string(source)
        w.string(executionID)
        w.i64(transactTime)
        w.blob(canonicalBytes())
        return w.bytes
    }

    init(decoding bytes: UnsafeRawBufferPointer) throws {
        var r = ByteReader(bytes)
        let source = try r.string()
        let id = try r.string()
        let time = try r.i64()
        let canonical = try r.blob()
        self = try canonical.withUnsafeBytes { raw in
            var c = ByteReader(raw)
            let kindTag = try c.u8()
            let reference = try c.string()
            let kind: ExecutionKind
            switch kindTag {
            case 1: kind = .trade
            case 2: kind = .correction(of: reference)
            case 3: kind = .bust(of: reference)
            default: throw LedgerError.corrupt("execution kind \(kindTag)")
            }
            let account = try c.string()
            let instrument = try c.string()
            guard let side = Side(rawValue: try c.u8()) else { throw LedgerError.corrupt("execution side") }
            return Execution(source: source, executionID: id, kind: kind, account: account, instrument: instrument,
                             side: side, quantity: try c.decimal(), price: try c.decimal(), currency: try c.string(),
                             tradeDate: try c.day(), transactTime: time, settlementDate: try c.optionalDay(),
                             commission: try c.decimal(), fees: try c.decimal())
        }
    }
}

/// One write transaction's worth of booking: journal entries, execution identities,
/// quarantine, parked corrections and source progress. Everything here runs on the
/// writer thread, inside one LMDB write transaction, and has no effect outside it until
/// it commits. What the entries do to the books, the `Projector` applies afterwards.
struct BookingTransaction {
    let txn: WriteTransaction
    let db: Databases
    let settings: LedgerSettings
    let now: Int64
    var nextOffset: UInt64
    var nextQuarantine: UInt64
    /// Value dates already worked out (most trades share a few), kept by the writer from
    /// one transaction to the next.
    var valueDates: [ValueDateKey: CalendarDay]
    /// How many corrections and busts wait for their original: with none, a trade need
    /// not look for any (which would open a cursor per trade).
    var parkedCount: Int

    struct ValueDateKey: Hashable {
        let day: CalendarDay
        let instrument: String
        let currency: String
    }

    /// What the writer keeps between transactions: value dates depend only on the
    /// settings, which do not change while the ledger is open.
    struct Scratch {
        var valueDates: [ValueDateKey: CalendarDay] = [:]
        var buffers = Buffers()
        /// Sources' numbers as stored, and those given in a transaction not known to
        /// have committed: the next transaction forgets those unless `confirmSources()`.
        var sourceNumbers: [String: UInt32] = [:]
        var unconfirmedSources: [String] = []

        /// The last transaction committed: the numbers it gave are stored.
        mutating func confirmSources() { unconfirmedSources.removeAll() }
    }

    /// Memory for the records and keys of one booking after another, reused.
    /// Used by the writer thread alone, one access at a time: no run-time exclusivity check.
    final class Buffers {
        @exclusivity(unchecked) var record = ByteWriter(capacity: 512)
        @exclusivity(unchecked) var key = ByteWriter(capacity: 64)
        @exclusivity(unchecked) var canonical = ByteWriter(capacity: 128)
    }
    let buffers: Buffers
    /// The last currency found valid (most executions are in one or two).
    var knownCurrency: String?
    /// The value dates of the last few (instrument, currency, trade date) looked up, tried
    /// before `valueDates`: most trades are in a handful of instruments, and comparing a few
    /// small Strings costs a fraction of hashing them for the table.
    var recentValueDates: [(key: ValueDateKey, day: CalendarDay)] = []
    var recentValueDateNext = 0
    static let recentValueDatesMax = 16
    /// Cursors for the journal's appends and the identities' lookups: a cursor that is
    /// already on the right page skips the descent from the root (new trades' identities
    /// often follow one another, the journal always does).
    var journalCursor: WriteCursor?
    var executionsCursor: WriteCursor?
    var sourceNumbers: [String: UInt32]
    var unconfirmedSources: [String]
    /// The last source looked up and its number: most executions in a row share one.
    var lastSource = ""
    var lastSourceNumber: UInt32 = 0

    /// Pass `scratch` uniquely held, and take it back with `takeScratch()`.
    init(txn: WriteTransaction, db: Databases, settings: LedgerSettings, now: Int64, scratch: consuming Scratch = Scratch()) throws {
        self.txn = txn
        self.db = db
        self.settings = settings
        self.now = now
        if scratch.valueDates.count > 100_000 { scratch.valueDates.removeAll(keepingCapacity: true) }
        valueDates = scratch.valueDates
        buffers = scratch.buffers
        // Numbers given by a transaction that then failed were never stored.
        for name in scratch.unconfirmedSources { scratch.sourceNumbers[name] = nil }
        sourceNumbers = scratch.sourceNumbers
        unconfirmedSources = []
        nextOffset = try txn.get(db.meta, Keys.nextOffset) { var r = ByteReader($0); return try r.u64() } ?? UInt64(1)
        nextQuarantine = try txn.get(db.meta, Keys.nextQuarantine) { var r = ByteReader($0); return try r.u64() } ?? UInt64(1)
        parkedCount = try txn.reader.count(db.parked)
    }

    /// The tables, for the next transaction to reuse (this one is done with them).
    mutating func takeScratch() -> Scratch {
        let scratch = Scratch(valueDates: valueDates, buffers: buffers, sourceNumbers: sourceNumbers,
                              unconfirmedSources: unconfirmedSources)
        valueDates = [:]
        sourceNumbers = [:]
        return scratch
    }

    /// Writes the counters; call once before commit.
    func finish() throws {
        try txn.put(db.meta, Keys.nextOffset, Key.offset(nextOffset))
        try txn.put(db.meta, Keys.nextQuarantine, Key.offset(nextQuarantine))
    }

    // MARK: Executions

    /// The number `source`'s executions are known by, given with its first.
    mutating func sourceNumber(_ source: String) throws -> UInt32 {
        if source == lastSource && lastSourceNumber != 0 { return lastSourceNumber }
        let number: UInt32
        if let known = sourceNumbers[source] {
            number = known
        } else {
            let (found, given) = try Self.sourceNumber(source, txn, db)
            number = found
            sourceNumbers[source] = found
            if given { unconfirmedSources.append(source) }
        }
        lastSource = source
        lastSourceNumber = number
        return number
    }

    /// `source`'s stored number, or a new one (stored in `txn`): then `given` is true.
    static func sourceNumber(_ source: String, _ txn: WriteTransaction, _ db: Databases) throws -> (number: UInt32, given: Bool) {
        let key = Key.of { $0.string(source) }
        if let stored = try txn.get(db.sources, key, { bytes -> UInt32 in var r = ByteReader(bytes); return try r.u32() }) {
            return (stored, false)
        }
        let next = try Keys.take(Keys.nextSourceNumber, txn, db)
        try txn.put(db.sources, key, Key.of { $0.u32(next) })
        return (next, true)
    }

    mutating func book(_ execution: Execution) throws -> BookingOutcome {
        if settings.enforcesExecutionLimits, let trimmed = ExecutionLimits.trimmed(execution) { return try book(trimmed) }
        // A name too long for the identity's key (LMDB keys end at 511 bytes) was never
        // stored: nothing to look up, and the key would fail the whole transaction.
        if let reason = Self.overlongName(execution) {
            return try quarantine(source: execution.source, raw: execution.encoded(), reason: reason)
        }
        let fingerprint = execution.fingerprint(using: &buffers.canonical)
        let source = try sourceNumber(execution.source)
        buffers.key.removeAll()
        buffers.key.u32(source)
        buffers.key.string(execution.executionID)
        let executions = try executionsCursor ?? txn.openCursor(db.executions)
        executionsCursor = executions
        let existing: ExecutionRecord?
        if case .trade = execution.kind, validate(execution) == nil {
            // The common case, without arrays: a new trade. Its identity goes in as it is
            // looked up (one search), recording the entry it is about to be booked as.
            buffers.record.removeAll()
            ExecutionRecord(state: .active, offset: nextOffset, fingerprint: fingerprint).encode(into: &buffers.record)
            existing = try buffers.key.withBytes { identity in
                try buffers.record.withBytes { try executions.insert(identity, $0) { try ExecutionRecord(decoding: $0) } }
            }
            if existing == nil {
                let offset = try bookTrade(execution, kind: .trade, reference: 0)
                try applyParked(for: execution)
                return .booked(offset: offset)
            }
        } else {
            existing = try buffers.key.withBytes { identity in
                try executions.get(identity) { try ExecutionRecord(decoding: $0) }
            }
        }
        let identity = Keys.execution(source, execution.executionID)
        if let existing {
            if existing.fingerprint != fingerprint {
                return .refused(reason: "execution \(execution.executionID) from \(execution.source) was booked before with different terms")
            }
            if existing.state == .parked { return .parked(reason: "still waiting for the execution it refers to") }
            return .duplicate(offset: existing.offset)
        }
        if let reason = validate(execution) {
            return try quarantine(source: execution.source, raw: execution.encoded(), reason: reason)
        }
        switch execution.kind {
        case .trade:
            let offset = try bookTrade(execution, kind: .trade, reference: 0)
            try txn.put(db.executions, identity, ExecutionRecord(state: .active, offset: offset, fingerprint: fingerprint).encoded())
            try applyParked(for: execution)
            return .booked(offset: offset)
        case .bust(var reference), .correction(var reference):
            // A reference to an earlier correction or bust means the trade it applied to.
            if let referenced = try txn.get(db.executions, Keys.execution(source, reference), { try ExecutionRecord(decoding: $0) }),
               referenced.state == .applied, let trade = referenced.trade {
                reference = trade
            }
            let originalKey = Keys.execution(source, reference)
            guard var original = try txn.get(db.executions, originalKey, { try ExecutionRecord(decoding: $0) }),
                  original.state == .active || original.state == .busted else {
                try txn.put(db.parked, Keys.parked(execution.source, reference, execution.executionID), execution.encoded())
                parkedCount += 1
                try txn.put(db.executions, identity, ExecutionRecord(state: .parked, offset: 0, fingerprint: fingerprint).encoded())
                return .parked(reason: "\(execution.executionID) refers to \(reference), which is not booked")
            }
            if original.state == .busted {
                if case .bust = execution.kind {
                    // Busting what is already busted changes nothing.
                    try txn.put(db.executions, identity, ExecutionRecord(state: .applied, offset: original.offset, fingerprint: fingerprint,
                                                                         trade: reference).encoded())
                    return .duplicate(offset: original.offset)
                }
                return try quarantine(source: execution.source, raw: execution.encoded(),
                                      reason: "correction \(execution.executionID) of \(reference), which is busted")
            }
            let current = try entry(at: original.offset)
            let reversal = try reverse(current, by: execution)
            if case .correction = execution.kind {
                let replacement = try bookTrade(execution, kind: .replacement, reference: current.offset)
                original.offset = replacement
            } else {
                original.state = .busted
                original.offset = reversal
            }
            try txn.put(db.executions, originalKey, original.encoded())
            try txn.put(db.executions, identity, ExecutionRecord(state: .applied, offset: original.offset, fingerprint: fingerprint,
                                                                 trade: reference).encoded())
            // A later correction or bust naming this one may have come first.
            try applyParked(for: execution)
            return .booked(offset: original.offset)
        }
    }

    /// The longest source name and execution id an identity keeps: with both at their
    /// longest, a parked correction's key (source, reference, id) still fits LMDB's 511.
    static let sourceBytesMax = 100
    static let executionIDBytesMax = 200

    /// Why `execution`'s names cannot be keys, or nil.
    static func overlongName(_ execution: Execution) -> String? {
        if execution.source.utf8.count > sourceBytesMax { return "source longer than \(sourceBytesMax) bytes" }
        if execution.executionID.utf8.count > executionIDBytesMax { return "execution id longer than \(executionIDBytesMax) bytes" }
        switch execution.kind {
        case .trade: return nil
        case .correction(let reference), .bust(let reference):
            return reference.utf8.count > executionIDBytesMax ? "reference longer than \(executionIDBytesMax) bytes" : nil
        }
    }

    /// Why an execution cannot be booked, or nil.
    mutating func validate(_ execution: Execution) -> String? {
        if execution.account.isEmpty { return "missing account" }
        if execution.instrument.isEmpty { return "missing instrument" }
        if execution.executionID.isEmpty { return "missing execution id" }
        if case .bust = execution.kind {} else if execution.quantity <= .zero {
            return "quantity \(execution.quantity) is not positive"
        }
        if execution.currency != knownCurrency {
            guard settings.currencies.contains(execution.currency) else { return "unknown currency '\(execution.currency)'" }
            knownCurrency = execution.currency
        }
        if settings.enforcesExecutionLimits, let violation = ExecutionLimits.violation(execution) { return violation }
        if execution.commission < .zero { return "negative commission \(execution.commission)" }
        if execution.fees < .zero { return "negative fees \(execution.fees)" }
        if execution.account.utf8.count > 64 || execution.instrument.utf8.count > 64 { return "account or instrument longer than 64 bytes" }
        return nil
    }

    /// Books a trade-shaped entry for `execution`; returns its offset.
    mutating func bookTrade(_ execution: Execution, kind: JournalEntry.Kind, reference: UInt64) throws -> UInt64 {
        var valueDate: CalendarDay
        if let given = execution.settlementDate {
            valueDate = given
        } else {
            let key = ValueDateKey(day: execution.tradeDate, instrument: execution.instrument, currency: execution.currency)
            if let recent = recentValueDates.first(where: { $0.key == key }) {
                valueDate = recent.day
            } else {
                if let known = valueDates[key] {
                    valueDate = known
                } else {
                    valueDate = settings.calendar.valueDate(tradeDate: execution.tradeDate, instrument: execution.instrument,
                                                            currency: execution.currency)
                    valueDates[key] = valueDate
                }
                if recentValueDates.count < Self.recentValueDatesMax {
                    recentValueDates.append((key, valueDate))
                } else {
                    recentValueDates[recentValueDateNext] = (key, valueDate)
                    recentValueDateNext = (recentValueDateNext + 1) % Self.recentValueDatesMax
                }
            }
        }
        // Its legs are the trade rule's: the record leaves them to be derived.
        let offset = nextOffset
        buffers.record.removeAll()
        JournalEntry.encodeSummary(
            into: &buffers.record, offset: offset, kind: kind, source: execution.source, executionID: execution.executionID,
            reference: reference, account: execution.account, instrument: execution.instrument, side: execution.side,
            quantity: execution.quantity, price: execution.price, currency: execution.currency,
            tradeDate: execution.tradeDate, valueDate: valueDate, transactTime: execution.transactTime,
            commission: execution.commission, fees: execution.fees, bookedAt: now, memo: "")
        buffers.record.u8(JournalEntry.Legs.tradeRule.rawValue)
        try appendRecord(at: offset)
        return offset
    }

    /// A reversal of `entry`: the same legs negated, the opposite side, same price.
    mutating func reverse(_ entry: JournalEntry, by execution: Execution) throws -> UInt64 {
        let reversal = JournalEntry(
            offset: nextOffset, kind: .reversal, source: execution.source, executionID: execution.executionID,
            reference: entry.offset, account: entry.account, instrument: entry.instrument,
            side: entry.side == .buy ? .sell : .buy, quantity: entry.quantity, price: entry.price,
            currency: entry.currency, tradeDate: entry.tradeDate, valueDate: entry.valueDate,
            transactTime: execution.transactTime, commission: -entry.commission, fees: -entry.fees,
            bookedAt: now, memo: "", postings: entry.postings.map { Posting(account: $0.account, asset: $0.asset, amount: -$0.amount) })
        try append(reversal)
        return reversal.offset
    }

    /// Corrections and busts that arrived before `execution`: now they can apply.
    mutating func applyParked(for execution: Execution) throws {
        guard parkedCount > 0 else { return }
        let prefix = Key.of { $0.string(execution.source); $0.string(execution.executionID) }
        var waiting: [([UInt8], Execution)] = []
        try txn.reader.scan(db.parked, from: prefix) { key, value in
            guard key.starts(with: prefix) else { return false }
            waiting.append((Array(key), try Execution(decoding: value)))
            return true
        }
        for (key, parked) in waiting {
            try txn.delete(db.parked, key)
            parkedCount -= 1
            try txn.delete(db.executions, Keys.execution(try sourceNumber(parked.source), parked.executionID))
            _ = try book(parked)
        }
    }

    /// Puts the message an execution came in, instead of the execution, in quarantine
    /// record `id`: what an operator (and a regulator) needs is what was received.
    mutating func keepReceived(_ raw: [UInt8], inQuarantine id: UInt64) throws {
        guard case let (source, time, reason)? = try txn.get(db.quarantine, Key.offset(id), { bytes -> (String, Int64, String) in
            var r = ByteReader(bytes)
            return (try r.string(), try r.i64(), try r.string())
        }) else { return }
        try putQuarantine(id, source: source, time: time, reason: reason, raw: raw)
    }

    mutating func quarantine(source: String, raw: [UInt8], reason: String) throws -> BookingOutcome {
        let id = nextQuarantine
        nextQuarantine += 1
        try putQuarantine(id, source: source, time: now, reason: reason, raw: raw)
        return .quarantined(id: id, reason: reason)
    }

    /// A quarantine record: source, time, reason, the input as received.
    private func putQuarantine(_ id: UInt64, source: String, time: Int64, reason: String, raw: [UInt8]) throws {
        var w = ByteWriter(capacity: raw.count + 64)
        w.string(source)
        w.i64(time)
        w.string(reason)
        w.blob(raw)
        try txn.put(db.quarantine, Key.offset(id), w.bytes)
    }

    // MARK: Journal and its effects

    func entry(at offset: UInt64) throws -> JournalEntry {
        guard let entry = try txn.get(db.journal, Key.offset(offset), { try JournalEntry(decoding: $0) }) else {
            throw LedgerError.corrupt("journal entry \(offset) is missing")
        }
        return entry
    }

    /// Appends `entry` to the journal; the projector applies it to the books once committed.
    mutating func append(_ entry: JournalEntry) throws {
        buffers.record.removeAll()
        entry.encode(into: &buffers.record)
        try appendRecord(at: entry.offset)
    }

    /// Appends the record in `buffers.record` as the journal entry at `offset` (the next).
    mutating func appendRecord(at offset: UInt64) throws {
        precondition(offset == nextOffset, "journal offsets are consecutive")
        nextOffset += 1
        let journal = try journalCursor ?? txn.openCursor(db.journal)
        journalCursor = journal
        try withUnsafeBytes(of: offset.bigEndian) { key in
            try buffers.record.withBytes { try journal.put(key, $0, append: true) }
        }
    }

    // MARK: Adjustments, settlement status, marks, progress

    mutating func adjust(_ adjustment: Adjustment) throws -> UInt64 {
        let postings: [Posting]
        if let instrument = adjustment.instrument {
            postings = try JournalEntry.tradePostings(
                account: adjustment.account, contra: LedgerAccounts.adjustments, instrument: instrument,
                side: adjustment.amount.isNegative ? .sell : .buy, quantity: adjustment.amount.magnitude,
                price: adjustment.price, currency: adjustment.currency, commission: .zero, fees: .zero)
        } else {
            postings = [Posting(account: adjustment.account, asset: .currency(adjustment.currency), amount: adjustment.amount),
                        Posting(account: LedgerAccounts.adjustments, asset: .currency(adjustment.currency), amount: -adjustment.amount)]
        }
        let day = CalendarDay(daysSinceEpoch: Int(now / 86_400_000_000_000))
        let entry = JournalEntry(
            offset: nextOffset, kind: .adjustment, source: "manual", executionID: "adjustment-\(nextOffset)", reference: 0,
            account: adjustment.account, instrument: adjustment.instrument ?? "",
            side: adjustment.amount.isNegative ? .sell : .buy,
            quantity: adjustment.instrument == nil ? .zero : adjustment.amount.magnitude,
            price: adjustment.instrument == nil ? adjustment.amount : adjustment.price, currency: adjustment.currency,
            tradeDate: day, valueDate: adjustment.valueDate ?? day, transactTime: now, commission: .zero, fees: .zero,
            bookedAt: now, memo: "\(adjustment.who): \(adjustment.why)", postings: postings)
        try append(entry)
        return entry.offset
    }

    /// Journals a settlement status change; the projector sets it on the obligation.
    /// (`Ledger.setSettlementStatus` has checked that the obligation exists.)
    mutating func setSettlementStatus(account: String, asset: Asset, valueDate: CalendarDay, status: SettlementStatus,
                                      who: String, why: String) throws -> UInt64 {
        let entry = JournalEntry(
            offset: nextOffset, kind: .settlementStatus, source: "manual", executionID: "settlement-\(nextOffset)",
            reference: 0, account: account, instrument: asset.keyTag == 1 ? asset.name : "", side: .buy,
            quantity: .zero, price: .zero, currency: asset.keyTag == 2 ? asset.name : "", tradeDate: valueDate,
            valueDate: valueDate, transactTime: now, commission: .zero, fees: .zero, bookedAt: now,
            memo: "\(status) by \(who): \(why)", postings: [])
        try append(entry)
        return entry.offset
    }

    func setProgress(_ progress: SourceProgress) throws {
        let key = Key.of { $0.string(progress.source) }
        let current = try txn.get(db.progress, key) { var r = ByteReader($0); return try r.u64() } ?? UInt64(0)
        if progress.position > current { try txn.put(db.progress, key, Key.offset(progress.position)) }
    }

    func setMark(instrument: String, price: ExactDecimal, time: Int64) throws {
        var w = ByteWriter(capacity: 32)
        w.decimal(price)
        w.i64(time)
        try txn.put(db.marks, Key.of { $0.string(instrument) }, w.bytes)
    }
}

/// FIFO lots in LMDB.
struct StoredLots: LotQueue {
    let txn: WriteTransaction
    let dbi: MDB_dbi
    let account: String
    let instrument: String

    func lot(_ number: UInt64) throws -> Lot {
        guard let lot = try txn.get(dbi, Keys.lot(account, instrument, number), { bytes -> Lot in
            var r = ByteReader(bytes)
            return Lot(quantity: try r.decimal(), price: try r.decimal())
        }) else { throw LedgerError.corrupt("lot \(number) of \(account) \(instrument) is missing") }
        return lot
    }

    func set(_ number: UInt64, _ lot: Lot) throws {
        var w = ByteWriter(capacity: 34)
        w.decimal(lot.quantity)
        w.decimal(lot.price)
        try txn.put(dbi, Keys.lot(account, instrument, number), w.bytes)
    }

    func remove(_ number: UInt64) throws {
        try txn.delete(dbi, Keys.lot(account, instrument, number))
    }
}

/// A manual change to the books, with who and why. With an instrument it moves units
/// (`amount` signed) at `price`; without, it moves `amount` of `currency` in cash.
public struct Adjustment: Sendable, Hashable {
    public var account: String
    public var instrument: String?
    public var amount: ExactDecimal
    public var price: ExactDecimal
    public var currency: String
    public var valueDate: CalendarDay?
    public var who: String
    public var why: String

    public init(account: String, instrument: String? = nil, amount: ExactDecimal, price: ExactDecimal = .zero,
                currency: String, valueDate: CalendarDay? = nil, who: String, why: String) {
        self.account = account
        self.instrument = instrument
        self.amount = amount
        self.price = price
        self.currency = currency
        self.valueDate = valueDate
        self.who = who
        self.why = why
    }
}
