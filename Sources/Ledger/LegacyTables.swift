import CLMDB

/// Tables whose keys changed shape, and how an older ledger's rows move to the new ones
/// when it opens. Each move runs a bounded number of rows per transaction, so a long
/// table never makes one huge transaction, and moves its rows whole: a crash part way
/// leaves every row in exactly one of the two tables, and the next open carries on.
extension Ledger {
    /// The shape of the journal's environment this code writes, kept in `meta`: 2 since
    /// sessions and sources have numbers (1, unmarked, before). A ledger marked with a
    /// later format is refused, not misread: a build that does not know the tables it
    /// keeps would miss execution identities and book re-deliveries again. (Builds from
    /// before the mark do not look for it; run none of them on a ledger opened by this.)
    static let format: UInt32 = 2

    /// Refuses a ledger of a later format; brings an earlier one to this format (moving
    /// what older tables hold into the current ones) and marks it.
    static func upgradeFormat(_ environment: LMDBEnvironment, _ db: Databases, folder: String) throws {
        let stored = try environment.read { txn in
            try txn.get(db.meta, Keys.format) { bytes -> UInt32 in var r = ByteReader(bytes); return try r.u32() }
        } ?? 1
        guard stored <= format else {
            throw LedgerError.invalid("the ledger in \(folder) is in format \(stored), written by a later Counterfoil; this one reads formats up to \(format)")
        }
        guard stored < format else { return }
        try moveLegacyAudit(environment, db)
        try moveLegacyExecutions(environment, db)
        try environment.write { txn in try txn.put(db.meta, Keys.format, Key.of { $0.u32(format) }) }
    }

    /// Audit records keyed by the session's name (before sessions had numbers) go to the
    /// session log under the session's number, which the session's row gets now.
    /// `moved` is told each transaction's count; `stopAfter` transactions, it stops (tests).
    static func moveLegacyAudit(_ environment: LMDBEnvironment, _ db: Databases, perTransaction: Int = 50_000,
                                stopAfter: Int = .max, moved: (Int) -> Void = { _ in }) throws {
        try drain(db.legacyAudit, environment, perTransaction: perTransaction, stopAfter: stopAfter, moved: moved) { txn, rows in
            var sessions: [String: SessionSnapshot] = [:]
            for row in rows {
                let (name, index) = try row.key.withUnsafeBytes { key in
                    var r = ByteReader(key)
                    return (try r.string(), try r.u64())
                }
                var state: SessionSnapshot
                if let known = sessions[name] {
                    state = known
                } else {
                    state = try txn.get(db.sessions, Key.of { $0.string(name) }) { try SessionSnapshot(decoding: $0) } ?? SessionSnapshot()
                    if state.number == 0 { state.number = try Keys.take(Keys.nextSessionNumber, txn, db) }
                }
                state.auditCount = max(state.auditCount, index + 1)
                sessions[name] = state
                try txn.put(db.sessionLog, Keys.auditRecord(state.number, index), row.value)
            }
            for (name, state) in sessions { try txn.put(db.sessions, Key.of { $0.string(name) }, state.encoded()) }
        }
    }

    /// Execution identities keyed by the source's name go under the source's number.
    static func moveLegacyExecutions(_ environment: LMDBEnvironment, _ db: Databases, perTransaction: Int = 50_000,
                                     stopAfter: Int = .max, moved: (Int) -> Void = { _ in }) throws {
        try drain(db.legacyExecutions, environment, perTransaction: perTransaction, stopAfter: stopAfter, moved: moved) { txn, rows in
            var numbers: [String: UInt32] = [:]
            for row in rows {
                let (source, id) = try row.key.withUnsafeBytes { key in
                    var r = ByteReader(key)
                    return (try r.string(), try r.string())
                }
                let number: UInt32
                if let known = numbers[source] {
                    number = known
                } else {
                    number = try BookingTransaction.sourceNumber(source, txn, db).number
                    numbers[source] = number
                }
                try txn.put(db.executions, Keys.execution(number, id), row.value)
            }
        }
    }

    /// Takes up to `perTransaction` rows at a time from the front of `legacy`, hands them
    /// to `move` and deletes them, in one transaction, until `legacy` is empty.
    private static func drain(_ legacy: MDB_dbi, _ environment: LMDBEnvironment, perTransaction: Int, stopAfter: Int,
                              moved: (Int) -> Void,
                              _ move: (WriteTransaction, [(key: [UInt8], value: [UInt8])]) throws -> Void) throws {
        for _ in 0..<stopAfter {
            let count = try environment.write { txn -> Int in
                var rows: [(key: [UInt8], value: [UInt8])] = []
                try txn.reader.scan(legacy, from: []) { k, v in
                    rows.append((Array(k), Array(v)))
                    return rows.count < perTransaction
                }
                try move(txn, rows)
                for row in rows { try txn.delete(legacy, row.key) }
                return rows.count
            }
            if count == 0 { return }
            moved(count)
        }
    }
}
