@testable import FIXAcceptor
import FIXSession
import Foundation
import Ledger
import Logging
import Testing

/// Connections that never log on cannot starve a platform, and a half-open connection
/// cannot lock its session out.
@Suite struct ConnectionLimitTests {
    typealias B = AcceptorBookingTests

    /// An acceptor on `port` with the booking tests' session and `defaults` added to [DEFAULT].
    static func acceptor(port: Int, folder: String, defaults: String = "") throws -> (Acceptor, Ledger) {
        let text = B.settings(port: port).replacingOccurrences(of: "[DEFAULT]\n", with: "[DEFAULT]\n" + defaults)
        let file = try SettingsFile(text: text, path: "limits.cfg")
        let ledger = try Ledger(folder: folder)
        var logger = Logger(label: "limits")
        logger.logLevel = .critical
        return (try Acceptor(sessions: try SessionSettings.load(file), ledger: ledger, limits: try AcceptorLimits(settings: file), logger: logger), ledger)
    }

    @Test("300 idle connections from many addresses: at most 64 wait (8 an address), and the platform still logs on and books")
    func idleConnectionsDoNotStarve() async throws {
        let port = freePort()
        let folder = temporaryFolder("limits-idle")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let (acceptor, ledger) = try Self.acceptor(port: port, folder: folder)
        defer { ledger.close() }
        try await acceptor.start()
        let outcome: (open: Int, problem: String?) = await onThread {
            var idle: [ScriptConnection] = []
            defer { for connection in idle { connection.close() } }
            for i in 0..<300 {
                if let connection = try? ScriptConnection(port: port, from: "127.0.1.\(i / 6 + 1)") { idle.append(connection) }
            }
            // One address over its share: 8 of 12 are kept.
            for _ in 0..<12 {
                if let connection = try? ScriptConnection(port: port, from: "127.0.2.1") { idle.append(connection) }
            }
            Thread.sleep(forTimeInterval: 0.5)
            // Those the acceptor closed read as closed at once; those it keeps time out.
            let kept = idle.map { connection in
                (try? connection.readMessage(timeoutSeconds: 0)) == nil && connection.waitForDisconnect(timeoutSeconds: 0) != nil
            }
            let open = kept.count { $0 }
            if kept.suffix(12).count(where: { $0 }) != 8 { return (open, "\(kept.suffix(12).count { $0 }) of 12 kept from one address") }
            do {
                let platform = try ScriptConnection(port: port)
                defer { platform.close() }
                platform.send(B.logon(seq: 1))
                guard let answer = try? platform.readMessage(timeoutSeconds: 10),
                      String(decoding: answer, as: UTF8.self).contains("\u{1}35=A\u{1}") else { return (open, "the platform was not logged on") }
                platform.send(B.fill(seq: 2))
                platform.send(B.message("1", seq: 3, [(112, "SYNC")]))
                _ = try? platform.readMessage(timeoutSeconds: 10)
                return (open, nil)
            } catch {
                return (open, "\(error)")
            }
        }
        await acceptor.shutdown()
        #expect(outcome.problem == nil, "\(outcome.problem ?? "")")
        #expect(outcome.open == 64, "\(outcome.open) idle connections kept waiting")
        #expect(try ledger.nextOffset() == 2)
    }

