import FIXCore
import FIXDictionary

/// What an application says about a message the session delivered to it.
public struct BusinessReject: Sendable, Equatable {
    /// BusinessRejectReason (380): 3 unsupported message type, 0 other, 5 conditionally required field missing…
    public var reason: Int
    public var text: String
    public var refTagID: Int?

    public init(reason: Int, text: String, refTagID: Int? = nil) {
        self.reason = reason
        self.text = text
        self.refTagID = refTagID
    }

    public static let unsupportedMessageType = BusinessReject(reason: 3, text: "Unsupported Message Type")
}

/// The application behind a session: Counterfoil's booking, or a test's echo.
public protocol SessionApplication: AnyObject {
    /// An application message, in sequence, after every session check passed. Nil accepts it.
    /// The message and `raw` are valid only during the call.
    func fromApp(_ message: FIXMessage, raw: UnsafeRawBufferPointer, seqNum: Int, session: Session) -> BusinessReject?
    func onLogon(_ session: Session)
    func onLogout(_ session: Session)
}

/// What the session asks of its connection, in order.
public enum SessionOutput: Equatable, Sendable {
    /// Write these bytes.
    case send([UInt8])
    /// Close the connection after writing what came before.
    case disconnect(reason: String)
}

/// The FIX session layer for one acceptor session, as a state machine: bytes and clock
/// ticks in, messages to send and a decision to disconnect out. No sockets, no timers,
/// no threads: the caller passes the time, so tests drive it message by message.
///
/// The rules are the FIX session protocol as QuickFIX applies it (the standard
/// acceptance scripts pass against it): Logon checks, heartbeats and test requests,
/// gap detection with queued messages and ResendRequests, SequenceReset in both modes,
/// PossDupFlag checks, SendingTime accuracy, Reject and BusinessMessageReject, Logout.
public final class Session {
    public enum State: Equatable, Sendable {
        /// No connection.
        case disconnected
        /// Connected; the first message must be a Logon.
        case awaitingLogon
        case loggedOn
        /// We sent a Logout and wait for the counterparty's.
        case logoutSent
    }

    public let configuration: SessionConfiguration
    public let store: SessionStore
    public weak var application: SessionApplication?
    public private(set) var state = State.disconnected
    /// The HeartBtInt agreed at Logon, in seconds.
    public private(set) var heartBtInt = 0
    /// Log lines: what happened and why (the acceptor logs them).
    public private(set) var events: [String] = []
    /// When the last message came in: a new connection may take over a session whose
    /// connection has been silent past its heartbeat interval.
    public var lastReceivedAt: Int64 { lastReceived }

    /// Seconds a connection may wait before logging on, and for the answer to our Logout.
    public var logonTimeoutSeconds = 10
    public var logoutTimeoutSeconds = 2

    private var output: [SessionOutput] = []
    private let parser = FIXParser(options: FIXParserOptions(allowsEmptyValues: true))
    /// For stored messages being resent: `parser`'s message stays valid meanwhile.
    private let resendParser = FIXParser(options: FIXParserOptions(allowsEmptyValues: true))
    private let encoder: FIXEncoder
    private let beginString: [UInt8]
    private let legacy: Bool

    private var connectedAt: Int64 = 0
    private var lastReceived: Int64 = 0
    private var lastSent: Int64 = 0
    private var logoutSentAt: Int64 = 0
    private var testRequestsSent = 0
    /// The range our outstanding ResendRequest covers, and where the current chunk ends.
    private var resendRange: ClosedRange<Int>?
    private var resendChunkEnd = 0
    /// Messages that arrived ahead of a gap, by MsgSeqNum; `handled` ones only advance the number.
    private var queue: [Int: (bytes: [UInt8], handled: Bool)] = [:] {
        didSet { if queue.isEmpty { queuedBytes = 0 } }
    }
    /// The bytes held in `queue` (a count alone would let 10,000 messages of 64 KB wait).
    private var queuedBytes = 0

    public init(configuration: SessionConfiguration, store: SessionStore, application: SessionApplication?) {
        self.configuration = configuration
        self.store = store
        self.application = application
        encoder = FIXEncoder(beginString: configuration.id.beginString)
        beginString = Array(configuration.id.beginString.utf8)
        legacy = ["FIX.4.0", "FIX.4.1"].contains(configuration.id.beginString)
    }

    public var id: SessionID { configuration.id }
    public var isLoggedOn: Bool { state == .loggedOn }

    /// What to do next, in order; the session forgets it.
    public func takeOutput() -> [SessionOutput] {
        defer { output.removeAll(keepingCapacity: true) }
        return output
    }

    public func takeEvents() -> [String] {
        defer { events.removeAll(keepingCapacity: true) }
        return events
    }

    // MARK: Inputs

    /// A connection is now bound to this session; its first message must be a Logon.
    public func connected(now: Int64) {
        state = .awaitingLogon
        connectedAt = now
        lastReceived = now
        lastSent = now
        testRequestsSent = 0
        queue.removeAll()
        resendRange = nil
    }

