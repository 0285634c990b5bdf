import ExactNumbers
import FAST
@testable import FASTBooking
import FASTTestSupport
import Foundation
import Ledger
import NIOCore
import NIOPosix
import FASTFeed
import Testing


/// MOEX's trade feed: each entry of GroupMDEntries is one trade (MDEntryType "z").
let moexMapping = """
    { "source": "MOEX-TLR",
      "trades": { "template": "Benchmark", "entries": "GroupMDEntries", "filter": { "MDEntryType": ["z"] },
                  "executionID": "MDEntryID", "account": { "constant": "MOEX-STREET" }, "instrument": "Symbol",
                  "side": "OrderSide", "buy": ["B"], "sell": ["S"], "quantity": "MDEntrySize", "quantityMultiplier": "10",
                  "price": "MDEntryPx", "currency": { "constant": "RUB" },
                  "tradeDate": { "field": "SendingTime", "format": "yyMMddHHmmssSSSSSS" },
                  "transactTime": { "field": "SendingTime", "format": "yyMMddHHmmssSSSSSS" },
                  "settlementDate": { "field": "SettlDate", "format": "yyyyMMdd" } },
      "marks": { "template": "Benchmark", "entries": "GroupMDEntries", "instrument": "Symbol", "price": "MDEntryPx" } }
    """

