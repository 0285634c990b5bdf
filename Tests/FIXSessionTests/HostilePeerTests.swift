import FIXCore
import Foundation
@testable import FIXSession
import Testing

/// A logged-on (or logging-on) peer cannot crash the session with one field: each value
/// that once trapped is refused, and the session carries on or ends cleanly.
@Suite struct HostilePeerTests {
    typealias T = SessionTests

    func fresh() -> (Session, MemorySessionStore) {
        let configuration = SessionConfiguration(id: SessionID(beginString: "FIX.4.4", senderCompID: "COUNTERFOIL", targetCompID: "PLATFORM"))
        let store = MemorySessionStore()
        let session = Session(configuration: configuration, store: store, application: SessionTests.Recorder())
        session.connected(now: T.start)
        return (session, store)
    }

    func logon(_ session: Session, _ body: [(Int, String)]) -> [SessionOutput] {
        T.message("A", seq: 1, at: T.start, [(98, "0")] + body).withUnsafeBytes { session.receive($0, now: T.start) }
        return session.takeOutput()
    }

    @Test("a HeartBtInt that would overflow the dead-peer check, or 0, or negative, refuses the Logon",
          arguments: ["384307169", "9223372036854775807", "0", "-5", "3601"])
    func heartBtIntOutOfRange(value: String) {
        let (session, _) = fresh()
        let outputs = logon(session, [(108, value)])
        #expect(!session.isLoggedOn)
        #expect(T.sent(outputs).isEmpty && outputs.contains { if case .disconnect = $0 { true } else { false } })
        // Ticking a refused session a day later does nothing, and traps nothing.
        session.tick(now: T.start + 86_400 * T.second)
        #expect(session.takeOutput().isEmpty)
    }

    @Test("HeartBtInt at the top of its range is accepted, and the timers' arithmetic holds for days")
    func heartBtIntAtTheTop() {
        let (session, _) = fresh()
        _ = logon(session, [(108, "3600")])
        #expect(session.isLoggedOn && session.heartBtInt == 3600)
        session.tick(now: T.start + 3600 * T.second)
        #expect(T.sent(session.takeOutput()).first?.contains("|35=0|") == true)
    }

    @Test("NextExpectedMsgSeqNum (789) below 1 refuses the Logon instead of trapping in the resend", arguments: ["-1", "0"])
    func nextExpectedBelowOne(value: String) {
        let (session, store) = fresh()
        store.setNextSenderSeqNum(5)
        let outputs = logon(session, [(108, "30"), (789, value)])
        #expect(!session.isLoggedOn && T.sent(outputs).isEmpty)
    }

    @Test("SequenceReset to Int64.max is refused with a Reject; the expected number stays, and the next message is taken")
    func newSeqNoAtTheTop() {
        let (session, _, store) = SessionTests().loggedOn()
        T.message("4", seq: 2, at: T.start, [(36, "9223372036854775807"), (123, "N")]).withUnsafeBytes { session.receive($0, now: T.start) }
        let rejected = T.sent(session.takeOutput())
        #expect(rejected.count == 1 && rejected[0].contains("|35=3|") && rejected[0].contains("|371=36|") && rejected[0].contains("|373=5|"))
        #expect(store.nextTargetSeqNum == 2)
        T.message("4", seq: 2, at: T.start, [(36, "2147483647"), (123, "N")]).withUnsafeBytes { session.receive($0, now: T.start) }
        #expect(store.nextTargetSeqNum == 2_147_483_647)
        // The last number a peer may use is processed; one past it ends the session cleanly.
        T.message("0", seq: 2_147_483_647, at: T.start).withUnsafeBytes { session.receive($0, now: T.start) }
        #expect(store.nextTargetSeqNum == 2_147_483_648 && session.isLoggedOn)
    }

    @Test("a MsgSeqNum beyond the 32-bit range ends the session with a Logout, never a trap",
          arguments: ["9223372036854775807", "2147483648", "-1"])
    func msgSeqNumOutOfRange(value: String) {
        let (session, _, store) = SessionTests().loggedOn()
        let encoder = FIXEncoder(beginString: "FIX.4.4")
        encoder.start(msgType: "0")
        encoder.append(34, value)
        encoder.append(49, "PLATFORM")
        encoder.append(52, FIXTimestamp(nanosecondsSinceEpoch: T.start, fractionDigits: 3))
        encoder.append(56, "COUNTERFOIL")
        Array(encoder.finish()).withUnsafeBytes { session.receive($0, now: T.start) }
        let outputs = session.takeOutput()
        #expect(T.sent(outputs).first?.contains("|35=5|") == true)
        #expect(!session.isLoggedOn && store.nextTargetSeqNum == 2)
    }
}

