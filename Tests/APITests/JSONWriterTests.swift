@testable import API
import CRM
import ExactNumbers
import Foundation
import Ledger
import Testing

@Suite struct JSONWriterTests {
    @Test("the fast trade writer says exactly what TradeView's Encodable says", arguments: [
        ("T1", "ACC-1", "AAPL", "190.50", "10", "1.25", 0 as UInt64, 1_795_788_000_123_456_789 as Int64),
        ("T\"2\\", "ACC\n2", "EUR/USD", "-0.000001", "1000000.5", "0", 7, 0),
        ("T3", "Ünïcode", "XAU/USD", "123456789012.123456", "0.10", "-3", 1, -1_000_000_001),
    ])
    func sameJSON(id: String, account: String, instrument: String, price: String, quantity: String, commission: String,
                  reference: UInt64, time: Int64) throws {
        let entry = JournalEntry(offset: 42, kind: reference == 0 ? .trade : .reversal, source: "FIX.4.4:P->C", executionID: id,
                                 reference: reference, account: account, instrument: instrument, side: .sell,
                                 quantity: ExactDecimal(quantity)!, price: ExactDecimal(price)!, currency: "USD",
                                 tradeDate: CalendarDay(year: 2026, month: 11, day: 27)!, valueDate: CalendarDay(year: 1999, month: 1, day: 2)!,
                                 transactTime: time, commission: ExactDecimal(commission)!, fees: .zero, bookedAt: time + 5,
                                 memo: "", postings: [])
        let writer = JSONWriter(capacity: 8)
        try entry.encodedSummary().withUnsafeBytes { writer.trade(try EntrySummary($0)) }
        let fast = try JSONSerialization.jsonObject(with: Data(writer.bytes)) as? NSDictionary
        let slow = try JSONSerialization.jsonObject(with: try JSONEncoder().encode(TradeView(entry))) as? NSDictionary
        #expect(fast != nil && fast == slow, "\(String(decoding: writer.bytes, as: UTF8.self))")
        #expect(ISOTime.format(time).utf8.count == 24)
    }

    @Test("a trade at its longest (every text escaped, the widest decimals and times) fits the room the writer reserves")
    func longestTrade() throws {
        let control = String(repeating: "\u{01}", count: 64)
        let widest = ExactDecimal(mantissa: Int128.min + 1, scale: ExactDecimal.scaleMax)
        let entry = JournalEntry(offset: .max, kind: .replacement, source: control, executionID: control, reference: .max,
                                 account: control, instrument: control, side: .sell, quantity: widest, price: widest,
                                 currency: control, tradeDate: CalendarDay(daysSinceEpoch: -700_000),
                                 valueDate: CalendarDay(daysSinceEpoch: 2_900_000), transactTime: .min, commission: widest,
                                 fees: widest, bookedAt: .max, memo: "", postings: [])
        let writer = JSONWriter(capacity: 8)
        try entry.encodedSummary().withUnsafeBytes { writer.trade(try EntrySummary($0)) }
        #expect(writer.bytes.count <= JSONCursor.tradeBound + 6 * 5 * 64)
        let parsed = try JSONSerialization.jsonObject(with: Data(writer.bytes)) as? NSDictionary
        #expect(parsed?["executionID"] as? String == control)
        #expect(parsed?["price"] as? String == widest.normalized.description)
        #expect(parsed?["transactTime"] as? String == ISOTime.format(.min) && parsed?["bookedAt"] as? String == ISOTime.format(.max))
    }
}
