import FIXSession
import Foundation
import Ledger

/// A session store in the ledger's LMDB environment. Changes gather in `pending` and
/// become durable in one `SessionWrite`, together with the bookings of the messages
/// that moved the numbers; `ConnectionHandler` commits them before it sends anything.
final class LedgerSessionStore: SessionStore {
    let ledger: Ledger
    let key: String
    private(set) var nextSenderSeqNum: Int
    private(set) var nextTargetSeqNum: Int
    private(set) var creationTime: Int64
    var loggedOn = false
    var statusTime: Int64 = 0
    /// What the next commit writes. (The store lives on its connection's event loop: one
    /// access at a time, so no run-time exclusivity check on the hot path.)
    @exclusivity(unchecked) var pending: SessionWrite
    /// Outbound messages handed to the writer but perhaps not committed yet, by MsgSeqNum.
    private var unflushed: [Int: [UInt8]] = [:]
    private var changed = false

    init(ledger: Ledger, key: String) throws {
        self.ledger = ledger
        self.key = key
        let snapshot = try ledger.sessionSnapshot(key) ?? SessionSnapshot()
        nextSenderSeqNum = snapshot.nextSenderSeqNum
        nextTargetSeqNum = snapshot.nextTargetSeqNum
        creationTime = snapshot.creationTime
        pending = SessionWrite(key: key)
    }

    func setNextSenderSeqNum(_ value: Int) {
        nextSenderSeqNum = value
        changed = true
    }

    func setNextTargetSeqNum(_ value: Int) {
        nextTargetSeqNum = value
        changed = true
    }

    func storeOutbound(seqNum: Int, message: UnsafeRawBufferPointer) {
        let bytes = Array(message)
        pending.outbound.append((seqNum, bytes))
        unflushed[seqNum] = bytes
    }

    func outbound(in range: ClosedRange<Int>) -> [(seqNum: Int, message: [UInt8])] {
        var found: [Int: [UInt8]] = [:]
        if let stored = try? ledger.storedOutbound(key, in: range) {
            for (seqNum, message) in stored { found[seqNum] = message }
        }
        for (seqNum, message) in unflushed where range.contains(seqNum) { found[seqNum] = message }
        return found.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    func audit(inbound: Bool, message: UnsafeRawBufferPointer, time: Int64) {
        let bytes = Array(message)
        pending.audit.append(AuditRecord(inbound: inbound, time: time, message: bytes))
        if inbound { lastInbound = bytes }
    }

    /// The last inbound message audited, which a booking of it shares instead of copying.
    private var lastInbound: [UInt8] = []

    /// `message` as an array: the audit's copy when it is the message just audited (the
    /// usual case: a booking keeps the message it came from), else a new one.
    func inboundBytes(_ message: UnsafeRawBufferPointer) -> [UInt8] {
        let same = lastInbound.withUnsafeBytes { last in
            last.count == message.count && (last.isEmpty || memcmp(last.baseAddress!, message.baseAddress!, last.count) == 0)
        }
        return same ? lastInbound : Array(message)
    }

    func reset(time: Int64) {
        nextSenderSeqNum = 1
        nextTargetSeqNum = 1
        creationTime = time
        pending.reset = true
        pending.outbound.removeAll()
        unflushed.removeAll()
        changed = true
    }

    func setStatus(loggedOn: Bool, time: Int64) {
        self.loggedOn = loggedOn
        statusTime = time
        changed = true
    }

    /// The changes since the last call, as one write, or nil if there are none.
    func take() -> SessionWrite? {
        if changed {
            pending.state = SessionSnapshot(nextSenderSeqNum: nextSenderSeqNum, nextTargetSeqNum: nextTargetSeqNum,
                                            creationTime: creationTime, loggedOn: loggedOn, statusTime: statusTime)
        }
        guard !pending.isEmpty else { return nil }
        defer {
            // The next write will likely be as large: room for it now, rather than growing
            // (and copying) its lists message by message.
            let audit = pending.audit.count, bookings = pending.bookings.count
            pending = SessionWrite(key: key)
            pending.audit.reserveCapacity(audit)
            pending.bookings.reserveCapacity(bookings)
            changed = false
        }
        return pending
    }

    /// Forgets everything not durable and takes the state the ledger holds: after a failed
    /// write, the truth is what was committed (the numbers in memory had moved past
    /// messages whose bookings were not).
    func reload() throws {
        let snapshot = try ledger.sessionSnapshot(key) ?? SessionSnapshot()
        nextSenderSeqNum = snapshot.nextSenderSeqNum
        nextTargetSeqNum = snapshot.nextTargetSeqNum
        creationTime = snapshot.creationTime
        loggedOn = snapshot.loggedOn
        statusTime = snapshot.statusTime
        pending = SessionWrite(key: key)
        unflushed.removeAll()
        lastInbound = []
        changed = false
    }

    /// `write` is durable: its outbound messages are found in the ledger from now on.
    func committed(_ write: SessionWrite) {
        for (seqNum, _) in write.outbound { unflushed[seqNum] = nil }
    }
}
