import Foundation
import Testing

/// FIX session-layer test cases (logon refusals, sequence gaps and resends, SequenceReset,
/// PossDup and PossResend, garbled messages, TestRequest and heartbeats, Reject and
/// validation) written by this project for the versions the standard scripts do not
/// cover: FIX 4.0, 4.1, 4.3 and 4.4. They are `.def` scripts, made here from one list for
/// every version and written to files, so that any runner (QuickFIX's, fixat.py) can run
/// them too: set COUNTERFOIL_SCENARIOS_OUT to keep them in a folder.
struct ScenarioVersion: Sendable, CustomStringConvertible {
    let folder: String
    let beginString: String
    let target: String
    let dictionary: String

    static let all = [
        ScenarioVersion(folder: "fix40", beginString: "FIX.4.0", target: "TW40", dictionary: "FIX40.xml"),
        ScenarioVersion(folder: "fix41", beginString: "FIX.4.1", target: "TW41", dictionary: "FIX41.xml"),
        ScenarioVersion(folder: "fix43", beginString: "FIX.4.3", target: "TW43", dictionary: "FIX43.xml"),
        ScenarioVersion(folder: "fix44", beginString: "FIX.4.4", target: "TW44", dictionary: "FIX44.xml"),
    ]

    var description: String { folder }
    /// FIX 4.0 and 4.1: no fractions of a second, no SessionRejectReason, no
    /// BusinessMessageReject, and 999999 for "to the end" in a ResendRequest.
    var legacy: Bool { beginString < "FIX.4.2" }
    /// What our SendingTime looks like (compared by pattern, but its length counts in BodyLength).
    var time: String { legacy ? "00000000-00:00:00" : "00000000-00:00:00.000" }
    var infinity: String { legacy ? "999999" : "0" }
    /// A NewOrderSingle body with the fields this version requires, in tag order (the echo's order).
    var order: String { legacy ? "11=ID|21=1|38=100|40=1|54=1|55=INTC|" : "11=ID|21=1|38=100|40=1|54=1|55=INTC|60=<TIME>|" }
    var echoedOrder: String { order.replacingOccurrences(of: "<TIME>", with: "00000000-00:00:00") }

    /// A line the test client sends.
    func send(_ type: String, _ seq: Int, _ body: String = "", header: String = "", time: String = "<TIME>",
              sender: String? = nil, target: String = "ISLD", beginString: String? = nil) -> String {
        "I8=\(beginString ?? self.beginString)|35=\(type)|34=\(seq)|49=\(sender ?? self.target)|52=\(time)|56=\(target)|\(header)\(body)"
    }

    /// A line the acceptor must send; header fields in tag order, as it writes them.
    func expect(_ type: String, _ seq: Int, _ body: String = "", possDup: Bool = false) -> String {
        "E8=\(beginString)|35=\(type)|34=\(seq)|" + (possDup ? "43=Y|" : "") + "49=ISLD|52=\(time)|56=\(target)|"
            + (possDup ? "122=\(time)|" : "") + body
    }

    /// A session-level Reject: FIX 4.0 and 4.1 carry RefSeqNum and Text only.
    func reject(_ seq: Int, ref: Int, reason: Int, text: String, tag: Int? = nil, msgType: String) -> String {
        if legacy { return expect("3", seq, "45=\(ref)|58=\(text)|") }
        return expect("3", seq, "45=\(ref)|58=\(text)|" + (tag.map { "371=\($0)|" } ?? "") + "372=\(msgType)|373=\(reason)|")
    }

    var logon: [String] { ["iCONNECT", send("A", 1, "98=0|108=30|"), expect("A", 1, "98=0|108=30|")] }

    func logout(in inbound: Int, out outbound: Int) -> [String] { [send("5", inbound), expect("5", outbound), "eDISCONNECT"] }

