import ExactNumbers
@testable import FIXBooking
import FIXCore
import Foundation
import Ledger
import Testing

let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

func temporaryPath(_ name: String) -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("cf-\(name)-\(UUID().uuidString)").path
}

/// Parses one message written as `tag=value|…` (BodyLength and CheckSum filled in).
func withMessage<R>(_ fields: [(Int, String)], begin: String = "FIX.4.4", _ body: (FIXMessage) throws -> R) throws -> R {
    let encoder = FIXEncoder(beginString: begin)
    encoder.start(msgType: fields[0].1)
    for (tag, value) in fields.dropFirst() { encoder.append(tag, value) }
    let bytes = Array(encoder.finish())
    let parser = FIXParser()
    return try withExtendedLifetime(parser) { try bytes.withUnsafeBytes { try body(try parser.parse($0)) } }
}

let header: [(Int, String)] = [(49, "PLATFORM1"), (56, "COUNTERFOIL"), (34, "7"), (52, "20261127-10:00:00.000")]

@Suite struct MappingTests {
    let mapping = ExecutionMapping()

    @Test("a FIX 4.4 fill becomes a trade with exact quantity, price, dates and commission")
    func fill() throws {
        let mapped = try withMessage([(35, "8")] + header + [(37, "O1"), (17, "E1"), (150, "F"), (39, "2"), (1, "ACC-1"), (55, "EUR/USD"),
                                     (54, "2"), (32, "100000"), (31, "1.08425"), (15, "USD"), (60, "20261127-09:59:59.123456"),
                                     (75, "20261127"), (64, "20261201"), (12, "0.00002"), (13, "1")]) {
            mapping.map($0, source: ExecutionMapping.source(of: $0))
        }
        guard case .execution(let e) = mapped else { Issue.record("\(mapped)"); return }
        #expect(e.source == "FIX.4.4:PLATFORM1->COUNTERFOIL" && e.executionID == "E1" && e.kind == .trade)
        #expect(e.account == "ACC-1" && e.instrument == "EUR/USD" && e.side == .sell && e.currency == "USD")
        #expect(e.quantity == 100_000 && e.price == ExactDecimal("1.08425")!)
        #expect(e.settlementDate == CalendarDay(year: 2026, month: 12, day: 1))
        #expect(e.commission == 2)  // 0.00002 per unit × 100,000
        #expect(e.transactTime == 1_795_773_599_123_456_000)
    }

    @Test("ExecType G and H correct and bust the execution named in ExecRefID")
    func correctionsAndBusts() throws {
        for (execType, expected) in [("G", ExecutionKind.correction(of: "E1")), ("H", .bust(of: "E1"))] {
            let mapped = try withMessage([(35, "8")] + header + [(17, "E2"), (19, "E1"), (150, execType), (1, "A"), (55, "AAPL"),
                                         (54, "1"), (32, "5"), (31, "190"), (15, "USD")]) { mapping.map($0, source: "s") }
            guard case .execution(let e) = mapped else { Issue.record("\(mapped)"); return }
            #expect(e.kind == expected)
        }
    }

    @Test("FIX 4.2 fills by ExecType 1/2 and corrections by ExecTransType 1/2")
    func legacy() throws {
        let base: [(Int, String)] = [(1, "A"), (55, "AAPL"), (54, "1"), (32, "5"), (31, "190"), (15, "USD")]
        let fill = try withMessage([(35, "8")] + header + [(17, "X1"), (20, "0"), (150, "2")] + base, begin: "FIX.4.2") { mapping.map($0, source: "s") }
        guard case .execution(let trade) = fill else { Issue.record("\(fill)"); return }
        #expect(trade.kind == .trade)
        let cancel = try withMessage([(35, "8")] + header + [(17, "X2"), (20, "1"), (19, "X1"), (150, "2")] + base, begin: "FIX.4.2") { mapping.map($0, source: "s") }
        guard case .execution(let bust) = cancel else { Issue.record("\(cancel)"); return }
        #expect(bust.kind == .bust(of: "X1"))
        let newOrder = try withMessage([(35, "8")] + header + [(17, "X3"), (20, "0"), (150, "0")] + base, begin: "FIX.4.2") { mapping.map($0, source: "s") }
        guard case .notBooked = newOrder else { Issue.record("\(newOrder)"); return }
    }

