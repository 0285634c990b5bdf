@testable import FIXAcceptor
import ExactNumbers
import FIXCore
import FIXSession
import Foundation
import Ledger
import Logging
import Reconciliation
import Testing

/// Drop-copy traffic through the acceptor into the books, over a real socket.
@Suite struct AcceptorBookingTests {
    static func settings(port: Int) -> String {
        """
        [DEFAULT]
        SenderCompID=COUNTERFOIL
        SocketAcceptPort=\(port)
        SocketUseSSL=N
        DataDictionary=\(packageRoot.path)/FixDictionaries/FIX44-DropCopy.xml

        [SESSION]
        BeginString=FIX.4.4
        TargetCompID=PLATFORM
        """
    }

    static func message(_ type: String, seq: Int, possDup: Bool = false, sender: String = "PLATFORM", _ body: [(Int, String)]) -> [UInt8] {
        let encoder = FIXEncoder(beginString: "FIX.4.4")
        encoder.start(msgType: type)
        encoder.append(34, seq)
        if possDup { encoder.append(43, "Y") }
        encoder.append(49, sender)
        let now = FIXTimestamp(nanosecondsSinceEpoch: Acceptor.now(), fractionDigits: 3)
        encoder.append(52, now)
        encoder.append(56, "COUNTERFOIL")
        if possDup { encoder.append(122, now) }
        for (tag, value) in body { encoder.append(tag, value) }
        return Array(encoder.finish())
    }

    static func fill(seq: Int, possDup: Bool = false) -> [UInt8] {
        message("8", seq: seq, possDup: possDup, [
            (1, "ACC\(seq % 3)"), (6, "101.5"), (11, "C\(seq)"), (14, "10"), (17, "EX\(seq)"), (31, "101.5"), (32, "10"),
            (37, "O\(seq)"), (38, "10"), (39, "2"), (54, seq % 2 == 0 ? "1" : "2"), (55, "VOD.L"), (60, "20261129-10:00:00"),
            (75, "20261129"), (150, "F"), (151, "0"), (15, "GBP"),
        ])
    }

    static func logon(seq: Int) -> [UInt8] { message("A", seq: seq, [(98, "0"), (108, "30")]) }

    @Test("executions are booked once, also when a reconnecting platform resends what was booked")
    func bookedExactlyOnce() async throws {
        let port = freePort()
        let sessions = try SessionSettings.load(try SettingsFile(text: Self.settings(port: port), path: "booking.cfg"))
        let folder = temporaryFolder("acceptor-booking")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let ledger = try Ledger(folder: folder)
        defer { ledger.close() }
        var logger = Logger(label: "booking")
        logger.logLevel = .critical
        let acceptor = try Acceptor(sessions: sessions, ledger: ledger, logger: logger)
        try await acceptor.start()

        let problems: [String] = await onThread {
            var problems: [String] = []
            do {
                // First connection: logon, 60 fills, then the line drops without a Logout.
                let first = try ScriptConnection(port: port)
                first.send(Self.logon(seq: 1))
                guard let answer = try? first.readMessage(timeoutSeconds: 10), String(decoding: answer, as: UTF8.self).contains("\u{1}35=A\u{1}") else {
                    return ["no Logon answer"]
                }
                for seq in 2...61 { first.send(Self.fill(seq: seq)) }
                Thread.sleep(forTimeInterval: 0.5)
                first.close()
                Thread.sleep(forTimeInterval: 0.3)
                // Second connection: the platform lost track and resends 40...61 as PossDup,
                // then goes on to 100. Nothing may be booked twice.
                let second = try ScriptConnection(port: port)
                second.send(Self.logon(seq: 62))
                guard (try? second.readMessage(timeoutSeconds: 10)) != nil else { return ["no second Logon answer"] }
                for seq in 40...61 { second.send(Self.fill(seq: seq, possDup: true)) }
                for seq in 63...100 { second.send(Self.fill(seq: seq)) }
                second.send(Self.message("5", seq: 101, []))
                _ = try? second.readMessage(timeoutSeconds: 10)
                second.close()
            } catch {
                problems.append("\(error)")
            }
            return problems
        }
        #expect(problems.isEmpty, "\(problems)")
        try await Task.sleep(for: .milliseconds(300))
        await acceptor.shutdown()

        // 2...61 and 63...100 are fills of 10 each; even numbers buy, odd sell.
        var expected: [String: ExactDecimal] = [:]
        for seq in Array(2...61) + Array(63...100) {
            expected["ACC\(seq % 3)", default: .zero] += ExactDecimal(seq % 2 == 0 ? 10 : -10)
        }
        for (account, quantity) in expected {
            let position = try ledger.position(account: account, instrument: "VOD.L")
            #expect(position?.quantity == quantity, "\(account)")
        }
        let snapshot = try #require(try ledger.sessionSnapshot("FIX.4.4:COUNTERFOIL->PLATFORM"))
        #expect(snapshot.nextTargetSeqNum == 102)
        #expect(try ledger.nextOffset() == 1 + 98)
    }

