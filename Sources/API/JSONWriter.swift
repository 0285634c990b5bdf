import CRM
import ExactNumbers
import Foundation
import Hummingbird
import Ledger

/// JSON written straight into bytes, for the answers the API gives most (a client's trade
/// pages): no Encodable walk, no intermediate Strings per field. What it writes is what
/// `TradeView` would encode; the OpenAPI document and schemathesis hold both to it.
final class JSONWriter {
    private var base: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    private var count = 0
    /// Days already written as `YYYY-MM-DD`, by the day's number modulo the slots: a
    /// page's trades share a few days (trade, value, booking).
    private var dayNumbers = [Int](repeating: .min, count: 8)
    private let dayTexts = UnsafeMutablePointer<UInt8>.allocate(capacity: 8 * 10)

    init(capacity: Int) {
        self.capacity = max(capacity, 64)
        base = .allocate(capacity: self.capacity)
    }

    deinit {
        base.deallocate()
        dayTexts.deallocate()
    }

    /// What was written, as an array (tests) or a buffer (responses).
    var bytes: [UInt8] { Array(UnsafeBufferPointer(start: base, count: count)) }
    var buffer: ByteBuffer { ByteBuffer(bytes: UnsafeRawBufferPointer(start: base, count: count)) }

    @inline(__always)
    private func reserve(_ more: Int) {
        guard count + more > capacity else { return }
        var newCapacity = capacity * 2
        while newCapacity < count + more { newCapacity *= 2 }
        let grown = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        grown.update(from: base, count: count)
        base.deallocate()
        base = grown
        capacity = newCapacity
    }

    @inline(__always)
    func byte(_ value: UInt8) {
        reserve(1)
        base[count] = value
        count += 1
    }

    func append(_ raw: UnsafeRawBufferPointer) {
        guard !raw.isEmpty else { return }
        reserve(raw.count)
        UnsafeMutableRawPointer(base + count).copyMemory(from: raw.baseAddress!, byteCount: raw.count)
        count += raw.count
    }

    func raw(_ text: StaticString) {
        append(UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    func string(_ value: String) {
        var value = value
        value.withUTF8 { string(UnsafeRawBufferPointer($0)) }
    }

    /// UTF-8 bytes as a JSON string, escaped where JSON needs it.
    func string(_ utf8: UnsafeRawBufferPointer) {
        reserve(utf8.count + 2)
        byte(UInt8(ascii: "\""))
        // Most values need no escaping: copy them whole.
        if !utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
            append(utf8)
        } else {
            for byte in utf8 {
                switch byte {
                case UInt8(ascii: "\""): raw("\\\"")
                case UInt8(ascii: "\\"): raw("\\\\")
                case 0x0A: raw("\\n")
                case 0x0D: raw("\\r")
                case 0x09: raw("\\t")
                case 0..<0x20:
                    raw("\\u00")
                    self.byte(Self.hex[Int(byte >> 4)])
                    self.byte(Self.hex[Int(byte & 0xF)])
                default: self.byte(byte)
                }
            }
        }
        byte(UInt8(ascii: "\""))
    }

    static let hex = Array("0123456789abcdef".utf8)

    func unsigned(_ value: UInt64) {
        reserve(20)
        if value == 0 {
            byte(UInt8(ascii: "0"))
            return
        }
        var digits = 0
        var n = value
        while n > 0 {
            digits += 1
            n /= 10
        }
        n = value
        for i in stride(from: count + digits - 1, through: count, by: -1) {
            base[i] = UInt8(truncatingIfNeeded: 48 + n % 10)
            n /= 10
        }
        count += digits
    }

    /// `width` digits, zero-padded.
    @inline(__always)
    func padded(_ value: Int, _ width: Int) {
        reserve(width)
        var n = value
        for i in stride(from: count + width - 1, through: count, by: -1) {
            base[i] = UInt8(truncatingIfNeeded: 48 + n % 10)
            n /= 10
        }
        count += width
    }

    /// Two digits of 0...99.
    @inline(__always)
    private func twoDigits(_ value: Int, at position: Int) {
        base[position] = UInt8(truncatingIfNeeded: 48 + value / 10)
        base[position + 1] = UInt8(truncatingIfNeeded: 48 + value % 10)
    }

    /// An exact decimal as a JSON string, without trailing fraction zeros.
    func decimal(_ value: ExactDecimal) {
        guard let small = Int64(exactly: value.mantissa) else { return wideDecimal(value) }
        var mantissa = small
        var scale = value.scale
        while scale > 0 && mantissa % 10 == 0 {
            mantissa /= 10
            scale -= 1
        }
        reserve(24)
        byte(UInt8(ascii: "\""))
        if mantissa < 0 { byte(UInt8(ascii: "-")) }
        let magnitude = mantissa.magnitude
        var divisor: UInt64 = 1
        for _ in 0..<scale { divisor *= 10 }
        unsigned(magnitude / divisor)
        if scale > 0 {
            byte(UInt8(ascii: "."))
            padded(Int(magnitude % divisor), scale)
        }
        byte(UInt8(ascii: "\""))
    }

    /// Mantissas beyond 64 bits, through the decimal's own text.
    private func wideDecimal(_ value: ExactDecimal) {
        byte(UInt8(ascii: "\""))
        for digit in value.normalized.description.utf8 { byte(digit) }
        byte(UInt8(ascii: "\""))
    }

    /// `YYYY-MM-DD`, unquoted.
    private func date(_ days: Int) {
        let slot = days & 7
        let text = dayTexts + slot * 10
        if dayNumbers[slot] != days {
            dayNumbers[slot] = days
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
        reserve(10)
        (base + count).update(from: text, count: 10)
        count += 10
    }

    func day(_ day: CalendarDay) {
        reserve(12)
        byte(UInt8(ascii: "\""))
        date(day.daysSinceEpoch)
        byte(UInt8(ascii: "\""))
    }

    /// ISO 8601 UTC to the millisecond, as `ISOTime.format` writes it.
    func time(_ nanoseconds: Int64) {
        let seconds = nanoseconds >= 0 ? nanoseconds / 1_000_000_000 : (nanoseconds - 999_999_999) / 1_000_000_000
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let s = Int(seconds - days * 86_400)
        let millis = Int((nanoseconds - seconds * 1_000_000_000) / 1_000_000)
        reserve(26)
        byte(UInt8(ascii: "\""))
        date(Int(days))
        // THH:MM:SS.mmmZ"
        let at = count
        base[at] = UInt8(ascii: "T")
        twoDigits(s / 3600, at: at + 1)
        base[at + 3] = UInt8(ascii: ":")
        twoDigits(s / 60 % 60, at: at + 4)
        base[at + 6] = UInt8(ascii: ":")
        twoDigits(s % 60, at: at + 7)
        base[at + 9] = UInt8(ascii: ".")
        base[at + 10] = UInt8(truncatingIfNeeded: 48 + millis / 100)
        twoDigits(millis % 100, at: at + 11)
        base[at + 13] = UInt8(ascii: "Z")
        base[at + 14] = UInt8(ascii: "\"")
        count += 15
    }

    /// A journal entry as `TradeView` encodes it. The keys go out with their punctuation
    /// as one literal each: a page writes 17 of them per trade.
    func trade(_ entry: EntrySummary) {
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
            writer.byte(UInt8(ascii: "\""))
        }
        writer.raw("}")
        return Response(status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
                        body: ResponseBody(byteBuffer: writer.buffer))
    }
}
