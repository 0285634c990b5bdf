import Benchmark
import ExactNumbers
import Foundation
import Ledger
import Synchronization

let day = CalendarDay(year: 2026, month: 11, day: 27)!
let instruments = ["AAPL", "EUR/USD", "US500", "MSFT", "XAU/USD", "DE40", "GBP/USD", "VOD.L"]

/// `count` fills from `first` on: 10,000 accounts, eight instruments, both sides.
func executions(from first: Int, count: Int) -> [Execution] {
    var out: [Execution] = []
    out.reserveCapacity(count)
    for i in first..<(first + count) {
        let quantity = ExactDecimal(mantissa: Int128(1 + i % 50), scale: 0)
        let price = ExactDecimal(mantissa: Int128(10_000 + i % 777), scale: 2)
        let side: Side = i % 3 == 0 ? .sell : .buy
        out.append(Execution(source: "bench", executionID: "E\(i)", account: "ACC-\(i % 10_000)", instrument: instruments[i % 8],
                             side: side, quantity: quantity, price: price, currency: "USD", tradeDate: day,
                             transactTime: 1_795_800_000_000_000_000 + Int64(i)))
    }
    return out
}

/// A folder for one benchmark ledger, removed when the benchmark process exits (the
/// ledgers hold hundreds of megabytes after a run).
func freshFolder(_ name: String) -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("cf-bench-\(name)-\(getpid())").path
    try? FileManager.default.removeItem(atPath: path)
    atexit {
        let prefix = "cf-bench-"
        let suffix = "-\(getpid())"
        let temporary = FileManager.default.temporaryDirectory
        for name in (try? FileManager.default.contentsOfDirectory(atPath: temporary.path)) ?? []
        where name.hasPrefix(prefix) && name.hasSuffix(suffix) {
            try? FileManager.default.removeItem(at: temporary.appendingPathComponent(name))
        }
    }
    return path
}

/// The runs that book a million fills an iteration: ten iterations on one ledger.
var millionFillRuns: Benchmark.Configuration {
    .init(metrics: [.wallClock, .throughput, .cpuTotal, .peakMemoryResident], warmupIterations: 0, scalingFactor: .one,
          maxDuration: .seconds(120), maxIterations: 10)
}

/// The fast reads' runs: many short iterations, each timed alone.
var readWhileBooking: Benchmark.Configuration {
    .init(metrics: [.wallClock, .throughput], warmupIterations: 1000, scalingFactor: .one, maxDuration: .seconds(5),
          maxIterations: 200_000)
}

let benchmarks: @Sendable () -> Void = {
    // Durable booking into one ledger whose journal grows over the run: each iteration
    // books 1,000 fills as four concurrent requests of 250, which the writer groups into
    // write transactions with one fsync each. It ends when the journal is durable; the
    // books follow on the projector's thread.
    Benchmark("Ledger book fills (durable, group commit)",
              configuration: .init(metrics: [.wallClock, .throughput, .peakMemoryResident, .cpuTotal],
                                   warmupIterations: 2, scalingFactor: .kilo, maxDuration: .seconds(30),
                                   maxIterations: 10_000)) { benchmark in
        let state = BookingState.shared
        let batches = (0..<4).map { executions(from: state.next + $0 * 250, count: 250) }
        state.next += 1000
        benchmark.startMeasurement()
        state.bookConcurrently(batches)
        benchmark.stopMeasurement()
    }

    // Sustained booking, the books included: each iteration books 1,000,000 fills from
    // eight submitters, each taking the next request of 1,000 as soon as its last one is
    // durable (the writer groups them into write transactions with one fsync each), and
    // ends when the books (positions, cash, settlement, the accounts' index) include all
    // of them. One ledger for the whole run: ten iterations take the journal to 10
    // million entries. Throughput counts iterations (a million fills each).
    Benchmark("Ledger book 1M fills, books caught up (durable, group commit)",
              configuration: millionFillRuns) { benchmark in
        let state = BookingState.caughtUp
        let requests = state.nextMillion()
        benchmark.startMeasurement()
        state.bookFromSubmitters(requests, submitters: 8)
        try state.ledger.waitForBooks()
        benchmark.stopMeasurement()
    }

    // The same load run the way a busy venue books all day: the books are not waited for
    // after each million, only kept within `booksLagMax` entries of the journal (a writer
    // that gets further ahead waits), and the last iteration waits until they include
    // everything. So the ten iterations' sum is the time to book 10 million fills with
    // the books caught up; it is printed after the last one, since the per-iteration
    // figures leave the final catch-up to the slowest.
    Benchmark("Ledger book 1M fills, books within the lag bound (sustained to 10M)",
              configuration: millionFillRuns) { benchmark in
        let state = BookingState.sustained
        let requests = state.nextMillion()
        let last = state.next == 10_000_000
        let start = DispatchTime.now().uptimeNanoseconds
        benchmark.startMeasurement()
        state.bookFromSubmitters(requests, submitters: 8)
        if last { try state.ledger.waitForBooks() }
        benchmark.stopMeasurement()
        state.elapsed += DispatchTime.now().uptimeNanoseconds - start
        if last {
            let seconds = Double(state.elapsed) / 1e9
            print("10,000,000 fills booked and in the books in \(String(format: "%.2f", seconds)) s: "
                  + "\(Int(1e7 / seconds)) fills/s sustained")
        }
    }

    // Reads while the writer is busy: a position, and a client's latest ten trades.
    // Reads while the writer books as fast as it can. `.projected` reads take the books
    // as last projected: a consistent snapshot, at most `booksLagMax` entries or
    // `booksDelay` behind the journal. A `.current` read waits until the
    // books include everything booked before it: while the writer books flat out, that is
    // the time of a projection transaction, measured below with fewer iterations.
    Benchmark("Ledger read a position while booking",
              configuration: readWhileBooking) { benchmark in
        let state = ReadState.shared
        let i = state.nextIndex()
        benchmark.startMeasurement()
        let position = try state.ledger.position(account: "ACC-\(i % 10_000)", instrument: instruments[i % 8], freshness: .projected)
        benchmark.stopMeasurement()
        guard position != nil else { fatalError("the benchmark read no position") }
    }
    Benchmark("Ledger read a client's latest 10 trades while booking",
              configuration: readWhileBooking) { benchmark in
        let state = ReadState.shared
        let i = state.nextIndex()
        benchmark.startMeasurement()
        let entries = try state.ledger.entries(account: "ACC-\(i % 10_000)", limit: 10, postings: false, freshness: .projected)
        benchmark.stopMeasurement()
        guard entries.count == 10 else { fatalError("the benchmark read \(entries.count) entries, not 10") }
    }
    // The same ten as records read in place (what the HTTP API renders from), with their
    // terms read through `EntrySummary`.
    Benchmark("Ledger read a client's latest 10 trades as records while booking",
              configuration: readWhileBooking) { benchmark in
        let state = ReadState.shared
        let i = state.nextIndex()
        benchmark.startMeasurement()
        let records = try state.ledger.entryRecords(account: "ACC-\(i % 10_000)", limit: 10, freshness: .projected)
        var quantity = ExactDecimal.zero
        try records.forEach { quantity += $0.quantity }
        benchmark.stopMeasurement()
        guard records.count == 10 else { fatalError("the benchmark read \(records.count) records, not 10") }
        blackHole(quantity)
    }
    Benchmark("Ledger read a position while booking, current (waits for the books)",
              configuration: .init(metrics: [.wallClock, .throughput], warmupIterations: 3, scalingFactor: .one,
                                   maxDuration: .seconds(10), maxIterations: 300)) { benchmark in
        let state = ReadState.shared
        let i = state.nextIndex()
        benchmark.startMeasurement()
        let position = try state.ledger.position(account: "ACC-\(i % 10_000)", instrument: instruments[i % 8])
        benchmark.stopMeasurement()
        guard position != nil else { fatalError("the benchmark read no position") }
    }
}

