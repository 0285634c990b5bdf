import ArgumentParser
import ExactNumbers
import FIXBooking
import FIXCore
import Foundation
import Ledger

/// Opens an existing ledger, or says plainly that there is none.
func openExistingLedger(_ folder: String) throws -> Ledger {
    guard FileManager.default.fileExists(atPath: folder + "/data.mdb") else {
        throw UserError("no ledger in \(folder) (book into it with `counterfoil replay FILE --ledger \(folder)` first)")
    }
    return try Ledger(folder: folder)
}

struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Book the executions of a FIX drop-copy log into the ledger.",
        discussion: """
        Fills, partial fills, corrections and busts (ExecutionReport, TradeCaptureReport) are booked \
        exactly once: running it again, or after a crash, books only what is not yet committed. \
        Invalid executions go to quarantine with the reason.
        """
    )

    @Argument(help: "The FIX log to book.")
    var file: String

    @OptionGroup var ledger: LedgerOption

    @Option(help: "Executions per write transaction (one durable commit each).")
    var batch = 1000

    @Option(help: "P&L method of a new ledger: average-cost or fifo.")
    var pnl: String = "average-cost"

    @Option(help: "Instrument settlement rules (CSV: instrument,business_days[,calendars]).")
    var instruments: String?

    @Option(help: "Holiday calendars (CSV: calendar,date[,name]).")
    var holidays: String?

    @Flag(help: "Print no progress.")
    var quiet = false

    func run() throws {
        guard batch >= 1 && batch <= 100_000 else { throw ValidationError("--batch must be between 1 and 100000") }
        let method: RealizedPnLMethod
        switch pnl {
        case "average-cost": method = .averageCost
        case "fifo": method = .fifo
        default: throw ValidationError("--pnl must be average-cost or fifo")
        }
        let calendar = try SettlementCalendar.load(instrumentsFile: instruments, holidaysFile: holidays)
        let book = try Ledger(folder: ledger.folder, settings: LedgerSettings(pnlMethod: method, calendar: calendar))
        defer { book.close() }
        let replay = DropCopyReplay(ledger: book, batchSize: batch)
        let started = Date()
        // Progress on a terminal only, rewritten in place once a second.
        let showProgress = !quiet && isatty(STDERR_FILENO) == 1
        let stats = try replay.run(path: file) { read, total, stats in
            guard showProgress, total > 0 else { return }
            let percent = read * 100 / max(total, 1)
            FileHandle.standardError.write(Data("\rbooking \(file): \(percent)% — \(stats.booked) booked   ".utf8))
        }
        if showProgress { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        let seconds = Date().timeIntervalSince(started)
        print("\(file): \(stats) in \(String(format: "%.2f", seconds)) s")
    }
}

struct PositionsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "positions",
        abstract: "Print positions per account and instrument.")

    @OptionGroup var ledger: LedgerOption
    @Option(help: "Only this account.") var account: String?
    @Option(help: "table, csv or json.") var format: OutputFormat = .table
    @Flag(help: "Include the ledger's own accounts (contra, revenue, adjustments).") var house = false
    @Flag(help: "Include closed (zero) positions.") var all = false
    @Option(help: "The books as they stood after this journal offset, or at this UTC time (YYYYMMDD-HH:MM:SS); needs --account.")
    var asOf: String?

    func run() throws {
        let book = try openExistingLedger(ledger.folder)
        defer { book.close() }
        var rows = Rows(["account", "instrument", "quantity", "average_cost", "realized_pnl", "unrealized_pnl", "currency"],
                        numeric: ["quantity", "average_cost", "realized_pnl", "unrealized_pnl"])
        let positions: [Position]
        if let asOf {
            guard let account else { throw ValidationError("--as-of needs --account") }
            let offset: UInt64
            if let number = UInt64(asOf) {
                offset = number
            } else if let time = asOf.utf8.withContiguousStorageIfAvailable({ try? FIXValue(UnsafeRawBufferPointer($0)).timestamp() }) ?? nil {
                offset = try book.offset(atOrBefore: time.nanosecondsSinceEpoch)
            } else {
                throw ValidationError("--as-of '\(asOf)' is neither a journal offset nor a time YYYYMMDD-HH:MM:SS")
            }
            positions = try book.positions(account: account, asOf: offset)
        } else {
            positions = try book.positions(account: account, includeHouse: house)
        }
        let ordered = positions.sorted { ($0.account, $0.instrument) < ($1.account, $1.instrument) }
        for position in ordered where all || !position.quantity.isZero {
            let unrealized = try book.mark(instrument: position.instrument).map { position.unrealizedPnL(mark: $0.price).description } ?? ""
            rows.append([position.account, position.instrument, position.quantity.normalized.description,
                         position.averageCost.normalized.description, position.realizedPnL.normalized.description,
                         unrealized, position.currency])
        }
        print(rows.render(format))
    }
}

