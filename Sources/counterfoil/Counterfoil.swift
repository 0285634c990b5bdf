import API
import ArgumentParser

@main
enum Main {
    static func main() async {
        // Before any task runs: the HTTP API's handlers then run on the event loop that
        // read their request (the API sends its blocking writes to a thread pool).
        ServerProcess.prepare()
        await Counterfoil.main()
    }
}

struct Counterfoil: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "counterfoil",
        abstract: "A broker's back office: FIX and FAST in, exact books out.",
        discussion: """
        Counterfoil accepts trading platforms' drop-copy sessions, books every execution \
        exactly once into an LMDB ledger, and lets operations reconcile and report.
        """,
        subcommands: [ReplayCommand.self, PositionsCommand.self, CashCommand.self, TradesCommand.self,
                      SettlementCommand.self, CheckCommand.self, BackupCommand.self, QuarantineCommand.self,
                      MarkCommand.self, ReconCommand.self, TokenCommand.self, DictCommand.self, ValidateCommand.self, InspectCommand.self,
                      ServeCommand.self, ConformanceServerCommand.self, SessionsCommand.self, DemoCommand.self, LoadCommand.self, FASTCommand.self]
    )
}

/// A user mistake or an unusable input: printed as one line, never as a stack trace.
struct UserError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