    /// The connection is gone (whoever closed it).
    public func disconnected(now: Int64) {
        guard state != .disconnected else { return }
        let wasLoggedOn = state == .loggedOn || state == .logoutSent
        state = .disconnected
        queue.removeAll()
        resendRange = nil
        if configuration.resetOnDisconnect { store.reset(time: now) }
        if wasLoggedOn { application?.onLogout(self) }
    }

    /// Bytes that framed as a message (BodyLength and CheckSum right).
    public func receive(_ raw: UnsafeRawBufferPointer, now: Int64) {
        guard state != .disconnected else { return }
        lastReceived = now
        testRequestsSent = 0
        // Nothing from a peer that has not logged on is kept: an accepted Logon is audited
        // when it is accepted, a refused one only logged, so that knowing the CompIDs is
        // not enough to grow the ledger.
        if state != .awaitingLogon { auditInbound(raw, now: now) }
        process(raw, now: now)
        drainQueue(now: now)
    }

    /// Bytes that did not frame (bad BodyLength or CheckSum, garbage): ignored once
    /// logged on, as the protocol says; before Logon the connection is dropped.
    public func garbled(_ error: FIXDecodingError, now: Int64) {
        events.append("garbled input ignored: \(error)")
        if state == .awaitingLogon { disconnect("garbled data before Logon: \(error)", now: now) }
    }

    /// Timers: logon and logout timeouts, heartbeats, test requests, the dead-peer check.
    public func tick(now: Int64) {
        let second: Int64 = 1_000_000_000
        switch state {
        case .disconnected:
            return
        case .awaitingLogon:
            if now - connectedAt >= Int64(logonTimeoutSeconds) * second {
                disconnect("no Logon within \(logonTimeoutSeconds) seconds", now: now)
            }
        case .logoutSent:
            if now - logoutSentAt >= Int64(logoutTimeoutSeconds) * second {
                disconnect("no answer to our Logout within \(logoutTimeoutSeconds) seconds", now: now)
            }
        case .loggedOn:
            if let schedule = configuration.schedule, !schedule.isCurrent(created: store.creationTime, now: now) {
                // The session period is over; the next Logon begins a new one from 1.
                events.append("end of session time")
                sendLogout("End of session time", now: now)
                state = .logoutSent
                logoutSentAt = now
                return
            }
            guard heartBtInt > 0 else { return }
            let interval = Int64(heartBtInt) * second
            let silence = now - lastReceived
            if silence >= interval * 24 / 10 {
                disconnect("nothing received for \(silence / second) seconds, TestRequest unanswered", now: now)
                return
            }
            if silence >= interval * 3 * Int64(testRequestsSent + 1) / 2 {
                testRequestsSent += 1
                sendAdmin("1", now: now) { $0.append(112, "TEST") }
                events.append("TestRequest sent after \(silence / second) seconds of silence")
            } else if now - lastSent >= interval {
                sendAdmin("0", now: now) { _ in }
            }
        }
    }

    /// Ends the session politely (shutdown, end of the session's hours).
    public func logout(reason: String?, now: Int64) {
        switch state {
        case .loggedOn:
            sendLogout(reason, now: now)
            state = .logoutSent
            logoutSentAt = now
        case .awaitingLogon:
            disconnect(reason ?? "logout before logon", now: now)
        case .disconnected, .logoutSent:
            return
        }
    }

    /// Sends an application message: the session fills in the header (sequence number,
    /// CompIDs, SendingTime) and stores it for resends. `body` writes the body fields;
    /// `header` adds header fields beyond the standard ones.
    public func sendApplication(msgType: String, header: [(tag: Int, value: [UInt8])] = [], now: Int64,
                                body: (FIXEncoder) -> Void) {
        guard state == .loggedOn else { return }
        send(msgType: msgType, extraHeader: header, application: true, now: now, body: body)
    }

    /// A BusinessMessageReject for an application message accepted earlier (for example
    /// when the ledger refused it after the session moved on).
    public func sendBusinessReject(refSeqNum: Int, refMsgType: String, reject: BusinessReject, now: Int64) {
        guard state == .loggedOn else { return }
        businessReject(refSeqNum: refSeqNum, refMsgType: Array(refMsgType.utf8), reject, route: [], now: now)
    }

    // MARK: Processing

    private func process(_ raw: UnsafeRawBufferPointer, now: Int64) {
        let message: FIXMessage
        do {
            message = try parser.parse(raw)
        } catch {
            parseFailed(raw, error, now: now)
            return
        }
        guard sameBeginString(message) else {
            if state == .loggedOn { sendLogout("Incorrect BeginString", now: now) }
            disconnect("BeginString \(message.beginString.printable), expected \(configuration.id.beginString)", now: now)
            return
        }
        let isLogon = message.msgType.equals("A")
        if state == .awaitingLogon && !isLogon {
            disconnect("first message is \(message.msgType.printable), not a Logon", now: now)
            return
        }
        guard let seqField = message[tag: 34], let seqNum = try? seqField.int() else {
            if state == .loggedOn { sendLogout("MsgSeqNum (34) missing or not a number", now: now) }
            disconnect("message without a readable MsgSeqNum (34)", now: now)
            return
        }
        guard seqNum >= 0 && seqNum <= SessionConfiguration.seqNumMax else {
            if state == .loggedOn { sendLogout("MsgSeqNum (34) out of range", now: now) }
            disconnect("MsgSeqNum \(seqNum) is outside 0...\(SessionConfiguration.seqNumMax)", now: now)
            return
        }
        let type = message.msgType
        if isLogon {
            logon(message, raw, seqNum: seqNum, now: now)
        } else if type.equals("5") {
            logoutReceived(message, seqNum: seqNum, now: now)
        } else if type.equals("2") {
            resendRequest(message, raw, seqNum: seqNum, now: now)
        } else if type.equals("4") {
            sequenceReset(message, raw, seqNum: seqNum, now: now)
        } else {
            guard verify(message, raw, seqNum: seqNum, checkTooHigh: true, checkTooLow: true, now: now) else { return }
            dispatch(message, raw, seqNum: seqNum, now: now)
        }
    }

