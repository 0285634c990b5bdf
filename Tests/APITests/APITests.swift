import API
import CRM
import ExactNumbers
import FIXBooking
import Foundation
import Hummingbird
import HummingbirdTesting
import Ledger
import Reconciliation
import TestSupport
import Testing

let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// A ledger with the FIX 4.4 drop-copy fixture booked, a CRM over it, and a token per role.
final class APIBooks: @unchecked Sendable {
    let folder = TemporaryFolder("api")
    let ledger: Ledger
    let store: CRMStore
    let server: APIServer
    var tokens: [Role: String] = [:]

    init(replay: Bool = true, sanctions: SanctionsSources? = nil) throws {
        ledger = try Ledger(folder: folder.path)
        store = try CRMStore(ledger: ledger, dataKey: try DataKey(bytes: Array(repeating: 3, count: 32)))
        server = APIServer(store: store, reconciler: try Reconciler(ledger: ledger), sanctions: sanctions)
        if replay { _ = try DropCopyReplay(ledger: ledger).run(path: packageRoot.path + "/Fixtures/dropcopy-fix44.log") }
        for role in Role.allCases { tokens[role] = try store.createToken(name: role.rawValue, role: role, who: "test").token }
    }

    func close() {
        ledger.close()
        folder.cleanup()
    }
}

extension HTTPFields.Element.Name {
    static var lastEventID: Self { Self("Last-Event-ID")! }
}

func json(_ object: Any) -> ByteBuffer { ByteBuffer(data: try! JSONSerialization.data(withJSONObject: object)) }

func decode(_ response: TestResponse) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any], "\(String(buffer: response.body))")
}

extension TestClientProtocol {
    func call(_ method: HTTPRequest.Method, _ uri: String, _ token: String?, body: Any? = nil,
              headers: HTTPFields = [:]) async throws -> TestResponse {
        var fields = headers
        if let token { fields[.authorization] = "Bearer \(token)" }
        if body != nil { fields[.contentType] = "application/json" }
        return try await execute(uri: uri, method: method, headers: fields, body: body.map(json))
    }
}

