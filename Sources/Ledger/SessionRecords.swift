import CLMDB

/// A FIX session's durable state, as the ledger keeps it: the two sequence numbers and
/// when they were last reset. The ledger knows nothing of FIX; the session layer names
/// sessions by a key of its own.
public struct SessionSnapshot: Sendable, Hashable {
    public var nextSenderSeqNum: Int
    public var nextTargetSeqNum: Int
    public var creationTime: Int64
    /// How many audit records the session has (the next one's number).
    public var auditCount: UInt64
    /// Whether the session was logged on when last written, and since when (ns).
    public var loggedOn: Bool
    public var statusTime: Int64
    /// The session's number, which its audit records are keyed by in place of its name
    /// (0 until the ledger gives it one, with its first write).
    public internal(set) var number: UInt32 = 0

    public init(nextSenderSeqNum: Int = 1, nextTargetSeqNum: Int = 1, creationTime: Int64 = 0, auditCount: UInt64 = 0,
                loggedOn: Bool = false, statusTime: Int64 = 0) {
        self.nextSenderSeqNum = nextSenderSeqNum
        self.nextTargetSeqNum = nextTargetSeqNum
        self.creationTime = creationTime
        self.auditCount = auditCount
        self.loggedOn = loggedOn
        self.statusTime = statusTime
    }

    func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: 45)
        w.u64(UInt64(nextSenderSeqNum))
        w.u64(UInt64(nextTargetSeqNum))
        w.i64(creationTime)
        w.u64(auditCount)
        w.bool(loggedOn)
        w.i64(statusTime)
        w.u32(number)
        return w.bytes
    }

    init(decoding bytes: UnsafeRawBufferPointer) throws {
        var r = ByteReader(bytes)
        nextSenderSeqNum = Int(try r.u64())
        nextTargetSeqNum = Int(try r.u64())
        creationTime = try r.i64()
        auditCount = try r.u64()
        loggedOn = try r.bool()
        statusTime = try r.i64()
        // Rows written before sessions had numbers end here.
        number = r.isAtEnd ? 0 : try r.u32()
    }
}

/// One audit record: a message as it went in or out, and when.
public struct AuditRecord: Sendable, Hashable {
    public var inbound: Bool
    public var time: Int64
    public var message: [UInt8]

    public init(inbound: Bool, time: Int64, message: [UInt8]) {
        self.inbound = inbound
        self.time = time
        self.message = message
    }
}

/// An execution and the message it came from, so a refusal can quarantine the original.
public struct SessionBooking: Sendable {
    public var execution: Execution
    public var raw: [UInt8]

    public init(execution: Execution, raw: [UInt8]) {
        self.execution = execution
        self.raw = raw
    }
}

/// Everything one session asks to make durable together: messages in and out, the
/// sequence numbers they moved, and the bookings of the executions they carried. One
/// `SessionWrite` is applied in one write transaction, so a crash keeps all of it or
/// none: an execution is never booked without its sequence number moving past it.
/// A message kept for reconciliation (a PositionReport, a RequestForPositionsAck).
public struct SessionReport: Sendable {
    public var kind: String
    public var time: Int64
    public var message: [UInt8]
    /// How many of the write's bookings arrived before it: it is stored after those and
    /// before the rest, so that it knows which journal offset its sender had reported up to.
    public var afterBookings: Int

    public init(kind: String, time: Int64, message: [UInt8], afterBookings: Int = 0) {
        self.kind = kind
        self.time = time
        self.message = message
        self.afterBookings = afterBookings
    }
}

/// A report as stored: when it arrived, the last journal offset booked before it from
/// every source, and the message.
public struct StoredReport: Sendable {
    public var time: Int64
    public var journalOffset: UInt64
    public var message: [UInt8]
}

public struct SessionWrite: Sendable {
    public var key: String
    /// Drop the stored outbound messages first (the session's numbers were reset).
    public var reset = false
    public var state: SessionSnapshot?
    public var outbound: [(seqNum: Int, message: [UInt8])] = []
    public var audit: [AuditRecord] = []
    public var bookings: [SessionBooking] = []
    public var rejected: [Rejected] = []
    /// Messages kept for later use (PositionReports for reconciliation), by kind.
    public var reports: [SessionReport] = []

    public init(key: String) { self.key = key }

