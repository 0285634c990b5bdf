import Benchmark
import ExactNumbers
import Foundation
import Ledger
import Reconciliation

/// One million positions: 100,000 accounts × ten instruments, one fill each, and a
/// statement file that agrees with them. Booking them takes a while, so the books are
/// kept in the temporary folder between runs (rebuilt when missing or incomplete).
enum MillionPositions {
    static let accounts = 100_000
    static let instruments = ["AAPL", "MSFT", "VOD.L", "DE40", "US500", "EUR/USD", "XAU/USD", "GBP/USD", "NVDA", "SAP.DE"]
    static let count = accounts * instruments.count
    static let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cf-bench-recon-1m").path
    static let statement = folder + "-statement.csv"

    static func quantity(_ i: Int) -> ExactDecimal { ExactDecimal(mantissa: Int128(1 + i % 97), scale: 0) }
    static func side(_ i: Int) -> Side { i % 4 == 0 ? .sell : .buy }

    static func prepare() throws -> Ledger {
        let marker = folder + "/complete"
        if !FileManager.default.fileExists(atPath: marker) {
            try? FileManager.default.removeItem(atPath: folder)
            let ledger = try Ledger(folder: folder, settings: LedgerSettings(batchSizeMax: 4096, initialMapSize: 4 << 30))
            let day = CalendarDay(year: 2026, month: 11, day: 27)!
            var i = 0
            while i < count {
                var batch: [Execution] = []
                batch.reserveCapacity(10_000)
                for j in i..<min(count, i + 10_000) {
                    batch.append(Execution(source: "bench", executionID: "E\(j)", account: "ACC-\(j / instruments.count)",
                                           instrument: instruments[j % instruments.count], side: side(j), quantity: quantity(j),
                                           price: ExactDecimal(mantissa: Int128(10_000 + j % 777), scale: 2), currency: "USD",
                                           tradeDate: day, transactTime: 1_795_788_000_000_000_000 + Int64(j)))
                }
                try ledger.book(batch)
                i += 10_000
            }
            ledger.close()
            FileManager.default.createFile(atPath: marker, contents: Data())
        }
        if !FileManager.default.fileExists(atPath: statement) {
            var text = "account,instrument,quantity\n"
            text.reserveCapacity(count * 32)
            for j in 0..<count {
                let signed = side(j) == .buy ? quantity(j) : -quantity(j)
                text += "ACC-\(j / instruments.count),\(instruments[j % instruments.count]),\(signed)\n"
            }
            try text.write(toFile: statement, atomically: true, encoding: .utf8)
        }
        return try Ledger(folder: folder)
    }
}

final class ReconState: @unchecked Sendable {
    static let shared = ReconState()
    let ledger: Ledger
    let reconciler: Reconciler

    init() {
        ledger = try! MillionPositions.prepare()
        reconciler = try! Reconciler(ledger: ledger)
    }
}

let benchmarks: @Sendable () -> Void = {
    // The whole of `counterfoil recon --statement FILE` but printing: read and parse the
    // statement, compare every position with the books, store the run.
    Benchmark("Recon 1M positions against a statement file (parse included)",
              configuration: .init(metrics: [.wallClock, .peakMemoryResident, .mallocCountTotal],
                                   warmupIterations: 1, scalingFactor: .one, maxDuration: .seconds(60), maxIterations: 5)) { benchmark in
        let state = ReconState.shared
        benchmark.startMeasurement()
        let statement = try StatementReader.read(path: MillionPositions.statement)
        let report = try state.reconciler.run(statement, provider: "bench", scope: .all, who: "bench")
        benchmark.stopMeasurement()
        precondition(statement.positions.count == MillionPositions.count && report.breaks.isEmpty, "the statement must agree")
    }
}
