import TestSupport
import ExactNumbers
import Foundation
@testable import Ledger
import Testing

@Suite struct SourceNumberTests {
    @Test("executions are told apart by source and id; a source's number given in a transaction that failed is given again, not kept")
    func sourceNumbers() throws {
        let folder = TemporaryFolder()
        defer { folder.cleanup() }
        let ledger = try Ledger(folder: folder.path)
        defer { ledger.close() }
        #expect(try ledger.book([trade("E1", "ACC-1", "AAPL", .buy, "10", "100", source: "venue-a")]) == [.booked(offset: 1)])
        // venue-x gets the next number, but its transaction fails.
        #expect(throws: LedgerError.self) {
            try ledger.write { write in
                _ = try write.booking.book(trade("E1", "ACC-1", "AAPL", .buy, "20", "100", source: "venue-x"))
                throw LedgerError.corrupt("stopped on purpose")
            }
        }
        // venue-y is given that number now; venue-x must get another.
        #expect(try ledger.book([trade("E1", "ACC-2", "AAPL", .buy, "30", "100", source: "venue-y")]) == [.booked(offset: 2)])
        #expect(try ledger.book([trade("E1", "ACC-3", "AAPL", .buy, "40", "100", source: "venue-x")]) == [.booked(offset: 3)])
        #expect(try ledger.book([trade("E1", "ACC-2", "AAPL", .buy, "30", "100", source: "venue-y"),
                                 trade("E1", "ACC-3", "AAPL", .buy, "40", "100", source: "venue-x"),
                                 trade("E1", "ACC-1", "AAPL", .buy, "10", "100", source: "venue-a")])
                == [.duplicate(offset: 2), .duplicate(offset: 3), .duplicate(offset: 1)])
        let numbers = try ledger.environment.read { txn in
            var found: [String: UInt32] = [:]
            try txn.scan(ledger.db.sources, from: []) { k, v in
                var key = ByteReader(k)
                var value = ByteReader(v)
                found[try key.string()] = try value.u32()
                return true
            }
            return found
        }
        #expect(numbers.count == 3 && Set(numbers.values).count == 3)
    }

    @Test("identities kept under the source's name move to its number on open: re-deliveries, changes and corrections of old trades are recognised")
    func legacyIdentitiesMove() throws {
        let folder = TemporaryFolder()
        defer { folder.cleanup() }
        let original = (0..<40).map { i in
            trade("E\(i)", "ACC-\(i % 3)", "SYM\(i % 2)", .buy, "\(1 + i % 5)", "\(100 + i)", source: i % 2 == 0 ? "venue-a" : "venue-b")
        }
        try {
            let ledger = try Ledger(folder: folder.path)
            defer { ledger.close() }
            try ledger.book(original)
        }()
        // Put the identities back the way ledgers kept them before sources had numbers.
        try {
            let environment = try LMDBEnvironment(path: folder.path)
            let db = try Databases(environment)
            try environment.write { txn in
                var names: [UInt32: String] = [:]
                try txn.reader.scan(db.sources, from: []) { k, v in
                    var key = ByteReader(k)
                    var value = ByteReader(v)
                    names[try value.u32()] = try key.string()
                    return true
                }
                var rows: [([UInt8], String, String, [UInt8])] = []
                try txn.reader.scan(db.executions, from: []) { k, v in
                    var key = ByteReader(k)
                    let number = try key.u32()
                    rows.append((Array(k), try #require(names[number]), try key.string(), Array(v)))
                    return true
                }
                #expect(rows.count == 40)
                for (key, source, id, value) in rows {
                    try txn.delete(db.executions, key)
                    try txn.put(db.legacyExecutions, Key.of { $0.string(source); $0.string(id) }, value)
                }
                try txn.empty(db.sources)
                _ = try txn.delete(db.meta, Keys.nextSourceNumber)
                // Ledgers from before the numbers carry no format mark.
                _ = try txn.delete(db.meta, Keys.format)
            }
            var moved: [Int] = []
            try Ledger.moveLegacyExecutions(environment, db, perTransaction: 15, stopAfter: 1) { moved.append($0) }
            #expect(moved == [15])
        }()

        let ledger = try Ledger(folder: folder.path)
        defer { ledger.close() }
        #expect(try ledger.environment.read { try $0.count(ledger.db.legacyExecutions) } == 0)
        #expect(try ledger.environment.read { try $0.count(ledger.db.executions) } == 40)
        #expect(try ledger.book(original) == (1...40).map { .duplicate(offset: UInt64($0)) })
        var changed = original[7]
        changed.quantity = 99
        guard case .refused = try ledger.book([changed])[0] else { Issue.record("a changed re-delivery was not refused"); return }
        #expect(try ledger.book([trade("C1", "ACC-1", "SYM1", .buy, "3", "99", source: "venue-b", kind: .correction(of: "E1"))])
                == [.booked(offset: 42)])
        #expect(try ledger.position(account: "ACC-1", instrument: "SYM1")?.quantity
                == original.filter { $0.account == "ACC-1" && $0.instrument == "SYM1" && $0.executionID != "E1" }.reduce(ExactDecimal.zero) { $0 + $1.quantity } + 3)
        #expect(try ledger.check().isClean)
    }

    @Test("check finds a booked execution whose identity is gone, and identities no source or entry accounts for")
    func checkFindsLostIdentities() throws {
        let folder = TemporaryFolder()
        defer { folder.cleanup() }
        let ledger = try Ledger(folder: folder.path)
        defer { ledger.close() }
        try ledger.book([trade("E1", "ACC-1", "AAPL", .buy, "10", "100", source: "venue-a"),
                         trade("E2", "ACC-1", "AAPL", .buy, "5", "101", source: "venue-b"),
                         trade("C1", "ACC-1", "AAPL", .buy, "6", "101", source: "venue-b", kind: .correction(of: "E2"))])
        #expect(try ledger.check().isClean)
        let a = try #require(try ledger.environment.read { try $0.get(ledger.db.sources, Key.of { $0.string("venue-a") }) { bytes -> UInt32 in
            var r = ByteReader(bytes)
            return try r.u32()
        } })
        try ledger.environment.write { txn in
            #expect(try txn.delete(ledger.db.executions, Keys.execution(a, "E1")))
            try txn.put(ledger.db.executions, Keys.execution(99, "X1"), ExecutionRecord(state: .active, offset: 1, fingerprint: 0).encoded())
            try txn.put(ledger.db.executions, Keys.execution(a, "X2"), ExecutionRecord(state: .active, offset: 40, fingerprint: 0).encoded())
        }
        let problems = try ledger.check().problems
        #expect(problems == [
            "identities: entry 1 (execution E1 from venue-a) has none: a re-delivery would be booked again",
            "identities: execution X2 from venue-a points at entry 40, which the journal does not have",
            "identities: execution X1 is from source number 99, which no source has",
        ], "\(problems)")
    }

    @Test("an execution id, reference or source too long for a key goes to quarantine; the rest of its batch books")
    func overlongIdentities() throws {
        let folder = TemporaryFolder()
        defer { folder.cleanup() }
        let ledger = try Ledger(folder: folder.path)
        defer { ledger.close() }
        let long = String(repeating: "X", count: 600)
        let outcomes = try ledger.book([
            trade("E1", "ACC-1", "AAPL", .buy, "10", "100"),
            trade(long, "ACC-1", "AAPL", .buy, "10", "100"),
            trade("C1", "ACC-1", "AAPL", .buy, "10", "100", kind: .correction(of: long)),
            trade("E2", "ACC-1", "AAPL", .buy, "10", "100", source: long),
            trade("E3", "ACC-1", "AAPL", .buy, "10", "100"),
        ])
        #expect(outcomes == [.booked(offset: 1), .quarantined(id: 1, reason: "execution id longer than 200 bytes"),
                             .quarantined(id: 2, reason: "reference longer than 200 bytes"),
                             .quarantined(id: 3, reason: "source longer than 100 bytes"), .booked(offset: 2)])
        #expect(try ledger.check().isClean)
    }

    @Test("a ledger is marked with its format; one marked with a later format is refused, not misread")
    func laterFormatRefused() throws {
        let folder = TemporaryFolder()
        defer { folder.cleanup() }
        try {
            let ledger = try Ledger(folder: folder.path)
            defer { ledger.close() }
            try ledger.book([trade("E1", "ACC-1", "AAPL", .buy, "10", "100")])
            let format = try ledger.environment.read { txn in
                try txn.get(ledger.db.meta, Keys.format) { bytes -> UInt32 in var r = ByteReader(bytes); return try r.u32() }
            }
            #expect(format == Ledger.format)
            try ledger.environment.write { txn in try txn.put(ledger.db.meta, Keys.format, Key.of { $0.u32(Ledger.format + 1) }) }
        }()
        do {
            _ = try Ledger(folder: folder.path)
            Issue.record("a ledger of a later format was opened")
        } catch LedgerError.invalid(let reason) {
            #expect(reason.contains("format \(Ledger.format + 1), written by a later Counterfoil"))
        }
        // The refusal let the folder go: it opens again once marked as this code's.
        try {
            let environment = try LMDBEnvironment(path: folder.path)
            let db = try Databases(environment)
            try environment.write { txn in try txn.put(db.meta, Keys.format, Key.of { $0.u32(Ledger.format) }) }
        }()
        let ledger = try Ledger(folder: folder.path)
        defer { ledger.close() }
        #expect(try ledger.nextOffset() == 2)
    }
}
