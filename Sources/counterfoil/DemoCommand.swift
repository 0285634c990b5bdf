import ArgumentParser
import CRM
import FIXAcceptor
import FIXSession
import Foundation
import Ledger
import Logging
import NIOPosix
import PlatformSimulator
import ServiceLifecycle

/// `counterfoil demo`: the service with a built-in trading platform streaming to it.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run the service with a demo trading platform that streams executions to it over TLS.",
        discussion: """
        On first start it makes FOLDER/tls (a development CA, the acceptor's certificate \
        and the demo platform's client certificate) and FOLDER/counterfoil.cfg (QuickFIX-format \
        settings: one mutual-TLS drop-copy session, the ledger in FOLDER/ledger). Edit the \
        settings freely; later starts use them as they are. While it runs, look at the books \
        from another terminal: counterfoil sessions, counterfoil positions, counterfoil trades \
        --account ALPHA-001. SIGINT (Ctrl-C) or SIGTERM stops the platform, logs the session \
        out and flushes the books.
        """
    )

    @Option(help: "Where the settings, the certificates and the ledger live.")
    var folder = "var"

    @Option(name: .customLong("api-port"), help: "The HTTP API's port, when the settings are first written.")
    var apiPort = 8080

    @Option(help: "The acceptor's port, when the settings are first written.")
    var port = 9878

    @Option(help: "Executions per second the demo platform sends.")
    var rate = 20

    static let platform = "DEMO-PLATFORM"
    static let clientName = "demo-platform"

    func run() async throws {
        guard rate > 0 else { throw UserError("--rate must be at least 1") }
        var logger = Logger(label: "counterfoil")
        logger.logLevel = .info
        let (certificates, made) = try DevelopmentCertificates.ensure(folder: folder + "/tls", clients: [Self.clientName])
        if made { logger.info("made development certificates", metadata: ["folder": "\(certificates.folder)"]) }
        let path = folder + "/counterfoil.cfg"
        if !FileManager.default.fileExists(atPath: path) {
            try demoSettings(certificates).write(toFile: path, atomically: true, encoding: .utf8)
            logger.info("wrote demo settings", metadata: ["file": "\(path)"])
        }
        let settings = try ServiceSettings(path: path)
        guard let session = settings.sessions.first(where: { $0.id.targetCompID == Self.platform }) else {
            throw UserError("\(path): no session with TargetCompID=\(Self.platform) for the demo platform")
        }
        let ledgerFolder = settings.ledgerFolder(default: folder + "/ledger")
        let ledger = try Ledger(folder: ledgerFolder)
        defer { ledger.close() }
        let acceptor = try settings.acceptor(ledger: ledger, logger: logger)
        let api = try APISettings(file: settings.file, override: nil)
        let apiServices = try api.services(ledger: ledger, acceptor: acceptor, logger: logger)
        let tokenFile = try prepareCRM(ledger: ledger, settings: api)

        var initiator = InitiatorConfiguration(port: session.acceptPort, senderCompID: Self.platform,
                                               targetCompID: session.id.senderCompID)
        initiator.beginString = session.id.beginString
        if session.useTLS {
            try initiator.useMutualTLS(authority: certificates.authority, certificate: certificates.clientCertificate(Self.clientName),
                                       key: certificates.clientKey(Self.clientName))
        }
        let bin = CommandLine.arguments.first.map { $0.contains("/") ? $0 : "counterfoil" } ?? "counterfoil"
        print("""
            Counterfoil demo: the acceptor listens on port \(session.acceptPort), the demo platform streams \(rate) executions/s.
            Books in \(ledgerFolder). In another terminal:
              \(bin) sessions --ledger \(ledgerFolder)
              \(bin) positions --ledger \(ledgerFolder)
              \(bin) trades --ledger \(ledgerFolder) --account ALPHA-001
              curl -H "Authorization: Bearer $(cat \(tokenFile))" http://\(api.host):\(api.port)/v1/clients
              curl -H "Authorization: Bearer $(cat \(tokenFile))" http://\(api.host):\(api.port)/v1/clients/C000001/trades?limit=5
            Ctrl-C stops it.
            """)
        let platform = DemoPlatformService(initiator: DropCopyInitiator(configuration: initiator, logger: logger), rate: rate,
                                           logger: logger)
        let group = ServiceGroup(services: [AcceptorService(acceptor: acceptor), platform] + apiServices,
                                 gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await group.run()
    }

    /// On the first start: a client per demo account, linked, and an admin token kept in
    /// FOLDER/admin.token (readable by the owner only). Returns the token file.
    private func prepareCRM(ledger: Ledger, settings: APISettings) throws -> String {
        let tokenFile = folder + "/admin.token"
        let store = try settings.store(ledger: ledger)
        if try store.clients(limit: 1).isEmpty {
            let countries = ["GB", "GB", "US", "LU", "CH", "GB", "US", "IE"]
            for (index, account) in ExecutionFlow.accounts.enumerated() {
                let name = account.split(separator: "-").first.map { $0.capitalized } ?? account
                let client = try store.createClient(ClientInput(kind: index % 2 == 0 ? .person : .company, name: "\(name) \(index % 2 == 0 ? "Family" : "Capital")",
                                                                countryOfResidence: countries[index], status: .active, tags: ["demo"]), who: "demo")
                _ = try store.link(.account, account, to: client.id, who: "demo")
            }
        }
        if !FileManager.default.fileExists(atPath: tokenFile) {
            let (token, _) = try store.createToken(name: "demo admin", role: .admin, who: "demo")
            FileManager.default.createFile(atPath: tokenFile, contents: Data(token.utf8), attributes: [.posixPermissions: 0o600])
        }
        return tokenFile
    }

    private func demoSettings(_ certificates: DevelopmentCertificates) throws -> String {
        let keyFile = folder + "/data.key"
        if !FileManager.default.fileExists(atPath: keyFile) {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            FileManager.default.createFile(atPath: keyFile, contents: Data(DataKey.generate().utf8), attributes: [.posixPermissions: 0o600])
        }
        let dictionary = "FixDictionaries/FIX44-DropCopy.xml"
        let validation = FileManager.default.fileExists(atPath: dictionary)
            ? "DataDictionary=\(dictionary)"
            : "UseDataDictionary=N"
        return """
            # Counterfoil settings for the demo, written by `counterfoil demo` on its first start.
            # QuickFIX's layout and names; `counterfoil serve --config \(folder)/counterfoil.cfg` runs
            # the same acceptor without the demo platform.
            [DEFAULT]
            SenderCompID=COUNTERFOIL
            SocketAcceptPort=\(port)
            LedgerPath=\(folder)/ledger
            HeartBtInt=30
            ServerCertificateFile=\(certificates.serverCertificate)
            ServerCertificateKeyFile=\(certificates.serverKey)
            CertificationAuthoritiesFile=\(certificates.authority)
            CertificateVerifyLevel=1
            \(validation)

            # The demo platform: mutual TLS, bound to its certificate's subject. It keeps no
            # message store, so it resets sequence numbers at each Logon.
            [SESSION]
            BeginString=FIX.4.4
            TargetCompID=\(Self.platform)
            ClientCertificateSubject=CN=\(Self.clientName)

            # The HTTP API (the CRM link), and the key that seals personal data at rest.
            [API]
            Listen=127.0.0.1:\(apiPort)
            DataKeyFile=\(keyFile)

            """
    }
}

