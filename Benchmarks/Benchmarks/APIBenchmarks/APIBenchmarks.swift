import APIBenchData
import Benchmark
import CRM
import Foundation
import Ledger

final class HistoryState: @unchecked Sendable {
    static let shared = HistoryState()
    let ledger: Ledger
    let store: CRMStore
    var next = 0

    init() {
        (ledger, store) = try! MillionTrades.prepare()
    }
}

let benchmarks: @Sendable () -> Void = {
    // What GET /v1/clients/{id}/trades?limit=100 does below HTTP: find the client's
    // accounts and read the newest 100 trades, for a different client each time.
    Benchmark("Client trade page of 100 (1M trades, 10,000 clients)",
              configuration: .init(metrics: [.wallClock, .throughput, .mallocCountTotal], warmupIterations: 100, scalingFactor: .one,
                                   maxDuration: .seconds(10), maxIterations: 20_000)) { benchmark in
        let state = HistoryState.shared
        state.next = (state.next &+ 7919) % MillionTrades.clients
        let id = MillionTrades.clientID(state.next)
        benchmark.startMeasurement()
        let page = try state.store.trades(of: id, limit: 100)
        benchmark.stopMeasurement()
        precondition(page.records.count == 100)
    }
}
