import ExactNumbers
import FIXCore
import Foundation
import Ledger
import Reconciliation
import TestSupport
import Testing

@Suite struct ReconciliationTests {
    static let cleanPositions = """
        account,instrument,quantity,average_price
        ACC-1,AAPL,60,190
        ACC-1,MSFT,50,410.5
        ACC-2,AAPL,-30,191
        ACC-2,VOD.L,1000,0.72
        ACC-3,MSFT,10,400

        """

    static let cleanCash = """
        account,currency,amount
        ACC-1,USD,-31725
        ACC-2,USD,5730
        ACC-2,GBP,-720
        ACC-3,USD,-4000

        """

    static let cleanTrades = """
        trade_id,account,instrument,side,quantity,price,time
        T1,ACC-1,AAPL,buy,100,190,2026-11-27T14:01:00Z
        T2,ACC-1,MSFT,buy,50,410.5,2026-11-27T14:02:00Z
        T3,ACC-2,AAPL,sell,30,191,2026-11-27T14:03:00Z
        T4,ACC-2,VOD.L,buy,1000,0.72,2026-11-27T14:04:00Z
        T5,ACC-3,MSFT,buy,10,400,2026-11-27T14:05:00Z
        T6,ACC-1,AAPL,sell,40,195,2026-11-27T14:06:00Z

        """

    @Test("clean statements of positions, cash and trades find no break")
    func clean() throws {
        let books = try ReconBooks()
        defer { books.close() }
        for (text, kind) in [(Self.cleanPositions, ReconKind.positions), (Self.cleanCash, .cash), (Self.cleanTrades, .trades)] {
            let report = try books.reconciler.run(try books.statement(text), provider: "platform-a", scope: .all, who: "ops")
            #expect(report.breaks.isEmpty, "\(kind): \(summary(report.breaks))")
            #expect(report.run.kinds == [kind] && report.run.breaks == 0)
        }
    }

