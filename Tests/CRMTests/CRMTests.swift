@testable import CRM
import ExactNumbers
import Foundation
import Ledger
import TestSupport
import Testing

let testKey = try! DataKey(bytes: Array(repeating: 7, count: 32))
let day = CalendarDay(year: 2026, month: 11, day: 27)!
let noon: Int64 = 1_795_788_000_000_000_000

func fill(_ id: String, _ account: String, _ instrument: String = "AAPL", _ side: Side = .buy, quantity: Int = 10, price: String = "100",
          minute: Int64 = 0, commission: String = "1") -> Execution {
    Execution(source: "platform", executionID: id, account: account, instrument: instrument, side: side,
              quantity: ExactDecimal(quantity), price: ExactDecimal(price)!, currency: "USD", tradeDate: day,
              transactTime: noon + minute * 60_000_000_000, commission: ExactDecimal(commission)!)
}

final class CRMBooks {
    let folder = TemporaryFolder("crm")
    let ledger: Ledger
    let store: CRMStore

    init(settings: CRMSettings = CRMSettings(), key: DataKey? = testKey) throws {
        ledger = try Ledger(folder: folder.path)
        store = try CRMStore(ledger: ledger, settings: settings, dataKey: key)
    }

    func person(_ name: String, country: String = "GB", status: ClientStatus = .active) throws -> Client {
        try store.createClient(ClientInput(kind: .person, name: name, countryOfResidence: country, status: status), who: "crm")
    }

    /// Everything LMDB holds, as bytes: what an attacker with the disk would see.
    func disk() -> Data { FileManager.default.contents(atPath: folder.path + "/data.mdb") ?? Data() }

    func close() {
        ledger.close()
        folder.cleanup()
    }
}