    /// `line` on connection `id` (`I1,…`).
    func on(_ id: Int, _ line: String) -> String { String(line.prefix(1)) + "\(id)," + line.dropFirst() }

    /// The scenarios, by name.
    var scenarios: [(name: String, lines: [String])] {
        let garbledLength = "35=0|34=2|49=\(target)|52=20261208-00:00:00|56=ISLD|".count
        return [
            ("1a_ValidLogonWithCorrectMsgSeqNum", logon + logout(in: 2, out: 2)),
            ("1a_ValidLogonMsgSeqNumTooHigh", [
                "iCONNECT", send("A", 5, "98=0|108=30|"), expect("A", 1, "98=0|108=30|"),
                expect("2", 2, "7=1|16=\(infinity)|"),
            ] + logout(in: 6, out: 3)),
            ("1b_DuplicateIdentity", logon.map { on(1, $0) } + [
                "i2,CONNECT", on(2, send("A", 1, "98=0|108=30|")), "e2,DISCONNECT",
            ] + logout(in: 2, out: 2).map { on(1, $0) }),
            ("1c_InvalidTargetCompID", ["iCONNECT", send("A", 1, "98=0|108=30|", target: "DLSI"), "eDISCONNECT"]),
            ("1c_InvalidSenderCompID", ["iCONNECT", send("A", 1, "98=0|108=30|", sender: "WT"), "eDISCONNECT"]),
            ("1d_InvalidLogonBadSendingTime", ["iCONNECT", send("A", 1, "98=0|108=30|", time: "20010101-00:00:00"), "eDISCONNECT"]),
            ("1d_InvalidLogonWrongBeginString", ["iCONNECT", send("A", 1, "98=0|108=30|", beginString: "FIX.3.9"), "eDISCONNECT"]),
            ("1e_NotLogonMessage", ["iCONNECT", send("0", 1), "eDISCONNECT"]),
            ("2b_MsgSeqNumTooHigh", logon + [
                send("0", 2), send("0", 5), expect("2", 2, "7=3|16=\(infinity)|"), send("0", 3), send("0", 4),
            ] + logout(in: 6, out: 3)),
            ("2c_MsgSeqNumTooLow", logon + [
                send("0", 2), send("0", 3), send("0", 2), expect("5", 2, "58=MsgSeqNum too low, expecting 4 but received 2|"),
                "eDISCONNECT",
            ]),
            ("2d_GarbledMessage", logon + [
                // A wrong CheckSum: ignored, and the same number comes again.
                send("0", 2).replacingOccurrences(of: "|35=", with: "|9=\(garbledLength)|35=") + "10=XYZ|",
                send("0", 2), send("1", 3, "112=HELLO|"), expect("0", 2, "112=HELLO|"),
            ] + logout(in: 4, out: 3)),
            ("2e_PossDupAlreadyReceived", logon + [
                send("0", 2), send("0", 2, header: "43=Y|122=<TIME>|"), send("1", 3, "112=HELLO|"), expect("0", 2, "112=HELLO|"),
            ] + logout(in: 4, out: 3)),
            ("2f_PossDupOrigSendingTimeTooHigh", logon + [
                send("D", 2, order), expect("D", 2, echoedOrder), send("D", 3, order), expect("D", 3, echoedOrder),
                send("D", 2, order, header: "43=Y|122=<TIME+10>|"),
                reject(4, ref: 2, reason: 10, text: "SendingTime accuracy problem", msgType: "D"), expect("5", 5),
                send("5", 4), "eDISCONNECT",
            ]),
            ("2g_PossDupNoOrigSendingTime", logon + [
                send("D", 2, order), expect("D", 2, echoedOrder), send("D", 3, order), expect("D", 3, echoedOrder),
                send("D", 2, order, header: "43=Y|"),
                reject(4, ref: 2, reason: 1, text: "Required tag missing", tag: 122, msgType: "D"),
                send("1", 4, "112=HELLO|"), expect("0", 5, "112=HELLO|"),
            ] + logout(in: 5, out: 6)),
            ("2k_CompIDDoesNotMatchProfile", logon + [
                send("D", 2, order, sender: "WT"), reject(2, ref: 2, reason: 9, text: "CompID problem", msgType: "D"),
                expect("5", 3), send("5", 3), "eDISCONNECT",
            ]),
            ("2o_SendingTimeValueOutOfRange", logon + [
                send("0", 2, time: "<TIME-121>"), reject(2, ref: 2, reason: 10, text: "SendingTime accuracy problem", msgType: "0"),
                expect("5", 3), send("5", 3), "eDISCONNECT",
            ]),
            ("2q_MsgTypeNotValid", logon + [
                send("*", 2), reject(2, ref: 2, reason: 11, text: "Invalid MsgType", msgType: "*"),
            ] + logout(in: 3, out: 3)),
            ("2r_UnsupportedMsgType", logon + [
                send("H", 2, "11=ID|54=1|55=INTC|"),
                legacy ? expect("3", 2, "45=2|58=Unsupported Message Type|")
                    : expect("j", 2, "45=2|58=Unsupported Message Type|372=H|380=3|"),
            ] + logout(in: 3, out: 3)),
            ("4a_NoDataSentDuringHeartBtInt", [
                "iCONNECT", send("A", 1, "98=0|108=2|"), expect("A", 1, "98=0|108=2|"), expect("0", 2), send("0", 2),
            ] + logout(in: 3, out: 3)),
            ("4b_ReceivedTestRequest", logon + [send("1", 2, "112=TEST1|"), expect("0", 2, "112=TEST1|")] + logout(in: 3, out: 3)),
            ("6_SendTestRequest", [
                "iCONNECT", send("A", 1, "98=0|108=2|"), expect("A", 1, "98=0|108=2|"), expect("0", 2),
                expect("1", 3, "112=TEST|"), send("0", 2, "112=TEST|"),
            ] + logout(in: 3, out: 4)),
            ("7_ReceiveRejectMessage", logon + [
                send("3", 2, "45=1|"), send("1", 3, "112=HI|"), expect("0", 2, "112=HI|"),
            ] + logout(in: 4, out: 3)),
            ("8_ResendRequestAnswered", logon + [
                send("D", 2, order), expect("D", 2, echoedOrder), send("1", 3, "112=HI|"), expect("0", 3, "112=HI|"),
                send("D", 4, order), expect("D", 4, echoedOrder),
                send("2", 5, "7=1|16=\(infinity)|"),
                expect("4", 1, "36=2|123=Y|", possDup: true), expect("D", 2, echoedOrder, possDup: true),
                expect("4", 3, "36=4|123=Y|", possDup: true), expect("D", 4, echoedOrder, possDup: true),
                send("1", 6, "112=AFTER|"), expect("0", 5, "112=AFTER|"),
            ] + logout(in: 7, out: 6)),
            ("10_SequenceResetGapFill", logon + [
                send("4", 2, "36=10|123=Y|"), send("1", 10, "112=HI|"), expect("0", 2, "112=HI|"),
            ] + logout(in: 11, out: 3)),
            ("11a_NewSeqNoGreater", logon + [
                send("4", 0, "36=25|"), send("1", 25, "112=HI|"), expect("0", 2, "112=HI|"),
            ] + logout(in: 26, out: 3)),
            ("11c_NewSeqNoLess", logon + [
                send("4", 0, "36=1|"),
                reject(2, ref: 0, reason: 5, text: "Value is incorrect (out of range) for this tag", msgType: "4"),
                send("1", 2, "112=HI|"), expect("0", 3, "112=HI|"),
            ] + logout(in: 3, out: 4)),
            ("14a_BadField", logon + [
                send("0", 2, "9999=HI|"), reject(2, ref: 2, reason: 0, text: "Invalid tag number", tag: 9999, msgType: "0"),
            ] + logout(in: 3, out: 3)),
            ("14b_RequiredFieldMissing", logon + [
                send("D", 2, order.replacingOccurrences(of: "54=1|", with: "")),
                reject(2, ref: 2, reason: 1, text: "Required tag missing", tag: 54, msgType: "D"),
            ] + logout(in: 3, out: 3)),
            ("14e_IncorrectEnumValue", logon + [
                send("D", 2, order.replacingOccurrences(of: "54=1|", with: "54=Z|")),
                reject(2, ref: 2, reason: 5, text: "Value is incorrect (out of range) for this tag", tag: 54, msgType: "D"),
            ] + logout(in: 3, out: 3)),
            ("14f_IncorrectDataFormat", logon + [
                send("D", 2, order.replacingOccurrences(of: "38=100|", with: "38=ABC|")),
                reject(2, ref: 2, reason: 6, text: "Incorrect data format for value", tag: 38, msgType: "D"),
            ] + logout(in: 3, out: 3)),
            ("14h_RepeatedTag", logon + [
                send("D", 2, order.replacingOccurrences(of: "55=INTC|", with: "55=INTC|55=INTC|")),
                reject(2, ref: 2, reason: 13, text: "Tag appears more than once", tag: 55, msgType: "D"),
            ] + logout(in: 3, out: 3)),
            ("19_PossResend", logon + [
                // Not seen before: processed. Seen on this logon: dropped.
                send("D", 2, order, header: "97=Y|"), expect("D", 2, "97=Y|" + echoedOrder),
                send("D", 3, order, header: "97=Y|"), send("1", 4, "112=HI|"), expect("0", 3, "112=HI|"),
            ] + logout(in: 5, out: 4)),
        ]
    }

