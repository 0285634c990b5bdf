import ArgumentParser
import FIXAcceptor
import FIXSession
import Foundation
import Ledger
import Logging
import NIOPosix
import Reconciliation
import ServiceLifecycle

/// `counterfoil serve --config FILE`: the FIX acceptor as a service.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Accept the platforms' drop-copy FIX sessions and book their executions.",
        discussion: """
        FILE is a QuickFIX-format settings file ([DEFAULT] and [SESSION] blocks). Besides \
        QuickFIX's keys, [DEFAULT] may set LedgerPath (default var/ledger). SIGTERM or \
        SIGINT logs every session out and flushes the books before exiting.
        """
    )

    @Option(help: "The settings file.")
    var config: String

    @Option(name: .customLong("api-listen"), help: "Where the HTTP API listens, HOST:PORT (overrides [API] Listen; default 127.0.0.1:8080).")
    var apiListen: String?

    func run() async throws {
        let settings = try ServiceSettings(path: config)
        let folder = settings.ledgerFolder(default: "var/ledger")
        var logger = Logger(label: "counterfoil")
        logger.logLevel = .info
        let ledger = try Ledger(folder: folder)
        defer { ledger.close() }
        let acceptor = try settings.acceptor(ledger: ledger, logger: logger)
        logger.info("ledger open", metadata: ["folder": "\(folder)", "sessions": "\(settings.sessions.count)"])
        var services: [any Service] = [AcceptorService(acceptor: acceptor)]
        services += try APISettings(file: settings.file, override: apiListen).services(ledger: ledger, acceptor: acceptor, logger: logger)
        let recon = try ReconSettings(path: config)
        if let time = recon.scheduleSeconds {
            let schedule = ScheduledReconciliation(
                reconciler: try Reconciler(ledger: ledger), time: time, sessions: settings.sessions.map(\.id.description),
                statementFolder: recon.statementFolder, tolerances: recon.tolerances, scope: recon.scope ?? .statementAccounts)
            services.append(ReconScheduleService(schedule: schedule, logger: logger))
            logger.info("reconciliation scheduled", metadata: ["utc": "\(time / 3600):\(time / 60 % 60)", "folder": "\(recon.statementFolder ?? "-")"])
        }
        let group = ServiceGroup(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await group.run()
    }
}

/// A service settings file, read and checked: its sessions, its limits, where the books go.
struct ServiceSettings {
    let path: String
    let file: SettingsFile
    let sessions: [SessionSettings]
    let limits: AcceptorLimits

    init(path: String) throws {
        self.path = path
        do {
            file = try SettingsFile(path: path)
            sessions = try SessionSettings.load(file)
            limits = try AcceptorLimits(settings: file)
        } catch let error as SettingsError {
            throw UserError("\(error)")
        }
    }

    /// [DEFAULT] LedgerPath, or `fallback`.
    func ledgerFolder(default fallback: String) -> String { file.defaults.values["LedgerPath"] ?? fallback }

    /// The acceptor over `ledger`. What only shows when it is built (an unreadable
    /// certificate or dictionary) is a user error naming the settings file.
    func acceptor(ledger: Ledger, logger: Logger, application: Acceptor.Application = .booking) throws -> Acceptor {
        do {
            return try Acceptor(sessions: sessions, ledger: ledger, limits: limits, logger: logger, application: application)
        } catch let error as AcceptorError {
            throw UserError("\(path): \(error)")
        }
    }
}

/// `counterfoil sessions`: each session's sequence numbers and state, from the ledger.
struct SessionsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sessions",
        abstract: "List the FIX sessions the ledger knows: sequence numbers and whether logged on."
    )

    @OptionGroup var ledger: LedgerOption
    @Option(help: "table, csv or json.") var format: OutputFormat = .table

    func run() throws {
        let books = try openExistingLedger(ledger.folder)
        var rows = Rows(["session", "logged_on", "since", "next_out", "next_in"], numeric: ["next_out", "next_in"])
        for (key, snapshot) in try books.sessionSnapshots() {
            let since = snapshot.statusTime == 0 ? "-" : Date(timeIntervalSince1970: TimeInterval(snapshot.statusTime) / 1e9).description
            rows.append([key, snapshot.loggedOn ? "yes" : "no", since, "\(snapshot.nextSenderSeqNum)", "\(snapshot.nextTargetSeqNum)"])
        }
        print(rows.render(format))
    }
}

/// The daily reconciliation inside the service: checks every 15 seconds whether it is due.
struct ReconScheduleService: Service {
    let schedule: ScheduledReconciliation
    let logger: Logger

    func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            // A run reads statements and compares every position: off the executor's threads.
            let outcomes: [ScheduledReconciliation.Outcome]
            do {
                outcomes = try await NIOThreadPool.singleton.runIfActive { [schedule] in schedule.runIfDue(now: Reconciler.now()) }
            } catch {
                logger.error("reconciliation could not run", metadata: ["error": "\(error)"])
                outcomes = []
            }
            for outcome in outcomes {
                switch outcome {
                case .reconciled(let report):
                    let run = report.run
                    logger.info("reconciled", metadata: ["run": "\(run.id)", "provider": "\(run.provider)", "rows": "\(run.rows)",
                                                         "open": "\(report.open.count)", "new": "\(run.new)", "cleared": "\(run.cleared)"])
                case .failed(let origin, let reason):
                    logger.error("reconciliation failed", metadata: ["statement": "\(origin)", "reason": "\(reason)"])
                }
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(15)) }
        }
    }
}