    @Test("a clearer's TradeCaptureReports on a session that does not book them: kept, and reconciled against the platform's fills")
    func clearerTradeFeed() async throws {
        let port = freePort()
        let text = Self.settings(port: port) + """

            [SESSION]
            BeginString=FIX.4.4
            TargetCompID=CLEARER
            BookTradeCaptureReports=N
            """
        let sessions = try SessionSettings.load(try SettingsFile(text: text, path: "clearer.cfg"))
        #expect(sessions.map(\.bookTradeCaptureReports) == [true, false])
        let folder = temporaryFolder("clearer")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let ledger = try Ledger(folder: folder)
        defer { ledger.close() }
        var logger = Logger(label: "clearer")
        logger.logLevel = ProcessInfo.processInfo.environment["COUNTERFOIL_TEST_LOG"] == nil ? .critical : .info
        let acceptor = try Acceptor(sessions: sessions, ledger: ledger, logger: logger)
        try await acceptor.start()
        @Sendable func capture(_ seq: Int, id: String, side: String, account: String, quantity: String, price: String,
                     replacing reference: String? = nil) -> [UInt8] {
            var body: [(Int, String)] = [(571, id), (487, reference == nil ? "0" : "2")]
            if let reference { body.append((572, reference)) }
            body += [(570, "N"), (55, "VOD.L"), (32, quantity), (31, price), (75, "20261129"), (60, "20261129-10:00:00"),
                     (552, "1"), (54, side), (37, "O\(seq)"), (1, account), (15, "GBP")]
            return Self.message("AE", seq: seq, sender: "CLEARER", body)
        }
        let problems: [String] = await onThread {
            do {
                // The platform: three fills (EX2 buy ACC2, EX3 sell ACC0, EX4 buy ACC1; 10 VOD.L at 101.5), booked.
                let platform = try ScriptConnection(port: port)
                platform.send(Self.logon(seq: 1))
                guard (try? platform.readMessage(timeoutSeconds: 10)) != nil else { return ["platform: no Logon answer"] }
                for seq in 2...4 { platform.send(Self.fill(seq: seq)) }
                // The clearer's view: EX2 under its own id, EX3 at another price, EX4 first wrong then replaced.
                let clearer = try ScriptConnection(port: port)
                clearer.send(Self.message("A", seq: 1, sender: "CLEARER", [(98, "0"), (108, "30")]))
                guard (try? clearer.readMessage(timeoutSeconds: 10)) != nil else { return ["clearer: no Logon answer"] }
                clearer.send(capture(2, id: "CLR-2", side: "1", account: "ACC2", quantity: "10", price: "101.5"))
                clearer.send(capture(3, id: "EX3", side: "2", account: "ACC0", quantity: "10", price: "102"))
                clearer.send(capture(4, id: "CLR-4", side: "1", account: "ACC1", quantity: "5", price: "101.5"))
                clearer.send(capture(5, id: "CLR-4B", side: "1", account: "ACC1", quantity: "10", price: "101.5", replacing: "CLR-4"))
                Thread.sleep(forTimeInterval: 0.8)
                platform.close()
                clearer.close()
                return []
            } catch {
                return ["\(error)"]
            }
        }
        #expect(problems.isEmpty, "\(problems)")
        await acceptor.shutdown()
        #expect(try ledger.nextOffset() == 4, "only the platform's three fills are booked")
        let statement = try Statement.tradeCaptureReports(ledger: ledger, source: "FIX.4.4:COUNTERFOIL->CLEARER")
        #expect(statement.trades.map(\.tradeID) == ["CLR-2", "EX3", "CLR-4B"])
        let report = try Reconciler(ledger: ledger).run(statement, provider: "clearer", scope: .all, who: "test")
        #expect(report.breaks.map(\.finding.identity) == ["trades|price|ACC0|EX3"])
    }

