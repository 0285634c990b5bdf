import ExactNumbers
import Foundation
import Ledger
import Reconciliation
import TestSupport

let tradeDay = CalendarDay(year: 2026, month: 11, day: 27)!
/// 2026-11-27 14:00:00 UTC.
let tradeTime: Int64 = 1_795_788_000_000_000_000

func execution(_ id: String, _ account: String, _ instrument: String, _ side: Side, _ quantity: String, _ price: String,
               currency: String = "USD", source: String = "platform-a", minute: Int64 = 0) -> Execution {
    Execution(source: source, executionID: id, account: account, instrument: instrument, side: side,
              quantity: ExactDecimal(quantity)!, price: ExactDecimal(price)!, currency: currency, tradeDate: tradeDay,
              transactTime: tradeTime + minute * 60_000_000_000)
}

/// Six trades over three accounts, two currencies. The books they make:
///
///     ACC-1 AAPL 60 @ 190   ACC-1 MSFT 50 @ 410.5   ACC-1 USD -31725
///     ACC-2 AAPL -30 @ 191  ACC-2 VOD.L 1000 @ 0.72 ACC-2 USD 5730   ACC-2 GBP -720
///     ACC-3 MSFT 10 @ 400   ACC-3 USD -4000
let fixtureTrades = [
    execution("T1", "ACC-1", "AAPL", .buy, "100", "190", minute: 1),
    execution("T2", "ACC-1", "MSFT", .buy, "50", "410.5", minute: 2),
    execution("T3", "ACC-2", "AAPL", .sell, "30", "191", minute: 3),
    execution("T4", "ACC-2", "VOD.L", .buy, "1000", "0.72", currency: "GBP", minute: 4),
    execution("T5", "ACC-3", "MSFT", .buy, "10", "400", minute: 5),
    execution("T6", "ACC-1", "AAPL", .sell, "40", "195", minute: 6),
]

/// A ledger on disk with the fixture booked, and a reconciler over it.
final class ReconBooks {
    let folder = TemporaryFolder("recon")
    let ledger: Ledger
    let reconciler: Reconciler

    init(book trades: [Execution] = fixtureTrades) throws {
        ledger = try Ledger(folder: folder.path)
        reconciler = try Reconciler(ledger: ledger)
        if !trades.isEmpty { try ledger.book(trades) }
    }

    /// Writes `text` as a statement file and reads it.
    func statement(_ text: String, name: String = "statement.csv", layout: StatementLayout? = nil) throws -> Statement {
        let path = folder.file(name)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return try StatementReader.read(path: path, layout: layout)
    }

    func close() {
        ledger.close()
        folder.cleanup()
    }
}

/// A finding in a form tests compare: "type account subject".
func summary(_ findings: [ReconBreak]) -> [String] {
    findings.map { "\($0.finding.type.rawValue) \($0.finding.account) \($0.finding.subject)" + ($0.finding.oppositeSign ? " opposite" : "") }.sorted()
}
