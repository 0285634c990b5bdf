@testable import FIXAcceptor
import Testing

/// The histogram behind the read→durable figures: percentiles within its 1/32 bucket width,
/// never below the true value.
@Suite struct LatencyHistogramTests {
    @Test("percentiles of 1...100,000 ns are within one bucket above the truth; max and count exact")
    func percentiles() {
        var histogram = LatencyHistogram()
        for value in 1...100_000 { histogram.record(Int64(value)) }
        #expect(histogram.count == 100_000 && histogram.maximum == 100_000)
        for (fraction, truth) in [(0.5, 50_000.0), (0.9, 90_000.0), (0.99, 99_000.0)] {
            let reported = Double(histogram.percentile(fraction))
            #expect(reported >= truth && reported <= truth * (1 + 1.0 / 32), "p\(fraction * 100): \(reported)")
        }
        #expect(histogram.percentile(1) == 100_000)
    }

    @Test("weighted samples count as many; small values are exact; reset empties")
    func weightsAndSmallValues() {
        var histogram = LatencyHistogram()
        histogram.record(7, times: 99)
        histogram.record(5_000_000)
        #expect(histogram.count == 100)
        #expect(histogram.percentile(0.99) == 7)
        #expect(histogram.percentile(0.999) >= 5_000_000)
        histogram.reset()
        #expect(histogram.count == 0 && histogram.percentile(0.5) == 0)
    }
}
