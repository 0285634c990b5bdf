import ArgumentParser
import CRM
import ExactNumbers
import FIXSession
import Foundation
import Ledger
import Reconciliation

/// `counterfoil recon`: statements against the books, and the breaks that come of it.
struct ReconCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recon",
        abstract: "Reconcile the books against a platform's, LP's or clearer's statement; list and work the breaks.",
        discussion: """
        `counterfoil recon --statement FILE` compares positions, cash or trades (by the file's \
        header, or a [STATEMENT] layout of the settings file) with the books as of the statement's \
        cut-off, stores the run and its breaks, and exits 0 when nothing is open, 1 when breaks \
        were found, 2 when the statement or the settings cannot be used (nothing is applied then).
        """,
        subcommands: [ReconRunCommand.self, ReconBreaksCommand.self, ReconRunsCommand.self, ReconInvestigateCommand.self,
                      ReconResolveCommand.self, ReconAgeingCommand.self],
        defaultSubcommand: ReconRunCommand.self
    )
}

/// The [RECON] and [STATEMENT] sections of a settings file.
struct ReconSettings {
    var tolerances = ReconTolerances()
    var layouts: [String: StatementLayout] = [:]
    var provider: String?
    var scope: ReconScope?
    var ledgerFolder: String?
    /// [RECON] Schedule (HH:MM[:SS] UTC) and StatementFolder: the service's daily run.
    var scheduleSeconds: Int?
    var statementFolder: String?

    init() {}

    init(path: String) throws {
        do {
            let file = try SettingsFile(path: path)
            ledgerFolder = file.defaults.values["LedgerPath"]
            let recon = file.sections["RECON"] ?? []
            if recon.count > 1 {
                throw UserError("\(path):\(recon[1].line): [RECON] appears twice; one section holds the reconciliation settings")
            }
            if let block = recon.first {
                tolerances = try ReconTolerances(settings: block.values, line: { block.lines[$0] ?? block.line }, file: path)
                provider = block.values["Provider"]
                if let text = block.values["Scope"] {
                    guard let value = ReconScope(rawValue: text) else {
                        throw UserError("\(path):\(block.lines["Scope"] ?? 0): [RECON] Scope: expected statement-accounts or all")
                    }
                    scope = value
                }
                if let text = block.values["Schedule"] {
                    let parts = text.split(separator: ":").map { Int($0) }
                    guard (2...3).contains(parts.count), let hour = parts[0], let minute = parts[1], (0..<24).contains(hour),
                          (0..<60).contains(minute), parts.count == 2 || (parts[2].map { (0..<60).contains($0) } ?? false) else {
                        throw UserError("\(path):\(block.lines["Schedule"] ?? 0): [RECON] Schedule: expected HH:MM[:SS] (UTC)")
                    }
                    scheduleSeconds = hour * 3600 + minute * 60 + (parts.count == 3 ? parts[2]! : 0)
                }
                statementFolder = block.values["StatementFolder"]
                let known: Set<String> = ["Provider", "Scope", "AssetClasses", "AssetClassFile", "TradeTimeWindow",
                                          "Schedule", "StatementFolder"]
                for key in block.values.keys where !known.contains(key) && !key.hasSuffix("Tolerance") && !key.contains("Tolerance.") {
                    throw UserError("\(path):\(block.lines[key] ?? 0): [RECON] \(key): unknown setting")
                }
            }
            for block in file.sections["STATEMENT"] ?? [] {
                let layout = try StatementLayout(settings: block.values, line: { block.lines[$0] ?? block.line }, file: path)
                if layouts[layout.name] != nil {
                    throw UserError("\(path):\(block.line): [STATEMENT] Name: '\(layout.name)' is defined twice")
                }
                layouts[layout.name] = layout
            }
        } catch let error as SettingsError {
            throw UserError("\(error)")
        } catch let error as StatementLayoutError {
            throw UserError("\(error)")
        }
    }
}

struct ReconLedgerOptions: ParsableArguments {
    @Option(name: .customLong("ledger"), help: "The ledger folder (default: the settings' LedgerPath, else \(defaultLedgerFolder)).")
    var folder: String?
    @Option(name: .customLong("config"), help: "A settings file with [RECON] tolerances and [STATEMENT] layouts.")
    var config: String?

