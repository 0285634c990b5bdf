import Benchmark
import FIXCore
import FIXDictionary
import Foundation

/// A drop-copy fill with a three-entry parties group, about 330 bytes, as FIX 4.4 defines it.
func executionReport() -> [UInt8] {
    let fields: [(Int, String)] = [
        (35, "8"), (49, "PLATFORM1"), (56, "COUNTERFOIL"), (34, "1042"), (52, "20261129-09:04:31.123"),
        (37, "O100042"), (11, "C100042"), (453, "3"), (448, "EXECBROKER1"), (447, "D"), (452, "1"),
        (448, "ACC-0012"), (447, "D"), (452, "3"), (448, "TRADER07"), (447, "D"), (452, "11"),
        (17, "E500042"), (150, "F"), (39, "2"), (1, "ACC-0012"), (55, "EUR/USD"), (54, "1"), (38, "10000"),
        (40, "2"), (44, "1.08425"), (15, "USD"), (32, "10000"), (31, "1.08425"), (151, "0"), (14, "10000"),
        (6, "1.08425"), (75, "20261129"), (60, "20261129-09:04:31.120000"), (12, "0.20"), (13, "3"),
    ]
    var body: [UInt8] = []
    for (tag, value) in fields { body += Array("\(tag)=\(value)\u{1}".utf8) }
    var message = Array("8=FIX.4.4\u{1}9=\(body.count)\u{1}".utf8) + body
    let sum = message.reduce(0) { ($0 + Int($1)) % 256 }
    message += Array(String(format: "10=%03d\u{1}", sum).utf8)
    return message
}

let benchmarks: @Sendable () -> Void = {
    // The stock dictionary, fetched by scripts/fetch-dictionaries.sh into the main package's .cache.
    let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent(".cache/quickfix-spec/FIX44.xml").path
    guard let dictionary = try? FIXDataDictionary(contentsOf: path) else {
        fatalError("run scripts/fetch-dictionaries.sh first: \(path) is missing")
    }
    let bytes = executionReport()

    Benchmark("FIX validate ExecutionReport against stock FIX44 (\(bytes.count) B)",
              configuration: .init(metrics: [.wallClock, .throughput, .mallocCountTotal, .cpuTotal],
                                   warmupIterations: 3, scalingFactor: .kilo, maxDuration: .seconds(3),
                                   thresholds: [.mallocCountTotal: BenchmarkThresholds(absolute: [.p100: 0])])) { benchmark in
        let parser = FIXParser()
        let validator = FIXValidator(application: dictionary)
        bytes.withUnsafeBytes { buffer in
            let message = try! parser.parse(buffer)
            guard validator.validate(message) == nil else { fatalError("the benchmark message does not validate") }
            benchmark.startMeasurement()
            var failures = 0
            for _ in benchmark.scaledIterations {
                if validator.validate(message) != nil { failures += 1 }
            }
            benchmark.stopMeasurement()
            blackHole(failures)
        }
    }
}