/// What a peer that has not logged on leaves behind, and what a Logon's secrets become.
@Suite struct UnauthenticatedPeerTests {
    typealias T = SessionTests

    func session(password: String? = nil) -> (Session, MemorySessionStore) {
        var configuration = SessionConfiguration(id: SessionID(beginString: "FIX.4.4", senderCompID: "COUNTERFOIL", targetCompID: "PLATFORM"))
        configuration.username = password.map { _ in "platform" }
        configuration.password = password
        let store = MemorySessionStore()
        let session = Session(configuration: configuration, store: store, application: SessionTests.Recorder())
        session.connected(now: T.start)
        return (session, store)
    }

    @Test("refused Logons (bad time, bad password, bad HeartBtInt) leave nothing in the audit log", arguments: [
        [(52, "x")], [(553, "platform"), (554, "guess")], [(553, "platform"), (554, "s3cret"), (108, "0")],
    ])
    func refusedLogonsAreNotAudited(extra: [(Int, String)]) {
        let (session, store) = session(password: "s3cret")
        var body: [(Int, String)] = [(98, "0"), (108, "30"), (553, "platform"), (554, "s3cret")]
        for (tag, value) in extra {
            if let index = body.firstIndex(where: { $0.0 == tag }) { body[index].1 = value } else { body.append((tag, value)) }
        }
        var message = T.message("A", seq: 1, at: T.start, body)
        if extra.first?.0 == 52 {
            // A SendingTime a day off.
            message = T.message("A", seq: 1, at: T.start - 86_400 * T.second, body)
        }
        message.withUnsafeBytes { session.receive($0, now: T.start) }
        #expect(!session.isLoggedOn)
        #expect(store.auditLog.isEmpty, "\(store.auditLog.count) records kept from a refused Logon")
    }

    @Test("an accepted Logon is audited with its password masked, byte for byte, and BodyLength still right")
    func acceptedLogonMasked() {
        let (session, store) = session(password: "s3cret")
        T.message("A", seq: 1, at: T.start, [(98, "0"), (108, "30"), (553, "platform"), (554, "s3cret")])
            .withUnsafeBytes { session.receive($0, now: T.start) }
        #expect(session.isLoggedOn)
        let inbound = store.auditLog.filter(\.inbound).map { String(decoding: $0.message, as: UTF8.self) }
        #expect(inbound.count == 1 && inbound[0].contains("\u{1}554=******\u{1}") && !inbound[0].contains("s3cret"))
        #expect(inbound[0].contains("\u{1}553=platform\u{1}"))
        // Messages after the Logon are audited as they came.
        T.message("0", seq: 2, at: T.start).withUnsafeBytes { session.receive($0, now: T.start) }
        #expect(store.auditLog.filter(\.inbound).count == 2)
    }

    @Test("credentials compare whole values: a prefix, a longer value or a missing one is refused")
    func credentialComparison() {
        #expect(Session.constantTimeEqual(nil, ""))
        #expect(!Session.constantTimeEqual(nil, "secret"))
        let message = T.message("A", seq: 1, at: T.start, [(554, "secret"), (553, "sec")])
        message.withUnsafeBytes { raw in
            let parsed = try! FIXParser().parse(raw)
            #expect(Session.constantTimeEqual(parsed[tag: 554], "secret"))
            #expect(!Session.constantTimeEqual(parsed[tag: 553], "secret"))
            #expect(!Session.constantTimeEqual(parsed[tag: 554], "secret!"))
        }
    }
}

/// Inputs the fuzzers found crashing (Fuzz/, scripts/fuzz), kept as regression tests.
@Suite struct FuzzRegressionTests {
    @Test("a Logon whose tag has a non-digit then many digits (found by FuzzSession): masking its secrets does not overflow")
    func maskingOverflow() {
        let logon = "8=FIX.4.4\u{1}9=60\u{1}35=A\u{1}34=1\u{1}49=P\u{1}56=C\u{1}1x99999999999999999999=1\u{1}554=s3cret\u{1}98=0\u{1}10=000\u{1}"
        let masked = Array(logon.utf8).withUnsafeBytes { Session.maskingSecrets($0) }
        #expect(masked.map { String(decoding: $0, as: UTF8.self).contains("554=******") } == true)
    }

