import FIXCore
import FIXDictionary
import FIXSession
import FuzzSupport

// The session state machine fed a sequence of messages with any field values: each line
// of the input is one message. Its first byte picks the MsgType, the second the MsgSeqNum
// (near the expected one, or an extreme), the third how far the clock moves first; the
// rest is the body as it is (any tags, any values). Each message is framed right (length,
// checksum), so the fuzzer reaches the session's logic instead of the framer's.
nonisolated(unsafe) let validator = FIXValidator(application: FuzzFiles.require(try? FIXDataDictionary(contentsOf: FuzzFiles.spec + "/FIX44.xml"), "FIX44.xml"))
nonisolated(unsafe) let types = ["A", "0", "1", "2", "3", "4", "5", "D", "8", "j", "AE", "*"]
nonisolated(unsafe) let extremes = [Int(Int32.max), Int(Int32.max) - 1, Int(Int32.max) + 1, Int.max, -1, 0, 1_000_000]

final class Application: SessionApplication {
    func fromApp(_ message: FIXMessage, raw: UnsafeRawBufferPointer, seqNum: Int, session: Session) -> BusinessReject? {
        message.msgType.equals("D") ? .unsupportedMessageType : nil
    }
    func onLogon(_ session: Session) {}
    func onLogout(_ session: Session) {}
}
nonisolated(unsafe) let application = Application()

func frame(_ type: String, seq: Int, time: Int64, body: ArraySlice<UInt8>) -> [UInt8] {
    var stamp = [UInt8](repeating: 0, count: 32)
    let length = stamp.withUnsafeMutableBytes { FIXTimestamp.write(FIXTimestamp(nanosecondsSinceEpoch: time, fractionDigits: 3), into: $0.baseAddress!) }
    var inner = Array("35=\(type)\u{1}34=\(seq)\u{1}49=PLATFORM\u{1}52=".utf8) + stamp.prefix(length) + Array("\u{1}56=COUNTERFOIL\u{1}".utf8)
    inner += body
    if inner.last != 1 { inner.append(1) }
    let head = Array("8=FIX.4.4\u{1}9=\(inner.count)\u{1}".utf8)
    let sum = (head + inner).reduce(0) { ($0 + Int($1)) % 256 }
    return head + inner + Array("10=\(sum < 10 ? "00" : sum < 100 ? "0" : "")\(sum)\u{1}".utf8)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var configuration = SessionConfiguration(id: SessionID(beginString: "FIX.4.4", senderCompID: "COUNTERFOIL", targetCompID: "PLATFORM"),
                                             validator: validator)
    configuration.resendRequestChunkSize = 5
    configuration.queuedMessagesMax = 100
    let store = MemorySessionStore()
    let session = Session(configuration: configuration, store: store, application: application)
    var now: Int64 = 1_796_000_000 * 1_000_000_000
    session.connected(now: now)
    let input = UnsafeBufferPointer(start: data, count: size)
    for line in input.split(separator: 10, omittingEmptySubsequences: true).prefix(200) where line.count >= 3 {
        let first = line.startIndex
        let type = types[Int(line[first]) % types.count]
        let pick = Int(line[first + 1])
        let expected = store.nextTargetSeqNum
        let seq = pick < 200 ? expected + pick % 8 - 3 : extremes[pick % extremes.count]
        now += Int64(line[first + 2]) * 100_000_000
        session.tick(now: now)
        let message = frame(type, seq: seq, time: now, body: Array(line[(first + 3)...])[...])
        message.withUnsafeBytes { session.receive($0, now: now) }
        _ = session.takeOutput()
        _ = session.takeEvents()
        if !session.isLoggedOn && session.state == .disconnected { session.connected(now: now) }
    }
    return 0
}

@_cdecl("FuzzSession_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runFuzzer(argc, argv, fuzz)
}
