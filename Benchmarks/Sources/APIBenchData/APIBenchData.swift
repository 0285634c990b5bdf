import CRM
import ExactNumbers
import Foundation
import Ledger

/// One million trades over 10,000 clients (one account each, 100 trades per account,
/// eight instruments), with the clients linked. Booking takes a while, so the books are
/// kept in the temporary folder between runs and rebuilt only when missing.
public enum MillionTrades {
    public static let clients = 10_000
    public static let tradesPerClient = 100
    public static let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cf-bench-api-1m").path
    static let instruments = ["AAPL", "MSFT", "VOD.L", "SAP.DE", "EURUSD", "US500", "XAU/USD", "NVDA"]

    public static func account(_ client: Int) -> String { "ACC-\(client)" }
    public static func clientID(_ client: Int) -> String { String(format: "C%06d", client + 1) }

    /// The books and the CRM over them.
    public static func prepare() throws -> (Ledger, CRMStore) {
        let marker = folder + "/complete"
        if !FileManager.default.fileExists(atPath: marker) {
            try build()
            FileManager.default.createFile(atPath: marker, contents: Data())
        }
        let ledger = try Ledger(folder: folder)
        return (ledger, try CRMStore(ledger: ledger))
    }

    /// Books the trades and makes the clients; the environment is closed (every reference
    /// to it gone) when this returns, so that it can be opened again.
    static func build() throws {
        do {
            try? FileManager.default.removeItem(atPath: folder)
            let ledger = try Ledger(folder: folder, settings: LedgerSettings(batchSizeMax: 4096, initialMapSize: 4 << 30))
            let store = try CRMStore(ledger: ledger)
            let day = CalendarDay(year: 2026, month: 11, day: 27)!
            let total = clients * tradesPerClient
            var i = 0
            while i < total {
                var batch: [Execution] = []
                batch.reserveCapacity(10_000)
                for j in i..<min(total, i + 10_000) {
                    batch.append(Execution(source: "bench", executionID: "T\(j)", account: account(j % clients),
                                           instrument: instruments[j % instruments.count], side: j % 3 == 0 ? .sell : .buy,
                                           quantity: ExactDecimal(mantissa: Int128(1 + j % 50), scale: 0),
                                           price: ExactDecimal(mantissa: Int128(10_000 + j % 777), scale: 2), currency: "USD",
                                           tradeDate: day, transactTime: 1_795_788_000_000_000_000 + Int64(j) * 1_000_000,
                                           commission: ExactDecimal(mantissa: 125, scale: 2)))
                }
                try ledger.book(batch)
                i += 10_000
            }
            for client in 0..<clients {
                let created = try store.createClient(ClientInput(name: "Client \(client)", countryOfResidence: "GB", status: .active), who: "bench")
                precondition(created.id == clientID(client))
                _ = try store.link(.account, account(client), to: created.id, who: "bench")
            }
            ledger.close()
        }
    }
}
