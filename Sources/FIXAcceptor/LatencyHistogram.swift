/// Latencies in nanoseconds, kept as counts in buckets of about 3% width (32 per power
/// of two), so that percentiles of millions of samples cost a fixed 2 KB and no sorting.
public struct LatencyHistogram: Sendable {
    private static let subBuckets = 32
    private var counts = [UInt64](repeating: 0, count: 64 * subBuckets)
    public private(set) var count: UInt64 = 0
    public private(set) var maximum: Int64 = 0

    public init() {}

    private static func bucket(_ nanoseconds: Int64) -> Int {
        let value = UInt64(max(1, nanoseconds))
        let exponent = 63 - value.leadingZeroBitCount
        guard exponent >= 5 else { return Int(value) }
        let fraction = Int((value >> UInt64(exponent - 5)) & 31)
        return (exponent - 4) * subBuckets + fraction
    }

    /// The largest value a bucket holds: what a percentile reports (never optimistic).
    private static func upperBound(_ bucket: Int) -> Int64 {
        guard bucket >= subBuckets else { return Int64(bucket) }
        let exponent = bucket / subBuckets + 4
        let fraction = Int64(bucket % subBuckets)
        return ((32 + fraction + 1) << Int64(exponent - 5)) - 1
    }

    public mutating func record(_ nanoseconds: Int64, times: UInt64 = 1) {
        counts[Self.bucket(nanoseconds)] += times
        count += times
        maximum = max(maximum, nanoseconds)
    }

    /// The latency at or below which `fraction` (0...1) of the samples fall.
    public func percentile(_ fraction: Double) -> Int64 {
        guard count > 0 else { return 0 }
        let rank = UInt64((Double(count) * fraction).rounded(.up))
        var seen: UInt64 = 0
        for (bucket, bucketCount) in counts.enumerated() where bucketCount > 0 {
            seen += bucketCount
            if seen >= max(1, rank) { return min(Self.upperBound(bucket), maximum) }
        }
        return maximum
    }

    public mutating func reset() { self = LatencyHistogram() }
}