    @Test("the input FuzzSession found runs through the session cleanly", arguments: ["session-masking-overflow"])
    func crashInput(name: String) throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Crashes/\(name)").path
        let input = try #require(FileManager.default.contents(atPath: path))
        // The fuzz target's framing: a line a message; MsgType, MsgSeqNum choice, clock step, body.
        let types = ["A", "0", "1", "2", "3", "4", "5", "D", "8", "j", "AE", "*"]
        let store = MemorySessionStore()
        let session = Session(configuration: SessionConfiguration(id: SessionID(beginString: "FIX.4.4", senderCompID: "COUNTERFOIL", targetCompID: "PLATFORM")),
                              store: store, application: SessionTests.Recorder())
        var now = SessionTests.start
        session.connected(now: now)
        for line in Array(input).split(separator: 10) where line.count >= 3 {
            let bytes = Array(line)
            let seq = bytes[1] < 200 ? store.nextTargetSeqNum + Int(bytes[1]) % 8 - 3 : Int(Int32.max)
            now += Int64(bytes[2]) * 100_000_000
            var inner = Array("35=\(types[Int(bytes[0]) % types.count])\u{1}34=\(seq)\u{1}49=PLATFORM\u{1}52=".utf8)
            inner += Array(FIXTimestamp(nanosecondsSinceEpoch: now, fractionDigits: 3).description.utf8)
            inner += Array("\u{1}56=COUNTERFOIL\u{1}".utf8) + bytes[3...]
            if inner.last != 1 { inner.append(1) }
            let head = Array("8=FIX.4.4\u{1}9=\(inner.count)\u{1}".utf8)
            let sum = (head + inner).reduce(0) { ($0 + Int($1)) % 256 }
            (head + inner + Array(String(format: "10=%03d\u{1}", sum).utf8)).withUnsafeBytes { session.receive($0, now: now) }
            _ = session.takeOutput()
        }
        #expect(store.auditLog.allSatisfy { !String(decoding: $0.message, as: UTF8.self).contains("554=s") })
    }
}

@Suite struct ClientCertificateBindingTests {
    func settings(_ extra: String) throws -> [SessionSettings] {
        let folder = NSTemporaryDirectory() + "counterfoil-binding-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        for name in ["server.pem", "server.key", "ca.pem"] { FileManager.default.createFile(atPath: "\(folder)/\(name)", contents: Data("x".utf8)) }
        let text = """
            [DEFAULT]
            SenderCompID=COUNTERFOIL
            SocketAcceptPort=9878
            ServerCertificateFile=\(folder)/server.pem
            ServerCertificateKeyFile=\(folder)/server.key
            CertificationAuthoritiesFile=\(folder)/ca.pem
            CertificateVerifyLevel=1
            \(extra)
            [SESSION]
            BeginString=FIX.4.4
            TargetCompID=PLATFORM
            """
        return try SessionSettings.load(try SettingsFile(text: text, path: "binding.cfg"))
    }

    @Test("a session that verifies client certificates but is bound to none is refused unless AllowAnyClientCertificate=Y")
    func unboundClientCertificates() throws {
        do {
            _ = try settings("")
            Issue.record("an unbound mutual-TLS session was accepted")
        } catch let error as SettingsError {
            #expect("\(error)".contains("AllowAnyClientCertificate=Y") && "\(error)".contains("ClientCertificateSubject"), "\(error)")
        }
        #expect(try settings("AllowAnyClientCertificate=Y").first?.allowsAnyClientCertificate == true)
        #expect(try settings("ClientCertificateSubject=CN=platform").first?.clientCertificateSubject == "CN=platform")
    }
}

@Suite struct ResendRangeTests {
    @Test("a ResendRequest for everything is answered with at most MaxResendRange messages, the last gap fill ending there")
    func resendIsCapped() {
        var configuration = SessionConfiguration(id: SessionID(beginString: "FIX.4.4", senderCompID: "COUNTERFOIL", targetCompID: "PLATFORM"))
        configuration.resendRangeMax = 3
        let store = MemorySessionStore()
        let session = Session(configuration: configuration, store: store, application: SessionTests.Recorder())
        session.connected(now: SessionTests.start)
        SessionTests.message("A", seq: 1, at: SessionTests.start, [(98, "0"), (108, "30")]).withUnsafeBytes { session.receive($0, now: SessionTests.start) }
        for i in 0..<6 {
            session.sendApplication(msgType: "j", now: SessionTests.start) { $0.append(45, i + 1); $0.append(58, "r\(i)"); $0.append(380, 0) }
        }
        _ = session.takeOutput()
        SessionTests.message("2", seq: 2, at: SessionTests.start, [(7, "1"), (16, "0")]).withUnsafeBytes { session.receive($0, now: SessionTests.start) }
        let resent = SessionTests.sent(session.takeOutput())
        // 1 (our Logon) as a gap fill to 2, then 2 and 3 resent: three messages, nothing past 3.
        #expect(resent.count == 3, "\(resent)")
        #expect(resent.first?.contains("|35=4|") == true && resent.first?.contains("|36=2|") == true)
        #expect(resent.last?.contains("|34=3|") == true && resent.allSatisfy { $0.contains("|43=Y|") })
    }
}