    @Test("order events, session messages and position reports are not booked")
    func notBooked() throws {
        for fields in [[(35, "8")] + header + [(17, "E1"), (150, "0"), (1, "A"), (55, "X"), (54, "1")],
                       [(35, "0")] + header, [(35, "AP")] + header + [(721, "P1")]] {
            let mapped = try withMessage(fields) { mapping.map($0, source: "s") }
            guard case .notBooked = mapped else { Issue.record("\(fields): \(mapped)"); continue }
        }
    }

    static let invalidCases: [(fields: [(Int, String)], reason: String)] = [
        ([(17, "E1"), (150, "F"), (55, "AAPL"), (54, "1"), (32, "5"), (31, "190"), (15, "USD")], "missing Account (1) and no PartyID (448) with role 24 or 3"),
        ([(17, "E1"), (150, "F"), (1, "A"), (55, "AAPL"), (54, "1"), (32, "5"), (31, "1,90"), (15, "USD")], "LastPx (31) '1,90' is not a number"),
        ([(17, "E1"), (150, "F"), (1, "A"), (55, "AAPL"), (54, "9"), (32, "5"), (31, "190"), (15, "USD")], "Side (54) 9 is neither a buy nor a sell"),
        ([(17, "E1"), (150, "F"), (1, "A"), (55, "AAPL"), (54, "1"), (31, "190"), (15, "USD")], "missing LastQty (32)"),
        ([(17, "E1"), (150, "G"), (1, "A"), (55, "AAPL"), (54, "1"), (32, "5"), (31, "190"), (15, "USD")], "trade correction or bust without ExecRefID (19)"),
    ]

    @Test("a trade with a missing or malformed field is invalid and says which")
    func invalid() throws {
        for (fields, reason) in Self.invalidCases {
            let mapped = try withMessage([(35, "8")] + header + fields) { mapping.map($0, source: "s") }
            guard case .invalid(let why) = mapped else { Issue.record("\(mapped)"); continue }
            #expect(why == reason)
        }
    }

    @Test("without an Account (1), the PartyID with role customer account (24) or client ID (3) names the account")
    func partyAccount() throws {
        let mapped = try withMessage([(35, "8")] + header + [(17, "E1"), (150, "F"), (55, "AAPL"), (54, "1"), (32, "5"), (31, "190"), (15, "USD"),
                                     (453, "3"), (448, "BROKER-X"), (447, "D"), (452, "1"), (448, "TRADER-7"), (447, "D"), (452, "3"),
                                     (448, "ACC-77"), (447, "D"), (452, "24")]) { mapping.map($0, source: "s") }
        guard case .execution(let e) = mapped else { Issue.record("\(mapped)"); return }
        #expect(e.account == "D:24:ACC-77")
        let withAccount = try withMessage([(35, "8")] + header + [(17, "E1"), (150, "F"), (1, "A-1"), (55, "AAPL"), (54, "1"), (32, "5"),
                                          (31, "190"), (15, "USD"), (453, "1"), (448, "TRADER-7"), (447, "D"), (452, "3")]) { mapping.map($0, source: "s") }
        guard case .execution(let f) = withAccount else { Issue.record("\(withAccount)"); return }
        #expect(f.account == "A-1", "Account (1) wins")
    }

    @Test("a TradeCaptureReport books the first side's account and side under its TradeReportID")
    func tradeCapture() throws {
        let mapped = try withMessage([(35, "AE")] + header + [(571, "TR1"), (487, "0"), (55, "US500"), (32, "7"), (31, "5019.7"),
                                     (15, "USD"), (75, "20261127"), (552, "1"), (54, "2"), (37, "O1"), (1, "ACC-6")]) {
            mapping.map($0, source: "s")
        }
        guard case .execution(let e) = mapped else { Issue.record("\(mapped)"); return }
        #expect(e.executionID == "TR1" && e.account == "ACC-6" && e.side == .sell && e.quantity == 7)
    }
}