struct CashCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cash",
        abstract: "Print cash per account and currency.")

    @OptionGroup var ledger: LedgerOption
    @Option(help: "Only this account.") var account: String?
    @Option(help: "table, csv or json.") var format: OutputFormat = .table
    @Flag(help: "Include the ledger's own accounts.") var house = false

    func run() throws {
        let book = try openExistingLedger(ledger.folder)
        defer { book.close() }
        var rows = Rows(["account", "currency", "amount"], numeric: ["amount"])
        for row in try book.cash(account: account, includeHouse: house) {
            rows.append([row.account, row.currency, row.amount.normalized.description])
        }
        print(rows.render(format))
    }
}

struct TradesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trades",
        abstract: "Print an account's journal entries, newest first.")

    @OptionGroup var ledger: LedgerOption
    @Option(help: "The account.") var account: String
    @Option(help: "How many entries.") var limit = 50
    @Option(help: "table, csv or json.") var format: OutputFormat = .table

    func run() throws {
        let book = try openExistingLedger(ledger.folder)
        defer { book.close() }
        var rows = Rows(["offset", "kind", "execution_id", "instrument", "side", "quantity", "price", "currency",
                         "trade_date", "value_date", "commission", "memo"],
                        numeric: ["offset", "quantity", "price", "commission"])
        for entry in try book.entries(account: account, limit: max(1, limit), postings: false) {
            rows.append([String(entry.offset), entry.kind.description, entry.executionID, entry.instrument,
                         entry.side.description, entry.quantity.normalized.description, entry.price.normalized.description,
                         entry.currency, entry.tradeDate.description, entry.valueDate.description,
                         entry.commission.normalized.description, entry.memo])
        }
        print(rows.render(format))
    }
}

struct SettlementCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "settlement",
        abstract: "Print settlement obligations, or mark one settled or failed.",
        discussion: "With --set STATUS (settled, failed, pending) and --account, --asset, --date, --who, --why it changes one obligation; the change is journaled.")

    @OptionGroup var ledger: LedgerOption
    @Option(help: "Only this account.") var account: String?
    @Option(help: "table, csv or json.") var format: OutputFormat = .table
    @Option(help: "Set the status of one obligation: settled, failed or pending.") var set: String?
    @Option(help: "The asset of the obligation to change (a currency code or an instrument).") var asset: String?
    @Option(help: "Its value date (YYYY-MM-DD).") var date: String?
    @Option(help: "Who changes it.") var who: String?
    @Option(help: "Why.") var why: String?

    func run() throws {
        let book = try openExistingLedger(ledger.folder)
        defer { book.close() }
        if let set {
            guard let status = SettlementStatus(name: set) else { throw ValidationError("--set must be settled, failed or pending") }
            guard let account, let asset, let dateText = date, let who, let why else {
                throw ValidationError("--set needs --account, --asset, --date, --who and --why")
            }
            guard let day = CalendarDay(dateText) else { throw ValidationError("--date '\(dateText)' is not YYYY-MM-DD") }
            let assetValue: Asset = book.settings.currencies.contains(asset) ? .currency(asset) : .instrument(asset)
            let offset = try book.setSettlementStatus(account: account, asset: assetValue, valueDate: day, status: status, who: who, why: why)
            print("\(account) \(asset) \(day): \(status) (journal entry \(offset))")
            return
        }
        var rows = Rows(["account", "asset", "value_date", "amount", "status"], numeric: ["amount"])
        for obligation in try book.obligations(account: account) where !obligation.amount.isZero {
            rows.append([obligation.account, obligation.asset.description, obligation.valueDate.description,
                         obligation.amount.normalized.description, obligation.status.description])
        }
        print(rows.render(format))
    }
}

struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Prove the books: recompute them from the journal and compare.",
        discussion: "Exits 0 when every entry balances, every asset sums to zero and the stored positions, balances and settlement equal the journal's; otherwise lists every difference and exits 1.")

    @OptionGroup var ledger: LedgerOption

    func run() throws {
        let book = try openExistingLedger(ledger.folder)
        defer { book.close() }
        let report = try book.check()
        if report.isClean {
            print("clean: \(report.entries) journal entries, \(report.accounts) accounts, \(report.positions) positions; every asset sums to zero")
            if report.booksOffset < UInt64(report.entries) {
                // Another process went on booking while this one checked.
                print("the books were compared up to entry \(report.booksOffset); the \(UInt64(report.entries) - report.booksOffset) after it were checked for balance only")
            }
            return
        }
        for problem in report.problems { print(problem) }
        print("NOT clean: \(report.problems.count) problem(s) in \(report.entries) journal entries")
        throw ExitCode(1)
    }
}

struct BackupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Copy the ledger consistently (and compacted) while it is in use.")

    @OptionGroup var ledger: LedgerOption
    @Argument(help: "The folder to write the copy to (must not hold a ledger already).") var destination: String

    func run() throws {
        if FileManager.default.fileExists(atPath: destination + "/data.mdb") {
            throw UserError("\(destination) already holds a ledger; choose an empty folder")
        }
        let book = try openExistingLedger(ledger.folder)
        defer { book.close() }
        try book.backup(to: destination)
        print("backed up \(ledger.folder) to \(destination)")
    }
}

struct QuarantineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quarantine",
        abstract: "Print what could not be booked, with the reason and the raw input.",
        discussion: """
        Also lists journal entries the books set aside (id 'entry N'): entries whose \
        arithmetic does not fit, which a version before the execution limits could journal. \
        The books carry on without them; check reports them.
        """)

    @OptionGroup var ledger: LedgerOption
    @Option(help: "table, csv or json.") var format: OutputFormat = .table

    func run() throws {
        let book = try openExistingLedger(ledger.folder)
        defer { book.close() }
        var rows = Rows(["id", "source", "reason", "raw"], numeric: [])
        for item in try book.quarantined() {
            let raw = String(decoding: item.raw.map { $0 == 1 ? UInt8(ascii: "|") : $0 }, as: UTF8.self)
            rows.append([String(item.id), item.source, item.reason, raw])
        }
        for entry in try book.setAsideEntries() {
            rows.append(["entry \(entry.offset)", entry.source, "set aside by the books: \(entry.reason)",
                         "execution \(entry.executionID)"])
        }
        print(rows.render(format))
    }
}

struct MarkCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mark",
        abstract: "Set the latest price of an instrument, which values open positions (unrealized P&L).",
        discussion: "Feeds set marks as prices arrive; this sets one by hand, for example from an official close.")

    @OptionGroup var ledger: LedgerOption
    @Argument(help: "The instrument.") var instrument: String
    @Argument(help: "Its price (an exact decimal).") var price: String

    func run() throws {
        guard let value = ExactDecimal(price) else { throw ValidationError("'\(price)' is not a decimal number") }
        let book = try openExistingLedger(ledger.folder)
        defer { book.close() }
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        try book.setMark(instrument: instrument, price: value, time: Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec))
        print("\(instrument) marked at \(value)")
    }
}
