import Benchmark
import FAST
import Foundation

/// ../shared/fast-samples beside the repository (or COUNTERFOIL_SHARED).
let samples: String = {
    if let shared = ProcessInfo.processInfo.environment["COUNTERFOIL_SHARED"] { return shared + "/fast-samples" }
    return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/fast-samples").path
}()

/// Decodes a whole capture with one decoder and one reused message; the messages decoded.
func decodeAll(_ data: [UInt8], _ decoder: FASTDecoder, _ framing: FASTFraming, _ message: inout FASTMessage) -> Int {
    var reader = FASTStreamReader(framing: framing)
    var count = 0
    data.withUnsafeBytes { buffer in
        while (try? reader.next(buffer, decoder: decoder, into: &message)) != nil { count += 1 }
    }
    return count
}

let benchmarks: @Sendable () -> Void = {
    let captures: [(name: String, templates: String, data: String, framing: FASTFraming, messages: Int)] = [
        ("MOEX ASTS trades (goFAST data.dat)", "gofast-moex-asts/test.xml", "gofast-moex-asts/data.dat", .sequence4, 5_020),
        ("mFAST complex30000.dat", "mfast/performance_test/example.xml", "mfast/performance_test/complex30000.dat", .length4, 30_001),
    ]
    for capture in captures {
        guard let templates = try? FASTTemplates(path: samples + "/" + capture.templates),
              let data = FileManager.default.contents(atPath: samples + "/" + capture.data).map(Array.init) else {
            fatalError("\(samples)/\(capture.data) or its templates are missing")
        }
        // One iteration is the whole file; throughput is scaled to messages.
        Benchmark("FAST decode \(capture.name): \(capture.messages) msgs, \(data.count) B",
                  configuration: .init(metrics: [.wallClock, .throughput, .mallocCountTotal, .cpuTotal],
                                       warmupIterations: 2, scalingFactor: .one, maxDuration: .seconds(5))) { benchmark in
            let decoder = FASTDecoder(templates: templates)
            var message = FASTMessage()
            _ = decodeAll(data, decoder, capture.framing, &message)
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                decoder.reset()
                let count = decodeAll(data, decoder, capture.framing, &message)
                precondition(count == capture.messages)
            }
        }
    }
}