@Suite struct ReplayTests {
    @Test("the fixtures book cleanly, and a second replay books nothing twice")
    func fixtures() throws {
        let folder = temporaryPath("replay")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let ledger = try Ledger(folder: folder)
        defer { ledger.close() }
        let replay = DropCopyReplay(ledger: ledger, batchSize: 250)
        let first = try replay.run(path: packageRoot.appendingPathComponent("Fixtures/dropcopy-fix44.log").path)
        #expect(first.messages == 3001 && first.malformed == 0 && first.refused == 0 && first.quarantined == 0)
        #expect(first.booked > 2800)
        let legacy = try replay.run(path: packageRoot.appendingPathComponent("Fixtures/dropcopy-fix42-pipe.log").path)
        #expect(legacy.booked > 390)
        let entries = try ledger.nextOffset()
        let again = try replay.run(path: packageRoot.appendingPathComponent("Fixtures/dropcopy-fix44.log").path)
        #expect(again.booked == 0 && again.alreadyCommitted == 3001)
        #expect(try ledger.nextOffset() == entries)
        let report = try ledger.check()
        #expect(report.isClean, "\(report.problems.prefix(5))")
    }
}

extension ReplayTests {
    /// A log that spans a sequence reset (a new session day): resuming after a partial
    /// replay must not take the second day's low sequence numbers for committed ones.
    @Test("a log across a sequence reset resumes without losing the second day")
    func sequenceReset() throws {
        let encoder = FIXEncoder(beginString: "FIX.4.4")
        func fill(_ seq: Int, _ id: String) -> [UInt8] {
            encoder.start(msgType: "8")
            encoder.append(49, "P")
            encoder.append(56, "C")
            encoder.append(34, seq)
            encoder.append(52, FIXTimestamp(nanosecondsSinceEpoch: 1_795_800_000_000_000_000))
            encoder.append(17, id)
            encoder.append(150, char: UInt8(ascii: "F"))
            encoder.append(1, "ACC-1")
            encoder.append(55, "AAPL")
            encoder.append(54, char: UInt8(ascii: "1"))
            encoder.append(32, 1)
            encoder.append(31, 100)
            encoder.append(15, "USD")
            return Array(encoder.finish()) + [UInt8(ascii: "\n")]
        }
        let lines = (1...50).map { fill($0, "D1-\($0)") } + (1...60).map { fill($0, "D2-\($0)") }
        let whole = temporaryPath("reset-log")
        let part = temporaryPath("reset-part")
        let folder = temporaryPath("reset-ledger")
        defer { for path in [whole, part, folder] { try? FileManager.default.removeItem(atPath: path) } }
        try Data(lines.joined()).write(to: URL(fileURLWithPath: whole))
        try Data(lines.prefix(80).joined()).write(to: URL(fileURLWithPath: part))
        let ledger = try Ledger(folder: folder)
        defer { ledger.close() }
        let replay = DropCopyReplay(ledger: ledger, batchSize: 7)
        let first = try replay.run(path: part)
        #expect(first.booked == 80)
        let second = try replay.run(path: whole)
        #expect(second.booked == 30, "\(second)")
        #expect(try ledger.position(account: "ACC-1", instrument: "AAPL")?.quantity == 110)
        #expect(try ledger.check().isClean)
    }
}

/// A drop-copy log of `count` ExecutionReports: fills across accounts and instruments,
/// with busts, corrections and a few invalid ones, as one FIX 4.4 session.
func makeLog(count: Int, path: String) throws {
    var rng = SystemRandomNumberGenerator()
    let encoder = FIXEncoder(beginString: "FIX.4.4")
    var out = Data()
    var fills: [String] = []
    for n in 1...count {
        encoder.start(msgType: "8")
        encoder.append(49, "PLATFORM1")
        encoder.append(56, "COUNTERFOIL")
        encoder.append(34, n)
        encoder.append(52, FIXTimestamp(nanosecondsSinceEpoch: 1_795_800_000_000_000_000 + Int64(n) * 1_000_000))
        encoder.append(17, "E\(n)")
        let roll = Int.random(in: 0..<100, using: &rng)
        if roll < 3, let target = fills.randomElement(using: &rng) {
            encoder.append(19, target)
            encoder.append(150, char: UInt8(ascii: roll == 0 ? "H" : "G"))
        } else {
            encoder.append(150, char: UInt8(ascii: "F"))
            fills.append("E\(n)")
        }
        encoder.append(1, roll == 50 ? "" : "ACC-\(n % 97)")
        encoder.append(55, ["AAPL", "EUR/USD", "US500", "XAU/USD"][n % 4])
        encoder.append(54, char: UInt8(ascii: n % 3 == 0 ? "2" : "1"))
        encoder.append(32, ExactDecimal(mantissa: Int128(1 + n % 50), scale: 0))
        encoder.append(31, ExactDecimal(mantissa: Int128(10_000 + n % 777), scale: 2))
        encoder.append(15, "USD")
        encoder.append(75, FIXDate(year: 2026, month: 11, day: 27)!)
        out.append(contentsOf: encoder.finish())
        out.append(UInt8(ascii: "\n"))
    }
    try out.write(to: URL(fileURLWithPath: path))
}