    private func sameBeginString(_ message: FIXMessage) -> Bool {
        beginString.withUnsafeBytes { message.beginString.equals($0) }
    }

    /// Heartbeat, TestRequest, Reject and application messages, once in sequence.
    private func dispatch(_ message: FIXMessage, _ raw: UnsafeRawBufferPointer, seqNum: Int, now: Int64) {
        let type = message.msgType
        if type.equals("0") || type.equals("3") {
            // Heartbeat: nothing more to do. Reject: the counterparty's verdict, logged.
            if type.equals("3") { events.append("Reject received: \(message.rendered())") }
        } else if type.equals("1") {
            let id = message[tag: 112].map { Array($0.bytes) } ?? []
            sendAdmin("0", now: now) { encoder in id.withUnsafeBytes { encoder.append(112, bytes: $0) } }
        } else if isAdmin(type) {
            // Admin types handled elsewhere (A, 5, 2, 4) never get here; others are unusual but harmless.
            events.append("admin message \(type.printable) ignored")
        } else if let reject = application?.fromApp(message, raw: raw, seqNum: seqNum, session: self) {
            businessReject(refSeqNum: seqNum, refMsgType: Array(type.bytes), reject, route: reverseRoute(message), now: now)
        }
        advance(past: seqNum)
    }