@Suite struct ClientTests {
    @Test("clients are created and changed with every change audited, before and after; bad input names its field")
    func createUpdateAudit() throws {
        let books = try CRMBooks()
        defer { books.close() }
        let client = try books.store.createClient(ClientInput(kind: .person, name: "Ada Lovelace", countryOfResidence: "GB",
                                                              contact: Contact(email: "ada@example.com"), tags: ["vip"]), who: "crm-bot")
        #expect(client.id == "C000001" && client.status == .lead)
        let changed = try books.store.updateClient(client.id, ClientInput(status: .active, manager: "jane"), who: "jane")
        #expect(changed.status == .active && changed.manager == "jane" && changed.name == "Ada Lovelace")
        let trail = try books.store.auditTrail(target: client.id)
        #expect(trail.map(\.action) == ["client.update", "client.create"] && trail[0].who == "jane")
        #expect(trail[0].before?.contains("\"status\":\"lead\"") == true && trail[0].after?.contains("\"status\":\"active\"") == true)

        for (input, field) in [
            (ClientInput(name: "", countryOfResidence: "GB"), "name"),
            (ClientInput(name: "X", countryOfResidence: "gb"), "countryOfResidence"),
            (ClientInput(name: "X"), "countryOfResidence"),
            (ClientInput(name: "X", countryOfResidence: "GB", contact: Contact(email: "nope")), "contact.email"),
            (ClientInput(name: "X", countryOfResidence: "GB", dateOfBirth: "1990-02-30"), "dateOfBirth"),
        ] {
            #expect(throws: CRMError.invalid(field, "")) {
                do { _ = try books.store.createClient(input, who: "crm") } catch let error as CRMError {
                    throw CRMError.invalid(error.field ?? "", "")
                }
            }
        }
        #expect(throws: CRMError.self) { try books.store.updateClient("C999999", ClientInput(status: .closed), who: "x") }
    }

    @Test("dates of birth and document numbers are sealed at rest: the database file never holds them in clear")
    func sealedAtRest() throws {
        let books = try CRMBooks()
        defer { books.close() }
        let client = try books.store.createClient(ClientInput(name: "Grace Hopper", countryOfResidence: "US", dateOfBirth: "1906-12-09"), who: "crm")
        let file = try books.store.addDocument(client.id, DocumentInput(kind: .passport, number: "P-88442211", issuingCountry: "US",
                                                                        expiry: "2031-01-01", method: .document, result: .passed), who: "crm")
        #expect(try books.store.dateOfBirth(of: try #require(try books.store.client(client.id))) == "1906-12-09")
        #expect(try books.store.documentNumber(file.documents[0]) == "P-88442211")
        let disk = books.disk()
        #expect(disk.range(of: Data("1906-12-09".utf8)) == nil && disk.range(of: Data("P-88442211".utf8)) == nil)
        #expect(disk.range(of: Data("Grace Hopper".utf8)) != nil, "the check reads the real file")

        let keyless = try CRMStore(ledger: books.ledger, dataKey: nil)
        #expect(throws: CRMError.self) { try keyless.createClient(ClientInput(name: "X", countryOfResidence: "GB", dateOfBirth: "1990-01-01"), who: "crm") }
        let otherKey = try CRMStore(ledger: books.ledger, dataKey: try DataKey(bytes: Array(repeating: 9, count: 32)))
        #expect(throws: CRMError.self) { try otherKey.dateOfBirth(of: try #require(try otherKey.client(client.id))) }
    }

    @Test("accounts link to one client each; booked accounts nobody linked are listed as unlinked")
    func links() throws {
        let books = try CRMBooks()
        defer { books.close() }
        let ada = try books.person("Ada Lovelace")
        let alan = try books.person("Alan Turing")
        try books.ledger.book([fill("E1", "ACC-1"), fill("E2", "ACC-2"), fill("E3", "ACC-3")])
        _ = try books.store.link(.account, "ACC-1", to: ada.id, who: "ops")
        _ = try books.store.link(.account, "ACC-2", to: ada.id, who: "ops")
        _ = try books.store.link(.party, "D:3:TRADER-7", to: ada.id, who: "ops")
        #expect(throws: CRMError(.conflict, "account 'ACC-1' is linked to client C000001; unlink it first", field: "value")) {
            try books.store.link(.account, "ACC-1", to: alan.id, who: "ops")
        }
        #expect(try books.store.accounts(of: ada.id) == ["ACC-1", "ACC-2", "D:3:TRADER-7"])
        #expect(try books.store.unlinkedAccounts() == ["ACC-3"])
        try books.store.unlink(.account, "ACC-2", who: "ops")
        #expect(try books.store.unlinkedAccounts() == ["ACC-2", "ACC-3"])
        #expect(try books.store.client(linkedTo: .party, "D:3:TRADER-7") == ada.id)
        // Executions that named no Account are booked to their PartyID: the party link finds them.
        try books.ledger.book([fill("P1", "D:3:TRADER-7")])
        #expect(try books.store.trades(of: ada.id).trades.map(\.executionID) == ["P1", "E1"])
        #expect(try books.store.client(ofLedgerAccount: "D:3:TRADER-7") == ada.id)
        #expect(try books.store.unlinkedAccounts() == ["ACC-2", "ACC-3"])
        // A platform login, which the platform sends as the Account: linking it links its bookings.
        try books.ledger.book([fill("M1", "5001234")])
        #expect(try books.store.unlinkedAccounts() == ["5001234", "ACC-2", "ACC-3"])
        _ = try books.store.link(.login, "5001234", to: alan.id, who: "ops")
        #expect(try books.store.client(ofLedgerAccount: "5001234") == alan.id)
        #expect(try books.store.unlinkedAccounts() == ["ACC-2", "ACC-3"])
        #expect(try books.store.trades(of: alan.id).trades.map(\.executionID) == ["M1"])
        // The same identifier linked under two kinds is still one account: its trades are listed once.
        _ = try books.store.link(.account, "5001234", to: alan.id, who: "ops")
        #expect(try books.store.accounts(of: alan.id) == ["5001234"])
        #expect(try books.store.trades(of: alan.id).trades.map(\.executionID) == ["M1"])
    }

    @Test("interactions are listed per client, newest first")
    func interactions() throws {
        let books = try CRMBooks()
        defer { books.close() }
        let ada = try books.person("Ada Lovelace")
        _ = try books.store.addInteraction(clientID: ada.id, channel: .call, agent: "jane", summary: "onboarding call", outcome: "docs requested",
                                           time: noon, who: "crm")
        _ = try books.store.addInteraction(clientID: ada.id, channel: .email, agent: "jane", summary: "docs received", outcome: nil,
                                           time: noon + 1, who: "crm")
        #expect(try books.store.interactions(of: ada.id).map(\.summary) == ["docs received", "onboarding call"])
        #expect(throws: CRMError.self) { try books.store.addInteraction(clientID: ada.id, channel: .note, agent: "", summary: "x", outcome: nil, who: "crm") }
    }
}

