import ArgumentParser
import FIXAcceptor
import Foundation
import Ledger
import Logging
import ServiceLifecycle

/// `counterfoil conformance-server --config FILE`: Counterfoil's acceptor with the
/// application QuickFIX's session acceptance suite expects, so that any party can run a
/// `.def` suite (QuickFIX's own Ruby runner included) against Counterfoil's session layer.
struct ConformanceServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conformance-server",
        abstract: "Run the FIX acceptor with the echo application the standard session acceptance scripts expect.",
        discussion: """
        FILE is a QuickFIX-format settings file, as for serve. Behind every session runs the \
        application QuickFIX's acceptance suite expects: NewOrderSingle and SecurityDefinition \
        are echoed back (a PossResend order already seen on this logon is dropped), any other \
        application message is refused as unsupported. Nothing is booked. Sequence numbers and \
        the audit log go to a temporary ledger, removed on exit, unless [DEFAULT] names a \
        LedgerPath. Prints one 'listening on PORT' line per port once it accepts connections; \
        runs until SIGTERM or SIGINT.
        """
    )

    @Option(help: "The settings file.")
    var config: String

    @Option(help: "Log level: critical, error, warning, info, debug.")
    var logLevel: String = "warning"

    func run() async throws {
        guard let level = Logger.Level(rawValue: logLevel) else {
            throw UserError("--log-level '\(logLevel)' is not one of critical, error, warning, info, debug")
        }
        let settings = try ServiceSettings(path: config)
        let named = settings.file.defaults.values["LedgerPath"]
        let folder = named ?? NSTemporaryDirectory() + "counterfoil-conformance-\(UUID().uuidString)"
        defer { if named == nil { try? FileManager.default.removeItem(atPath: folder) } }
        var logger = Logger(label: "counterfoil-conformance")
        logger.logLevel = level
        let ledger = try Ledger(folder: folder)
        defer { ledger.close() }
        let acceptor = try settings.acceptor(ledger: ledger, logger: logger, application: .conformance)
        let group = ServiceGroup(services: [ConformanceService(acceptor: acceptor)],
                                 gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await group.run()
    }
}

/// The acceptor as a service that says where it listens once it does.
struct ConformanceService: Service {
    let acceptor: Acceptor

    func run() async throws {
        try await acceptor.start()
        // Written straight to the file, not through stdio's buffer: a pipe would hold it.
        for port in acceptor.boundPorts { FileHandle.standardOutput.write(Data("listening on \(port)\n".utf8)) }
        try? await gracefulShutdown()
        await acceptor.shutdown()
    }
}
