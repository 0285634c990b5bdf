import FIXCore
@testable import FIXSession
import Testing

/// The session state machine alone: messages and the clock in, sends out. No sockets.
@Suite struct SessionTests {
    final class Recorder: SessionApplication {
        var delivered: [Int] = []
        func fromApp(_ message: FIXMessage, raw: UnsafeRawBufferPointer, seqNum: Int, session: Session) -> BusinessReject? {
            delivered.append(seqNum)
            return nil
        }
        func onLogon(_ session: Session) {}
        func onLogout(_ session: Session) {}
    }

    static let second: Int64 = 1_000_000_000
    static let start: Int64 = 1_796_000_000 * second

    static func message(_ type: String, seq: Int, at time: Int64, _ body: [(Int, String)] = []) -> [UInt8] {
        let encoder = FIXEncoder(beginString: "FIX.4.4")
        encoder.start(msgType: type)
        encoder.append(34, seq)
        encoder.append(49, "PLATFORM")
        encoder.append(52, FIXTimestamp(nanosecondsSinceEpoch: time, fractionDigits: 3))
        encoder.append(56, "COUNTERFOIL")
        for (tag, value) in body { encoder.append(tag, value) }
        return Array(encoder.finish())
    }

    /// The fields of what the session sent, as `tag=value` strings per message.
    static func sent(_ outputs: [SessionOutput]) -> [String] {
        outputs.compactMap { output -> String? in
            guard case .send(let bytes) = output else { return nil }
            return String(decoding: bytes.map { $0 == 1 ? UInt8(ascii: "|") : $0 }, as: UTF8.self)
        }
    }

    func loggedOn(chunk: Int = 0, heartBtInt: String = "30") -> (Session, Recorder, MemorySessionStore) {
        var configuration = SessionConfiguration(id: SessionID(beginString: "FIX.4.4", senderCompID: "COUNTERFOIL", targetCompID: "PLATFORM"))
        configuration.resendRequestChunkSize = chunk
        let store = MemorySessionStore()
        let recorder = Recorder()
        let session = Session(configuration: configuration, store: store, application: recorder)
        session.connected(now: Self.start)
        Self.message("A", seq: 1, at: Self.start, [(98, "0"), (108, heartBtInt)]).withUnsafeBytes { session.receive($0, now: Self.start) }
        _ = session.takeOutput()
        return (session, recorder, store)
    }

    func receive(_ session: Session, _ bytes: [UInt8], at time: Int64 = SessionTests.start) {
        bytes.withUnsafeBytes { session.receive($0, now: time) }
    }

    @Test("a gap asks once for what is missing, queues what is ahead and delivers in order once filled")
    func gapIsFilled() {
        let (session, recorder, store) = loggedOn()
        receive(session, Self.message("8", seq: 5, at: Self.start))
        receive(session, Self.message("8", seq: 6, at: Self.start))
        let asked = Self.sent(session.takeOutput())
        #expect(asked.count == 1 && asked[0].contains("|35=2|") && asked[0].contains("|7=2|16=0|"))
        for seq in 2...4 { receive(session, Self.message("8", seq: seq, at: Self.start)) }
        #expect(recorder.delivered == [2, 3, 4, 5, 6])
        #expect(store.nextTargetSeqNum == 7)
    }

    @Test("ResendRequestChunkSize asks chunk by chunk")
    func chunkedResend() {
        let (session, _, store) = loggedOn(chunk: 2)
        receive(session, Self.message("0", seq: 7, at: Self.start))
        #expect(Self.sent(session.takeOutput()).first?.contains("|7=2|16=3|") == true)
        receive(session, Self.message("0", seq: 2, at: Self.start))
        receive(session, Self.message("0", seq: 3, at: Self.start))
        #expect(Self.sent(session.takeOutput()).first?.contains("|7=4|16=5|") == true)
        receive(session, Self.message("0", seq: 4, at: Self.start))
        receive(session, Self.message("0", seq: 5, at: Self.start))
        #expect(Self.sent(session.takeOutput()).first?.contains("|7=6|16=0|") == true)
        receive(session, Self.message("0", seq: 6, at: Self.start))
        #expect(store.nextTargetSeqNum == 8)
    }

    @Test("silence brings a TestRequest after 1.5 HeartBtInt, and a disconnect after 2.4")
    func testRequestThenDisconnect() {
        let (session, _, _) = loggedOn(heartBtInt: "10")
        session.tick(now: Self.start + 10 * Self.second)
        #expect(Self.sent(session.takeOutput()).first?.contains("|35=0|") == true)
        session.tick(now: Self.start + 15 * Self.second)
        #expect(Self.sent(session.takeOutput()).first?.contains("|35=1|") == true)
        session.tick(now: Self.start + 24 * Self.second)
        #expect(session.takeOutput().contains { if case .disconnect = $0 { return true } else { return false } })
    }

    @Test("a message numbered below what is expected, without PossDupFlag, ends the session saying why")
    func tooLow() {
        let (session, _, _) = loggedOn()
        receive(session, Self.message("0", seq: 2, at: Self.start))
        receive(session, Self.message("0", seq: 2, at: Self.start))
        let outputs = session.takeOutput()
        #expect(Self.sent(outputs).last?.contains("58=MsgSeqNum too low, expecting 3 but received 2") == true)
        #expect(session.state == .disconnected)
    }

    @Test("a ResendRequest is answered with the stored application messages and a GapFill over the rest")
    func answersResend() {
        let (session, _, _) = loggedOn()
        session.sendApplication(msgType: "AR", now: Self.start) { $0.append(571, "T1") }
        session.tick(now: Self.start + 31 * Self.second)  // a heartbeat: seq 3
        _ = session.takeOutput()
        receive(session, Self.message("2", seq: 2, at: Self.start, [(7, "1"), (16, "0")]))
        let resent = Self.sent(session.takeOutput())
        #expect(resent.count == 3)
        #expect(resent[0].contains("|35=4|34=1|43=Y|") && resent[0].contains("|36=2|123=Y|"))
        #expect(resent[1].contains("|35=AR|34=2|43=Y|") && resent[1].contains("|122=") && resent[1].contains("|571=T1|"))
        #expect(resent[2].contains("|35=4|34=3|43=Y|") && resent[2].contains("|36=4|123=Y|"))
    }
}