    func settings() throws -> ReconSettings { try config.map { try ReconSettings(path: $0) } ?? ReconSettings() }

    func open(_ settings: ReconSettings) throws -> (Ledger, Reconciler) {
        let ledger = try openExistingLedger(folder ?? settings.ledgerFolder ?? defaultLedgerFolder)
        return (ledger, try Reconciler(ledger: ledger))
    }
}

/// Exits 2, after one line on standard error, when an input cannot be used.
func refuse(_ message: String) -> ExitCode {
    FileHandle.standardError.write(Data("error: \(message)\n".utf8))
    return ExitCode(2)
}

func breakRows(_ breaks: [ReconBreak], now: Int64 = Reconciler.now()) -> Rows {
    var rows = Rows(["id", "status", "type", "kind", "account", "subject", "ours", "theirs", "line", "days", "note"],
                    numeric: ["id", "line", "days"])
    for record in breaks {
        let f = record.finding
        var note = f.note
        if f.oppositeSign { note = note.isEmpty ? "opposite sign" : "opposite sign; " + note }
        if let resolution = record.resolution { note = "\(resolution.rawValue)" + (record.explanation.map { ": \($0)" } ?? "") + (note.isEmpty ? "" : "; \(note)") }
        rows.append([String(record.id), record.status.rawValue, f.type.rawValue, f.kind.rawValue, f.account, f.subject,
                     f.ours ?? "", f.theirs ?? "", f.line.map(String.init) ?? "", String(record.daysOpen(now: now)), note])
    }
    return rows
}

func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

struct ReconRunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Reconcile one statement (the default: `counterfoil recon --statement FILE`).")

    @Option(help: "The statement: native CSV (account,instrument,quantity… / account,currency,amount / trade_id,…), JSON, or CSV in --layout.")
    var statement: String?
    @Option(name: .customLong("fix-session"), help: "Reconcile the PositionReports this FIX session (its key, as `counterfoil sessions` lists it) sent instead.")
    var fixSession: String?
    @Option(name: .customLong("pos-req-id"), help: "With --fix-session: only the reports answering this RequestForPositions (PosReqID 710).")
    var posReqID: String?
    @Option(help: "With --fix-session: positions (its PositionReports) or trades (the TradeCaptureReports of a session with BookTradeCaptureReports=N).")
    var reports: ReconKind = .positions
    @Option(help: "The [STATEMENT] layout (by Name) the file is written in.")
    var layout: String?
    @Option(name: .customLong("as-of"), help: "The cut-off: YYYY-MM-DD[THH:MM[:SS]][Z] or YYYYMMDD-HH:MM:SS (default: the statement's as_of, else now).")
    var asOf: String?
    @Option(help: "Whose statement it is: its breaks are re-checked by its next run (default: [RECON] Provider, else the file's name).")
    var provider: String?
    @Option(help: "statement-accounts (ours in the accounts it lists) or all (every account of ours).")
    var scope: ReconScope?
    @Option(help: "Trades: compare with this source's executions only (a FIX session, a feed).")
    var source: String?
    @Option(help: "Who runs it, for the audit trail.")
    var who: String = ProcessInfo.processInfo.environment["USER"] ?? "ops"
    @Option(help: "table, csv or json.") var format: OutputFormat = .table
    @OptionGroup var options: ReconLedgerOptions

    func run() throws {
        let settings = try options.settings()
        let loaded: Statement
        do {
            switch (statement, fixSession) {
            case (let path?, nil):
                var layout: StatementLayout?
                if let name = self.layout {
                    guard let found = settings.layouts[name] else {
                        throw refuse("no [STATEMENT] layout named '\(name)'" + (options.config == nil ? " (give --config)" : " in \(options.config!)"))
                    }
                    layout = found
                }
                loaded = try StatementReader.read(path: path, layout: layout)
            case (nil, let session?):
                let (ledger, _) = try options.open(settings)
                defer { ledger.close() }
                switch reports {
                case .positions:
                    loaded = try Statement.positionReports(ledger: ledger, source: session, request: posReqID)
                    if loaded.positions.isEmpty { throw refuse("no PositionReports from \(session)" + (posReqID.map { " for PosReqID \($0)" } ?? "")) }
                case .trades:
                    loaded = try Statement.tradeCaptureReports(ledger: ledger, source: session)
                    if loaded.trades.isEmpty { throw refuse("no TradeCaptureReports kept from \(session) (BookTradeCaptureReports=N keeps them)") }
                case .cash:
                    throw ValidationError("--reports takes positions or trades")
                }
            default:
                throw ValidationError("give --statement FILE or --fix-session KEY")
            }
        } catch let error as StatementError {
            throw refuse("\(error)")
        }
        var cutoff: Int64?
        if let asOf {
            guard let time = StatementNumbers.time(asOf) else { throw refuse("--as-of '\(asOf)' is not a time (YYYY-MM-DD[THH:MM[:SS]][Z] or YYYYMMDD-HH:MM:SS)") }
            cutoff = time
        }
        let name = provider ?? settings.provider
            ?? fixSession ?? URL(fileURLWithPath: statement ?? "statement").deletingPathExtension().lastPathComponent
        let (ledger, reconciler) = try options.open(settings)
        defer { ledger.close() }
        let report = try reconciler.run(loaded, provider: name, asOf: cutoff, tolerances: settings.tolerances,
                                        scope: scope ?? settings.scope ?? .statementAccounts, source: source, who: who)
        let run = report.run
        switch format {
        case .json:
            struct Output: Encodable {
                let run: ReconRun
                let breaks: [ReconBreak]
                let cleared: [ReconBreak]
            }
            try printJSON(Output(run: run, breaks: report.breaks, cleared: report.cleared))
        case .csv:
            print(breakRows(report.breaks).render(.csv))
        case .table:
            let kinds = run.kinds.map(\.rawValue).joined(separator: ", ")
            print("run \(run.id): \(run.rows) \(kinds) row(s) of \(run.origin) for \(run.provider), as of journal offset \(run.cutoffOffset)")
            if let duplicate = run.duplicateOf { print("warning: the same statement (same bytes) was reconciled before, in run \(duplicate)") }
            print(breakRows(report.breaks).render(.table))
            print("\(report.open.count) open break(s): \(run.new) new, \(report.open.count - run.new) seen before;"
                  + " \(run.accepted) explained and accepted; \(run.cleared) cleared by this run")
        }
        if !report.open.isEmpty { throw ExitCode(1) }
    }
}