    public var isEmpty: Bool {
        !reset && state == nil && outbound.isEmpty && audit.isEmpty && bookings.isEmpty && rejected.isEmpty && reports.isEmpty
    }
}

extension Ledger {
    /// A session's stored state, or nil if it never ran.
    public func sessionSnapshot(_ key: String) throws -> SessionSnapshot? {
        try environment.read { txn in
            try txn.get(db.sessions, Key.of { $0.string(key) }) { try SessionSnapshot(decoding: $0) }
        }
    }

    /// Every session the ledger has state for, by key.
    public func sessionSnapshots() throws -> [(key: String, snapshot: SessionSnapshot)] {
        try environment.read { txn in
            var all: [(String, SessionSnapshot)] = []
            try txn.scan(db.sessions, from: []) { key, value in
                var r = ByteReader(key)
                all.append((try r.string(), try SessionSnapshot(decoding: value)))
                return true
            }
            return all
        }
    }

    /// The outbound application messages a session stored, numbered within `range`.
    public func storedOutbound(_ key: String, in range: ClosedRange<Int>) throws -> [(seqNum: Int, message: [UInt8])] {
        try environment.read { txn in
            var found: [(Int, [UInt8])] = []
            let prefix = Key.of { $0.string(key) }
            try txn.scan(db.sessionOutbound, from: Key.of { $0.string(key); $0.u64(UInt64(range.lowerBound)) }) { k, v in
                guard k.starts(with: prefix) else { return false }
                var r = ByteReader(k)
                _ = try r.string()
                let seqNum = Int(try r.u64())
                guard seqNum <= range.upperBound else { return false }
                found.append((seqNum, Array(v)))
                return true
            }
            return found
        }
    }

    /// A session's audit log from record `start`, at most `limit` records.
    public func audit(_ key: String, from start: UInt64 = 0, limit: Int = 1000) throws -> [AuditRecord] {
        try environment.read { txn in
            var records: [AuditRecord] = []
            guard let number = try txn.get(db.sessions, Key.of({ $0.string(key) }), { try SessionSnapshot(decoding: $0).number }),
                  number != 0 else { return records }
            try txn.scan(db.sessionLog, from: Keys.auditRecord(number, start)) { k, v in
                var r = ByteReader(k)
                guard try r.u32() == number, records.count < limit else { return false }
                r = ByteReader(v)
                records.append(AuditRecord(inbound: try r.bool(), time: try r.i64(), message: try r.blob()))
                return true
            }
            return records
        }
    }

    /// The reports of one kind (e.g. "PositionReport") from `source`, oldest first.
    public func reports(kind: String, source: String) throws -> [StoredReport] {
        try environment.read { txn in
            var found: [StoredReport] = []
            let prefix = Key.of { $0.string(kind); $0.string(source) }
            try txn.scan(db.reports, from: prefix) { k, v in
                guard k.starts(with: prefix) else { return false }
                var r = ByteReader(v)
                let time = try r.i64()
                let message = try r.blob()
                // Reports stored before the offset was kept know none.
                let offset = r.isAtEnd ? 0 : try r.u64()
                found.append(StoredReport(time: time, journalOffset: offset, message: message))
                return true
            }
            return found
        }
    }

    /// Applies `write` in the next group commit and calls `completion` once it is durable,
    /// with one outcome per booking (in order). Does not block.
    ///
    /// A session's writes build on one another (each carries the sequence numbers the
    /// messages before it moved), so once one fails every later one of the same session
    /// fails as well, even one already queued behind it that would fit: otherwise its
    /// numbers would be committed without the bookings of the failed one, and those
    /// executions lost. The session reloads its durable state and calls
    /// `resumeSession(_:)` before it writes again.
    public func commit(_ write: SessionWrite, completion: @escaping @Sendable (Result<[BookingOutcome], Error>) -> Void) {
        let box = Box<[BookingOutcome]>()
        let writer = self.writer
        writer.enqueue(LedgerWriter.Request(run: { booking in
            if writer.fencedSessions.contains(write.key) {
                throw LedgerError.invalid("session \(write.key): an earlier write failed, and the session has not reloaded since")
            }
            box.value = try booking.apply(write)
        }, complete: { error in
            if let error {
                // On the writer's thread, before it takes the next batch.
                writer.fencedSessions.insert(write.key)
                completion(.failure(error))
            } else {
                completion(.success(box.value ?? []))
            }
        }))
    }

