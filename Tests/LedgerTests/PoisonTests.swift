import TestSupport
import ExactNumbers
import Foundation
@testable import Ledger
import Testing

/// One hostile execution cannot break the books: numbers outside the limits are
/// quarantined before the journal, and an entry journaled before the limits existed is
/// set aside by the books, which carry on, instead of stopping every process that opens
/// the ledger.
@Suite struct PoisonTests {
    static let hugeQuantity = "99999999999999999999"
    static let hugePrice = "9999999999999999999"

    @Test("quantities, prices, commissions and fees outside the limits are quarantined with the reason", arguments: [
        (hugeQuantity, "10", "0", "quantity"),
        ("10", hugePrice, "0", "price"),
        ("1000000000000", "10", "0", "quantity"),
        ("10", "10.000000001", "0", "price"),
        ("0.0000001", "10", "0", "quantity"),
        ("10", "10", "1000000000000000", "commission"),
        ("1000000000", "1000000000", "0", "notional"),
    ])
    func outsideTheLimits(quantity: String, price: String, commission: String, named: String) throws {
        let folder = TemporaryFolder()
        defer { folder.cleanup() }
        let ledger = try Ledger(folder: folder.path)
        defer { ledger.close() }
        let outcomes = try ledger.book([trade("E1", "ACC-1", "AAPL", .buy, quantity, price, commission: commission)])
        guard case .quarantined(_, let reason) = outcomes[0] else {
            Issue.record("booked: \(outcomes)")
            return
        }
        #expect(reason.hasPrefix(named) && reason.contains("outside the limits"), "\(reason)")
        #expect(try ledger.nextOffset() == 1)
        #expect(try ledger.check().isClean)
    }

    @Test("the largest values inside the limits book and sum, with trailing zeros not counted", arguments: [RealizedPnLMethod.averageCost, .fifo])
    func insideTheLimits(method: RealizedPnLMethod) throws {
        let folder = TemporaryFolder()
        defer { folder.cleanup() }
        let ledger = try Ledger(folder: folder.path, settings: LedgerSettings(pnlMethod: method))
        defer { ledger.close() }
        let outcomes = try ledger.book([
            trade("E1", "ACC-1", "BIG", .buy, "999999999999.999999", "0.99999999", commission: "999999999999999.99999999"),
            trade("E2", "ACC-1", "BIG", .buy, "99999999.999999", "9999999999.99999999"),
            trade("E3", "ACC-1", "BIG", .buy, "99999999.999999", "9999999999.99999999"),
            trade("E4", "ACC-1", "BIG", .sell, "100.000000000000", "1.50000000000"),
        ])
        #expect(outcomes == [.booked(offset: 1), .booked(offset: 2), .booked(offset: 3), .booked(offset: 4)])
        let report = try ledger.check()
        #expect(report.isClean, "\(report.problems)")
    }

    @Test("a ledger that already holds an entry whose arithmetic overflows opens, sets it aside, reports it, and books on")
    func legacyPoisonEntry() throws {
        let folder = TemporaryFolder()
        defer { folder.cleanup() }
        // What a version before the limits journaled: the poison between two good trades.
        var unlimited = LedgerSettings()
        unlimited.enforcesExecutionLimits = false
        do {
            let old = try Ledger(folder: folder.path, settings: unlimited)
            defer { old.close() }
            _ = try old.book([trade("E1", "ACC-1", "AAPL", .buy, "10", "100")])
            let outcomes = try old.book([trade("E2", "ACC-1", "AAPL", .buy, Self.hugeQuantity, Self.hugePrice)])
            #expect(outcomes == [.booked(offset: 2)])
            _ = try old.book([trade("E3", "ACC-1", "AAPL", .buy, "5", "110")])
            #expect(try old.position(account: "ACC-1", instrument: "AAPL")?.quantity == 15)
        }
        // Any process opening it: the books come up without the poison.
        let ledger = try Ledger(folder: folder.path)
        defer { ledger.close() }
        let position = try #require(try ledger.position(account: "ACC-1", instrument: "AAPL"))
        #expect(position.quantity == 15)
        let setAside = try ledger.setAsideEntries()
        #expect(setAside.count == 1 && setAside.first?.offset == 2 && setAside.first?.executionID == "E2")
        let report = try ledger.check()
        #expect(report.problems.count == 1 && report.problems[0].contains("entry 2 cannot be applied"), "\(report.problems)")
        // And it books on.
        #expect(try ledger.book([trade("E4", "ACC-1", "AAPL", .sell, "15", "120")]) == [.booked(offset: 4)])
        #expect(try ledger.position(account: "ACC-1", instrument: "AAPL")?.quantity == 0)
    }

    @Test("comparisons and checked arithmetic on values too large to align never trap")
    func checkedArithmetic() throws {
        let huge = ExactDecimal(mantissa: Int128.max / 2, scale: 0)
        let small = ExactDecimal(mantissa: 1, scale: 18)
        #expect(small < huge && !(huge < small) && huge != small)
        #expect(-huge < small)
        #expect(throws: ExactDecimalOverflow.self) { try huge.adding(small) }
        #expect(throws: ExactDecimalOverflow.self) { try huge.multiplied(by: ExactDecimal(3)) }
        #expect(try ExactDecimal(2).multiplied(by: ExactDecimal(3)) == ExactDecimal(6))
        #expect(ExactDecimal("999999999999.999999")!.fits(integerDigits: 12, scale: 6))
        #expect(!ExactDecimal("1000000000000")!.fits(integerDigits: 12, scale: 6))
        #expect(ExactDecimal("5.100000000000")!.fits(integerDigits: 12, scale: 6))
    }
}