    /// Session-level MsgTypes (0-5, A): compared as a byte, nothing allocated per message.
    private func isAdmin(_ type: FIXValue) -> Bool {
        guard type.count == 1 else { return false }
        let byte = type.bytes[0]
        return (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "5")) || byte == UInt8(ascii: "A")
    }

    /// The checks every message in sequence goes through. False: the message has been
    /// dealt with (queued, ignored, rejected) and must not be processed further.
    private func verify(_ message: FIXMessage, _ raw: UnsafeRawBufferPointer, seqNum: Int,
                        checkTooHigh: Bool, checkTooLow: Bool, now: Int64) -> Bool {
        let expected = store.nextTargetSeqNum
        if checkTooHigh && seqNum > expected {
            targetTooHigh(raw, seqNum: seqNum, handled: false, now: now)
            return false
        }
        if checkTooLow && seqNum < expected {
            targetTooLow(message, seqNum: seqNum, now: now)
            return false
        }
        if let rejection = configuration.validator?.validate(message) {
            events.append("rejected \(message.msgType.printable) \(seqNum): \(rejection.text)")
            reject(message, seqNum: seqNum, reason: rejection.reason, refTag: rejection.refTagID.map { "\($0)" }, now: now)
            advance(past: seqNum)
            return false
        }
        if !compIDsMatch(message) {
            reject(message, seqNum: seqNum, reason: .compIDProblem, refTag: nil, now: now)
            advance(past: seqNum)
            events.append("CompID problem: \(message[tag: 49]?.printable ?? "-")->\(message[tag: 56]?.printable ?? "-")")
            startLogout(nil, now: now)
            return false
        }
        if !sendingTimeAccurate(message, now: now) {
            reject(message, seqNum: seqNum, reason: .sendingTimeAccuracyProblem, refTag: nil, now: now)
            advance(past: seqNum)
            events.append("SendingTime accuracy problem: \(message[tag: 52]?.printable ?? "missing")")
            startLogout(nil, now: now)
            return false
        }
        return true
    }

    private func compIDsMatch(_ message: FIXMessage) -> Bool {
        guard let sender = message[tag: 49], let target = message[tag: 56] else { return false }
        return sender.string == configuration.id.targetCompID && target.string == configuration.id.senderCompID
    }

    private func sendingTimeAccurate(_ message: FIXMessage, now: Int64) -> Bool {
        guard configuration.checkLatency else { return true }
        guard let sent = message[tag: 52].flatMap({ try? $0.timestamp() }) else { return false }
        let skew = abs(sent.nanosecondsSinceEpoch - now)
        return skew <= Int64(configuration.maxLatencySeconds) * 1_000_000_000
    }

    /// The counterparty is ahead of us: keep the message and ask for what is missing,
    /// unless an outstanding ResendRequest already covers it.
    private func targetTooHigh(_ raw: UnsafeRawBufferPointer, seqNum: Int, handled: Bool, now: Int64) {
        let expected = store.nextTargetSeqNum
        events.append("MsgSeqNum too high, expecting \(expected) but received \(seqNum)")
        if queue.count >= configuration.queuedMessagesMax || queuedBytes + raw.count > configuration.queuedBytesMax {
            sendLogout("too many messages ahead of a gap", now: now)
            disconnect("more than \(configuration.queuedMessagesMax) messages or \(configuration.queuedBytesMax) bytes queued behind a gap", now: now)
            return
        }
        if let replaced = queue.updateValue((Array(raw), handled), forKey: seqNum) { queuedBytes -= replaced.bytes.count }
        queuedBytes += raw.count
        if let range = resendRange, seqNum >= range.lowerBound { return }
        requestResend(from: expected, through: seqNum - 1, now: now)
    }

    private func requestResend(from begin: Int, through end: Int, now: Int64) {
        resendRange = begin...end
        let chunk = configuration.resendRequestChunkSize
        let chunkEnd = chunk > 0 ? min(end, begin + chunk - 1) : end
        resendChunkEnd = chunkEnd
        // FIX 4.2 and later: 0 means "everything after"; 4.0 and 4.1 say 999999.
        let endSeqNo = chunk > 0 && chunkEnd < end ? chunkEnd : (legacy ? 999_999 : 0)
        sendAdmin("2", now: now) { encoder in
            encoder.append(7, begin)
            encoder.append(16, endSeqNo)
        }
    }

    /// Behind what we expect: a PossDup resend is checked and ignored; anything else
    /// means the counterparty lost its numbers, and the session ends.
    private func targetTooLow(_ message: FIXMessage, seqNum: Int, now: Int64) {
        let expected = store.nextTargetSeqNum
        let possDup = (try? message[tag: 43]?.bool()) ?? false
        guard possDup else {
            let text = "MsgSeqNum too low, expecting \(expected) but received \(seqNum)"
            sendLogout(text, now: now)
            disconnect(text, now: now)
            return
        }
        guard let original = message[tag: 122] else {
            if !message.msgType.equals("4") {
                reject(message, seqNum: seqNum, reason: .requiredTagMissing, refTag: "122", now: now)
            }
            return
        }
        if let originalTime = try? original.timestamp(), let sent = try? message[tag: 52]?.timestamp(), originalTime > sent {
            reject(message, seqNum: seqNum, reason: .sendingTimeAccuracyProblem, refTag: nil, now: now)
            events.append("OrigSendingTime after SendingTime in a PossDup resend")
            startLogout(nil, now: now)
            return
        }
        events.append("duplicate \(message.msgType.printable) \(seqNum) ignored (PossDupFlag)")
    }

    /// The message numbered `seqNum` is done with: expect the next, and close the
    /// ResendRequest it satisfies.
    private func advance(past seqNum: Int) {
        if seqNum == store.nextTargetSeqNum { store.setNextTargetSeqNum(seqNum + 1) }
        resendSatisfied(through: seqNum)
    }

    private func resendSatisfied(through seqNum: Int) {
        guard let range = resendRange else { return }
        if seqNum >= range.upperBound {
            resendRange = nil
        } else if seqNum >= resendChunkEnd && state == .loggedOn {
            // The chunk is in; ask for the next one.
            requestResend(from: seqNum + 1, through: range.upperBound, now: lastReceived)
        }
    }

    /// Processes queued messages that are now in sequence.
    private func drainQueue(now: Int64) {
        while state == .loggedOn, let next = queue.removeValue(forKey: store.nextTargetSeqNum) {
            queuedBytes -= next.bytes.count
            let seqNum = store.nextTargetSeqNum
            if next.handled {
                advance(past: seqNum)
                continue
            }
            next.bytes.withUnsafeBytes { raw in
                if let message = try? parser.parse(raw), message.msgType.equals("A") {
                    // A Logon that was ahead of a gap: already acted on.
                    advance(past: seqNum)
                } else {
                    process(raw, now: now)
                }
            }
        }
        // Anything queued below what we now expect is stale.
        if !queue.isEmpty {
            let expected = store.nextTargetSeqNum
            queue = queue.filter { $0.key > expected }
            queuedBytes = queue.values.reduce(0) { $0 + $1.bytes.count }
        }
    }

    // MARK: Admin messages

    private func logon(_ message: FIXMessage, _ raw: UnsafeRawBufferPointer, seqNum: Int, now: Int64) {
        let resetRequested = (try? message[tag: 141]?.bool()) ?? false
        if state == .loggedOn || state == .logoutSent {
            guard resetRequested else {
                sendLogout("Logon received while logged on", now: now)
                disconnect("second Logon on a logged-on session", now: now)
                return
            }
            events.append("sequence reset by Logon with ResetSeqNumFlag")
        }
        if let rejection = configuration.validator?.validate(message) {
            refuseLogon("invalid Logon: \(rejection.text)", now: now)
            return
        }
        if configuration.id.beginString == "FIXT.1.1" && message[tag: 1137] == nil {
            refuseLogon("DefaultApplVerID (1137) is required", now: now)
            return
        }
        if !compIDsMatch(message) {
            refuseLogon("CompID problem", now: now)
            return
        }
        if !sendingTimeAccurate(message, now: now) {
            refuseLogon("SendingTime accuracy problem", now: now)
            return
        }
        if let username = configuration.username {
            let password = configuration.password ?? ""
            // Both compared in full whatever the first differs in: the time says nothing.
            let nameMatches = Session.constantTimeEqual(message[tag: 553], username)
            let passwordMatches = Session.constantTimeEqual(message[tag: 554], password)
            guard nameMatches && passwordMatches else {
                refuseLogon("invalid Username or Password", now: now)
                return
            }
        }
        guard let interval = try? message[tag: 108]?.int() else {
            refuseLogon("HeartBtInt (108) is required", now: now)
            return
        }
        guard configuration.heartBtIntRange.contains(interval) else {
            refuseLogon("HeartBtInt \(interval) is outside \(configuration.heartBtIntRange.lowerBound)..."
                        + "\(configuration.heartBtIntRange.upperBound) seconds", now: now)
            return
        }
        if let schedule = configuration.schedule {
            guard schedule.isActive(at: now) else {
                refuseLogon("Logon attempt not within session time", now: now)
                return
            }
            if !schedule.isCurrent(created: store.creationTime, now: now) {
                events.append("new session period: sequence numbers start again at 1")
                store.reset(time: now)
                queue.removeAll()
                resendRange = nil
            }
        }
        if resetRequested || (configuration.resetOnLogon && state == .awaitingLogon) {
            store.reset(time: now)
            queue.removeAll()
            resendRange = nil
        }
        let expected = store.nextTargetSeqNum
        if seqNum < expected {
            let text = "MsgSeqNum too low, expecting \(expected) but received \(seqNum)"
            sendLogout(text, now: now)
            disconnect(text, now: now)
            return
        }
        let nextExpected = try? message[tag: 789]?.int()
        if let nextExpected, nextExpected < 1 {
            refuseLogon("NextExpectedMsgSeqNum \(nextExpected) is below 1", now: now)
            return
        }
        if let nextExpected, nextExpected > store.nextSenderSeqNum {
            // An authenticated peer that counts ahead of us: told why, as QuickFIX does.
            let text = "NextExpectedMsgSeqNum \(nextExpected) is higher than our next MsgSeqNum \(store.nextSenderSeqNum)"
            sendLogout(text, now: now)
            disconnect(text, now: now)
            return
        }
        heartBtInt = interval
        if state == .awaitingLogon { auditInbound(raw, now: now) }
        state = .loggedOn
        let ourLogon = store.nextSenderSeqNum
        let expectedAfter = seqNum == expected ? expected + 1 : expected
        sendAdmin("A", now: now) { encoder in
            encoder.append(98, 0)
            encoder.append(108, interval)
            if resetRequested { encoder.append(141, "Y") }
            if nextExpected != nil { encoder.append(789, expectedAfter) }
            if let applVerID = self.configuration.defaultApplVerID { encoder.append(1137, applVerID) }
        }
        events.append("logged on (HeartBtInt \(interval))")
        application?.onLogon(self)
        if let nextExpected, nextExpected < ourLogon {
            resend(from: nextExpected, through: ourLogon - 1, now: now)
        }
        if seqNum > expected {
            targetTooHigh(raw, seqNum: seqNum, handled: true, now: now)
        } else {
            advance(past: seqNum)
        }
    }

    /// A Logon that cannot be accepted: the reason is logged here, and the connection is
    /// closed without a word, as QuickFIX does. An unauthenticated peer learns nothing
    /// about which CompID, time or password was wrong.
    private func refuseLogon(_ reason: String, now: Int64) {
        disconnect("Logon refused: \(reason)", now: now)
    }

    private func logoutReceived(_ message: FIXMessage, seqNum: Int, now: Int64) {
        if seqNum == store.nextTargetSeqNum { store.setNextTargetSeqNum(seqNum + 1) }
        if state == .logoutSent {
            disconnect("Logout confirmed", now: now)
        } else {
            sendLogout(nil, now: now)
            disconnect("Logout requested" + (message[tag: 58].map { ": \($0.string)" } ?? ""), now: now)
        }
        if configuration.resetOnLogout { store.reset(time: now) }
    }

    private func resendRequest(_ message: FIXMessage, _ raw: UnsafeRawBufferPointer, seqNum: Int, now: Int64) {
        // Answered at once, even ahead of a gap of our own, as QuickFIX does.
        guard verify(message, raw, seqNum: seqNum, checkTooHigh: false, checkTooLow: false, now: now) else { return }
        guard let begin = try? message[tag: 7]?.int(), let endSeqNo = try? message[tag: 16]?.int(), begin >= 1 else {
            reject(message, seqNum: seqNum, reason: .requiredTagMissing, refTag: message[tag: 7] == nil ? "7" : "16", now: now)
            advance(past: seqNum)
            return
        }
        let last = store.nextSenderSeqNum - 1
        var end = endSeqNo == 0 || endSeqNo >= 999_999 || endSeqNo > last ? last : endSeqNo
        // At most MaxResendRange messages an answer: the last gap fill ends there, and the
        // peer asks again from there when our next message shows it the gap. A peer that
        // asks for everything and reads nothing holds at most this much of our memory.
        if begin <= end && end - begin >= configuration.resendRangeMax { end = begin + configuration.resendRangeMax - 1 }
        events.append("ResendRequest \(begin) to \(endSeqNo) answered with \(begin) to \(end)")
        if begin <= end { resend(from: begin, through: end, now: now) }
        let expected = store.nextTargetSeqNum
        if seqNum > expected {
            targetTooHigh(raw, seqNum: seqNum, handled: true, now: now)
        } else if seqNum == expected {
            advance(past: seqNum)
        }
    }

    private func sequenceReset(_ message: FIXMessage, _ raw: UnsafeRawBufferPointer, seqNum: Int, now: Int64) {
        let gapFill = (try? message[tag: 123]?.bool()) ?? false
        // GapFill takes the sequence checks; Reset mode overrides the numbers whatever they are.
        guard verify(message, raw, seqNum: seqNum, checkTooHigh: gapFill, checkTooLow: gapFill, now: now) else { return }
        guard let newSeqNo = try? message[tag: 36]?.int() else {
            reject(message, seqNum: seqNum, reason: .requiredTagMissing, refTag: "36", now: now)
            return
        }
        guard newSeqNo <= SessionConfiguration.seqNumMax else {
            // Would make the next expected number overflow; refused like a number going back.
            reject(message, seqNum: seqNum, reason: .valueIsIncorrect, refTag: "36", now: now)
            return
        }
        let expected = store.nextTargetSeqNum
        if newSeqNo > expected {
            events.append("SequenceReset\(gapFill ? "-GapFill" : "") from \(expected) to \(newSeqNo)")
            store.setNextTargetSeqNum(newSeqNo)
            resendSatisfied(through: newSeqNo - 1)
        } else if newSeqNo < expected {
            reject(message, seqNum: seqNum, reason: .valueIsIncorrect, refTag: nil, now: now)
        }
    }

    // MARK: Resending

    /// Our messages `begin...end` again: stored application messages with PossDupFlag,
    /// a SequenceReset-GapFill over everything else.
    private func resend(from begin: Int, through end: Int, now: Int64) {
        var next = begin
        for (seqNum, stored) in store.outbound(in: begin...end) {
            if seqNum > next { gapFill(at: next, newSeqNo: seqNum, now: now) }
            stored.withUnsafeBytes { resendStored($0, now: now) }
            next = seqNum + 1
        }
        if next <= end { gapFill(at: next, newSeqNo: end + 1, now: now) }
    }

    private func gapFill(at seqNum: Int, newSeqNo: Int, now: Int64) {
        let time = timestamp(now)
        write(msgType: "4", seqNum: seqNum, header: [(43, Array("Y".utf8)), (122, time)], time: time, now: now) { encoder in
            encoder.append(36, newSeqNo)
            encoder.append(123, "Y")
        }
    }

    private func resendStored(_ raw: UnsafeRawBufferPointer, now: Int64) {
        guard let message = try? resendParser.parse(raw), let seqNum = try? message[tag: 34]?.int() else { return }
        var header: [(Int, [UInt8])] = [(43, Array("Y".utf8))]
        if let sent = message[tag: 52] { header.append((122, Array(sent.bytes))) }
        let own: Set<Int> = [8, 9, 10, 34, 35, 43, 49, 52, 56, 122]
        var bodyStart = message.count
        for position in 3..<message.count {
            let tag = message.tag(at: position)
            if own.contains(tag) { continue }
            if configuration.header.contains(tag) { header.append((tag, Array(message[position].value.bytes))) } else {
                bodyStart = position
                break
            }
        }
        let msgType = message.msgType.string
        write(msgType: msgType, seqNum: seqNum, header: header, time: timestamp(now), now: now) { encoder in
            for position in bodyStart..<message.count where message.tag(at: position) != 10 {
                encoder.append(message.tag(at: position), message[position].value)
            }
        }
    }

    // MARK: Sending

    private func sendLogout(_ text: String?, now: Int64) {
        sendAdmin("5", now: now) { encoder in if let text { encoder.append(58, text) } }
    }

    /// Logout for a fault (the Reject before it says which), then wait a moment for the
    /// counterparty's Logout.
    private func startLogout(_ text: String?, now: Int64) {
        sendLogout(text, now: now)
        state = .logoutSent
        logoutSentAt = now
    }

    /// Ends the session from our side: the same as the connection going away
    /// (`disconnected(now:)`), and the socket is to be closed.
    private func disconnect(_ reason: String, now: Int64) {
        events.append("disconnecting: \(reason)")
        output.append(.disconnect(reason: reason))
        disconnected(now: now)
    }

    /// A session-level Reject (35=3) of `message`, with the fields its FIX version knows.
    private func reject(_ message: FIXMessage, seqNum: Int, reason: SessionRejectReason, refTag: String?, now: Int64) {
        let refMsgType = Array(message.msgType.bytes)
        sendReject(refSeqNum: seqNum, refMsgType: refMsgType, reason: reason, refTag: refTag,
                   route: reverseRoute(message), now: now)
    }

    private func sendReject(refSeqNum: Int, refMsgType: [UInt8], reason: SessionRejectReason, refTag: String?,
                            route: [(Int, [UInt8])], now: Int64) {
        let reasonAllowed = sessionRejectReasonDefined(reason)
        send(msgType: "3", extraHeader: route, application: false, now: now) { encoder in
            encoder.append(45, refSeqNum)
            encoder.append(58, reason.description)
            if !self.legacy {
                if let refTag { encoder.append(371, refTag) }
                refMsgType.withUnsafeBytes { encoder.append(372, bytes: $0) }
                if reasonAllowed { encoder.append(373, reason.rawValue) }
            }
        }
    }

    /// Whether this FIX version's SessionRejectReason (373) has the value.
    private func sessionRejectReasonDefined(_ reason: SessionRejectReason) -> Bool {
        if legacy { return false }
        if let values = configuration.validator?.transport.fields[373]?.values, !values.isEmpty {
            return values["\(reason.rawValue)"] != nil
        }
        return configuration.id.beginString != "FIX.4.2" || reason.rawValue <= 11
    }

    private func businessReject(refSeqNum: Int, refMsgType: [UInt8], _ reject: BusinessReject,
                                route: [(Int, [UInt8])], now: Int64) {
        events.append("BusinessMessageReject of \(String(decoding: refMsgType, as: UTF8.self)) \(refSeqNum): \(reject.text)")
        if legacy {
            // FIX 4.0/4.1 have no BusinessMessageReject: a session Reject carries the text.
            send(msgType: "3", extraHeader: route, application: false, now: now) { encoder in
                encoder.append(45, refSeqNum)
                encoder.append(58, reject.text)
            }
            return
        }
        send(msgType: "j", extraHeader: route, application: true, now: now) { encoder in
            encoder.append(45, refSeqNum)
            encoder.append(58, reject.text)
            if let tag = reject.refTagID { encoder.append(371, tag) }
            refMsgType.withUnsafeBytes { encoder.append(372, bytes: $0) }
            encoder.append(380, reject.reason)
            if let applVerID = self.configuration.defaultApplVerID { encoder.append(1137, applVerID) }
        }
    }

    /// Routing fields turned around: OnBehalfOf* (115/116/144) come back as DeliverTo*
    /// (128/129/145) and the other way round. Empty ones are left out.
    private func reverseRoute(_ message: FIXMessage) -> [(Int, [UInt8])] {
        let pairs = [(115, 128), (116, 129), (144, 145), (128, 115), (129, 116), (145, 144)]
        var route: [(Int, [UInt8])] = []
        for (from, to) in pairs {
            if let value = message[tag: from], !value.isEmpty { route.append((to, Array(value.bytes))) }
        }
        return route
    }

    private func sendAdmin(_ msgType: String, now: Int64, body: (FIXEncoder) -> Void) {
        send(msgType: msgType, extraHeader: [], application: false, now: now, body: body)
    }

    private func send(msgType: String, extraHeader: [(tag: Int, value: [UInt8])], application: Bool, now: Int64,
                      body: (FIXEncoder) -> Void) {
        let seqNum = store.nextSenderSeqNum
        store.setNextSenderSeqNum(seqNum + 1)
        let header = extraHeader.map { ($0.tag, $0.value) }
        let bytes = write(msgType: msgType, seqNum: seqNum, header: header, time: timestamp(now), now: now, body: body)
        if application { bytes.withUnsafeBytes { store.storeOutbound(seqNum: seqNum, message: $0) } }
    }

    /// Encodes, audits and queues one message. Header fields go in tag order after
    /// BeginString, BodyLength and MsgType, as QuickFIX writes them.
    @discardableResult
    private func write(msgType: String, seqNum: Int, header extra: [(Int, [UInt8])], time: [UInt8], now: Int64,
                       body: (FIXEncoder) -> Void) -> [UInt8] {
        var header = extra
        header.append((34, Array("\(seqNum)".utf8)))
        header.append((49, Array(configuration.id.senderCompID.utf8)))
        header.append((52, time))
        header.append((56, Array(configuration.id.targetCompID.utf8)))
        header.sort { $0.0 < $1.0 }
        encoder.start(msgType: msgType)
        for (tag, value) in header { value.withUnsafeBytes { encoder.append(tag, bytes: $0) } }
        body(encoder)
        let bytes = Array(encoder.finish())
        bytes.withUnsafeBytes { store.audit(inbound: false, message: $0, time: now) }
        output.append(.send(bytes))
        lastSent = now
        return bytes
    }

    private func timestamp(_ now: Int64) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = buffer.withUnsafeMutableBytes {
            // FIX 4.0 and 4.1's UTCTimestamp has no fraction of a second.
            FIXTimestamp.write(FIXTimestamp(nanosecondsSinceEpoch: now, fractionDigits: self.legacy ? 0 : 3), into: $0.baseAddress!)
        }
        return Array(buffer.prefix(count))
    }

    // MARK: Secrets

    /// Tags whose values are secrets: Password (554), NewPassword (925),
    /// EncryptedPassword (1402) and EncryptedNewPassword (1404).
    static let secretTags: [Int] = [554, 925, 1402, 1404]

    /// Audits an inbound message with its secrets masked (each byte of their values
    /// becomes `*`, so that BodyLength still holds).
    private func auditInbound(_ raw: UnsafeRawBufferPointer, now: Int64) {
        guard let masked = Session.maskingSecrets(raw) else {
            store.audit(inbound: true, message: raw, time: now)
            return
        }
        masked.withUnsafeBytes { store.audit(inbound: true, message: $0, time: now) }
    }

    /// `raw` with the values of `secretTags` masked, or nil if it has none. Only a Logon
    /// carries them: any other message is left alone after one look at its MsgType.
    static func maskingSecrets(_ raw: UnsafeRawBufferPointer) -> [UInt8]? {
        guard isLogon(raw) else { return nil }
        var copy: [UInt8]?
        var start = 0
        while start < raw.count {
            var end = start
            var tag = 0
            var numeric = true
            var equals = -1
            while end < raw.count && raw[end] != fixSOH {
                if equals < 0 {
                    let digit = Int(raw[end]) - 48
                    if raw[end] == UInt8(ascii: "=") {
                        equals = end
                    } else if numeric && digit >= 0 && digit <= 9 && tag < 100_000 {
                        tag = tag * 10 + digit
                    } else {
                        numeric = false
                    }
                }
                end += 1
            }
            if equals > start, numeric, secretTags.contains(tag) {
                if copy == nil { copy = Array(raw) }
                for i in (equals + 1)..<end { copy![i] = UInt8(ascii: "*") }
            }
            start = end + 1
        }
        return copy
    }

    /// Whether the message's MsgType (the third field) is A.
    static func isLogon(_ raw: UnsafeRawBufferPointer) -> Bool {
        let pattern: [UInt8] = [fixSOH, UInt8(ascii: "3"), UInt8(ascii: "5"), UInt8(ascii: "="), UInt8(ascii: "A"), fixSOH]
        var i = 0
        var fields = 0
        while i + pattern.count <= raw.count && fields < 3 {
            if raw[i] == fixSOH {
                fields += 1
                var matches = true
                for k in 1..<pattern.count where raw[i + k] != pattern[k] { matches = false; break }
                if matches { return true }
            }
            i += 1
        }
        return false
    }

    /// Whether `value` equals `expected`, in time that depends on their lengths only.
    static func constantTimeEqual(_ value: FIXValue?, _ expected: String) -> Bool {
        let given = value.map { Array($0.bytes) } ?? []
        let wanted = Array(expected.utf8)
        var difference = UInt8(given.count == wanted.count ? 0 : 1)
        for i in 0..<max(given.count, wanted.count) {
            difference |= (i < given.count ? given[i] : 0) ^ (i < wanted.count ? wanted[i] : 0)
        }
        // A missing field is the empty value (no password configured, none sent).
        return difference == 0
    }

    // MARK: Unparseable messages

    /// A message that framed but does not parse. A tag that is not a positive number is
    /// answered with a Reject (InvalidTagNumber) as QuickFIX does; anything else is
    /// garbled and ignored.
    private func parseFailed(_ raw: UnsafeRawBufferPointer, _ error: FIXDecodingError, now: Int64) {
        guard state == .loggedOn, error == .nonNumericTag || error == .badTag,
              let seqText = Session.rawField(34, in: raw), let seqNum = Int(String(decoding: seqText, as: UTF8.self)),
              let msgType = Session.rawField(35, in: raw) else {
            garbled(error, now: now)
            return
        }
        let expected = store.nextTargetSeqNum
        guard seqNum == expected else {
            if seqNum > expected, resendRange == nil { requestResend(from: expected, through: seqNum - 1, now: now) }
            return
        }
        sendReject(refSeqNum: seqNum, refMsgType: msgType, reason: .invalidTagNumber,
                   refTag: Session.rawTag(at: error.offset, in: raw), route: [], now: now)
        advance(past: seqNum)
    }

    /// The value of the first `tag=` field, found by scanning (for messages that do not parse).
    static func rawField(_ tag: Int, in raw: UnsafeRawBufferPointer) -> [UInt8]? {
        let pattern = Array("\u{1}\(tag)=".utf8)
        guard raw.count > pattern.count else { return nil }
        var i = 0
        while i + pattern.count <= raw.count {
            if raw[i] == pattern[0] && raw[i + 1] == pattern[1] {
                var matches = true
                for k in 0..<pattern.count where raw[i + k] != pattern[k] { matches = false; break }
                if matches {
                    let start = i + pattern.count
                    var end = start
                    while end < raw.count && raw[end] != fixSOH { end += 1 }
                    return Array(raw[start..<end])
                }
            }
            i += 1
        }
        return nil
    }

    /// The text of the tag that starts at or around `offset`.
    static func rawTag(at offset: Int, in raw: UnsafeRawBufferPointer) -> String {
        var start = min(max(offset, 0), raw.count - 1)
        while start > 0 && raw[start - 1] != fixSOH { start -= 1 }
        var end = start
        while end < raw.count && raw[end] != UInt8(ascii: "=") && raw[end] != fixSOH { end += 1 }
        return String(decoding: raw[start..<end], as: UTF8.self)
    }
}