    @Test("every planted position difference is found once, and nothing else")
    func plantedPositions() throws {
        let books = try ReconBooks()
        defer { books.close() }
        let statement = try books.statement("""
            account,instrument,quantity,average_price
            ACC-1,AAPL,55,190
            ACC-1,MSFT,50,411
            ACC-2,AAPL,30,191
            ACC-3,MSFT,10,400
            ACC-3,AAPL,5,
            ACC-3,MSFT,10,400
            ACC-9,AAPL,7,
            ACC-1,TSLA,3,

            """)
        let report = try books.reconciler.run(statement, provider: "platform-a", who: "ops")
        #expect(summary(report.breaks) == [
            "duplicate ACC-3 MSFT",
            "mapping ACC-1 TSLA",
            "mapping ACC-9 AAPL",
            "missing-ours ACC-3 AAPL",
            "missing-theirs ACC-2 VOD.L",
            "price ACC-1 MSFT",
            "quantity ACC-1 AAPL",
            "quantity ACC-2 AAPL opposite",
        ])
        let quantity = try #require(report.breaks.first { $0.finding.type == .quantity && $0.finding.account == "ACC-1" })
        #expect(quantity.finding.ours == "60" && quantity.finding.theirs == "55" && quantity.finding.line == 2)
        #expect(report.breaks.first { $0.finding.type == .duplicate }?.finding.note.contains("first on line 5") == true)
        #expect(report.open.count == 8 && report.run.new == 8)
    }

    @Test("cash differences, and tolerances per currency and asset class that absorb small ones")
    func cashAndTolerances() throws {
        let books = try ReconBooks()
        defer { books.close() }
        let cash = try books.statement("account,currency,amount\nACC-1,USD,-31725\nACC-2,USD,5730.01\nACC-3,USD,-4000\nACC-2,EUR,12\n")
        let exact = try books.reconciler.run(cash, provider: "bank", who: "ops")
        #expect(summary(exact.breaks) == ["missing-ours ACC-2 EUR", "missing-theirs ACC-2 GBP", "quantity ACC-2 USD"])

        var tolerances = try ReconTolerances(settings: [
            "CashTolerance.USD": "0.05", "QuantityTolerance.equity": "10%", "AssetClasses": "AAPL:equity",
        ], line: { _ in 1 }, file: "cfg")
        let loose = try books.reconciler.run(cash, provider: "bank", tolerances: tolerances, who: "ops")
        #expect(summary(loose.breaks) == ["missing-ours ACC-2 EUR", "missing-theirs ACC-2 GBP"])
        #expect(loose.cleared.map(\.finding.subject) == ["USD"], "the USD break no longer found closes itself")

        let positions = try books.statement("account,instrument,quantity\nACC-1,AAPL,55\nACC-1,MSFT,49\n")
        let report = try books.reconciler.run(positions, provider: "clearer", tolerances: tolerances, who: "ops")
        #expect(summary(report.breaks) == ["quantity ACC-1 MSFT"], "AAPL is an equity with 10%; MSFT is in the exact default class")
        tolerances.quantity["default"] = ReconTolerances.Tolerance("1")
        #expect(try books.reconciler.run(positions, provider: "clearer", tolerances: tolerances, who: "ops").breaks.isEmpty)
        #expect(ReconTolerances.Tolerance("1,0.5%") == ReconTolerances.Tolerance(absolute: 1, relative: ExactDecimal("0.005")!))
        #expect(ReconTolerances.Tolerance("-1") == nil)
    }

    @Test("trades by id, by their terms when ids differ, and every planted trade difference")
    func plantedTrades() throws {
        let books = try ReconBooks()
        defer { books.close() }
        let valueDate = try #require(try books.ledger.entry(at: 2)).valueDate
        #expect(valueDate != CalendarDay(year: 2026, month: 12, day: 31))
        let statement = try books.statement("""
            trade_id,account,instrument,side,quantity,price,time,value_date
            T1,ACC-1,AAPL,buy,100,190.5,2026-11-27T14:01:00Z,
            T2,ACC-1,MSFT,buy,50,410.5,2026-11-27T14:02:00Z,2026-12-31
            T3,ACC-2,AAPL,buy,30,191,2026-11-27T14:03:00Z,
            T5,ACC-3,MSFT,buy,10,400,2026-11-27T14:05:00Z,
            T5,ACC-3,MSFT,buy,10,400,2026-11-27T14:05:00Z,
            P-6,ACC-1,AAPL,sell,40,195,2026-11-27T14:06:30Z,
            X1,ACC-3,MSFT,buy,1,401,2026-11-27T15:00:00Z,
            Z1,ACC-9,MSFT,buy,1,401,2026-11-27T15:00:00Z,

            """)
        let report = try books.reconciler.run(statement, provider: "platform-a", scope: .all, source: "platform-a", who: "ops")
        #expect(summary(report.breaks) == [
            "duplicate ACC-3 T5",
            "mapping ACC-9 Z1",
            "missing-ours ACC-3 X1",
            "missing-theirs ACC-2 T4",
            "price ACC-1 T1",
            "quantity ACC-2 T3 opposite",
            "value-date ACC-1 T2",
        ], "P-6 is T6 under the platform's id: it matches on its terms")
    }

    @Test("a corrected trade is matched under either id; a busted one is no longer ours")
    func correctionsAndBusts() throws {
        let books = try ReconBooks()
        defer { books.close() }
        var correction = execution("T1-C", "ACC-1", "AAPL", .buy, "100", "190.25", minute: 10)
        correction.kind = .correction(of: "T1")
        var bust = execution("T5-B", "ACC-3", "MSFT", .buy, "10", "400", minute: 11)
        bust.kind = .bust(of: "T5")
        try books.ledger.book([correction, bust])
        let statement = try books.statement("""
            trade_id,account,instrument,side,quantity,price
            T1,ACC-1,AAPL,buy,100,190.25
            T2,ACC-1,MSFT,buy,50,410.5
            T3,ACC-2,AAPL,sell,30,191
            T4,ACC-2,VOD.L,buy,1000,0.72
            T6,ACC-1,AAPL,sell,40,195

            """)
        let report = try books.reconciler.run(statement, provider: "platform-a", scope: .all, who: "ops")
        #expect(report.breaks.isEmpty, "\(summary(report.breaks))")
    }

    @Test("as of a cut-off: what was booked after it is not in the comparison, average cost included")
    func asOf() throws {
        let books = try ReconBooks()
        defer { books.close() }
        usleep(2000)
        let cutoff = Reconciler.now()
        usleep(2000)
        try books.ledger.book([execution("T7", "ACC-1", "AAPL", .buy, "40", "200", minute: 20)])
        let statement = try books.statement(Self.cleanPositions)
        let asOf = try books.reconciler.run(statement, provider: "clearer", asOf: cutoff, scope: .all, who: "ops")
        #expect(asOf.breaks.isEmpty, "\(summary(asOf.breaks))")
        #expect(asOf.run.cutoffOffset == 6)
        let now = try books.reconciler.run(statement, provider: "clearer", scope: .all, who: "ops")
        #expect(summary(now.breaks) == ["quantity ACC-1 AAPL"])
        let cash = try books.reconciler.run(try books.statement(Self.cleanCash), provider: "clearer", asOf: cutoff, scope: .all, who: "ops")
        #expect(cash.breaks.isEmpty, "\(summary(cash.breaks))")
    }

    @Test("breaks live on: adjusted or explained, the next run is clean; one that clears by itself closes itself")
    func lifecycle() throws {
        let books = try ReconBooks()
        defer { books.close() }
        let first = try books.reconciler.run(try books.statement("""
            account,instrument,quantity,average_price
            ACC-1,AAPL,55,190
            ACC-1,MSFT,50,411
            ACC-2,AAPL,-30,191
            ACC-3,MSFT,10,400

            """), provider: "clearer", who: "ops")
        #expect(summary(first.breaks) == ["missing-theirs ACC-2 VOD.L", "price ACC-1 MSFT", "quantity ACC-1 AAPL"])
        let byType = Dictionary(uniqueKeysWithValues: first.breaks.map { ($0.finding.type, $0.id) })

        // Quantity: book their figure through the ledger, with who and why.
        let (adjusted, offset) = try books.reconciler.adjust(byType[.quantity]!, who: "alice", why: "allocation missed by the platform feed")
        #expect(adjusted.status == .resolved && adjusted.resolution == .adjusted && adjusted.adjustmentOffset == offset)
        let entry = try #require(try books.ledger.entry(at: offset))
        #expect(entry.kind == .adjustment && entry.memo.contains("alice") && entry.memo.contains("recon break \(adjusted.id)"))
        #expect(try books.ledger.position(account: "ACC-1", instrument: "AAPL")?.quantity == 55)
        #expect(try books.ledger.check().isClean)

        // Price: an accepted explanation. Missing VOD.L: being looked into.
        try books.reconciler.explain(byType[.price]!, who: "bob", explanation: "their average includes fees")
        let investigating = try books.reconciler.investigate(byType[.missingTheirs]!, who: "bob", note: "asked the clearer")
        #expect(investigating.status == .investigating)
        #expect(throws: ReconError.self) { try books.reconciler.adjust(byType[.price]!, who: "x", why: "y") }
        #expect(throws: ReconError.self) { try books.reconciler.explain(byType[.missingTheirs]!, who: "", explanation: "why") }

        // Next day's statement now lists VOD.L: the adjusted and cleared ones are gone, the explained one stays resolved.
        let text = """
            account,instrument,quantity,average_price
            ACC-1,AAPL,55,190
            ACC-1,MSFT,50,411
            ACC-2,AAPL,-30,191
            ACC-2,VOD.L,1000,0.72
            ACC-3,MSFT,10,400

            """
        let second = try books.reconciler.run(try books.statement(text, name: "day2.csv"), provider: "clearer", who: "ops")
        #expect(second.open.isEmpty, "\(summary(second.open))")
        #expect(second.run.accepted == 1 && second.run.breaks == 0)
        #expect(second.cleared.map(\.id) == [byType[.missingTheirs]!])
        let cleared = try #require(try books.reconciler.break(byType[.missingTheirs]!))
        #expect(cleared.resolution == .cleared && cleared.history.map(\.action) == ["opened", "investigating", "cleared"])

        // The same bytes again are noticed.
        let third = try books.reconciler.run(try books.statement(text, name: "day2-again.csv"), provider: "clearer", who: "ops")
        #expect(third.run.duplicateOf == second.run.id)
        #expect(try books.reconciler.runs().map(\.id) == [3, 2, 1])
        #expect(try books.reconciler.breaks(status: [.open, .investigating]).isEmpty)
    }

    @Test("ageing counts the breaks still open by type and days open")
    func ageing() throws {
        // Run 1 (ten days ago): ACC-1 AAPL quantity, ACC-1 MSFT missing theirs. Run 2 (yesterday)
        // finds both again and adds ACC-2 AAPL quantity and ACC-2 VOD.L missing theirs.
        let books = try ReconBooks()
        defer { books.close() }
        let day: Int64 = 86_400_000_000_000
        let start = Reconciler.now() - 10 * day
        _ = try books.reconciler.run(try books.statement("account,instrument,quantity\nACC-1,AAPL,1\n"), provider: "p", who: "ops", now: start)
        _ = try books.reconciler.run(try books.statement("account,instrument,quantity\nACC-1,AAPL,1\nACC-2,AAPL,1\n"), provider: "p",
                                     who: "ops", now: start + 9 * day)
        let ageing = try books.reconciler.ageing(now: start + 10 * day)
        #expect(ageing == [
            AgeingRow(type: .missingTheirs, bucket: "0-1", count: 1),
            AgeingRow(type: .missingTheirs, bucket: "8-30", count: 1),
            AgeingRow(type: .quantity, bucket: "0-1", count: 1),
            AgeingRow(type: .quantity, bucket: "8-30", count: 1),
        ], "\(ageing)")
    }

    @Test("PositionReports received over FIX are a statement: the latest per account and instrument, end-of-day quantity")
    func positionReports() throws {
        let books = try ReconBooks()
        defer { books.close() }
        let encoder = FIXEncoder(beginString: "FIX.4.4")
        func report(_ id: String, _ account: String, _ symbol: String, long: String, short: String = "0") -> [UInt8] {
            encoder.start(msgType: "AP")
            encoder.append(49, "PLATFORM")
            encoder.append(56, "COUNTERFOIL")
            encoder.append(721, id)
            encoder.append(710, "REQ-1")
            encoder.append(728, 0)
            encoder.append(1, account)
            encoder.append(55, symbol)
            encoder.append(15, "USD")
            encoder.append(702, 2)
            encoder.append(703, "SOD")
            encoder.append(704, "999")
            encoder.append(703, "FIN")
            encoder.append(704, long)
            encoder.append(705, short)
            return Array(encoder.finish())
        }
        var write = SessionWrite(key: "FIX.4.4:COUNTERFOIL->PLATFORM")
        let now = Reconciler.now()
        write.reports = [
            SessionReport(kind: "PositionReport", time: now + 1, message: report("R1", "ACC-1", "AAPL", long: "61")),
            SessionReport(kind: "PositionReport", time: now + 2, message: report("R2", "ACC-1", "MSFT", long: "50")),
            SessionReport(kind: "PositionReport", time: now + 3, message: report("R3", "ACC-2", "AAPL", long: "0", short: "30")),
            SessionReport(kind: "PositionReport", time: now + 4, message: report("R4", "ACC-1", "AAPL", long: "60"), afterBookings: 1),
        ]
        // A fill that arrived between R3 and R4: the platform's last report knows of it.
        write.bookings = [SessionBooking(execution: execution("T9", "ACC-3", "MSFT", .buy, "5", "402", minute: 30), raw: [])]
        try books.ledger.commitAndWait(write)
        let statement = try Statement.positionReports(ledger: books.ledger, source: "FIX.4.4:COUNTERFOIL->PLATFORM")
        #expect(statement.positions.map { "\($0.account) \($0.instrument) \($0.quantity)" } == ["ACC-1 AAPL 60", "ACC-1 MSFT 50", "ACC-2 AAPL -30"])
        let report = try books.reconciler.run(statement, provider: "platform", who: "ops")
        #expect(summary(report.breaks) == ["missing-theirs ACC-2 VOD.L"])
        #expect(report.run.asOf == now + 4 && report.run.cutoffOffset == 7, "as of the last report: T9 (offset 7) included")
        // Booked after the reports: not in the comparison.
        try books.ledger.book([execution("T10", "ACC-1", "MSFT", .buy, "5", "402", minute: 31)])
        let later = try books.reconciler.run(statement, provider: "platform", who: "ops")
        #expect(summary(later.breaks) == ["missing-theirs ACC-2 VOD.L"])
        let answering = try Statement.positionReports(ledger: books.ledger, source: "FIX.4.4:COUNTERFOIL->PLATFORM", request: "REQ-1")
        #expect(answering.positions.count == 3 && answering.cutoffOffset == 7)
    }

    @Test("a statement with a bad line is refused whole: no run, no break")
    func badStatementChangesNothing() throws {
        let books = try ReconBooks()
        defer { books.close() }
        #expect(throws: StatementError.self) {
            try books.statement("account,instrument,quantity\nACC-1,AAPL,55\nACC-1,MSFT,fifty\n")
        }
        #expect(try books.reconciler.runs().isEmpty && books.reconciler.breaks().isEmpty)
        #expect(try books.ledger.nextOffset() == 7)
    }
}