@Suite struct APITests {
    @Test("roles: no token or a bad one is 401; each role does what it may and is refused the rest (403)")
    func roles() async throws {
        let books = try APIBooks(replay: false)
        defer { books.close() }
        let app = Application(router: books.server.router())
        try await app.test(.router) { client in
            #expect(try await client.call(.get, "/v1/clients", nil).status == .unauthorized)
            #expect(try await client.call(.get, "/v1/clients", "cf_nonsense").status == .unauthorized)
            #expect(try await client.call(.get, "/healthz", nil).status == .ok)
            let person: [String: Any] = ["name": "Ada Lovelace", "countryOfResidence": "GB", "nationality": "IR"]
            #expect(try await client.call(.post, "/v1/clients", books.tokens[.crmRead], body: person).status == .forbidden)
            #expect(try await client.call(.post, "/v1/clients", books.tokens[.ops], body: person).status == .forbidden)
            let created = try await client.call(.post, "/v1/clients", books.tokens[.crmWrite], body: person)
            #expect(created.status == .created)
            let id = try #require(try decode(created)["id"] as? String)
            // The CRM pushes records, it does not decide: EDD and declarations are compliance's.
            let edd: [String: Any] = ["status": "in-review", "why": "source of wealth"]
            #expect(try await client.call(.post, "/v1/clients/\(id)/kyc/edd", books.tokens[.crmWrite], body: edd).status == .forbidden)
            #expect(try await client.call(.post, "/v1/clients/\(id)/kyc/edd", books.tokens[.compliance], body: edd).status == .ok)
            let declarations: [String: Any] = ["suspiciousFinancialHistory": false, "linksToSuspects": false, "finesOrNonCompliance": true, "unpaidDebts": false]
            #expect(try await client.call(.put, "/v1/clients/\(id)/kyc/declarations", books.tokens[.crmWrite], body: declarations).status == .forbidden)
            // Books: only ops resolve breaks; only admin sees tokens and the audit trail.
            #expect(try await client.call(.post, "/v1/recon/breaks/1/resolve", books.tokens[.crmWrite], body: ["explanation": "x"]).status == .forbidden)
            #expect(try await client.call(.post, "/v1/recon/breaks/1/resolve", books.tokens[.ops], body: ["explanation": "x"]).status == .notFound)
            #expect(try await client.call(.get, "/v1/tokens", books.tokens[.ops]).status == .forbidden)
            let request: [String: Any] = ["session": "FIX.4.4:COUNTERFOIL->PLATFORM"]
            #expect(try await client.call(.post, "/v1/recon/position-requests", books.tokens[.crmWrite], body: request).status == .forbidden)
            #expect(try await client.call(.post, "/v1/recon/position-requests", books.tokens[.ops], body: request).status == .conflict,
                    "no acceptor beside this API")
            #expect(try await client.call(.get, "/v1/audit", books.tokens[.admin]).status == .ok)
            // Personal data: compliance sees the date of birth, the CRM's reader does not.
            _ = try await client.call(.patch, "/v1/clients/\(id)", books.tokens[.crmWrite], body: ["dateOfBirth": "1815-12-10"])
            #expect(try decode(try await client.call(.get, "/v1/clients/\(id)", books.tokens[.compliance]))["dateOfBirth"] as? String == "1815-12-10")
            #expect(try decode(try await client.call(.get, "/v1/clients/\(id)", books.tokens[.crmRead]))["dateOfBirth"] == nil)
            // A revoked token stops working at once.
            let tokens = try decode(try await client.call(.get, "/v1/tokens", books.tokens[.admin]))["items"] as? [[String: Any]] ?? []
            let readID = try #require(tokens.first { $0["role"] as? String == "crm-read" }?["id"] as? String)
            #expect(try await client.call(.delete, "/v1/tokens/\(readID)", books.tokens[.admin]).status == .ok)
            #expect(try await client.call(.get, "/v1/clients", books.tokens[.crmRead]).status == .unauthorized)
        }
    }

    @Test("errors are JSON with a code and a message, and validation errors name the field")
    func errors() async throws {
        let books = try APIBooks(replay: false)
        defer { books.close() }
        let app = Application(router: books.server.router())
        try await app.test(.router) { client in
            let token = books.tokens[.crmWrite]
            for (body, field) in [
                (["name": "X", "countryOfResidence": "Britain"] as [String: Any], "countryOfResidence"),
                (["countryOfResidence": "GB"], "name"),
                (["name": "X", "countryOfResidence": "GB", "status": "vip"], "status"),
                (["name": "X", "countryOfResidence": "GB", "contact": ["email": "not-an-address"]], "contact.email"),
            ] {
                let response = try await client.call(.post, "/v1/clients", token, body: body)
                #expect(response.status == .badRequest)
                let error = try #require(try decode(response)["error"] as? [String: Any])
                #expect(error["code"] as? String == "invalid" && error["field"] as? String == field && (error["message"] as? String)?.isEmpty == false,
                        "\(error)")
            }
            let missing = try decode(try await client.call(.get, "/v1/clients/C123456", token))
            #expect((missing["error"] as? [String: Any])?["code"] as? String == "not_found")
            let badLimit = try decode(try await client.call(.get, "/v1/clients?limit=0", token))
            #expect((badLimit["error"] as? [String: Any])?["field"] as? String == "limit")
            let garbage = try await client.execute(uri: "/v1/clients", method: .post,
                                                   headers: [.authorization: "Bearer \(token!)", .contentType: "application/json"],
                                                   body: ByteBuffer(string: "{not json"))
            #expect(garbage.status == .badRequest)
        }
    }

    @Test("a booked FIX stream appears in the right clients' histories; pages stay stable while more is booked")
    func histories() async throws {
        let books = try APIBooks()
        defer { books.close() }
        let accounts = Set(try books.ledger.positions().map(\.account)).sorted()
        #expect(accounts.count > 4)
        let ada = try books.store.createClient(ClientInput(name: "Ada Lovelace", countryOfResidence: "GB", status: .active), who: "t")
        let alan = try books.store.createClient(ClientInput(name: "Alan Turing", countryOfResidence: "GB", status: .active), who: "t")
        let app = Application(router: books.server.router())
        try await app.test(.router) { client in
            let ops = books.tokens[.ops]
            for account in accounts.prefix(2) {
                #expect(try await client.call(.post, "/v1/clients/\(ada.id)/accounts", ops, body: ["kind": "account", "value": account]).status == .created)
            }
            _ = try await client.call(.post, "/v1/clients/\(alan.id)/accounts", ops, body: ["kind": "account", "value": accounts[2]])
            let unlinked = try decode(try await client.call(.get, "/v1/accounts/unlinked", ops))["items"] as? [[String: Any]] ?? []
            #expect(unlinked.compactMap { $0["account"] as? String } == Array(accounts.dropFirst(3)))

            // Ada's trades, page by page: exactly the journal entries of her two accounts.
            var expected: [UInt64] = []
            for account in accounts.prefix(2) {
                expected += try books.ledger.entries(account: account, limit: 10_000, postings: false)
                    .filter { [.trade, .reversal, .replacement].contains($0.kind) }.map(\.offset)
            }
            expected.sort(by: >)
            var seen: [UInt64] = []
            var cursor: String?
            var booked = false
            repeat {
                let page = try decode(try await client.call(.get, "/v1/clients/\(ada.id)/trades?limit=7" + (cursor.map { "&cursor=\($0)" } ?? ""), ops))
                let items = page["items"] as? [[String: Any]] ?? []
                #expect(items.allSatisfy { accounts.prefix(2).contains($0["account"] as? String ?? "") })
                seen += items.compactMap { ($0["offset"] as? NSNumber)?.uint64Value }
                cursor = page["nextCursor"] as? String
                if !booked {
                    // New trades for Ada arrive between pages: they do not shift the pages.
                    try books.ledger.book([Execution(source: "late", executionID: "L1", account: accounts[0], instrument: "AAPL", side: .buy,
                                                     quantity: 1, price: 100, currency: "USD", tradeDate: CalendarDay(year: 2026, month: 11, day: 28)!,
                                                     transactTime: 1_795_900_000_000_000_000)])
                    booked = true
                }
            } while cursor != nil
            #expect(seen == expected)
            let alanTrades = try decode(try await client.call(.get, "/v1/clients/\(alan.id)/trades?limit=1000", ops))["items"] as? [[String: Any]] ?? []
            #expect(!alanTrades.isEmpty && alanTrades.allSatisfy { $0["account"] as? String == accounts[2] })

            let positions = try decode(try await client.call(.get, "/v1/clients/\(ada.id)/positions", ops))["items"] as? [[String: Any]] ?? []
            #expect(Set(positions.compactMap { $0["account"] as? String }) == Set(accounts.prefix(2)))
            #expect(try await client.call(.get, "/v1/clients/\(ada.id)/positions?asOf=2026-11-27T00:00:00Z", ops).status == .ok)
            for path in ["cash", "pnl", "fees", "settlement", "kyc", "alerts", "interactions"] {
                #expect(try await client.call(.get, "/v1/clients/\(ada.id)/\(path)", ops).status == .ok, "\(path)")
            }
            let sells = try decode(try await client.call(.get, "/v1/clients/\(ada.id)/trades?side=sell&limit=1000", ops))["items"] as? [[String: Any]] ?? []
            #expect(sells.allSatisfy { $0["side"] as? String == "sell" })
        }
    }

    @Test("the event stream sends booked trades and alerts, and resumes after Last-Event-ID without loss or repeat")
    func events() async throws {
        let books = try APIBooks(replay: false)
        defer { books.close() }
        let day = CalendarDay(year: 2026, month: 11, day: 27)!
        func fill(_ id: String) -> Execution {
            Execution(source: "p", executionID: id, account: "ACC-1", instrument: "AAPL", side: .buy, quantity: 1, price: 100,
                      currency: "USD", tradeDate: day, transactTime: 1_795_788_000_000_000_000)
        }
        try books.ledger.book([fill("E1"), fill("E2"), fill("E3")])
        let app = Application(router: books.server.router())
        try await app.test(.router) { client in
            let token = books.tokens[.crmRead]
            let first = String(buffer: try await client.call(.get, "/v1/events?limit=2&lastEventId=0.0", token).body)
            #expect(first.components(separatedBy: "event: trade").count - 1 == 2)
            #expect(first.contains("\"executionID\":\"E1\"") && first.contains("\"executionID\":\"E2\"") && !first.contains("E3"))
            #expect(first.contains("id: 2.0"))
            _ = try books.store.createClient(ClientInput(name: "Ada", countryOfResidence: "GB"), who: "t")
            let clientID = try books.store.clients().first!.id
            _ = try books.store.link(.account, "ACC-1", to: clientID, who: "t")
            _ = try MonitoringEngine(store: books.store).process()  // a lead trading: an alert
            let resumed = String(buffer: try await client.call(.get, "/v1/events?limit=2", token, headers: [.lastEventID: "2.0"]).body)
            #expect(resumed.contains("\"executionID\":\"E3\"") && !resumed.contains("\"E2\""))
            #expect(resumed.contains("event: alert") && resumed.contains("account-status"))
            #expect(try await client.call(.get, "/v1/events?lastEventId=banana", token).status == .badRequest)
        }
    }

    @Test("sanctions lists reload while the service runs: the new file's names are screened against every client")
    func sanctionsReload() async throws {
        let lists = TemporaryFolder("lists")
        defer { lists.cleanup() }
        let sdn = lists.file("sdn.csv")
        try "101,\"DOE, John\",\"individual\",\"SDGT\",-0- \n".write(toFile: sdn, atomically: true, encoding: .utf8)
        let books = try APIBooks(replay: false, sanctions: SanctionsSources(sdn: sdn))
        defer { books.close() }
        try books.store.reloadLists(try SanctionsSources(sdn: sdn).load())
        let app = Application(router: books.server.router())
        try await app.test(.router) { client in
            let person: [String: Any] = ["name": "Ivan Petrov", "countryOfResidence": "GB"]
            let id = try #require(try decode(try await client.call(.post, "/v1/clients", books.tokens[.crmWrite], body: person))["id"] as? String)
            #expect(try books.store.alerts(clientID: id).isEmpty)
            // Today's list names him.
            try "101,\"DOE, John\",\"individual\",\"SDGT\",-0- \n102,\"PETROV, Ivan\",\"individual\",\"UKRAINE-EO13660\",-0- \n"
                .write(toFile: sdn, atomically: true, encoding: .utf8)
            #expect(try await client.call(.post, "/v1/compliance/sanctions/reload", books.tokens[.crmWrite]).status == .forbidden)
            let reloaded = try await client.call(.post, "/v1/compliance/sanctions/reload", books.tokens[.compliance])
            #expect(reloaded.status == .ok)
            let body = try decode(reloaded)
            #expect(body["entries"] as? Int == 2)
            let alerts = try #require(body["alerts"] as? [[String: Any]])
            #expect(alerts.count == 1 && alerts.first?["clientID"] as? String == id && alerts.first?["rule"] as? String == "sanctions")
            #expect(try books.store.alerts(clientID: id).count == 1)
            // A broken file keeps the lists in use and says why.
            try "102\n".write(toFile: sdn, atomically: true, encoding: .utf8)
            let broken = try await client.call(.post, "/v1/compliance/sanctions/reload", books.tokens[.admin])
            #expect(broken.status == .conflict)
            let error = try decode(broken)["error"] as? [String: Any]
            #expect((error?["message"] as? String)?.contains("sdn.csv:1") == true, "\(String(describing: error))")
            #expect(books.store.screeningLists.entries.count == 2)
        }
        // A service started without list files says so.
        let bare = try APIBooks(replay: false)
        defer { bare.close() }
        try await Application(router: bare.server.router()).test(.router) { client in
            let response = try await client.call(.post, "/v1/compliance/sanctions/reload", bare.tokens[.admin])
            #expect(response.status == .conflict)
        }
    }

    @Test("over a real socket: health, metrics, the OpenAPI document, a client created and read back")
    func live() async throws {
        let books = try APIBooks(replay: false)
        defer { books.close() }
        let app = Application(router: books.server.router(), configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { client in
            #expect(try await client.call(.get, "/healthz", nil).status == .ok)
            let created = try decode(try await client.call(.post, "/v1/clients", books.tokens[.crmWrite],
                                                           body: ["name": "Grace Hopper", "countryOfResidence": "US", "tags": ["navy"]]))
            let id = try #require(created["id"] as? String)
            #expect(try decode(try await client.call(.get, "/v1/clients/\(id)", books.tokens[.crmRead]))["tags"] as? [String] == ["navy"])
            #expect(try await client.call(.get, "/metrics", nil).status == .unauthorized)
            let metrics = String(buffer: try await client.call(.get, "/metrics", books.tokens[.crmRead]).body)
            #expect(metrics.contains("counterfoil_http_requests_total") && metrics.contains("counterfoil_journal_entries"))
            let document = try decode(try await client.call(.get, "/v1/openapi.json", nil))
            #expect(document["openapi"] as? String == "3.0.3")
        }
    }
}

