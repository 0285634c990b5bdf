import ExactNumbers
import FAST
import Foundation
import Ledger

/// Books a FAST feed's trades into the ledger exactly once: executions go in batches
/// with the feed's sequence number as the source's progress, in one transaction, so that
/// after a restart (or a second replay of the same capture) what was booked is skipped;
/// execution identities catch the rest. Marks go in after each batch, the latest price
/// per instrument.
public final class FASTBooker {
    public struct Counts: Sendable, Equatable {
        public var messages = 0
        /// Messages at or below the progress already committed: skipped.
        public var skipped = 0
        public var booked = 0
        public var duplicates = 0
        public var parked = 0
        public var quarantined = 0
        public var rejected = 0
        public var marks = 0
    }

    public let ledger: Ledger
    public let mapper: FASTMapper
    public let batchSize: Int
    public private(set) var counts = Counts()
    private var committed: UInt64
    private var pending: [Execution] = []
    private var pendingRejected: [Rejected] = []
    private var pendingMarks: [String: ExactDecimal] = [:]
    private var pendingProgress: UInt64?

    public init(ledger: Ledger, mapper: FASTMapper, batchSize: Int = 1024) throws {
        self.ledger = ledger
        self.mapper = mapper
        self.batchSize = batchSize
        committed = try ledger.progress(of: mapper.mapping.source)
    }

    /// The highest sequence number booked so far (from the ledger, then this run).
    public var progress: UInt64 { pendingProgress ?? committed }

    /// One decoded message with its feed sequence number and raw bytes (kept with rejects).
    public func take(_ message: FASTMessage, sequence: UInt64, raw: @autoclosure () -> [UInt8]) throws {
        counts.messages += 1
        guard sequence > committed else {
            counts.skipped += 1
            return
        }
        let mapped = mapper.map(message, raw: raw())
        pending += mapped.executions
        pendingRejected += mapped.rejected
        for mark in mapped.marks { pendingMarks[mark.instrument] = mark.price }
        pendingProgress = max(pendingProgress ?? 0, sequence)
        if pending.count >= batchSize { try flush() }
    }

    /// Books what is pending and records the progress with it.
    public func flush() throws {
        guard let position = pendingProgress else { return }
        let outcomes = try ledger.book(pending, rejected: pendingRejected,
                                       progress: SourceProgress(source: mapper.mapping.source, position: position))
        for outcome in outcomes {
            switch outcome {
            case .booked: counts.booked += 1
            case .duplicate: counts.duplicates += 1
            case .parked: counts.parked += 1
            case .quarantined, .refused: counts.quarantined += 1
            }
        }
        counts.rejected += pendingRejected.count
        let now = Int64(Date().timeIntervalSince1970 * 1e9)
        for (instrument, price) in pendingMarks.sorted(by: { $0.key < $1.key }) {
            try ledger.setMark(instrument: instrument, price: price, time: now)
            counts.marks += 1
        }
        committed = position
        pending.removeAll(keepingCapacity: true)
        pendingRejected.removeAll()
        pendingMarks.removeAll()
        pendingProgress = nil
    }
}