@Suite(.serialized) struct CrashTests {
    /// A real process books a long log and is killed with SIGKILL at random moments,
    /// twenty times; each restart resumes from the committed progress. The final books
    /// equal those of one uninterrupted replay: nothing lost, nothing booked twice.
    @Test("SIGKILL at random moments loses nothing and books nothing twice")
    func killAndResume() throws {
        let binary = packageRoot.appendingPathComponent(".build/debug/counterfoil").path
        try #require(FileManager.default.isExecutableFile(atPath: binary), "build the package first (swift build --build-tests)")
        let log = temporaryPath("crash-log")
        let crashed = temporaryPath("crashed")
        let reference = temporaryPath("reference")
        defer { for path in [log, crashed, reference] { try? FileManager.default.removeItem(atPath: path) } }
        try makeLog(count: 20_000, path: log)

        let clean = try Ledger(folder: reference)
        defer { clean.close() }
        _ = try DropCopyReplay(ledger: clean, batchSize: 500).run(path: log)

        func replay() throws -> Process {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = ["replay", log, "--ledger", crashed, "--batch", "100", "--quiet"]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            return process
        }
        var killedMidway = 0
        for _ in 0..<20 {
            let process = try replay()
            Thread.sleep(forTimeInterval: Double.random(in: 0.05...0.6))
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                killedMidway += 1
            }
            process.waitUntilExit()
        }
        let finish = try replay()
        finish.waitUntilExit()
        #expect(finish.terminationStatus == 0)
        #expect(killedMidway >= 10, "the log was booked too fast to be interrupted")

        let survivor = try Ledger(folder: crashed)
        defer { survivor.close() }
        #expect(try survivor.nextOffset() == clean.nextOffset())
        #expect(try survivor.positions(includeHouse: true) == clean.positions(includeHouse: true))
        let cash = try survivor.cash(includeHouse: true).map { "\($0.account) \($0.currency) \($0.amount)" }
        #expect(cash == (try clean.cash(includeHouse: true).map { "\($0.account) \($0.currency) \($0.amount)" }))
        #expect(try survivor.quarantined().map(\.reason) == clean.quarantined().map(\.reason))
        let report = try survivor.check()
        #expect(report.isClean, "\(report.problems.prefix(5))")
    }
}

@Suite struct CommandLineTests {
    let binary = packageRoot.appendingPathComponent(".build/debug/counterfoil").path

    func run(_ arguments: [String]) throws -> (status: Int32, output: String, errors: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let out = output.fileHandleForReading.readDataToEndOfFile()
        let err = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self))
    }

    @Test("the commands a newcomer runs: replay, check, positions as JSON, as of an offset, validate, inspect")
    func commands() throws {
        try #require(FileManager.default.isExecutableFile(atPath: binary), "build the package first")
        let folder = temporaryPath("cli")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let log = packageRoot.appendingPathComponent("Fixtures/dropcopy-fix44.log").path
        let replay = try run(["replay", log, "--ledger", folder, "--quiet"])
        #expect(replay.status == 0 && replay.output.contains("booked"), "\(replay)")
        let check = try run(["check", "--ledger", folder])
        #expect(check.status == 0 && check.output.hasPrefix("clean:"), "\(check)")
        let json = try run(["positions", "--ledger", folder, "--account", "ACC-0001", "--format", "json"])
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [[String: String]])
        #expect(!rows.isEmpty && rows.allSatisfy { $0["account"] == "ACC-0001" && $0["quantity"] != nil })
        let past = try run(["positions", "--ledger", folder, "--account", "ACC-0001", "--as-of", "1", "--format", "csv"])
        #expect(past.status == 0 && past.output.split(separator: "\n").count <= 2, "\(past)")
        let mark = try run(["mark", "--ledger", folder, "AAPL", "190.125"])
        #expect(mark.status == 0, "\(mark)")
        let valued = try run(["positions", "--ledger", folder, "--account", "ACC-0001", "--format", "json"])
        let aapl = try #require((try JSONSerialization.jsonObject(with: Data(valued.output.utf8)) as? [[String: String]])?.first { $0["instrument"] == "AAPL" })
        #expect(aapl["unrealized_pnl"]?.isEmpty == false, "\(aapl)")
        let profile = packageRoot.appendingPathComponent("FixDictionaries/FIX44-DropCopy.xml").path
        let validate = try run(["validate", "--dict", profile, log])
        #expect(validate.status == 0 && validate.output.contains("3001 valid, 0 failed"), "\(validate)")
        let summary = try run(["inspect", "--summary", log])
        #expect(summary.output.contains("3001 messages, 0 malformed"), "\(summary)")
    }

    @Test("a user mistake is one clear line and a non-zero exit, never a stack trace")
    func mistakes() throws {
        try #require(FileManager.default.isExecutableFile(atPath: binary), "build the package first")
        let missing = try run(["inspect", "/nonexistent/log"])
        #expect(missing.status != 0)
        #expect(missing.errors.contains("cannot read /nonexistent/log: no such file"))
        #expect(!missing.errors.contains("Backtrace") && !missing.errors.contains("Fatal"))
        let noLedger = try run(["positions", "--ledger", "/nonexistent/ledger"])
        #expect(noLedger.status != 0 && noLedger.errors.contains("no ledger in /nonexistent/ledger"))
        let badDictionary = temporaryPath("dict") + ".xml"
        defer { try? FileManager.default.removeItem(atPath: badDictionary) }
        try "<fix type='FIX' major='4' minor='4'><fields><field number='1' name='A' type='INT'><value enum='x' description='X'/></field></fields></fix>"
            .write(toFile: badDictionary, atomically: true, encoding: .utf8)
        let check = try run(["dict", "check", badDictionary])
        #expect(check.status == 1 && check.output.contains("\(badDictionary):1: enum 'x' of A (INT) is not an integer"), "\(check)")
    }
}

