@testable import FIXAcceptor
import ExactNumbers
import FIXSession
import Foundation
import Ledger
import Logging
import Testing

/// The poison execution sent on a live session: LastQty × LastPx overflows 128 bits. It
/// used to be journaled and then stop every process that opened the ledger.
@Suite struct PoisonExecutionTests {
    @Test("an ExecutionReport beyond the limits is quarantined with its raw message; the rest book, and the ledger reopens")
    func poisonOnALiveSession() async throws {
        typealias B = AcceptorBookingTests
        let port = freePort()
        let sessions = try SessionSettings.load(try SettingsFile(text: B.settings(port: port), path: "poison.cfg"))
        let folder = temporaryFolder("acceptor-poison")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        do {
            let ledger = try Ledger(folder: folder)
            defer { ledger.close() }
            var logger = Logger(label: "poison")
            logger.logLevel = .critical
            let acceptor = try Acceptor(sessions: sessions, ledger: ledger, logger: logger)
            try await acceptor.start()
            let poison = B.message("8", seq: 3, [
                (1, "ACC0"), (6, "0"), (11, "C3"), (14, "99999999999999999999"), (17, "EX3"), (31, "9999999999999999999"),
                (32, "99999999999999999999"), (37, "O3"), (38, "99999999999999999999"), (39, "2"), (54, "1"), (55, "VOD.L"),
                (60, "20261129-10:00:00"), (75, "20261129"), (150, "F"), (151, "0"), (15, "GBP"),
            ])
            let problems: [String] = await onThread {
                do {
                    let platform = try ScriptConnection(port: port)
                    defer { platform.close() }
                    platform.send(B.logon(seq: 1))
                    guard (try? platform.readMessage(timeoutSeconds: 10)) != nil else { return ["no Logon answer"] }
                    platform.send(B.fill(seq: 2))
                    platform.send(poison)
                    platform.send(B.fill(seq: 4))
                    platform.send(B.message("1", seq: 5, [(112, "DONE")]))
                    // The Heartbeat answers only once everything before it is durable.
                    for _ in 0..<5 {
                        let answer = String(decoding: try platform.readMessage(timeoutSeconds: 10), as: UTF8.self)
                        if answer.contains("\u{1}112=DONE\u{1}") { return [] }
                    }
                    return ["no answer to the TestRequest"]
                } catch {
                    return ["\(error)"]
                }
            }
            #expect(problems.isEmpty, "\(problems)")
            await acceptor.shutdown()
            let quarantined = try ledger.quarantined()
            #expect(quarantined.count == 1)
            #expect(quarantined.first?.reason.contains("outside the limits") == true, "\(quarantined.first?.reason ?? "-")")
            // The message as it was received, not the ledger's re-encoding of it.
            let raw = String(decoding: quarantined.first?.raw ?? [], as: UTF8.self)
            #expect(raw.hasPrefix("8=FIX.4.4\u{1}") && raw.contains("\u{1}32=99999999999999999999\u{1}"))
        }
        // Any process opening the ledger afterwards works: positions, check.
        let reopened = try Ledger(folder: folder)
        defer { reopened.close() }
        #expect(try reopened.position(account: "ACC2", instrument: "VOD.L")?.quantity == 10)
        #expect(try reopened.position(account: "ACC1", instrument: "VOD.L")?.quantity == 10)
        #expect(try reopened.position(account: "ACC0", instrument: "VOD.L") == nil)
        #expect(try reopened.nextOffset() == 3)
        #expect(try reopened.check().isClean)
        #expect(try reopened.sessionSnapshot("FIX.4.4:COUNTERFOIL->PLATFORM")?.nextTargetSeqNum == 6)
    }
}