struct ReconBreaksCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "breaks", abstract: "List breaks (default: open and investigating).")

    @Option(help: "open, investigating or resolved; repeat for several.") var status: [String] = []
    @Flag(help: "Every break, resolved ones too.") var all = false
    @Option(help: "Only this provider's.") var provider: String?
    @Option(help: "Show one break with its history.") var id: UInt64?
    @Option(help: "table, csv or json.") var format: OutputFormat = .table
    @OptionGroup var options: ReconLedgerOptions

    func run() throws {
        let (ledger, reconciler) = try options.open(try options.settings())
        defer { ledger.close() }
        if let id {
            guard let record = try reconciler.break(id) else { throw UserError("no break \(id)") }
            if format == .json { return try printJSON(record) }
            print(breakRows([record]).render(format))
            var history = Rows(["time", "who", "action", "note"])
            for event in record.history { history.append([ISOTime.format(event.time), event.who, event.action, event.note]) }
            print(history.render(format))
            return
        }
        var statuses = Set(try status.map { text -> ReconBreak.Status in
            guard let value = ReconBreak.Status(rawValue: text) else { throw ValidationError("--status '\(text)': expected open, investigating or resolved") }
            return value
        })
        if statuses.isEmpty { statuses = all ? Set(ReconBreak.Status.allCases) : [.open, .investigating] }
        let breaks = try reconciler.breaks(status: statuses, provider: provider)
        if format == .json { return try printJSON(breaks) }
        print(breakRows(breaks).render(format))
    }
}

