import FIXCore
import Foundation
import Ledger

/// Books a FIX drop-copy log into a ledger, exactly once.
///
/// Messages are grouped per session into batches; each batch is booked with the
/// session's last MsgSeqNum as its progress, in one transaction. Run again (after a
/// crash, or on the same file), it skips what the ledger has already committed, and
/// anything re-delivered is recognised by its identity.
public struct DropCopyReplay {
    public let ledger: Ledger
    public var batchSize: Int
    let mapping = ExecutionMapping()

    public struct Statistics: Sendable, CustomStringConvertible {
        public var messages = 0
        public var malformed = 0
        public var alreadyCommitted = 0
        public var notForTheBooks = 0
        public var booked = 0
        public var duplicates = 0
        public var refused = 0
        public var quarantined = 0
        public var parked = 0

        public var description: String {
            "\(messages) messages: \(booked) booked, \(duplicates) already booked, \(alreadyCommitted) skipped as committed, "
                + "\(notForTheBooks) not for the books, \(quarantined) quarantined, \(parked) parked, \(refused) refused, \(malformed) malformed"
        }
    }

    public init(ledger: Ledger, batchSize: Int = 1000) {
        self.ledger = ledger
        self.batchSize = batchSize
    }

    /// Replays the log at `path`; `report` is called now and then with the bytes read,
    /// the file size and the statistics so far.
    public func run(path: String, report: ((Int, Int, Statistics) -> Void)? = nil) throws -> Statistics {
        let log = try FIXLogReader(path: path)
        let fileSize = log.fileSize
        var stats = Statistics()
        var committed: [String: UInt64] = [:]
        var lastSequence: [String: UInt64] = [:]
        var sequenceReset: Set<String> = []
        var pendingSource = ""
        var pendingExecutions: [Execution] = []
        var pendingRejected: [Rejected] = []
        var pendingProgress: UInt64 = 0
        var lastReport = Date()

        func flush() throws {
            guard !pendingSource.isEmpty, pendingProgress > 0 || !pendingExecutions.isEmpty || !pendingRejected.isEmpty else { return }
            let outcomes = try ledger.book(pendingExecutions, rejected: pendingRejected,
                                           progress: SourceProgress(source: pendingSource, position: pendingProgress))
            for outcome in outcomes {
                switch outcome {
                case .booked: stats.booked += 1
                case .duplicate: stats.duplicates += 1
                case .refused: stats.refused += 1
                case .quarantined: stats.quarantined += 1
                case .parked: stats.parked += 1
                }
            }
            committed[pendingSource] = max(committed[pendingSource] ?? 0, pendingProgress)
            pendingExecutions.removeAll(keepingCapacity: true)
            pendingRejected.removeAll(keepingCapacity: true)
            pendingProgress = 0
        }

        try log.forEach { item in
            guard case .message(let message, _) = item else {
                stats.malformed += 1
                return
            }
            stats.messages += 1
            let source = ExecutionMapping.source(of: message)
            if source != pendingSource {
                try flush()
                pendingSource = source
                if committed[source] == nil { committed[source] = try ledger.progress(of: source) }
            }
            let sequence = UInt64((try? message[tag: 34]?.int()) ?? 0)
            // A log may span sequence resets (a new session day): once the numbers go
            // back, progress no longer says what was booked, and identities alone decide.
            if sequence < lastSequence[source, default: 0] { sequenceReset.insert(source) }
            lastSequence[source] = sequence
            if !sequenceReset.contains(source) && sequence > 0 && sequence <= committed[source]! {
                stats.alreadyCommitted += 1
                return
            }
            switch mapping.map(message, source: source) {
            case .execution(let execution): pendingExecutions.append(execution)
            case .invalid(let reason): pendingRejected.append(Rejected(source: source, raw: Array(message.bytes), reason: reason))
            case .notBooked: stats.notForTheBooks += 1
            }
            pendingProgress = max(pendingProgress, sequence)
            if pendingExecutions.count + pendingRejected.count >= batchSize { try flush() }
            if let report, Date().timeIntervalSince(lastReport) >= 1 {
                lastReport = Date()
                report(log.bytesRead, fileSize, stats)
            }
        }
        try flush()
        report?(fileSize, fileSize, stats)
        return stats
    }
}
