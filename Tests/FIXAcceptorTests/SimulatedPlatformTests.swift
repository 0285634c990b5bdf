@testable import FIXAcceptor
import ExactNumbers
import FIXSession
import Foundation
import Ledger
import Logging
import NIOPosix
import PlatformSimulator
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
}
