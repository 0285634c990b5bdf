import Benchmark
import ExactNumbers
import FIXCore

/// A drop-copy ExecutionReport as platforms send them: FIX 4.4, a fill, a three-entry
/// parties group; about 320 bytes. `n` varies the identifiers and price.
func executionReport(_ encoder: FIXEncoder, _ n: Int) -> [UInt8] {
    encoder.start(msgType: "8")
    encoder.append(49, "PLATFORM1")
    encoder.append(56, "COUNTERFOIL")
    encoder.append(34, 1000 + n)
    encoder.append(52, FIXTimestamp(nanosecondsSinceEpoch: 1_795_943_071_123_000_000 + Int64(n) * 1_000_000))
    encoder.append(37, "O\(100_000 + n)")
    encoder.append(11, "C\(100_000 + n)")
    encoder.append(17, "E\(500_000 + n)")
    encoder.append(150, char: UInt8(ascii: "F"))
    encoder.append(39, char: UInt8(ascii: "2"))
    encoder.append(1, "ACC-00\(10 + n % 40)")
    encoder.append(55, n % 2 == 0 ? "EUR/USD" : "AAPL")
    encoder.append(54, char: UInt8(ascii: n % 3 == 0 ? "2" : "1"))
    encoder.append(38, 10_000)
    encoder.append(32, 10_000)
    encoder.append(31, ExactDecimal(mantissa: Int128(108_425 + n % 100), scale: 5))
    encoder.append(15, "USD")
    encoder.append(151, 0)
    encoder.append(14, 10_000)
    encoder.append(6, ExactDecimal(mantissa: Int128(108_425 + n % 100), scale: 5))
    encoder.append(60, FIXTimestamp(nanosecondsSinceEpoch: 1_795_943_071_120_000_000, fractionDigits: 6))
    encoder.append(75, FIXDate(year: 2026, month: 11, day: 29)!)
    encoder.append(453, 3)
    encoder.append(448, "EXECBROKER1")
    encoder.append(447, char: UInt8(ascii: "D"))
    encoder.append(452, 1)
    encoder.append(448, "ACC-00\(10 + n % 40)")
    encoder.append(447, char: UInt8(ascii: "D"))
    encoder.append(452, 3)
    encoder.append(448, "TRADER07")
    encoder.append(447, char: UInt8(ascii: "D"))
    encoder.append(452, 11)
    return Array(encoder.finish())
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal, .cpuTotal],
        warmupIterations: 3,
        scalingFactor: .kilo,
        maxDuration: .seconds(3),
        maxIterations: 1_000_000
    )
    let zeroAllocations: [BenchmarkMetric: BenchmarkThresholds] = [
        .mallocCountTotal: BenchmarkThresholds(absolute: [.p0: 0, .p50: 0, .p100: 0]),
    ]

    // One receive buffer of 1,000 different ExecutionReports, back to back, as they arrive.
    let encoder = FIXEncoder(beginString: "FIX.4.4")
    var stream: [UInt8] = []
    for n in 0..<1000 { stream += executionReport(encoder, n) }
    let averageSize = stream.count / 1000

    Benchmark("FIX frame+parse+index+checksum ExecutionReport (\(averageSize) B)",
              configuration: .init(thresholds: zeroAllocations)) { benchmark in
        let framer = FIXFramer()
        let parser = FIXParser()
        benchmark.startMeasurement()
        stream.withUnsafeBytes { buffer in
            var offset = 0
            var checksum = 0
            for _ in benchmark.scaledIterations {
                let rest = UnsafeRawBufferPointer(rebasing: buffer[offset...])
                guard case .message(let length) = framer.frame(rest) else { fatalError("benchmark stream does not frame") }
                let message = try! parser.parse(UnsafeRawBufferPointer(rebasing: rest[0..<length]))
                // Touch what a booking reads first, so the index is exercised.
                checksum &+= message[tag: 17]!.count &+ message[tag: 31]!.count &+ message[tag: 34]!.count
                offset += length
            }
            blackHole(checksum)
        }
    }

    Benchmark("FIX encode ExecutionReport", configuration: .init(thresholds: zeroAllocations)) { benchmark in
        let encoder = FIXEncoder(beginString: "FIX.4.4")
        let price = ExactDecimal(mantissa: 108_425, scale: 5)
        let sendingTime = FIXTimestamp(nanosecondsSinceEpoch: 1_795_943_071_123_000_000)
        let transactTime = FIXTimestamp(nanosecondsSinceEpoch: 1_795_943_071_120_000_000, fractionDigits: 6)
        let tradeDate = FIXDate(year: 2026, month: 11, day: 29)!
        benchmark.startMeasurement()
        var total = 0
        for n in benchmark.scaledIterations {
            encoder.start(msgType: "8")
            encoder.append(49, "PLATFORM1")
            encoder.append(56, "COUNTERFOIL")
            encoder.append(34, 1000 + n)
            encoder.append(52, sendingTime)
            encoder.append(37, "O100001")
            encoder.append(11, "C100001")
            encoder.append(17, 500_000 + n)
            encoder.append(150, char: UInt8(ascii: "F"))
            encoder.append(39, char: UInt8(ascii: "2"))
            encoder.append(1, "ACC-0012")
            encoder.append(55, "EUR/USD")
            encoder.append(54, char: UInt8(ascii: "1"))
            encoder.append(38, 10_000)
            encoder.append(32, 10_000)
            encoder.append(31, price)
            encoder.append(15, "USD")
            encoder.append(151, 0)
            encoder.append(14, 10_000)
            encoder.append(6, price)
            encoder.append(60, transactTime)
            encoder.append(75, tradeDate)
            encoder.append(453, 3)
            encoder.append(448, "EXECBROKER1")
            encoder.append(447, char: UInt8(ascii: "D"))
            encoder.append(452, 1)
            encoder.append(448, "ACC-0012")
            encoder.append(447, char: UInt8(ascii: "D"))
            encoder.append(452, 3)
            encoder.append(448, "TRADER07")
            encoder.append(447, char: UInt8(ascii: "D"))
            encoder.append(452, 11)
            total &+= encoder.finish().count
        }
        blackHole(total)
    }

    Benchmark("FIX decode values of an ExecutionReport", configuration: .init(thresholds: zeroAllocations)) { benchmark in
        let parser = FIXParser()
        let one = stream.withUnsafeBytes { buffer -> [UInt8] in
            guard case .message(let length) = FIXFramer().frame(buffer) else { fatalError() }
            return Array(buffer[0..<length])
        }
        benchmark.startMeasurement()
        one.withUnsafeBytes { buffer in
            let message = try! parser.parse(buffer)
            var sink = 0
            for _ in benchmark.scaledIterations {
                let price = try! message[tag: 31]!.decimal()
                let quantity = try! message[tag: 32]!.decimal()
                let time = try! message[tag: 60]!.timestamp()
                let seq = try! message[tag: 34]!.int()
                sink &+= Int(truncatingIfNeeded: price.mantissa &+ quantity.mantissa) &+ Int(time.nanosecondsSinceEpoch) &+ seq
            }
            blackHole(sink)
        }
    }
}