@Suite struct HistoryTests {
    @Test("a client's trades across accounts, newest first, in stable pages while new trades are booked; filters")
    func pagination() throws {
        let books = try CRMBooks()
        defer { books.close() }
        let ada = try books.person("Ada Lovelace")
        _ = try books.store.link(.account, "ACC-1", to: ada.id, who: "ops")
        _ = try books.store.link(.account, "ACC-2", to: ada.id, who: "ops")
        var fills: [Execution] = []
        for i in 0..<25 { fills.append(fill("A\(i)", i % 2 == 0 ? "ACC-1" : "ACC-2", i % 3 == 0 ? "MSFT" : "AAPL", i % 4 == 0 ? .sell : .buy, minute: Int64(i))) }
        fills.append(fill("X1", "ACC-9"))
        try books.ledger.book(fills)
        let first = try books.store.trades(of: ada.id, limit: 10)
        #expect(try first.trades.map(\.executionID) == (15..<25).reversed().map { "A\($0)" })
        // New trades arrive: the next page still starts where the first ended.
        try books.ledger.book([fill("N1", "ACC-1", minute: 100), fill("N2", "ACC-2", minute: 101)])
        let second = try books.store.trades(of: ada.id, before: first.nextCursor, limit: 10)
        #expect(try second.trades.map(\.executionID) == (5..<15).reversed().map { "A\($0)" })
        let third = try books.store.trades(of: ada.id, before: second.nextCursor, limit: 10)
        #expect(try third.trades.map(\.executionID) == (0..<5).reversed().map { "A\($0)" } && third.nextCursor == nil)

        let msft = try books.store.trades(of: ada.id, filter: TradeFilter(instrument: "MSFT", side: .buy), limit: 100)
        #expect(try msft.trades.map(\.executionID) == [21, 18, 15, 9, 6, 3].map { "A\($0)" })
        let window = try books.store.trades(of: ada.id, filter: TradeFilter(from: noon + 5 * 60_000_000_000, to: noon + 8 * 60_000_000_000, account: "ACC-1"))
        #expect(try window.trades.map(\.executionID) == ["A6"])
        #expect(throws: CRMError.self) { try books.store.trades(of: ada.id, filter: TradeFilter(account: "ACC-9")) }
        let fees = try books.store.fees(of: ada.id)
        #expect(fees["USD"]?.commission == 27)
    }
}