    @Test("MaxConnections and MaxMessageSize: wrong values are named, the limits hold")
    func limits() async throws {
        let port = freePort()
        let text = Self.settings(port: port).replacingOccurrences(of: "[DEFAULT]\n", with: "[DEFAULT]\nMaxConnections=1\nMaxMessageSize=512\n")
        let file = try SettingsFile(text: text, path: "limits.cfg")
        let limits = try AcceptorLimits(settings: file)
        #expect(limits.connectionsMax == 1 && limits.messageSizeMax == 512)
        let wrong = try SettingsFile(text: text.replacingOccurrences(of: "MaxConnections=1", with: "MaxConnections=lots"), path: "limits.cfg")
        #expect(throws: SettingsError.self) { try AcceptorLimits(settings: wrong) }
        do {
            _ = try AcceptorLimits(settings: wrong)
        } catch let error as SettingsError {
            #expect(error.description == "limits.cfg:2: [DEFAULT] MaxConnections: 'lots' is not a whole number from 1 to 65535")
        }

        let folder = temporaryFolder("acceptor-limits")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let ledger = try Ledger(folder: folder)
        defer { ledger.close() }
        var logger = Logger(label: "limits")
        logger.logLevel = .critical
        let acceptor = try Acceptor(sessions: try SessionSettings.load(file), ledger: ledger, limits: limits, logger: logger)
        try await acceptor.start()
        let problems: [String] = await onThread {
            var problems: [String] = []
            do {
                let first = try ScriptConnection(port: port)
                Thread.sleep(forTimeInterval: 0.2)
                // One connection is all there may be: the second is closed unread.
                let second = try ScriptConnection(port: port)
                second.send(Self.logon(seq: 1))
                if (try? second.readMessage(timeoutSeconds: 5)) != nil { problems.append("a second connection was served") }
                second.close()
                // A Logon, then a message past MaxMessageSize: never delivered, never booked.
                first.send(Self.logon(seq: 1))
                guard (try? first.readMessage(timeoutSeconds: 5)) != nil else { return ["no Logon answer"] }
                let padded = Self.message("8", seq: 2, [(58, String(repeating: "x", count: 600))])
                first.send(padded)
                first.send(Self.fill(seq: 2))
                first.send(Self.message("1", seq: 3, [(112, "PROBE")]))
                let answer = (try? first.readMessage(timeoutSeconds: 5)).map { String(decoding: $0, as: UTF8.self) } ?? ""
                if !answer.contains("\u{1}112=PROBE\u{1}") { problems.append("expected the probe's Heartbeat, got \(answer)") }
                first.close()
            } catch {
                problems.append("\(error)")
            }
            return problems
        }
        await acceptor.shutdown()
        #expect(problems.isEmpty, "\(problems)")
        #expect(try ledger.nextOffset() == 2, "only the fill of normal size is booked")
    }
}