func temporaryFolder(_ name: String) -> String {
    let path = NSTemporaryDirectory() + "\(name)-\(UUID().uuidString)"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// Replays the MOEX capture through the booker; the tally of signed quantities per symbol
/// and the last price per symbol, computed from the decoded messages on the side.
func replay(into ledger: Ledger, mapper: FASTMapper, limit: Int = .max) throws -> (FASTBooker.Counts, [String: ExactDecimal], [String: ExactDecimal]) {
    let templates = mapper.templates
    let data = try Data(contentsOf: URL(fileURLWithPath: samples + "/gofast-moex-asts/data.dat"))
    let booker = try FASTBooker(ledger: ledger, mapper: mapper, batchSize: 500)
    let decoder = FASTDecoder(templates: templates)
    var reader = FASTStreamReader(framing: .sequence4)
    var message = FASTMessage()
    var tally: [String: ExactDecimal] = [:]
    var last: [String: ExactDecimal] = [:]
    var count = 0
    try data.withUnsafeBytes { buffer in
        while count < limit, let frame = try reader.next(buffer, decoder: decoder, into: &message) {
            count += 1
            try booker.take(message, sequence: UInt64(frame.sequenceNumber!), raw: Array(buffer[frame.message]))
            for (name, node) in message.tree(templates) where name == "GroupMDEntries" {
                guard case .sequence(let items) = node else { continue }
                for item in items {
                    let value = Dictionary(item, uniquingKeysWith: { a, _ in a })
                    guard case .string(let symbol)? = value["Symbol"], case .decimal(let m, let e)? = value["MDEntrySize"],
                          case .string(let side)? = value["OrderSide"], case .decimal(let pm, let pe)? = value["MDEntryPx"] else { continue }
                    let size = ExactDecimal.from(mantissa: m, exponent: e) * 10
                    tally[symbol, default: .zero] += side == "B" ? size : -size
                    last[symbol] = ExactDecimal.from(mantissa: pm, exponent: pe)
                }
            }
        }
    }
    try booker.flush()
    return (booker.counts, tally, last)
}

@Suite struct FASTBookingTests {
    @Test("the MOEX trade capture books every trade once; a second replay books nothing; marks are the last prices")
    func moexTrades() throws {
        let templates = try FASTTemplates(path: samples + "/gofast-moex-asts/test.xml")
        let mapping = try JSONDecoder().decode(FASTMapping.self, from: Data(moexMapping.utf8))
        let mapper = try FASTMapper(mapping: mapping, templates: templates)
        let folder = temporaryFolder("fast-booking")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let ledger = try Ledger(folder: folder)
        defer { ledger.close() }

        // Stopped after 2,000 messages, then run again from the start: nothing twice.
        let (partial, _, _) = try replay(into: ledger, mapper: mapper, limit: 2_000)
        #expect(partial.messages == 2_000 && partial.skipped == 0)
        let (counts, tally, last) = try replay(into: ledger, mapper: mapper)
        #expect(counts.skipped == 2_000 && counts.duplicates == 0 && counts.rejected == 0 && counts.quarantined == 0)
        #expect(partial.booked + counts.booked == 6_737)
        #expect(try ledger.progress(of: "MOEX-TLR") == 104_185)
        #expect(tally.count == 99)
        for (symbol, quantity) in tally {
            #expect(try ledger.position(account: "MOEX-STREET", instrument: symbol)?.quantity ?? .zero == quantity, "\(symbol)")
            #expect(try ledger.mark(instrument: symbol)?.price == last[symbol], "\(symbol)")
        }
        let first = try #require(try ledger.entry(at: 1))
        #expect(first.executionID == "80810596" && first.instrument == "AFLT" && first.quantity == 90 && first.price == ExactDecimal("74.78")!)
        #expect(first.tradeDate == CalendarDay(year: 2019, month: 4, day: 4) && first.valueDate == CalendarDay(year: 2019, month: 4, day: 8))
        #expect(try ledger.check().isClean)

        let (again, _, _) = try replay(into: ledger, mapper: mapper)
        #expect(again.skipped == 5_020 && again.booked == 0)
    }

    @Test("a mapping that names what the templates lack is refused, naming it")
    func badMappings() throws {
        let templates = try FASTTemplates(path: samples + "/gofast-moex-asts/test.xml")
        func problem(_ text: String) -> String {
            do {
                _ = try FASTMapper(mapping: try JSONDecoder().decode(FASTMapping.self, from: Data(text.utf8)), templates: templates)
                return "accepted"
            } catch {
                return "\(error)"
            }
        }
        #expect(problem(moexMapping.replacingOccurrences(of: "\"Symbol\"", with: "\"Ticker\"")) == "trades.instrument: no field named 'Ticker' in the templates")
        #expect(problem(moexMapping.replacingOccurrences(of: "\"Benchmark\"", with: "\"Trades\"")) == "trades.template: no template named 'Trades'")
        #expect(problem(moexMapping.replacingOccurrences(of: "\"10\"", with: "\"-1\"")) == "trades.quantityMultiplier: '-1' is not a positive number")
        let path = temporaryFolder("mapping") + "/m.json"
        try moexMapping.replacingOccurrences(of: "\"executionID\": \"MDEntryID\", ", with: "").write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: FASTMappingError.self) { try FASTMapping.load(path: path) }
        do { _ = try FASTMapping.load(path: path) } catch { #expect("\(error)".hasSuffix("trades.executionID is missing")) }
    }
}

@Suite struct LiveFeedBookingTests {
    @Test("a live UDP feed books what it receives: the same books as replaying the capture; a restart books nothing twice")
    func udpFeedIntoTheBooks() async throws {
        let records = Array(try moexRecords().prefix(600))
        let templates = try FASTTemplates(path: samples + "/gofast-moex-asts/test.xml")
        let mapper = try FASTMapper(mapping: try JSONDecoder().decode(FASTMapping.self, from: Data(moexMapping.utf8)), templates: templates)
        let folder = temporaryFolder("live-feed")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let ledger = try Ledger(folder: folder + "/live")
        defer { ledger.close() }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let port = freeUDPPort()
        var configuration = FeedConfiguration(transport: .udp, framing: .sequence4, lineA: FeedLine(host: "127.0.0.1", port: port))
        configuration.gapTimeout = .seconds(3)

        func run(_ slice: ArraySlice<(datagram: [UInt8], seqNum: UInt32)>) async throws -> FeedBooking {
            let loop = group.next()
            let booking = FeedBooking(booker: try FASTBooker(ledger: ledger, mapper: mapper, batchSize: 128), loop: loop,
                                      flushInterval: .milliseconds(50))
            let feed = FASTFeed(configuration: configuration, templates: templates, loop: loop, delegate: booking)
            try await feed.start()
            let sender = Sender()
            for (index, record) in slice.enumerated() {
                sender.send(record.datagram, to: "127.0.0.1", port: port)
                if index % 10 == 9 { try await Task.sleep(for: .milliseconds(1)) }
            }
            sender.close()
            for _ in 0..<3000 where booking.progress < UInt64(slice.endIndex) { try await Task.sleep(for: .milliseconds(20)) }
            await feed.stop()
            await booking.stop()
            return booking
        }
        let first = try await run(records[0..<400])
        #expect(first.progress == 400 && first.failures.isEmpty, "\(first.failures.prefix(3))")
        // Started again, the feed repeats from 301: what was booked is skipped, the rest booked.
        let second = try await run(records[300..<600])
        #expect(second.progress == 600 && second.counts.skipped == 100, "\(second.counts)")
        try await group.shutdownGracefully()

        let replayed = try Ledger(folder: folder + "/replayed")
        defer { replayed.close() }
        let (counts, _, _) = try replay(into: replayed, mapper: mapper, limit: 600)
        #expect(counts.booked > 0)
        #expect(try ledger.positions() == replayed.positions())
        #expect(try ledger.nextOffset() == replayed.nextOffset())
        #expect(try ledger.progress(of: "MOEX-TLR") == 600)
    }
}