@Suite struct KYCTests {
    @Test("CDD is recomputed when a factor changes; a trigger makes EDD required; the workflow records who and why")
    func dueDiligence() throws {
        let books = try CRMBooks()
        defer { books.close() }
        let client = try books.person("Ada Lovelace")
        #expect(try books.store.kycFile(client.id).riskLevel == .low)
        var file = try books.store.setFactors(client.id, DueDiligenceFactors(productRisk: .high, expectedAnnualNotional: 50_000_000,
                                                                              politicallyExposed: true), who: "crm")
        #expect(file.riskLevel == .high && file.riskReasons.count == 3 && file.eddStatus == .notRequired)
        _ = try books.store.updateClient(client.id, ClientInput(nationality: "IR"), who: "crm")
        file = try books.store.kycFile(client.id)
        #expect(file.eddTriggers == ["sanctioned country"] && file.eddStatus == .required)
        #expect(throws: CRMError.self) { try books.store.moveEDD(client.id, to: .cleared, why: "fine", who: "cara") }
        file = try books.store.moveEDD(client.id, to: .inReview, why: "source of wealth requested", who: "cara")
        file = try books.store.moveEDD(client.id, to: .cleared, why: "source of wealth documented", who: "cara")
        #expect(file.eddHistory.map { "\($0.status.rawValue) \($0.who)" } == ["required crm", "in-review cara", "cleared cara"])
        file = try books.store.setDeclarations(client.id, EDDDeclarations(unpaidDebts: true), who: "crm")
        #expect(file.eddStatus == .required && file.eddTriggers.contains("unpaid debts or mortgages"))
        let company = try books.store.createClient(ClientInput(kind: .company, name: "Nominee Holdings Ltd", countryOfResidence: "VG",
                                                               shellCompany: true), who: "crm")
        _ = try books.store.setFactors(company.id, DueDiligenceFactors(), who: "crm")
        #expect(try books.store.kycFile(company.id).eddTriggers == ["shell company"])
    }
}

@Suite struct MonitoringTests {
    /// Ada, an active client with a verified passport who expects `annual` of notional a
    /// year, trading on ACC-1.
    static func verifiedAda(_ books: CRMBooks, expecting annual: ExactDecimal) throws -> Client {
        let ada = try books.person("Ada Lovelace")
        _ = try books.store.addDocument(ada.id, DocumentInput(kind: .passport, number: "P1", issuingCountry: "GB", expiry: "2035-01-01",
                                                              method: .document, result: .passed), who: "crm")
        _ = try books.store.setFactors(ada.id, DueDiligenceFactors(expectedAnnualNotional: annual), who: "crm")
        _ = try books.store.link(.account, "ACC-1", to: ada.id, who: "ops")
        return ada
    }

    @Test("rules over booked trades raise alerts linked to the client and the trades; alerts have a lifecycle")
    func rules() throws {
        var settings = CRMSettings()
        settings.velocityTradesPerHour = 5
        let books = try CRMBooks(settings: settings)
        defer { books.close() }
        let ada = try Self.verifiedAda(books, expecting: 120_000)
        let lead = try books.person("Lee Lead", status: .lead)
        _ = try books.store.link(.account, "ACC-L", to: lead.id, who: "ops")
        let engine = MonitoringEngine(store: books.store)
        try books.ledger.book([fill("S1", "ACC-1", quantity: 10, price: "100")])  // 1,000: within a month of 120,000 a year
        #expect(try engine.process().isEmpty)
        try books.ledger.book([fill("S2", "ACC-1", quantity: 200, price: "100", minute: 2)])  // 20,000 > 10,000
        let size = try engine.process()
        #expect(size.map(\.rule) == [.size] && size[0].clientID == ada.id && size[0].trades == [2])
        try books.ledger.book((3..<8).map { fill("V\($0)", "ACC-1", quantity: 1, minute: Int64($0)) })
        #expect(try engine.process().map(\.rule) == [.velocity])
        try books.ledger.book([fill("L1", "ACC-L"), fill("L2", "ACC-L", minute: 1)])
        #expect(try engine.process().map(\.rule) == [.accountStatus], "one open alert for the client, not one per trade")
        #expect(try engine.process().isEmpty, "each trade is looked at once")
        #expect(try books.store.kycFile(ada.id).eddTriggers.contains("unusual transaction patterns"))

        let alert = try #require(size.first)
        #expect(throws: CRMError.self) { try books.store.moveAlert(alert.id, to: .closed, note: " ", who: "cara") }
        _ = try books.store.moveAlert(alert.id, to: .investigating, note: "asked the client", who: "cara")
        let closed = try books.store.moveAlert(alert.id, to: .closed, note: "bonus payment, documented", who: "cara")
        #expect(closed.status == .closed && closed.closeReason == "bonus payment, documented" && closed.history.count == 3)
        #expect(throws: CRMError.self) { try books.store.moveAlert(alert.id, to: .open, note: "again", who: "cara") }
        #expect(try books.store.alerts(clientID: ada.id, status: [.open]).map(\.rule) == [.velocity])
        #expect(try books.store.events(after: 0).count == 3)
    }

