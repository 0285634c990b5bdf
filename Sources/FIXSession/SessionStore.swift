/// Where a session keeps what must outlive a connection: both sequence numbers and the
/// application messages it sent (to answer ResendRequests). The acceptor's store writes
/// through the ledger's LMDB environment, in the same transaction as the bookings of the
/// messages that advanced the inbound number; tests use `MemorySessionStore`.
///
/// All calls come from the session's own thread (its event loop).
public protocol SessionStore: AnyObject {
    /// The MsgSeqNum of our next outbound message.
    var nextSenderSeqNum: Int { get }
    /// The MsgSeqNum we expect next from the counterparty.
    var nextTargetSeqNum: Int { get }
    /// When the session's sequence numbers were last reset (ns since the epoch).
    var creationTime: Int64 { get }

    func setNextSenderSeqNum(_ value: Int)
    func setNextTargetSeqNum(_ value: Int)
    /// Keeps an application message we are sending, for resending it later.
    func storeOutbound(seqNum: Int, message: UnsafeRawBufferPointer)
    /// The stored application messages with sequence numbers in `range`, in order.
    func outbound(in range: ClosedRange<Int>) -> [(seqNum: Int, message: [UInt8])]
    /// Every message in and out, as sent or received, for the audit log.
    func audit(inbound: Bool, message: UnsafeRawBufferPointer, time: Int64)
    /// Both numbers back to 1, stored messages dropped (a new FIX session begins).
    func reset(time: Int64)
}

/// A store in memory: for tests and for sessions whose state need not survive a restart.
public final class MemorySessionStore: SessionStore {
    public private(set) var nextSenderSeqNum = 1
    public private(set) var nextTargetSeqNum = 1
    public private(set) var creationTime: Int64 = 0
    public private(set) var messages: [Int: [UInt8]] = [:]
    public private(set) var auditLog: [(inbound: Bool, message: [UInt8])] = []

    public init() {}

    public func setNextSenderSeqNum(_ value: Int) { nextSenderSeqNum = value }
    public func setNextTargetSeqNum(_ value: Int) { nextTargetSeqNum = value }
    public func storeOutbound(seqNum: Int, message: UnsafeRawBufferPointer) { messages[seqNum] = Array(message) }
    public func outbound(in range: ClosedRange<Int>) -> [(seqNum: Int, message: [UInt8])] {
        messages.filter { range.contains($0.key) }.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }
    public func audit(inbound: Bool, message: UnsafeRawBufferPointer, time: Int64) {
        auditLog.append((inbound, Array(message)))
    }
    public func reset(time: Int64) {
        nextSenderSeqNum = 1
        nextTargetSeqNum = 1
        creationTime = time
        messages.removeAll()
    }
}
