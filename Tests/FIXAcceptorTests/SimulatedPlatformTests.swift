@testable import FIXAcceptor
import ExactNumbers
import FIXCore
import FIXSession
import Foundation
import Ledger
import Logging
import NIOPosix
import PlatformSimulator
import Reconciliation
import Testing

/// The demo's parts: development certificates made in Swift, the simulated platform as
/// a TLS initiator, and books that add up to exactly what it reported.
@Suite struct SimulatedPlatformTests {
    @Test("the simulated platform streams over mutual TLS; fills, corrections and busts add up to its own tally")
    func streamsAndBooks() async throws {
        let folder = temporaryFolder("simulated-platform")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let (certificates, made) = try DevelopmentCertificates.ensure(folder: folder + "/tls", clients: ["demo-platform", "stranger"])
        #expect(made)
        let (_, madeAgain) = try DevelopmentCertificates.ensure(folder: folder + "/tls", clients: ["demo-platform"])
        #expect(!madeAgain, "certificates are made once, then kept")

        let port = freePort()
        let settings = """
            [DEFAULT]
            SenderCompID=COUNTERFOIL
            SocketAcceptPort=\(port)
            ServerCertificateFile=\(certificates.serverCertificate)
            ServerCertificateKeyFile=\(certificates.serverKey)
            CertificationAuthoritiesFile=\(certificates.authority)
            CertificateVerifyLevel=1
            DataDictionary=\(packageRoot.path)/FixDictionaries/FIX44-DropCopy.xml
            [SESSION]
            BeginString=FIX.4.4
            TargetCompID=DEMO-PLATFORM
            ClientCertificateSubject=CN=demo-platform
            """
        let sessions = try SessionSettings.load(try SettingsFile(text: settings, path: "demo.cfg"))
        let ledger = try Ledger(folder: folder + "/ledger")
        defer { ledger.close() }
        var logger = Logger(label: "simulated")
        logger.logLevel = .critical
        let acceptor = try Acceptor(sessions: sessions, ledger: ledger, logger: logger)
        try await acceptor.start()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)

        var configuration = InitiatorConfiguration(port: port, senderCompID: "DEMO-PLATFORM", targetCompID: "COUNTERFOIL")

        // A certificate of the same CA with another name is turned away.
        try configuration.useMutualTLS(authority: certificates.authority, certificate: certificates.clientCertificate("stranger"),
                                       key: certificates.clientKey("stranger"))
        let refused = try await DropCopyInitiator(configuration: configuration, logger: logger)
            .run(flow: ExecutionFlow(seed: 1, prefix: "X"), count: 10, ratePerSecond: nil, group: group)
        #expect(refused.failure != nil && refused.sent == 0)

        try configuration.useMutualTLS(authority: certificates.authority, certificate: certificates.clientCertificate("demo-platform"),
                                       key: certificates.clientKey("demo-platform"))
        var flow = ExecutionFlow(seed: 7, prefix: "T")
        flow.correctionsPerMille = 50
        let report = try await DropCopyInitiator(configuration: configuration, logger: logger)
            .run(flow: flow, count: 3000, ratePerSecond: nil, group: group)
        let latencies = await acceptor.latencies()
        await acceptor.shutdown()
        try await group.shutdownGracefully()