    @Test("velocity and baseline windows are filled from the books after a restart: nothing is forgotten")
    func windowsSurviveRestart() throws {
        var settings = CRMSettings()
        settings.velocityTradesPerHour = 5
        let books = try CRMBooks(settings: settings)
        defer { books.close() }
        _ = try Self.verifiedAda(books, expecting: 100_000_000)
        let dayMinutes: Int64 = 24 * 60
        // Five ordinary days of 1,000 each, then three trades in the first minutes of the sixth.
        try books.ledger.book((0..<5).map { fill("D\($0)", "ACC-1", minute: $0 * dayMinutes) })
        try books.ledger.book((0..<3).map { fill("T\($0)", "ACC-1", minute: 5 * dayMinutes + $0) })
        #expect(try MonitoringEngine(store: books.store).process().isEmpty)
        // The service restarts; three more trades that hour make six (over five an hour) and
        // a day of 6,000 (over five times the average day of 1,000).
        let restarted = MonitoringEngine(store: books.store)
        try books.ledger.book((3..<6).map { fill("T\($0)", "ACC-1", minute: 5 * dayMinutes + $0) })
        let alerts = try restarted.process()
        #expect(Set(alerts.map(\.rule)) == [.velocity, .baseline], "\(alerts.map(\.detail))")
        #expect(alerts.allSatisfy { $0.trades == [11] }, "the sixth trade of the hour, T5")
    }
}

@Suite struct ScreeningTests {
    static func lists(in folder: TemporaryFolder) throws -> ScreeningLists {
        // Small lists in the real formats: OFAC's sdn.csv and alt.csv, the UN's consolidated XML.
        try """
            101,"PETROV, Ivan Sergeyevich","individual","UKRAINE-EO13660",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,"DOB 12 Mar 1971."
            102,"OCEANIC SHIPPING TRADERS LLC",-0- ,"SDGT",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0-
            103,"MÜLLER, Hans-Georg","individual","SDGT",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0-

            """.write(toFile: folder.file("sdn.csv"), atomically: true, encoding: .utf8)
        try """
            101,201,"aka","PETROFF, Johnny",-0-
            102,202,"fka","BLUE WAVE MARINE",-0-

            """.write(toFile: folder.file("alt.csv"), atomically: true, encoding: .utf8)
        try """
            <?xml version="1.0" encoding="UTF-8"?>
            <CONSOLIDATED_LIST dateGenerated="2026-11-01T00:00:00">
              <INDIVIDUALS>
                <INDIVIDUAL>
                  <DATAID>6908555</DATAID>
                  <FIRST_NAME>ABDUL</FIRST_NAME>
                  <SECOND_NAME>RAHMAN</SECOND_NAME>
                  <THIRD_NAME>YASIN</THIRD_NAME>
                  <INDIVIDUAL_ALIAS><QUALITY>Good</QUALITY><ALIAS_NAME>Abdul Rahman Said Yasin</ALIAS_NAME></INDIVIDUAL_ALIAS>
                </INDIVIDUAL>
              </INDIVIDUALS>
              <ENTITIES>
                <ENTITY>
                  <DATAID>110444</DATAID>
                  <FIRST_NAME>GOLDEN CRESCENT TRADING COMPANY</FIRST_NAME>
                  <ENTITY_ALIAS><ALIAS_NAME>Al-Hilal al-Dhahabi</ALIAS_NAME></ENTITY_ALIAS>
                </ENTITY>
              </ENTITIES>
            </CONSOLIDATED_LIST>

            """.write(toFile: folder.file("un.xml"), atomically: true, encoding: .utf8)
        return ScreeningLists(entries: try ScreeningLists.ofac(sdn: folder.file("sdn.csv"), alt: folder.file("alt.csv"))
                              + ScreeningLists.un(xml: folder.file("un.xml")))
    }