    @Test("a logged-on connection gone silent past its heartbeat interval is closed for a new Logon of the same session")
    func silentConnectionTakenOver() async throws {
        let port = freePort()
        let folder = temporaryFolder("limits-silent")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let (acceptor, ledger) = try Self.acceptor(port: port, folder: folder)
        defer { ledger.close() }
        try await acceptor.start()
        let problem: String? = await onThread {
            do {
                // Logged on with HeartBtInt 2, then silent: a line that died without a FIN.
                let first = try ScriptConnection(port: port)
                defer { first.close() }
                first.send(B.message("A", seq: 1, [(98, "0"), (108, "2")]))
                guard (try? first.readMessage(timeoutSeconds: 10)) != nil else { return "no first Logon answer" }
                // Within the interval a second connection is refused, and the first kept.
                let early = try ScriptConnection(port: port)
                early.send(B.message("A", seq: 2, [(98, "0"), (108, "2")]))
                if early.waitForDisconnect(timeoutSeconds: 5) != nil { return "a second connection was served" }
                early.close()
                Thread.sleep(forTimeInterval: 2.2)
                // Past it: this attempt closes the silent one; the next gets in.
                let knock = try ScriptConnection(port: port)
                knock.send(B.message("A", seq: 2, [(98, "0"), (108, "2")]))
                _ = knock.waitForDisconnect(timeoutSeconds: 5)
                knock.close()
                for _ in 0..<20 {
                    let next = try ScriptConnection(port: port)
                    defer { next.close() }
                    next.send(B.message("A", seq: 2, [(98, "0"), (108, "2")]))
                    if let answer = try? next.readMessage(timeoutSeconds: 2), String(decoding: answer, as: UTF8.self).contains("\u{1}35=A\u{1}") {
                        return nil
                    }
                    Thread.sleep(forTimeInterval: 0.1)
                }
                return "the session stayed locked"
            } catch {
                return "\(error)"
            }
        }
        await acceptor.shutdown()
        #expect(problem == nil, "\(problem ?? "")")
    }
}

@Suite struct AcceptAddressTests {
    @Test("SocketAcceptAddress: the acceptor listens on that address only")
    func listensWhereTold() async throws {
        let port = freePort()
        let folder = temporaryFolder("accept-address")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let (acceptor, ledger) = try ConnectionLimitTests.acceptor(port: port, folder: folder, defaults: "SocketAcceptAddress=127.0.0.1\n")
        defer { ledger.close() }
        try await acceptor.start()
        let reached: (loopback: Bool, other: Bool) = await onThread {
            let loopback = (try? ScriptConnection(port: port, to: "127.0.0.1")).map { $0.close(); return true } ?? false
            let other = (try? ScriptConnection(port: port, to: "127.0.0.2")).map { $0.close(); return true } ?? false
            return (loopback, other)
        }
        await acceptor.shutdown()
        #expect(reached.loopback && !reached.other)
    }
}

@Suite struct LogonRateTests {
    @Test("Logon attempts beyond MaxLogonAttemptsPerMinute from one address are closed unanswered; another address still logs on")
    func logonAttemptsPerMinute() async throws {
        let port = freePort()
        let folder = temporaryFolder("logon-rate")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let (acceptor, ledger) = try ConnectionLimitTests.acceptor(port: port, folder: folder, defaults: "MaxLogonAttemptsPerMinute=20\n")
        defer { ledger.close() }
        try await acceptor.start()
        let outcome: (guesser: Bool, other: Bool) = await onThread {
            // Twenty guesses at the CompIDs from one address use its minute up.
            for _ in 0..<20 {
                guard let guess = try? ScriptConnection(port: port, from: "127.0.4.1") else { continue }
                guess.send(AcceptorBookingTests.message("A", seq: 1, sender: "GUESS", [(98, "0"), (108, "30")]))
                _ = guess.waitForDisconnect(timeoutSeconds: 5)
                guess.close()
            }
            func logsOn(from address: String) -> Bool {
                guard let connection = try? ScriptConnection(port: port, from: address) else { return false }
                defer { connection.close() }
                connection.send(AcceptorBookingTests.logon(seq: 1))
                return (try? connection.readMessage(timeoutSeconds: 5)).map { String(decoding: $0, as: UTF8.self).contains("\u{1}35=A\u{1}") } ?? false
            }
            let guesser = logsOn(from: "127.0.4.1")
            Thread.sleep(forTimeInterval: 0.2)
            return (guesser, logsOn(from: "127.0.4.2"))
        }
        await acceptor.shutdown()
        #expect(!outcome.guesser, "the right CompIDs got in after the address's attempts were used up")
        #expect(outcome.other)
    }
}