@Suite struct ScheduledReconciliationTests {
    @Test("once a day at its time: every new statement file in the folder, each once; a bad one reported once")
    func folderOncePerDay() throws {
        let books = try ReconBooks()
        defer { books.close() }
        let folder = books.folder.file("inbox")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try ReconciliationTests.cleanPositions.write(toFile: folder + "/clearer-2026-11-27.csv", atomically: true, encoding: .utf8)
        try "account,currency,amount\nACC-1,USD,-31700\n".write(toFile: folder + "/bank_20261127.csv", atomically: true, encoding: .utf8)
        try "account,instrument,quantity\nACC-1,AAPL,x\n".write(toFile: folder + "/broken.csv", atomically: true, encoding: .utf8)
        let schedule = ScheduledReconciliation(reconciler: books.reconciler, time: 18 * 3600, sessions: ["FIX.4.4:COUNTERFOIL->NOBODY"],
                                               statementFolder: folder)
        let day: Int64 = 86_400_000_000_000
        let midnight = (Reconciler.now() / day) * day
        #expect(schedule.runIfDue(now: midnight + 17 * 3600 * 1_000_000_000).isEmpty, "not yet")
        let outcomes = schedule.runIfDue(now: midnight + 18 * 3600 * 1_000_000_000 + 1)
        let summaries = outcomes.map { outcome -> String in
            switch outcome {
            case .reconciled(let report): return "\(report.run.provider): \(report.open.count)"
            case .failed(let origin, let reason): return "\((origin as NSString).lastPathComponent) failed: \(reason.contains("broken.csv:2: column 'quantity'") ? "line 2" : reason)"
            }
        }
        #expect(summaries == ["bank: 1", "broken.csv failed: line 2", "clearer: 0"])
        #expect(schedule.runIfDue(now: midnight + 20 * 3600 * 1_000_000_000).isEmpty, "once a day")
        #expect(schedule.runIfDue(now: midnight + day + 18 * 3600 * 1_000_000_000).isEmpty, "files already reconciled, the bad one already reported")
        #expect(ScheduledReconciliation.provider(fileName: "lp_x.json") == "lp_x")
    }
}

@Suite struct StatementSizeTests {
    @Test("a statement file over the size limit is refused with its size, before it is read into memory")
    func oversizedStatement() throws {
        let path = NSTemporaryDirectory() + "counterfoil-huge-\(UUID().uuidString).csv"
        defer { try? FileManager.default.removeItem(atPath: path) }
        // Sparse: the size is there, the bytes are not written.
        FileManager.default.createFile(atPath: path, contents: Data("account,instrument,quantity\n".utf8))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.truncate(atOffset: UInt64(StatementReader.fileBytesMax + 1))
        try handle.close()
        do {
            _ = try StatementReader.read(path: path)
            Issue.record("a \(StatementReader.fileBytesMax + 1)-byte statement was read")
        } catch let error as StatementError {
            #expect("\(error)".contains("statements of up to \(StatementReader.fileBytesMax) are read"), "\(error)")
        }
    }
}