@Suite struct OpenAPIConformanceTests {
    /// The schemathesis command, from PATH or the user's pip scripts folder.
    static func schemathesis() -> String? {
        let paths = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
            + [NSHomeDirectory() + "/.local/bin", "/usr/local/bin"]
        return paths.map { $0 + "/schemathesis" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    @Test("schemathesis against the live server finds no server error and no answer that breaks the OpenAPI document")
    func schemathesisFindsNothing() async throws {
        let command = try #require(Self.schemathesis(), "schemathesis is not installed (scripts/test installs it with pip)")
        let books = try APIBooks()
        defer { books.close() }
        // Books and CRM data for the routes to answer with: clients, links, a KYC file, an alert, a recon break.
        let client = try books.store.createClient(ClientInput(name: "Ada Lovelace", countryOfResidence: "GB", status: .lead,
                                                              dateOfBirth: "1815-12-10"), who: "test")
        let account = try #require(try books.ledger.positions().first?.account)
        _ = try books.store.link(.account, account, to: client.id, who: "test")
        _ = try books.store.addDocument(client.id, DocumentInput(kind: .passport, number: "P123", issuingCountry: "GB", expiry: "2030-01-01",
                                                                 method: .document, result: .passed), who: "test")
        _ = try MonitoringEngine(store: books.store).process()
        let folder = TemporaryFolder("statement")
        defer { folder.cleanup() }
        try "account,instrument,quantity\n\(account),NOPE,5\n".write(toFile: folder.file("s.csv"), atomically: true, encoding: .utf8)
        _ = try books.server.reconciler.run(try StatementReader.read(path: folder.file("s.csv")), provider: "p", who: "test")

        let app = Application(router: books.server.router(), configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { client in
            let port = try #require(client.port)
            // Build the document once before schemathesis asks (a loaded machine is slow the first time).
            #expect(try await client.call(.get, "/v1/openapi.json", nil).status == .ok)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: command)
            process.arguments = [
                "run", "http://127.0.0.1:\(port)/v1/openapi.json", "-H", "Authorization: Bearer \(books.tokens[.admin]!)",
                "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
                "--exclude-path", "/v1/events", "--max-examples", "25", "--phases", "coverage,fuzzing,stateful",
                "--mode", "all", "--generation-deterministic", "--no-color",
                // The whole suite runs beside it on two cores: give answers time.
                "--wait-for-schema", "60", "--request-timeout", "60",
            ]
            let output = Pipe()
            process.standardOutput = output
            process.standardError = output
            process.environment = ProcessInfo.processInfo.environment.merging(["SCHEMATHESIS_HOOKS": "", "NO_COLOR": "1"]) { _, new in new }
            try process.run()
            // Read while it runs (a full pipe would stall it), then wait off the cooperative pool.
            let data = await Task.detached { output.fileHandleForReading.readDataToEndOfFile() }.value
            await Task.detached { process.waitUntilExit() }.value
            let text = String(decoding: data, as: UTF8.self)
            #expect(process.terminationStatus == 0, "\(text.suffix(4000))")
            #expect(text.contains("passed"))
        }
    }
}