        #expect(report.failure == nil, "\(report.failure ?? "")")
        #expect(report.sent == 3000 && report.rejects == 0 && report.confirmedAt > report.loggedOnAt)
        let tally = try #require(report.flow).netPositions()
        #expect(tally.count > 10)
        for (account, instrument, quantity) in tally {
            let position = try ledger.position(account: account, instrument: instrument)
            #expect(position?.quantity == ExactDecimal(Int(quantity)), "\(account) \(instrument)")
        }
        let booked = try ledger.positions().filter { !$0.quantity.isZero }.count
        #expect(booked == tally.count, "positions the platform never reported")
        #expect(try ledger.quarantined().isEmpty)
        let check = try ledger.check()
        #expect(check.isClean, "\(check.problems.prefix(5))")
        #expect(latencies.count >= 3000)
    }

    @Test("RequestForPositions: the platform answers with PositionReports, kept and reconciled clean against the books")
    func positionsRequestedAndReconciled() async throws {
        let (folder, port, sessions) = try Self.plainSession("positions-request")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let ledger = try Ledger(folder: folder + "/ledger")
        defer { ledger.close() }
        let logger = Self.quietLogger
        let acceptor = try Acceptor(sessions: sessions, ledger: ledger, logger: logger)
        try await acceptor.start()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let session = "FIX.4.4:COUNTERFOIL->DEMO-PLATFORM"
        await #expect(throws: AcceptorError.self) { try await acceptor.requestPositions(session: session) }

        let control = InitiatorControl()
        var flow = ExecutionFlow(seed: 11, prefix: "P")
        flow.correctionsPerMille = 30
        let configuration = InitiatorConfiguration(port: port, senderCompID: "DEMO-PLATFORM", targetCompID: "COUNTERFOIL")
        let platform = Task {
            try await DropCopyInitiator(configuration: configuration, logger: logger)
                .run(flow: flow, count: nil, ratePerSecond: 20_000, group: group, control: control)
        }
        while control.sent < 2000 { try await Task.sleep(for: .milliseconds(20)) }
        control.pause()
        let requestID = try await acceptor.requestPositions(session: session)

        // The ack says how many reports follow; wait for all of them to be kept (on a loaded
        // machine the acceptor may still be booking the stream's backlog first).
        var expected: Int?
        for _ in 0..<3000 {
            if expected == nil, let ack = try ledger.reports(kind: "RequestForPositionsAck", source: session).last {
                expected = ack.message.withUnsafeBytes { raw in
                    (try? FIXParser().parse(raw)).flatMap { try? $0[tag: 727]?.int() }
                }
            }
            if let expected, try Statement.positionReports(ledger: ledger, source: session, request: requestID).positions.count == expected { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        let statement = try Statement.positionReports(ledger: ledger, source: session, request: requestID)
        #expect(expected != nil && statement.positions.count == expected, "\(statement.positions.count) of \(expected ?? -1) reports")
        #expect(statement.positions.count > 10)

        let reconciler = try Reconciler(ledger: ledger)
        let clean = try reconciler.run(statement, provider: "demo-platform", scope: .all, who: "test")
        #expect(clean.breaks.isEmpty, "\(clean.breaks.map(\.finding.identity))")

        // Books that differ from the platform's: an adjustment nobody told the platform about.
        let first = try #require(statement.positions.first)
        try ledger.adjust(Adjustment(account: first.account, instrument: first.instrument, amount: 1, currency: first.currency ?? "USD",
                                     who: "test", why: "a planted difference"))
        let planted = try reconciler.run(statement, provider: "demo-platform", scope: .all, who: "test")
        #expect(planted.breaks.isEmpty, "booked after the reports: outside their cut-off")
        let now = try reconciler.run(statement, provider: "demo-platform", asOf: Reconciler.now(), scope: .all, who: "test")
        #expect(now.breaks.map(\.finding.identity) == ["positions|quantity|\(first.account)|\(first.instrument)"])

        control.stop()
        let report = try await platform.value
        await acceptor.shutdown()
        try await group.shutdownGracefully()
        #expect(report.failure == nil, "\(report.failure ?? "")")
        #expect(report.rejects == 0)
    }

    @Test("RequestForPositionsTime: the day's request goes out by itself once its time has come, once")
    func scheduledPositionsRequest() async throws {
        let secondsOfDay = Int(Acceptor.now() / 1_000_000_000 % 86_400)
        guard secondsOfDay > 120 && secondsOfDay < 86_000 else { return }  // the day is about to turn: nothing to learn
        let due = secondsOfDay - 60
        let (folder, port, sessions) = try Self.plainSession(
            "positions-schedule", extra: "RequestForPositionsTime=\(String(format: "%02d:%02d:%02d", due / 3600, due / 60 % 60, due % 60))")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        #expect(sessions[0].requestForPositionsSeconds == due)
        let ledger = try Ledger(folder: folder + "/ledger")
        defer { ledger.close() }
        let logger = Self.quietLogger
        let acceptor = try Acceptor(sessions: sessions, ledger: ledger, logger: logger)
        try await acceptor.start()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let control = InitiatorControl()
        let configuration = InitiatorConfiguration(port: port, senderCompID: "DEMO-PLATFORM", targetCompID: "COUNTERFOIL")
        let platform = Task {
            try await DropCopyInitiator(configuration: configuration, logger: logger)
                .run(flow: ExecutionFlow(seed: 5, prefix: "S"), count: nil, ratePerSecond: 2000, group: group, control: control)
        }
        let session = "FIX.4.4:COUNTERFOIL->DEMO-PLATFORM"
        for _ in 0..<3000 where try ledger.reports(kind: "RequestForPositionsAck", source: session).isEmpty {
            try await Task.sleep(for: .milliseconds(20))
        }
        try await Task.sleep(for: .milliseconds(500))
        control.stop()
        _ = try await platform.value
        await acceptor.shutdown()
        try await group.shutdownGracefully()
        #expect(try ledger.reports(kind: "RequestForPositionsAck", source: session).count == 1, "one request a day")
    }

    /// A plain-TCP drop-copy session with the demo platform, on a free port, validated with
    /// the shipped dictionary; `extra` lines go into its [SESSION].
    static func plainSession(_ name: String, extra: String = "") throws -> (folder: String, port: Int, sessions: [SessionSettings]) {
        let folder = temporaryFolder(name)
        let port = freePort()
        let settings = """
            [DEFAULT]
            SenderCompID=COUNTERFOIL
            SocketAcceptPort=\(port)
            SocketUseSSL=N
            DataDictionary=\(packageRoot.path)/FixDictionaries/FIX44-DropCopy.xml
            [SESSION]
            BeginString=FIX.4.4
            TargetCompID=DEMO-PLATFORM
            \(extra)
            """
        return (folder, port, try SessionSettings.load(try SettingsFile(text: settings, path: "\(name).cfg")))
    }

    static var quietLogger: Logger {
        var logger = Logger(label: "simulated")
        logger.logLevel = .critical
        return logger
    }
}
