import Foundation

/// A difference found by a reconciliation, kept until it is resolved: when it was first
/// and last seen, what was done about it and by whom.
public struct ReconBreak: Codable, Sendable, Hashable {
    public enum Status: String, Codable, Sendable, CaseIterable {
        case open
        case investigating
        case resolved
    }

    /// How a break was resolved.
    public enum Resolution: String, Codable, Sendable {
        /// By an adjustment booked through the ledger (`adjustmentOffset`).
        case adjusted
        /// By an accepted explanation (`explanation`): the same difference found again stays resolved.
        case explained
        /// It was not found again: the next run cleared it (a timing difference, a late booking).
        case cleared
    }

    public struct Event: Codable, Sendable, Hashable {
        public var time: Int64
        public var who: String
        public var action: String
        public var note: String
    }

    public var id: UInt64
    /// Whose statement found it: breaks of one provider are re-checked by its next run.
    public var provider: String
    public var finding: Finding
    public var firstRun: UInt64
    public var lastRun: UInt64
    public var firstSeen: Int64
    public var lastSeen: Int64
    public var status: Status
    public var resolution: Resolution?
    public var adjustmentOffset: UInt64?
    public var explanation: String?
    public var history: [Event]

    /// Whole days since it was first seen.
    public func daysOpen(now: Int64) -> Int { Int(max(0, now - firstSeen) / 86_400_000_000_000) }
}

/// One reconciliation run: what was compared and what came of it.
public struct ReconRun: Codable, Sendable, Hashable {
    public var id: UInt64
    public var provider: String
    public var origin: String
    public var digest: String
    public var time: Int64
    public var who: String
    /// The statement's cut-off, and the last journal offset it was compared with.
    public var asOf: Int64?
    public var cutoffOffset: UInt64
    public var kinds: [ReconKind]
    public var rows: Int
    /// Breaks this run found (new and seen again), explained ones it found again, and
    /// breaks it cleared by not finding them.
    public var breaks: Int
    public var new: Int
    public var accepted: Int
    public var cleared: Int
    /// An earlier run of the very same statement bytes.
    public var duplicateOf: UInt64?
}

/// What `Reconciler.run` returns.
public struct ReconReport: Sendable {
    public var run: ReconRun
    /// The breaks this run found, new or seen again, in statement order; explained ones
    /// found again are listed with status resolved.
    public var breaks: [ReconBreak]
    public var cleared: [ReconBreak]

    /// The breaks still to work: found this run and not resolved.
    public var open: [ReconBreak] { breaks.filter { $0.status != .resolved } }
}

/// Breaks still to work by type and age.
public struct AgeingRow: Codable, Sendable, Hashable {
    public var type: BreakType
    public var bucket: String
    public var count: Int

    public init(type: BreakType, bucket: String, count: Int) {
        self.type = type
        self.bucket = bucket
        self.count = count
    }
}

/// Errors of the reconciliation workflow (not of a statement).
public struct ReconError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
