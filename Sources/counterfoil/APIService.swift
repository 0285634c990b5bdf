import API
import ArgumentParser
import CRM
import FIXAcceptor
import FIXSession
import Foundation
import Hummingbird
import Ledger
import Logging
import NIOPosix
import Reconciliation
import ServiceLifecycle

/// The [API] section of the settings file: where the HTTP API listens, the data key that
/// seals personal data, the sanctions lists, and how often monitoring runs.
struct APISettings {
    var host = "127.0.0.1"
    var port = 8080
    var dataKeyFile: String?
    var sdn: String?
    var alt: String?
    var un: String?
    var monitorSeconds = 5
    var enabled = true

    init() {}

    init(file: SettingsFile, override listen: String?) throws {
        let block = (file.sections["API"] ?? []).first
        func fail(_ key: String, _ why: String) -> UserError {
            UserError("\(file.path):\(block?.lines[key] ?? 0): [API] \(key): \(why)")
        }
        if let block {
            let known: Set<String> = ["Listen", "DataKeyFile", "SanctionsSDN", "SanctionsAlt", "SanctionsUN", "MonitorInterval", "Enabled"]
            for key in block.values.keys where !known.contains(key) { throw fail(key, "unknown setting") }
            if let text = block.values["Enabled"] {
                guard text == "Y" || text == "N" else { throw fail("Enabled", "expected Y or N") }
                enabled = text == "Y"
            }
            if let text = block.values["Listen"] { (host, port) = try Self.address(text, fail: { fail("Listen", $0) }) }
            dataKeyFile = block.values["DataKeyFile"]
            sdn = block.values["SanctionsSDN"]
            alt = block.values["SanctionsAlt"]
            un = block.values["SanctionsUN"]
            if let text = block.values["MonitorInterval"] {
                guard let seconds = Int(text), (1...3600).contains(seconds) else { throw fail("MonitorInterval", "expected seconds from 1 to 3600") }
                monitorSeconds = seconds
            }
        }
        if let listen {
            (host, port) = try Self.address(listen, fail: { UserError("--api-listen \(listen): \($0)") })
            enabled = true
        }
    }

    static func address(_ text: String, fail: (String) -> UserError) throws -> (String, Int) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65_535).contains(port) else {
            throw fail("expected HOST:PORT")
        }
        return (String(text[..<colon]), port)
    }

    var sanctions: SanctionsSources { SanctionsSources(sdn: sdn, alt: alt, un: un) }

    /// The CRM over `ledger` with the data key and sanctions lists these settings name.
    func store(ledger: Ledger) throws -> CRMStore {
        let key: DataKey?
        do {
            key = try DataKey.load(path: dataKeyFile)
        } catch let error as CRMError {
            throw UserError("[API] DataKeyFile: \(error.message)")
        }
        let store = try CRMStore(ledger: ledger, dataKey: key)
        let lists: ScreeningLists
        do {
            lists = try sanctions.load()
        } catch let error as CRMError {
            throw UserError("sanctions list: \(error)")
        }
        if !lists.entries.isEmpty { try store.reloadLists(lists) }
        return store
    }

    /// The API and monitoring as services.
    func services(ledger: Ledger, acceptor: Acceptor?, logger: Logger) throws -> [any Service] {
        guard enabled else { return [] }
        let store = try self.store(ledger: ledger)
        var requestPositions: (@Sendable (String, String?) async throws -> String)?
        if let acceptor {
            requestPositions = { session, account in try await acceptor.requestPositions(session: session, account: account) }
        }
        let server = APIServer(store: store, reconciler: try Reconciler(ledger: ledger), requestPositions: requestPositions,
                               sanctions: sanctions)
        logger.info("API listening", metadata: ["address": "\(host):\(port)", "dataKey": "\(store.dataKey == nil ? "none" : "loaded")",
                                                "sanctionsEntries": "\(store.screeningLists.entries.count)"])
        if store.dataKey == nil {
            logger.warning("no data key ([API] DataKeyFile or COUNTERFOIL_DATA_KEY): dates of birth and document numbers will be refused")
        }
        return [server.application(host: host, port: port, logger: logger),
                MonitoringService(engine: MonitoringEngine(store: store), seconds: monitorSeconds, logger: logger)]
    }
}

/// Runs the monitoring rules over new bookings every few seconds.
struct MonitoringService: Service {
    let engine: MonitoringEngine
    let seconds: Int
    let logger: Logger

    func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                // A run reads every trade booked since the last: off the executor's threads.
                for alert in try await NIOThreadPool.singleton.runIfActive({ [engine] in try engine.process() }) {
                    logger.notice("alert", metadata: ["id": "\(alert.id)", "client": "\(alert.clientID)", "rule": "\(alert.rule.rawValue)"])
                }
            } catch {
                logger.error("monitoring failed", metadata: ["error": "\(error)"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(seconds)) }
        }
    }
}

/// `counterfoil token`: API tokens.
struct TokenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Create, list and revoke API tokens (stored hashed; a token is shown once).",
        subcommands: [TokenCreateCommand.self, TokenListCommand.self, TokenRevokeCommand.self])
}

extension Role: ExpressibleByArgument {}

struct TokenCreateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "create", abstract: "Create a token and print it (once).")

    @Option(help: "crm-read, crm-write, ops, compliance or admin.") var role: Role
    @Option(help: "What the token is for.") var name: String?
    @OptionGroup var ledger: LedgerOption

    func run() throws {
        let books = try Ledger(folder: ledger.folder)
        defer { books.close() }
        let store = try CRMStore(ledger: books)
        let who = ProcessInfo.processInfo.environment["USER"] ?? "cli"
        let (token, record) = try store.createToken(name: name ?? role.rawValue, role: role, who: who)
        print(token)
        FileHandle.standardError.write(Data("token \(record.id) (\(record.role.rawValue)) created; it is not shown again\n".utf8))
    }
}

struct TokenListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List tokens.")

    @Option(help: "table, csv or json.") var format: OutputFormat = .table
    @OptionGroup var ledger: LedgerOption

    func run() throws {
        let books = try openExistingLedger(ledger.folder)
        defer { books.close() }
        var rows = Rows(["id", "name", "role", "created", "by", "revoked"])
        for record in try CRMStore(ledger: books).allTokens() {
            rows.append([record.id, record.name, record.role.rawValue, ISOTime.format(record.createdAt), record.createdBy,
                         record.revokedAt.map(ISOTime.format) ?? ""])
        }
        print(rows.render(format))
    }
}

struct TokenRevokeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "revoke", abstract: "Revoke a token: it stops working at once.")

    @Argument(help: "The token's id (from `token list`).") var id: String
    @OptionGroup var ledger: LedgerOption

    func run() throws {
        let books = try openExistingLedger(ledger.folder)
        defer { books.close() }
        do {
            _ = try CRMStore(ledger: books).revokeToken(id: id, who: ProcessInfo.processInfo.environment["USER"] ?? "cli")
            print("token \(id) revoked")
        } catch let error as CRMError {
            throw UserError(error.description)
        }
    }
}