struct ReconRunsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "runs", abstract: "List reconciliation runs, newest first.")

    @Option(help: "How many.") var limit = 50
    @Option(help: "table, csv or json.") var format: OutputFormat = .table
    @OptionGroup var options: ReconLedgerOptions

    func run() throws {
        let (ledger, reconciler) = try options.open(try options.settings())
        defer { ledger.close() }
        let runs = try reconciler.runs(limit: limit)
        if format == .json { return try printJSON(runs) }
        var rows = Rows(["run", "time", "who", "provider", "kinds", "rows", "breaks", "new", "accepted", "cleared", "statement", "same as"],
                        numeric: ["run", "rows", "breaks", "new", "accepted", "cleared"])
        for run in runs {
            rows.append([String(run.id), ISOTime.format(run.time), run.who, run.provider, run.kinds.map(\.rawValue).joined(separator: "+"),
                         String(run.rows), String(run.breaks), String(run.new), String(run.accepted), String(run.cleared), run.origin,
                         run.duplicateOf.map { "run \($0)" } ?? ""])
        }
        print(rows.render(format))
    }
}

struct ReconInvestigateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "investigate", abstract: "Mark a break as being looked into.")

    @Argument(help: "The break's id.") var id: UInt64
    @Option(help: "Who is looking.") var who: String
    @Option(help: "What is being done.") var note: String
    @OptionGroup var options: ReconLedgerOptions

    func run() throws {
        let (ledger, reconciler) = try options.open(try options.settings())
        defer { ledger.close() }
        do {
            let record = try reconciler.investigate(id, who: who, note: note)
            print("break \(record.id) is being investigated by \(who)")
        } catch let error as ReconError {
            throw UserError(error.description)
        }
    }
}

struct ReconResolveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resolve",
        abstract: "Resolve a break: by an adjustment booked through the ledger, or by an accepted explanation.",
        discussion: """
        --adjust books their figure for a position or cash break as an adjustment journal entry \
        (who, when, why), in the same commit as the break's resolution. --explain accepts the \
        difference: the same difference found again stays resolved; a different one opens anew.
        """)

    @Argument(help: "The break's id.") var id: UInt64
    @Option(help: "Who resolves it.") var who: String
    @Flag(help: "Book their figure through the ledger.") var adjust = false
    @Option(help: "With --adjust: why (kept in the journal).") var why: String?
    @Option(help: "With --adjust on a position: the price to book the units at (default 0).") var price: String?
    @Option(help: "Accept the difference for this reason (e.g. \"timing: booked after the cut-off\").") var explain: String?
    @OptionGroup var options: ReconLedgerOptions

    func validate() throws {
        if adjust == (explain != nil) { throw ValidationError("give either --adjust --why TEXT or --explain TEXT") }
        if adjust && (why ?? "").isEmpty { throw ValidationError("--adjust needs --why") }
        if let price, ExactDecimal(price) == nil { throw ValidationError("--price '\(price)' is not a number") }
    }

    func run() throws {
        let (ledger, reconciler) = try options.open(try options.settings())
        defer { ledger.close() }
        do {
            if let explain {
                try reconciler.explain(id, who: who, explanation: explain)
                print("break \(id) resolved: explained by \(who)")
            } else {
                let (_, offset) = try reconciler.adjust(id, who: who, why: why!, price: price.flatMap { ExactDecimal($0) })
                print("break \(id) resolved: adjustment booked at journal offset \(offset)")
            }
        } catch let error as ReconError {
            throw UserError(error.description)
        } catch let error as LedgerError {
            throw UserError(error.description)
        }
    }
}

struct ReconAgeingCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ageing", abstract: "Breaks still to work, by type and days open.")

    @Option(help: "table, csv or json.") var format: OutputFormat = .table
    @OptionGroup var options: ReconLedgerOptions

    func run() throws {
        let (ledger, reconciler) = try options.open(try options.settings())
        defer { ledger.close() }
        let ageing = try reconciler.ageing()
        if format == .json { return try printJSON(ageing) }
        var rows = Rows(["type"] + Reconciler.buckets.map { "\($0) days" } + ["total"], numeric: Set(Reconciler.buckets.map { "\($0) days" } + ["total"]))
        for type in BreakType.allCases {
            let counts = Reconciler.buckets.map { bucket in ageing.first { $0.type == type && $0.bucket == bucket }?.count ?? 0 }
            if counts.reduce(0, +) > 0 { rows.append([type.rawValue] + counts.map(String.init) + [String(counts.reduce(0, +))]) }
        }
        print(rows.render(format))
    }
}

extension ReconScope: ExpressibleByArgument {}
extension ReconKind: ExpressibleByArgument {}