/// A ledger with 200,000 fills, in the books, and a writer that keeps booking 500 at a
/// time while the read benchmarks run (each benchmark runs in a process of its own, so
/// each sets this up anew).
final class ReadState: @unchecked Sendable {
    static let shared = ReadState()
    let ledger: Ledger
    private var index = 0

    init() {
        ledger = try! Ledger(folder: freshFolder("read"))
        for start in stride(from: 0, to: 200_000, by: 5000) { try! ledger.book(executions(from: start, count: 5000)) }
        // The history is in the books before the reads begin; what the writer books from
        // here on reaches them in the projector's batches.
        try! ledger.waitForBooks()
        let ledger = self.ledger
        Thread.detachNewThread {
            var next = 200_000
            while true {
                _ = try? ledger.book(executions(from: next, count: 500))
                next += 500
            }
        }
    }

    func nextIndex() -> Int {
        index &+= 7919
        return index
    }
}

/// One ledger for the whole booking run, so that the journal grows.
final class BookingState: @unchecked Sendable {
    static let shared = BookingState("book")
    static let caughtUp = BookingState("caught-up")
    static let sustained = BookingState("sustained")
    let ledger: Ledger
    var next = 0
    /// Nanoseconds spent booking so far (the sustained run adds up its iterations).
    var elapsed: UInt64 = 0

    init(_ name: String) {
        ledger = try! Ledger(folder: freshFolder(name))
    }

    /// The next million fills, as requests of 1,000.
    func nextMillion() -> [[Execution]] {
        defer { next += 1_000_000 }
        return stride(from: 0, to: 1_000_000, by: 1000).map { executions(from: next + $0, count: 1000) }
    }

    /// Books `requests` from `submitters` threads, each taking the next request when its
    /// last one is durable, and returns when all are. A failed booking stops the run.
    func bookFromSubmitters(_ requests: [[Execution]], submitters: Int) {
        let next = Mutex(0)
        let group = DispatchGroup()
        for _ in 0..<submitters {
            group.enter()
            Thread.detachNewThread { [ledger] in
                while true {
                    let i = next.withLock { value in
                        defer { value += 1 }
                        return value
                    }
                    guard i < requests.count else { break }
                    do { _ = try ledger.book(requests[i]) } catch { fatalError("booking failed: \(error)") }
                }
                group.leave()
            }
        }
        group.wait()
    }

    /// Books each batch as a request of its own, all at once from as many threads, and
    /// returns when all are durable. A failed booking stops the run.
    func bookConcurrently(_ batches: [[Execution]]) {
        let group = DispatchGroup()
        for batch in batches {
            group.enter()
            Thread.detachNewThread { [ledger] in
                do { _ = try ledger.book(batch) } catch { fatalError("booking failed: \(error)") }
                group.leave()
            }
        }
        group.wait()
    }
}