    /// The session `key` has reloaded its durable state after a failed write: its writes
    /// are taken again, from the next one queued on.
    public func resumeSession(_ key: String) {
        let writer = self.writer
        writer.enqueue(LedgerWriter.Request(run: { _ in writer.fencedSessions.remove(key) }, complete: { _ in }))
    }

    /// As `commit`, waiting until durable.
    @discardableResult
    public func commitAndWait(_ write: SessionWrite) throws -> [BookingOutcome] {
        try writer.submitAndWait { try $0.apply(write) }
    }
}

extension BookingTransaction {
    mutating func apply(_ write: SessionWrite) throws -> [BookingOutcome] {
        let sessionKey = Key.of { $0.string(write.key) }
        if write.reset {
            var doomed: [[UInt8]] = []
            try txn.reader.scan(db.sessionOutbound, from: sessionKey) { k, _ in
                guard k.starts(with: sessionKey) else { return false }
                doomed.append(Array(k))
                return true
            }
            for key in doomed { _ = try txn.delete(db.sessionOutbound, key) }
        }
        let stored = try txn.get(db.sessions, sessionKey) { try SessionSnapshot(decoding: $0) }
        var state = write.state ?? stored ?? SessionSnapshot()
        // The audit counter and the number live in the store, not in the session's copy.
        state.auditCount = stored?.auditCount ?? 0
        state.number = stored?.number ?? 0
        // A session seen for the first time gets one more than the last number given.
        if state.number == 0 { state.number = try Keys.take(Keys.nextSessionNumber, txn, db) }
        for (seqNum, message) in write.outbound {
            try txn.put(db.sessionOutbound, Key.of { $0.string(write.key); $0.u64(UInt64(seqNum)) }, message)
        }
        if !write.audit.isEmpty {
            // Keyed by the session's number, then the record's. The records go at the end
            // of the table (LMDB's append, which fills pages to the brim) unless a session
            // numbered higher has records: then each is put in its place.
            let number = state.number
            var key = ByteWriter(capacity: 12)
            var value = ByteWriter(capacity: 512)
            try txn.withCursor(db.sessionLog) { log in
                let append = try log.lastKey { last -> Bool in
                    var r = ByteReader(last)
                    return try r.u32() <= number
                } ?? true
                for record in write.audit {
                    value.removeAll()
                    value.bool(record.inbound)
                    value.i64(record.time)
                    value.blob(record.message)
                    key.removeAll()
                    key.u32(number)
                    key.u64(state.auditCount)
                    try key.withBytes { k in try value.withBytes { try log.put(k, $0, append: append) } }
                    state.auditCount += 1
                }
            }
        }
        try txn.put(db.sessions, sessionKey, state.encoded())
        var outcomes: [BookingOutcome] = []
        outcomes.reserveCapacity(write.bookings.count)
        var reports = write.reports.enumerated().makeIterator()
        var nextReport = reports.next()
        func storeReports(upTo booked: Int) throws {
            while let (index, report) = nextReport, report.afterBookings <= booked {
                var w = ByteWriter(capacity: report.message.count + 20)
                w.i64(report.time)
                w.blob(report.message)
                w.u64(nextOffset - 1)
                try txn.put(db.reports, Key.of { $0.string(report.kind); $0.string(write.key); $0.i64(report.time); $0.u32(UInt32(index)) }, w.bytes)
                nextReport = reports.next()
            }
        }
        // By index: the bookings are read in place, not copied (an execution's Strings and
        // its message would be retained and released for each).
        for index in write.bookings.indices {
            try storeReports(upTo: index)
            var outcome = try book(write.bookings[index].execution)
            if case .quarantined(let id, _) = outcome {
                // Kept with the message it came in, not as the ledger re-encoded it.
                try keepReceived(write.bookings[index].raw, inQuarantine: id)
            } else if case .refused(let reason) = outcome {
                // Refused executions are kept with the message they came in, never dropped.
                let item = write.bookings[index]
                if case .quarantined(let id, _) = try quarantine(source: item.execution.source, raw: item.raw, reason: reason) {
                    outcome = .quarantined(id: id, reason: reason)
                }
            }
            outcomes.append(outcome)
        }
        try storeReports(upTo: .max)
        for item in write.rejected { outcomes.append(try quarantine(source: item.source, raw: item.raw, reason: item.reason)) }
        return outcomes
    }
}
