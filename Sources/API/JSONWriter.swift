import CRM
import ExactNumbers
import Foundation
import Hummingbird
import Ledger

/// JSON written straight into the response's buffer, for the answers the API gives most
/// (a client's trade pages): no Encodable walk, no intermediate Strings per field. What it
/// writes is what `TradeView` would encode; the OpenAPI document and schemathesis hold
/// both to it.
final class JSONWriter {
    private(set) var buffer: ByteBuffer
    /// Days already written as `YYYY-MM-DD`, by the day's number modulo the slots: a
    /// page's trades share a few days (trade, value, booking).
    private let days = DayTexts()

    init(capacity: Int) {
        buffer = ByteBufferAllocator().buffer(capacity: max(capacity, 64))
    }

    /// What was written (tests).
    var bytes: [UInt8] { Array(buffer.readableBytesView) }

    func raw(_ text: StaticString) {
        buffer.writeStaticString(text)
    }

    func unsigned(_ value: UInt64) {
        let days = self.days
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 20) { raw in
            var out = JSONCursor(raw, days: days)
            out.unsigned(value)
            return out.count
        }
    }

    /// A journal entry as `TradeView` encodes it, written in one go into room reserved
    /// for its longest possible form.
    func trade(_ entry: EntrySummary) {
        let texts = entry.source.count + entry.executionID.count + entry.account.count + entry.instrument.count
            + entry.currency.count
        let days = self.days
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: JSONCursor.tradeBound + 6 * texts) { raw in
            var out = JSONCursor(raw, days: days)
            out.trade(entry)
            return out.count
        }
    }

    /// A page of trades: `{"items": […], "nextCursor": "…"}`, written from the stored records.
    static func tradePage(_ page: TradePage) throws -> Response {
        let writer = JSONWriter(capacity: 64 + page.records.count * 420)
        writer.raw("{\"items\":[")
        var first = true
        try page.records.forEach { entry in
            if !first { writer.raw(",") }
            first = false
            writer.trade(entry)
        }
        writer.raw("]")
        if let cursor = page.nextCursor {
            writer.raw(",\"nextCursor\":\"")
            writer.unsigned(cursor)
            writer.raw("\"")
        }
        writer.raw("}")
        return Response(status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
                        body: ResponseBody(byteBuffer: writer.buffer))
    }
}

/// `YYYY-MM-DD` of the last few days written, in eight slots by the day's number.
final class DayTexts {
    let numbers = UnsafeMutablePointer<Int>.allocate(capacity: 8)
    let texts = UnsafeMutablePointer<UInt8>.allocate(capacity: 8 * 10)

    init() { numbers.initialize(repeating: .min, count: 8) }

    deinit {
        numbers.deallocate()
        texts.deallocate()
    }

    /// The ten bytes of `days` as a date.
    @inline(__always)
    func text(_ days: Int) -> UnsafeMutablePointer<UInt8> {
        let slot = days & 7
        let text = texts + slot * 10
        if numbers[slot] != days {
            numbers[slot] = days
            let (y, m, d) = CalendarDay.civilFromDays(days)
            var year = y
            for i in stride(from: 3, through: 0, by: -1) {
                text[i] = UInt8(truncatingIfNeeded: 48 + year % 10)
                year /= 10
            }
            text[4] = UInt8(ascii: "-")
            text[5] = UInt8(truncatingIfNeeded: 48 + m / 10)
            text[6] = UInt8(truncatingIfNeeded: 48 + m % 10)
            text[7] = UInt8(ascii: "-")
            text[8] = UInt8(truncatingIfNeeded: 48 + d / 10)
            text[9] = UInt8(truncatingIfNeeded: 48 + d % 10)
        }
        return text
    }
}

/// Writes JSON into memory the caller has made room for: no capacity check per byte.
struct JSONCursor {
    /// The most a trade takes besides its texts (which take at most six bytes a byte,
    /// escaped, plus quotes): keys and punctuation about 230, two offsets of 20 digits,
    /// four decimals of up to 64, two dates of 12 and two times of 26.
    static let tradeBound = 256 + 40 + 4 * 64 + 24 + 52 + 5 * 2

    private let start: UnsafeMutablePointer<UInt8>
    private var at: UnsafeMutablePointer<UInt8>
    private let days: DayTexts

    init(_ raw: UnsafeMutableRawBufferPointer, days: DayTexts) {
        start = raw.baseAddress!.assumingMemoryBound(to: UInt8.self)
        at = start
        self.days = days
    }

    var count: Int { at - start }

    @inline(__always)
    mutating func byte(_ value: UInt8) {
        at.pointee = value
        at += 1
    }

    @inline(__always)
    mutating func raw(_ text: StaticString) {
        at.update(from: text.utf8Start, count: text.utf8CodeUnitCount)
        at += text.utf8CodeUnitCount
    }