    /// The scenarios as `.def` files in `folder`; their paths.
    func write(to folder: String) throws -> [String] {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        return try scenarios.map { scenario in
            let path = "\(folder)/\(scenario.name).def"
            let text = "# \(scenario.name) for \(beginString), written for Counterfoil's session tests\n"
                + scenario.lines.map { $0.replacingOccurrences(of: "|", with: "\u{1}") }.joined(separator: "\n") + "\n"
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }
    }
}

@Suite struct SessionScenarioTests {
    static func settings(_ version: ScenarioVersion) -> String {
        """
        [DEFAULT]
        ConnectionType=acceptor
        SenderCompID=ISLD
        SocketAcceptPort=PORT
        ResetOnLogon=Y
        SocketUseSSL=N

        [SESSION]
        BeginString=\(version.beginString)
        TargetCompID=\(version.target)
        DataDictionary=\(spec)/\(version.dictionary)

        """
    }

    @Test("session-layer scenarios pass for FIX 4.0, 4.1, 4.3 and 4.4, executing every line", arguments: ScenarioVersion.all)
    func scenarios(version: ScenarioVersion) async throws {
        #expect(version.scenarios.count >= 20)
        let keep = ProcessInfo.processInfo.environment["COUNTERFOIL_SCENARIOS_OUT"]
        let folder = keep.map { "\($0)/\(version.folder)" } ?? temporaryFolder("scenarios-\(version.folder)")
        defer { if keep == nil { try? FileManager.default.removeItem(atPath: folder) } }
        let paths = try version.write(to: folder)
        let server = try ConformanceServer(settings: Self.settings(version))
        let port = server.port
        let results = await onThread { runScripts(paths, port: port) }
        #expect(server.stop() == 0, "conformance-server did not shut down cleanly")
        #expect(results.ran == version.scenarios.count)
        #expect(results.failures.isEmpty, "\(results.failures.count) of \(paths.count) failed:\n\(results.failures.joined(separator: "\n"))")
        #expect(results.incomplete.isEmpty, "\(results.incomplete.joined(separator: "\n"))")
    }
}