    @Test("the planted names are found however they are written; the near misses are not", arguments: [
        ("Ivan Petrov", "101"),
        ("Ivan Sergeyevich Petrov", "101"),
        ("Иван Петров", "101"),
        ("Johnny Petroff", "101"),
        ("Hans-Georg Muller", "103"),
        ("hans georg müller", "103"),
        ("Blue Wave Marine", "102"),
        ("Oceanic Shipping Traders", "102"),
        ("Yasin, Abdul Rahman", "6908555"),
        ("Golden Crescent Trading Co", "110444"),
    ])
    func plantedNames(name: String, entry: String) throws {
        let folder = TemporaryFolder("lists")
        defer { folder.cleanup() }
        let hits = try Self.lists(in: folder).screen(name: name, threshold: CRMSettings().screeningThreshold)
        #expect(hits.first?.entryID == entry, "\(name): \(hits)")
    }

    @Test("near misses stay below the threshold", arguments: ["Ivan Petrovsky-Lund", "Anna Petrova", "Hans Meyer", "Oceanic Airlines",
                                                              "Abdul Karim", "Golden Gate Bakery", "Ada Lovelace"])
    func nearMisses(name: String) throws {
        let folder = TemporaryFolder("lists")
        defer { folder.cleanup() }
        let hits = try Self.lists(in: folder).screen(name: name, threshold: CRMSettings().screeningThreshold)
        #expect(hits.isEmpty, "\(name): \(hits)")
    }

    @Test("screening on create, on update and on list reload; hits become alerts, once per listed entry")
    func screeningAlerts() throws {
        let books = try CRMBooks()
        defer { books.close() }
        let folder = TemporaryFolder("lists")
        defer { folder.cleanup() }
        let ivan = try books.person("Ivan Petrov")
        #expect(try books.store.alerts(clientID: ivan.id).isEmpty, "no lists loaded yet")
        let raised = try books.store.reloadLists(try Self.lists(in: folder))
        #expect(raised.map(\.clientID) == [ivan.id] && raised[0].hit?.entryID == "101")
        #expect(try books.store.reloadLists(books.store.screeningLists).isEmpty, "an open alert is not raised again")
        let hans = try books.person("Hans Meyer")
        #expect(try books.store.alerts(clientID: hans.id).isEmpty)
        _ = try books.store.updateClient(hans.id, ClientInput(name: "Hans-Georg Müller"), who: "crm")
        #expect(try books.store.alerts(clientID: hans.id).map(\.rule) == [.sanctions])
        #expect(ScreeningLists.jaroWinkler("martha", "marhta") > 0.96 && ScreeningLists.jaroWinkler("abc", "xyz") == 0)
    }
}

@Suite struct TokenTests {
    @Test("tokens are stored hashed, authenticate until revoked, and every change is audited")
    func tokens() throws {
        let books = try CRMBooks()
        defer { books.close() }
        let (token, record) = try books.store.createToken(name: "crm sync", role: .crmWrite, who: "admin")
        #expect(try books.store.authenticate(token)?.role == .crmWrite)
        #expect(try books.store.authenticate(token + "x") == nil)
        #expect(books.disk().range(of: Data(token.utf8)) == nil)
        _ = try books.store.revokeToken(id: record.id, who: "admin")
        #expect(try books.store.authenticate(token) == nil)
        #expect(try books.store.auditTrail().map(\.action) == ["token.revoke", "token.create"])
    }
}