    /// UTF-8 bytes as a JSON string, escaped where JSON needs it.
    mutating func string(_ utf8: UnsafeRawBufferPointer) {
        byte(UInt8(ascii: "\""))
        // Most values need no escaping: copy them whole.
        if !utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
            if let base = utf8.baseAddress {
                UnsafeMutableRawPointer(at).copyMemory(from: base, byteCount: utf8.count)
                at += utf8.count
            }
        } else {
            for value in utf8 {
                switch value {
                case UInt8(ascii: "\""): raw("\\\"")
                case UInt8(ascii: "\\"): raw("\\\\")
                case 0x0A: raw("\\n")
                case 0x0D: raw("\\r")
                case 0x09: raw("\\t")
                case 0..<0x20:
                    raw("\\u00")
                    byte(Self.hex(value >> 4))
                    byte(Self.hex(value & 0xF))
                default: byte(value)
                }
            }
        }
        byte(UInt8(ascii: "\""))
    }

    static func hex(_ nibble: UInt8) -> UInt8 { nibble < 10 ? 48 + nibble : 87 + nibble }

    mutating func unsigned(_ value: UInt64) {
        var digits = 1
        var n = value
        while n >= 10 {
            digits += 1
            n /= 10
        }
        padded(value, digits)
    }

    /// `width` digits, zero-padded.
    @inline(__always)
    mutating func padded(_ value: UInt64, _ width: Int) {
        var n = value
        for i in stride(from: width - 1, through: 0, by: -1) {
            at[i] = UInt8(truncatingIfNeeded: 48 + n % 10)
            n /= 10
        }
        at += width
    }

    /// Two digits of 0...99 at `offset`.
    @inline(__always)
    private func twoDigits(_ value: Int, at offset: Int) {
        at[offset] = UInt8(truncatingIfNeeded: 48 + value / 10)
        at[offset + 1] = UInt8(truncatingIfNeeded: 48 + value % 10)
    }

    /// An exact decimal as a JSON string, without trailing fraction zeros.
    mutating func decimal(_ value: ExactDecimal) {
        guard let small = Int64(exactly: value.mantissa) else { return wideDecimal(value) }
        var mantissa = small
        var scale = value.scale
        while scale > 0 && mantissa % 10 == 0 {
            mantissa /= 10
            scale -= 1
        }
        byte(UInt8(ascii: "\""))
        if mantissa < 0 { byte(UInt8(ascii: "-")) }
        let magnitude = mantissa.magnitude
        var divisor: UInt64 = 1
        for _ in 0..<scale { divisor *= 10 }
        unsigned(magnitude / divisor)
        if scale > 0 {
            byte(UInt8(ascii: "."))
            padded(magnitude % divisor, scale)
        }
        byte(UInt8(ascii: "\""))
    }

    /// Mantissas beyond 64 bits, through the decimal's own text (at most 39 digits, a
    /// sign, a point and a leading zero).
    private mutating func wideDecimal(_ value: ExactDecimal) {
        byte(UInt8(ascii: "\""))
        for digit in value.normalized.description.utf8 { byte(digit) }
        byte(UInt8(ascii: "\""))
    }

    /// `YYYY-MM-DD`, unquoted.
    @inline(__always)
    private mutating func date(_ day: Int) {
        at.update(from: days.text(day), count: 10)
        at += 10
    }

    mutating func day(_ day: CalendarDay) {
        byte(UInt8(ascii: "\""))
        date(day.daysSinceEpoch)
        byte(UInt8(ascii: "\""))
    }

    /// ISO 8601 UTC to the millisecond, as `ISOTime.format` writes it.
    mutating func time(_ nanoseconds: Int64) {
        let (day, s, millis) = ISOTime.parts(nanoseconds)
        byte(UInt8(ascii: "\""))
        date(day)
        // THH:MM:SS.mmmZ"
        at[0] = UInt8(ascii: "T")
        twoDigits(s / 3600, at: 1)
        at[3] = UInt8(ascii: ":")
        twoDigits(s / 60 % 60, at: 4)
        at[6] = UInt8(ascii: ":")
        twoDigits(s % 60, at: 7)
        at[9] = UInt8(ascii: ".")
        at[10] = UInt8(truncatingIfNeeded: 48 + millis / 100)
        twoDigits(millis % 100, at: 11)
        at[13] = UInt8(ascii: "Z")
        at[14] = UInt8(ascii: "\"")
        at += 15
    }

    /// A journal entry as `TradeView` encodes it. The keys go out with their punctuation
    /// as one literal each: a page writes 17 of them per trade.
    mutating func trade(_ entry: EntrySummary) {
        raw("{\"offset\":")
        unsigned(entry.offset)
        switch entry.kind {
        case .trade: raw(",\"kind\":\"trade\",\"source\":")
        case .reversal: raw(",\"kind\":\"reversal\",\"source\":")
        case .replacement: raw(",\"kind\":\"replacement\",\"source\":")
        case .adjustment: raw(",\"kind\":\"adjustment\",\"source\":")
        case .settlementStatus: raw(",\"kind\":\"settlement\",\"source\":")
        }
        string(entry.source)
        raw(",\"executionID\":")
        string(entry.executionID)
        if entry.reference != 0 {
            raw(",\"reference\":")
            unsigned(entry.reference)
        }
        raw(",\"account\":")
        string(entry.account)
        raw(",\"instrument\":")
        string(entry.instrument)
        raw(entry.side == .buy ? ",\"side\":\"buy\",\"quantity\":" : ",\"side\":\"sell\",\"quantity\":")
        decimal(entry.quantity)
        raw(",\"price\":")
        decimal(entry.price)
        raw(",\"currency\":")
        string(entry.currency)
        raw(",\"tradeDate\":")
        day(entry.tradeDate)
        raw(",\"valueDate\":")
        day(entry.valueDate)
        raw(",\"transactTime\":")
        time(entry.transactTime)
        raw(",\"commission\":")
        decimal(entry.commission)
        raw(",\"fees\":")
        decimal(entry.fees)
        raw(",\"bookedAt\":")
        time(entry.bookedAt)
        raw("}")
    }
}
