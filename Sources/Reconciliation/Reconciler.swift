import CLMDB
import ExactNumbers
import Foundation
import Ledger

/// Reconciles statements against the books and keeps the breaks: their runs, ages and
/// histories, in the ledger's own LMDB environment. A run reads the books, then stores
/// its run and breaks in one write; resolving a break by adjustment books the adjustment
/// and closes the break in the same commit.
public final class Reconciler: Sendable {
    public let ledger: Ledger
    let runs: MDB_dbi
    let breaks: MDB_dbi
    /// (provider, identity) → the latest break with that identity.
    let identities: MDB_dbi
    /// Statement digest → the first run of it.
    let digests: MDB_dbi

    public init(ledger: Ledger) throws {
        self.ledger = ledger
        runs = try ledger.environment.database("recon-runs")
        breaks = try ledger.environment.database("recon-breaks")
        identities = try ledger.environment.database("recon-identities")
        digests = try ledger.environment.database("recon-digests")
    }

    /// Wall-clock time, nanoseconds since the epoch.
    public static func now() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec)
    }

    // MARK: Running

    /// Compares `statement` with the books as of `asOf` (default: the statement's own
    /// cut-off, its journal offset or its time, else now) and records the run. `source` limits our side of a trade
    /// reconciliation to one source's executions.
    public func run(_ statement: Statement, provider: String, asOf: Int64? = nil, tolerances: ReconTolerances = ReconTolerances(),
                    scope: ReconScope = .statementAccounts, source: String? = nil, who: String,
                    now: Int64 = Reconciler.now()) throws -> ReconReport {
        guard !provider.isEmpty else { throw ReconError("a reconciliation needs a provider name") }
        let cutoffTime = asOf ?? statement.asOf
        let cutoff: UInt64
        if let asOf {
            cutoff = try ledger.offset(atOrBefore: asOf)
        } else if let offset = statement.cutoffOffset {
            cutoff = offset
        } else {
            cutoff = try cutoffTime.map { try ledger.offset(atOrBefore: $0) } ?? .max
        }
        let matcher = try Matcher(ledger: ledger, tolerances: tolerances, scope: scope, cutoff: cutoff)
        var findings: [Finding] = []
        let kinds = statement.kinds
        if kinds.contains(.positions) { findings += try matcher.positions(statement.positions) }
        if kinds.contains(.cash) { findings += try matcher.cash(statement.cash) }
        if kinds.contains(.trades) { findings += try matcher.trades(statement.trades, source: source) }
        let rows = statement.positions.count + statement.cash.count + statement.trades.count
        let cutoffOffset = matcher.cutoff
        let dbs = (runs: runs, breaks: breaks, identities: identities, digests: digests)
        return try ledger.write { write in
            let txn = write.transaction
            let runID = try txn.reader.lastID(dbs.runs) + 1
            var nextBreak = try txn.reader.lastID(dbs.breaks) + 1
            let digestKey = Key.of { $0.string(statement.digest) }
            let duplicateOf = try txn.get(dbs.digests, digestKey) { var r = ByteReader($0); return try r.u64() }
            if duplicateOf == nil { try txn.put(dbs.digests, digestKey, Key.offset(runID)) }
            var run = ReconRun(id: runID, provider: provider, origin: statement.origin, digest: statement.digest, time: now, who: who,
                               asOf: cutoffTime, cutoffOffset: cutoffOffset, kinds: kinds, rows: rows, breaks: 0, new: 0,
                               accepted: 0, cleared: 0, duplicateOf: duplicateOf)
            var found: [ReconBreak] = []
            var seen: Set<String> = []
            for finding in findings {
                seen.insert(finding.identity)
                let identityKey = Key.of { $0.string(provider); $0.string(finding.identity) }
                let existingID = try txn.get(dbs.identities, identityKey) { var r = ByteReader($0); return try r.u64() }
                if let existingID, var existing = try Self.load(txn.reader, dbs.breaks, existingID) {
                    let sameValues = existing.finding.ours == finding.ours && existing.finding.theirs == finding.theirs
                    if existing.status != .resolved {
                        if !sameValues {
                            existing.history.append(.init(time: now, who: who, action: "changed",
                                                          note: "run \(runID): ours \(finding.ours ?? "none"), theirs \(finding.theirs ?? "none")"))
                        }
                        existing.finding = finding
                        existing.lastRun = runID
                        existing.lastSeen = now
                        try Self.store(txn, dbs.breaks, existing)
                        found.append(existing)
                        continue
                    }
                    if existing.resolution == .explained && sameValues {
                        existing.lastRun = runID
                        existing.lastSeen = now
                        try Self.store(txn, dbs.breaks, existing)
                        run.accepted += 1
                        found.append(existing)
                        continue
                    }
                }
                // New, or back after it was resolved: a break of its own.
                var history = [ReconBreak.Event(time: now, who: who, action: "opened", note: "run \(runID) of \(statement.origin)")]
                if let existingID { history[0].note += "; seen before as break \(existingID)" }
                let record = ReconBreak(id: nextBreak, provider: provider, finding: finding, firstRun: runID, lastRun: runID,
                                        firstSeen: now, lastSeen: now, status: .open, resolution: nil, adjustmentOffset: nil,
                                        explanation: nil, history: history)
                nextBreak += 1
                try Self.store(txn, dbs.breaks, record)
                try txn.put(dbs.identities, identityKey, Key.offset(record.id))
                run.new += 1
                found.append(record)
            }
            // Breaks of this provider and these kinds that this run did not find again close themselves.
            var stale: [ReconBreak] = []
            let prefix = Key.of { $0.string(provider) }
            try txn.reader.scan(dbs.identities, from: prefix) { key, value in
                guard key.starts(with: prefix) else { return false }
                var r = ByteReader(value)
                if let record = try Self.load(txn.reader, dbs.breaks, try r.u64()), record.status != .resolved,
                   kinds.contains(record.finding.kind), !seen.contains(record.finding.identity) {
                    stale.append(record)
                }
                return true
            }
            var cleared: [ReconBreak] = []
            for var record in stale {
                record.status = .resolved
                record.resolution = .cleared
                record.history.append(.init(time: now, who: who, action: "cleared", note: "not found by run \(runID)"))
                try Self.store(txn, dbs.breaks, record)
                cleared.append(record)
            }
            run.breaks = found.count - run.accepted
            run.cleared = cleared.count
            try txn.put(dbs.runs, Key.offset(runID), try JSONEncoder().encode(run).bytes)
            return ReconReport(run: run, breaks: found, cleared: cleared)
        }
    }

    // MARK: Working breaks

    /// Marks a break as being looked into.
    @discardableResult
    public func investigate(_ id: UInt64, who: String, note: String) throws -> ReconBreak {
        try change(id, who: who) { record in
            record.status = .investigating
            record.history.append(.init(time: Self.now(), who: who, action: "investigating", note: note))
        }
    }

    /// Resolves a break with an accepted explanation; found again with the same values,
    /// it stays resolved.
    @discardableResult
    public func explain(_ id: UInt64, who: String, explanation: String) throws -> ReconBreak {
        guard !explanation.trimmingCharacters(in: .whitespaces).isEmpty else { throw ReconError("an explanation cannot be empty") }
        return try change(id, who: who) { record in
            record.status = .resolved
            record.resolution = .explained
            record.explanation = explanation
            record.history.append(.init(time: Self.now(), who: who, action: "explained", note: explanation))
        }
    }

    /// Resolves a position or cash break by booking their figure through the ledger: an
    /// adjustment journal entry with who and why, in the same commit as the break's
    /// resolution. Returns the break and the adjustment's journal offset.
    public func adjust(_ id: UInt64, who: String, why: String, price: ExactDecimal? = nil) throws -> (ReconBreak, UInt64) {
        guard let record = try self.break(id) else { throw ReconError("no break \(id)") }
        guard record.status != .resolved else { throw ReconError("break \(id) is already resolved") }
        let adjustment = try Self.adjustment(for: record, who: who, why: why, price: price)
        let breaks = self.breaks
        return try ledger.write { write in
            let offset = try write.adjust(adjustment)
            var updated = record
            updated.status = .resolved
            updated.resolution = .adjusted
            updated.adjustmentOffset = offset
            updated.history.append(.init(time: Self.now(), who: who, action: "adjusted",
                                         note: "journal entry \(offset): \(adjustment.amount.normalized) \(adjustment.instrument ?? adjustment.currency); \(why)"))
            try Self.store(write.transaction, breaks, updated)
            return (updated, offset)
        }
    }

    /// The adjustment that makes our side agree with theirs.
    static func adjustment(for record: ReconBreak, who: String, why: String, price: ExactDecimal?) throws -> Adjustment {
        let finding = record.finding
        guard [.quantity, .missingOurs, .missingTheirs].contains(finding.type), finding.kind != .trades else {
            throw ReconError("a \(finding.kind) \(finding.type.rawValue) break is resolved by explanation (or by booking the trade); "
                             + "an adjustment books positions and cash only")
        }
        let ours = finding.ours.flatMap { ExactDecimal($0) } ?? .zero
        let theirs = finding.theirs.flatMap { ExactDecimal($0) } ?? .zero
        guard let currency = finding.currency else {
            throw ReconError("break \(record.id) names no currency to book the adjustment in")
        }
        let reason = "recon break \(record.id): \(why)"
        switch finding.kind {
        case .positions:
            return Adjustment(account: finding.account, instrument: finding.subject, amount: theirs - ours, price: price ?? .zero,
                              currency: currency, who: who, why: reason)
        case .cash:
            return Adjustment(account: finding.account, amount: theirs - ours, currency: currency, who: who, why: reason)
        case .trades:
            throw ReconError("trade breaks are not adjusted")
        }
    }

    private func change(_ id: UInt64, who: String, _ body: @escaping @Sendable (inout ReconBreak) throws -> Void) throws -> ReconBreak {
        guard !who.isEmpty else { throw ReconError("say who is changing the break") }
        let breaks = self.breaks
        return try ledger.write { write in
            guard var record = try Self.load(write.transaction.reader, breaks, id) else { throw ReconError("no break \(id)") }
            guard record.status != .resolved else { throw ReconError("break \(id) is already resolved (\(record.resolution?.rawValue ?? ""))") }
            try body(&record)
            try Self.store(write.transaction, breaks, record)
            return record
        }
    }

    // MARK: Reading

    public func `break`(_ id: UInt64) throws -> ReconBreak? {
        try ledger.environment.read { try Self.load($0, breaks, id) }
    }

    /// Breaks, oldest first, optionally only some statuses or one provider.
    public func breaks(status: Set<ReconBreak.Status>? = nil, provider: String? = nil) throws -> [ReconBreak] {
        var result: [ReconBreak] = []
        try ledger.environment.read { txn in
            try txn.scan(breaks, from: []) { _, value in
                let record = try JSONDecoder().decode(ReconBreak.self, from: Data(value))
                if (status?.contains(record.status) ?? true) && (provider == nil || record.provider == provider) {
                    result.append(record)
                }
                return true
            }
        }
        return result
    }

    /// Runs, newest first.
    public func runs(limit: Int = 100) throws -> [ReconRun] {
        var result: [ReconRun] = []
        try ledger.environment.read { txn in
            try txn.scan(runs, from: Key.offset(.max), reverse: true) { _, value in
                result.append(try JSONDecoder().decode(ReconRun.self, from: Data(value)))
                return result.count < limit
            }
        }
        return result
    }

    /// Breaks still to work, counted by type and age bucket (days open: 0–1, 2–7, 8–30, 31+).
    public func ageing(now: Int64 = Reconciler.now()) throws -> [AgeingRow] {
        var counts: [BreakType: [String: Int]] = [:]
        for record in try breaks(status: [.open, .investigating]) {
            counts[record.finding.type, default: [:]][Self.bucket(days: record.daysOpen(now: now)), default: 0] += 1
        }
        return counts.keys.sorted().flatMap { type in
            Self.buckets.compactMap { bucket in counts[type]?[bucket].map { AgeingRow(type: type, bucket: bucket, count: $0) } }
        }
    }

    public static let buckets = ["0-1", "2-7", "8-30", "31+"]

    static func bucket(days: Int) -> String {
        switch days {
        case ...1: return "0-1"
        case 2...7: return "2-7"
        case 8...30: return "8-30"
        default: return "31+"
        }
    }

    // MARK: Records

    static func load(_ txn: ReadTransaction, _ dbi: MDB_dbi, _ id: UInt64) throws -> ReconBreak? {
        try txn.get(dbi, Key.offset(id)) { try JSONDecoder().decode(ReconBreak.self, from: Data($0)) }
    }

    static func store(_ txn: WriteTransaction, _ dbi: MDB_dbi, _ record: ReconBreak) throws {
        try txn.put(dbi, Key.offset(record.id), try JSONEncoder().encode(record).bytes)
    }
}

extension Data {
    var bytes: [UInt8] { [UInt8](self) }
}