/// What the books print cannot be turned against the person reading them.
@Suite struct OutputSafetyTests {
    let cli = CommandLineTests()

    /// An ExecutionReport with `account`, BodyLength and CheckSum made right.
    static func report(account: String, execID: String, side: String) -> String {
        let body = "35=8\u{1}49=PLATFORM1\u{1}56=COUNTERFOIL\u{1}34=2\u{1}52=20261127-08:00:00.223\u{1}37=O1\u{1}11=C1\u{1}17=\(execID)\u{1}"
            + "150=F\u{1}39=2\u{1}1=\(account)\u{1}55=AAPL\u{1}54=\(side)\u{1}38=10\u{1}40=2\u{1}44=10\u{1}32=10\u{1}31=10\u{1}15=USD\u{1}"
            + "151=0\u{1}14=10\u{1}6=10\u{1}60=20261127-08:00:00.024\u{1}75=20261127\u{1}"
        let head = "8=FIX.4.4\u{1}9=\(body.utf8.count)\u{1}"
        let sum = (head + body).utf8.reduce(0) { ($0 + Int($1)) % 256 }
        return head + body + String(format: "10=%03d\u{1}", sum)
    }

    @Test("CSV cells that a spreadsheet would run as formulas are neutralised; table output escapes control characters")
    func hostileNames() throws {
        try #require(FileManager.default.isExecutableFile(atPath: cli.binary), "build the package first")
        let folder = temporaryPath("output")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let log = folder + ".log"
        defer { try? FileManager.default.removeItem(atPath: log) }
        let formula = "=HYPERLINK(\"http://evil.example\";\"click\")"
        let escape = "\u{1b}[2J\u{1b}[31mACC"
        try (Self.report(account: formula, execID: "E1", side: "2") + "\n" + Self.report(account: escape, execID: "E2", side: "1") + "\n")
            .write(toFile: log, atomically: true, encoding: .utf8)
        let replay = try cli.run(["replay", log, "--ledger", folder, "--quiet"])
        #expect(replay.status == 0, "\(replay)")
        let csv = try cli.run(["positions", "--ledger", folder, "--format", "csv"])
        #expect(csv.output.contains("\"'=HYPERLINK(\"\"http://evil.example\"\";\"\"click\"\")\""), "\(csv.output)")
        // Numbers stay numbers: the sale is -10, not '-10.
        #expect(csv.output.contains(",-10,") && !csv.output.contains("'-10"), "\(csv.output)")
        let table = try cli.run(["positions", "--ledger", folder])
        #expect(!table.output.contains("\u{1b}") && table.output.contains("\\u{1b}[2J"), "\(table.output)")
    }
}
