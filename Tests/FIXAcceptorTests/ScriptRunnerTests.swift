import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A one-connection TCP peer on loopback that answers the first bytes it reads with
/// `reply`, then closes (at once, or when the client does).
final class ScriptedPeer: @unchecked Sendable {
    let port: Int
    private let listener: Int32
    private let done = DispatchSemaphore(value: 0)

    init(reply: [UInt8], closeAfterReply: Bool) throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) == 0 && getsockname(listener, $0, &length) == 0 }
        }
        guard bound, listen(listener, 1) == 0 else {
            close(listener)
            throw ScriptRunner.Failure(line: 0, why: "cannot listen: errno \(errno)")
        }
        self.listener = listener
        port = Int(UInt16(bigEndian: address.sin_port))
        let done = self.done
        Thread {
            defer { done.signal() }
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { return }
            defer { close(connection) }
            var chunk = [UInt8](repeating: 0, count: 4096)
            guard chunk.withUnsafeMutableBytes({ recv(connection, $0.baseAddress, $0.count, 0) }) > 0 else { return }
            _ = reply.withUnsafeBytes { send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if !closeAfterReply {
                // Until the client closes.
                while chunk.withUnsafeMutableBytes({ recv(connection, $0.baseAddress, $0.count, 0) }) > 0 {}
            }
        }.start()
    }

    deinit {
        close(listener)
        done.wait()
    }
}

/// The acceptance runner itself: it must not pass a script by accident.
@Suite struct ScriptRunnerTests {
    static let logon = ScriptRunner.fixify(Array("8=FIX.4.2\u{1}35=A\u{1}34=1\u{1}49=TW42\u{1}52=20261208-10:00:00\u{1}56=ISLD\u{1}98=0\u{1}108=30\u{1}".utf8))
    static let reply = ScriptRunner.fixify(Array("8=FIX.4.2\u{1}35=A\u{1}34=1\u{1}49=ISLD\u{1}52=20261208-10:00:00.123\u{1}56=TW42\u{1}98=0\u{1}108=30\u{1}".utf8))

    /// A script with CRLF line endings whose E line expects HeartBtInt `heartBtInt`.
    static func crlfScript(expectingHeartBtInt heartBtInt: Int) -> [UInt8] {
        let lines = [
            "# a script written on Windows",
            "iCONNECT",
            "I8=FIX.4.2\u{1}35=A\u{1}34=1\u{1}49=TW42\u{1}52=<TIME>\u{1}56=ISLD\u{1}98=0\u{1}108=30\u{1}",
            "E8=FIX.4.2\u{1}9=63\u{1}35=A\u{1}34=1\u{1}49=ISLD\u{1}52=00000000-00:00:00.000\u{1}56=TW42\u{1}98=0\u{1}108=\(heartBtInt)\u{1}10=0\u{1}",
            "iDISCONNECT",
        ]
        return Array(lines.joined(separator: "\r\n").utf8) + [13, 10]
    }

    @Test("a CRLF script is read line by line: the right expectation passes, a wrong one fails, and both count their lines")
    func crlfScripts() throws {
        let right = ScriptRunner.Script(bytes: Self.crlfScript(expectingHeartBtInt: 30))
        #expect(right.lines.count == 4 && right.sendLines == 1 && right.expectLines == 1)
        let peer = try ScriptedPeer(reply: Self.reply, closeAfterReply: false)
        var executed = ScriptRunner.Executed()
        try ScriptRunner(port: peer.port, readTimeoutSeconds: 5).run(right, executed: &executed)
        #expect(executed == ScriptRunner.Executed(sendLines: 1, expectLines: 1))

        let wrong = ScriptRunner.Script(bytes: Self.crlfScript(expectingHeartBtInt: 31))
        let other = try ScriptedPeer(reply: Self.reply, closeAfterReply: false)
        var counted = ScriptRunner.Executed()
        #expect(throws: ScriptRunner.Failure.self) {
            try ScriptRunner(port: other.port, readTimeoutSeconds: 5).run(wrong, executed: &counted)
        }
        #expect(counted == ScriptRunner.Executed(sendLines: 1, expectLines: 1))
    }

    @Test("eDISCONNECT fails when the peer sends a Logout before it closes, and passes when it just closes")
    func strictDisconnect() throws {
        let script = ScriptRunner.Script(bytes: Array("iCONNECT\nI\(String(decoding: Self.logon, as: UTF8.self))\neDISCONNECT\n".utf8))
        let logout = ScriptRunner.fixify(Array("8=FIX.4.2\u{1}35=5\u{1}34=1\u{1}49=ISLD\u{1}52=20261208-10:00:00.000\u{1}56=TW42\u{1}58=CompID problem\u{1}".utf8))
        let talkative = try ScriptedPeer(reply: logout, closeAfterReply: true)
        var executed = ScriptRunner.Executed()
        do {
            try ScriptRunner(port: talkative.port, readTimeoutSeconds: 5).run(script, executed: &executed)
            Issue.record("a Logout before the close passed eDISCONNECT")
        } catch let failure as ScriptRunner.Failure {
            #expect(failure.why == "Expected disconnection, got data" && failure.line == 3)
        }
        let silent = try ScriptedPeer(reply: [], closeAfterReply: true)
        try ScriptRunner(port: silent.port, readTimeoutSeconds: 5).run(script, executed: &executed)
    }

    @Test("the comparison follows QuickFIX's: patterns for times and CheckSum, the true CheckSum, field count and order")
    func comparison() {
        let expected = Array("8=FIX.4.2\u{1}9=63\u{1}35=A\u{1}34=1\u{1}49=ISLD\u{1}52=00000000-00:00:00.000\u{1}56=TW42\u{1}98=0\u{1}108=30\u{1}10=0\u{1}".utf8)
        #expect(ScriptRunner.compare(expected: expected, actual: Self.reply) == nil)
        var badSum = Self.reply
        badSum[badSum.count - 2] = badSum[badSum.count - 2] == UInt8(ascii: "0") ? UInt8(ascii: "1") : UInt8(ascii: "0")
        #expect(ScriptRunner.compare(expected: expected, actual: badSum)?.hasPrefix("CheckSum (10)") == true)
        let reordered = ScriptRunner.fixify(Array("8=FIX.4.2\u{1}35=A\u{1}34=1\u{1}49=ISLD\u{1}52=20261208-10:00:00.123\u{1}56=TW42\u{1}108=30\u{1}98=0\u{1}".utf8))
        #expect(ScriptRunner.compare(expected: expected, actual: reordered) != nil)
        let noTime = ScriptRunner.fixify(Array("8=FIX.4.2\u{1}35=A\u{1}34=1\u{1}49=ISLD\u{1}52=yesterday-at-noon!!!!\u{1}56=TW42\u{1}98=0\u{1}108=30\u{1}".utf8))
        #expect(ScriptRunner.compare(expected: expected, actual: noTime) == "Field (52) does not match pattern")
    }
}
