import API
import APIBenchData
import CRM
import Foundation
import Hummingbird
import Logging
import Reconciliation

// Serves the API over the million-trade books for wrk: prints an admin token and the
// port, then runs until killed. Usage: APIBenchServer [PORT]
// As `counterfoil` does: handlers on the event loop that read their request, freed memory kept.
ServerProcess.prepare()
let port = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 8089 : 8089
let (ledger, store) = try MillionTrades.prepare()
let (token, _) = try store.createToken(name: "wrk", role: .crmRead, who: "bench")
try token.write(toFile: MillionTrades.folder + "-token", atomically: true, encoding: .utf8)
var logger = Logger(label: "api-bench")
logger.logLevel = .warning
let server = APIServer(store: store, reconciler: try Reconciler(ledger: ledger))
print("serving \(MillionTrades.clients) clients on 127.0.0.1:\(port); token in \(MillionTrades.folder)-token")
try await server.application(host: "127.0.0.1", port: port, logger: logger).runService()