/// The demo platform as a service: connects (again, after a pause, whenever the
/// connection ends), streams until shutdown, and says every ten seconds what it sent.
struct DemoPlatformService: Service {
    let initiator: DropCopyInitiator
    let rate: Int
    let logger: Logger

    func run() async throws {
        let control = InitiatorControl()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let seed = UInt64(Date().timeIntervalSince1970 * 1000)
        let reporter = Task {
            var last = 0
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(10))
                let sent = control.sent
                if sent != last { logger.info("demo platform: \(sent) executions sent") }
                last = sent
            }
        }
        defer { reporter.cancel() }
        await withGracefulShutdownHandler {
            var attempt = 0
            while !control.isStopped {
                attempt += 1
                // A fresh prefix per connection: ExecIDs never repeat across runs on the same books.
                let flow = ExecutionFlow(seed: seed &+ UInt64(attempt), prefix: "D\(seed % 1_000_000_000)-\(attempt)")
                do {
                    let report = try await initiator.run(flow: flow, count: nil, ratePerSecond: rate, group: group, control: control)
                    if let failure = report.failure { logger.warning("demo platform: \(failure)") }
                } catch {
                    logger.warning("demo platform cannot connect: \(error)")
                }
                if !control.isStopped { try? await Task.sleep(for: .seconds(2)) }
            }
        } onGracefulShutdown: {
            control.stop()
        }
        try? await group.shutdownGracefully()
    }
}
