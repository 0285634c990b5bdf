import TestSupport
import Foundation
@testable import Ledger
import Testing

@Suite struct SessionRecordTests {
    /// A message of `size` bytes that says which session and record it is.
    func message(_ session: String, _ index: Int, size: Int = 120) -> [UInt8] {
        let text = Array("8=FIX.4.4\u{1}35=8\u{1}49=\(session)\u{1}34=\(index)\u{1}58=".utf8)
        return text + [UInt8](repeating: UInt8(ascii: "x"), count: max(0, size - text.count))
    }

    func write(_ ledger: Ledger, _ session: String, _ range: Range<Int>, size: Int = 120) throws {
        var write = SessionWrite(key: session)
        write.audit = range.map { AuditRecord(inbound: $0 % 2 == 0, time: Int64($0), message: message(session, $0, size: size)) }
        try ledger.commitAndWait(write)
    }

    @Test("each session's audit log reads back whole and in order, however the sessions' writes interleave")
    func auditLogsInterleaved() throws {
        let folder = TemporaryFolder()
        defer { folder.cleanup() }
        let ledger = try Ledger(folder: folder.path)
        defer { ledger.close() }
        // A's records go at the end of the table until B (numbered after it) writes;
        // then A's are put in their place, before B's.
        try write(ledger, "FIX.4.4:CF->A", 0..<3)
        try write(ledger, "FIX.4.4:CF->B", 0..<2)
        try write(ledger, "FIX.4.4:CF->A", 3..<40)
        try write(ledger, "FIX.4.4:CF->B", 2..<5)
        try write(ledger, "FIX.4.4:CF->A", 40..<41)

        let a = try ledger.audit("FIX.4.4:CF->A", limit: 100)
        #expect(a.map(\.time) == (0..<41).map(Int64.init))
        #expect(a.map(\.message) == (0..<41).map { message("FIX.4.4:CF->A", $0) })
        #expect(a.map(\.inbound) == (0..<41).map { $0 % 2 == 0 })
        #expect(try ledger.audit("FIX.4.4:CF->B", limit: 100).map(\.message) == (0..<5).map { message("FIX.4.4:CF->B", $0) })
        #expect(try ledger.audit("FIX.4.4:CF->A", from: 38, limit: 2).map(\.time) == [38, 39])
        #expect(try ledger.audit("FIX.4.4:CF->C").isEmpty)
        #expect(try ledger.sessionSnapshot("FIX.4.4:CF->A").map { [$0.number, UInt32($0.auditCount)] } == [1, 41])
        #expect(try ledger.sessionSnapshot("FIX.4.4:CF->B").map { [$0.number, UInt32($0.auditCount)] } == [2, 5])
    }

    @Test("one session's records fill the log's pages: each a full page of records, none half empty")
    func auditPagesFull() throws {
        let folder = TemporaryFolder()
        defer { folder.cleanup() }
        let ledger = try Ledger(folder: folder.path)
        defer { ledger.close() }
        // A record of 340 bytes takes 375 in a leaf (node header, 12-byte key, the flag,
        // time and length): ten fit in a 4 KiB page's 4,080 bytes, eleven do not.
        for start in stride(from: 0, to: 1000, by: 50) { try write(ledger, "FIX.4.4:CF->A", start..<(start + 50), size: 340) }
        let pages = try ledger.environment.read { try $0.pages(ledger.db.sessionLog) }
        #expect(pages.leaf == 100, "\(pages.leaf) leaf pages for 1,000 records")
        #expect(try ledger.audit("FIX.4.4:CF->A", limit: 2000).count == 1000)
    }

    @Test("an audit log kept under the session's name moves to its number on open, a part at a time, and goes on from there")
    func legacyAuditMoves() throws {
        let folder = TemporaryFolder()
        defer { folder.cleanup() }
        let sessions = ["FIX.4.2:CF->OLD-1", "FIX.4.4:CF->OLD-2"]
        // Written the way ledgers kept the log before sessions had numbers: the session's
        // row without one, the records keyed by its name.
        try {
            let environment = try LMDBEnvironment(path: folder.path)
            let db = try Databases(environment)
            try environment.write { txn in
                for (s, session) in sessions.enumerated() {
                    let count = 7 + s * 4
                    var row = SessionSnapshot(nextSenderSeqNum: 3, nextTargetSeqNum: 9, auditCount: UInt64(count)).encoded()
                    row.removeLast(4)
                    try txn.put(db.sessions, Key.of { $0.string(session) }, row)
                    for i in 0..<count {
                        var value = ByteWriter()
                        value.bool(true)
                        value.i64(Int64(i))
                        value.blob(message(session, i))
                        try txn.put(db.legacyAudit, Key.of { $0.string(session); $0.u64(UInt64(i)) }, value.bytes)
                    }
                }
            }
            // Part of the way, three records a transaction, as if the process stopped there.
            var moved = 0
            try Ledger.moveLegacyAudit(environment, db, perTransaction: 3, stopAfter: 2) { moved += $0 }
            #expect(moved == 6)
            #expect(try environment.read { try $0.count(db.legacyAudit) } == 7 + 11 - 6)
        }()

        let ledger = try Ledger(folder: folder.path)
        defer { ledger.close() }
        #expect(try ledger.environment.read { try $0.count(ledger.db.legacyAudit) } == 0)
        for (s, session) in sessions.enumerated() {
            let count = 7 + s * 4
            #expect(try ledger.audit(session, limit: 100).map(\.message) == (0..<count).map { message(session, $0) })
            let snapshot = try #require(try ledger.sessionSnapshot(session))
            #expect(snapshot.number != 0 && snapshot.auditCount == UInt64(count) && snapshot.nextTargetSeqNum == 9)
        }
        try write(ledger, sessions[0], 7..<9)
        try write(ledger, "FIX.4.4:CF->NEW", 0..<1)
        #expect(try ledger.audit(sessions[0], limit: 100).map(\.message) == (0..<9).map { message(sessions[0], $0) })
        #expect(try ledger.sessionSnapshot("FIX.4.4:CF->NEW")?.number == 3)
    }
}
