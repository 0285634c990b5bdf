import CRM
import ExactNumbers
import Foundation
import Hummingbird
import Ledger

/// JSON written straight into bytes, for the answers the API gives most (a client's trade
/// pages): no Encodable walk, no intermediate Strings per field. What it writes is what
/// `TradeView` would encode; the OpenAPI document and schemathesis hold both to it.
struct JSONWriter {
    var bytes: [UInt8] = []

    init(capacity: Int) { bytes.reserveCapacity(capacity) }

    mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    mutating func key(_ name: StaticString, first: Bool = false) {
        if !first { bytes.append(UInt8(ascii: ",")) }
        bytes.append(UInt8(ascii: "\""))
        raw(name)
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
    }

    mutating func string(_ value: String) {
        bytes.append(UInt8(ascii: "\""))
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""): raw("\\\"")
            case UInt8(ascii: "\\"): raw("\\\\")
            case 0x0A: raw("\\n")
            case 0x0D: raw("\\r")
            case 0x09: raw("\\t")
            case 0..<0x20:
                raw("\\u00")
                bytes.append(Self.hex[Int(byte >> 4)])
                bytes.append(Self.hex[Int(byte & 0xF)])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    static let hex = Array("0123456789abcdef".utf8)

    mutating func unsigned(_ value: UInt64) {
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var n = value
        var count = 0
        withUnsafeMutableBytes(of: &digits) { buffer in
            repeat {
                buffer[19 - count] = UInt8(ascii: "0") + UInt8(n % 10)
                n /= 10
                count += 1
            } while n > 0
            bytes.append(contentsOf: buffer[(20 - count)...])
        }
    }

    /// `width` digits, zero-padded.
    @inline(__always)
    mutating func padded(_ value: Int, _ width: Int) {
        switch width {
        case 2:
            bytes.append(UInt8(truncatingIfNeeded: 48 + value / 10 % 10))
            bytes.append(UInt8(truncatingIfNeeded: 48 + value % 10))
        case 3:
            bytes.append(UInt8(truncatingIfNeeded: 48 + value / 100 % 10))
            bytes.append(UInt8(truncatingIfNeeded: 48 + value / 10 % 10))
            bytes.append(UInt8(truncatingIfNeeded: 48 + value % 10))
        case 4:
            bytes.append(UInt8(truncatingIfNeeded: 48 + value / 1000 % 10))
            bytes.append(UInt8(truncatingIfNeeded: 48 + value / 100 % 10))
            bytes.append(UInt8(truncatingIfNeeded: 48 + value / 10 % 10))
            bytes.append(UInt8(truncatingIfNeeded: 48 + value % 10))
        default:
            var divisor = 1
            for _ in 1..<width { divisor *= 10 }
            var n = value
            while divisor > 0 {
                bytes.append(UInt8(truncatingIfNeeded: 48 + n / divisor % 10))
                n %= divisor
                divisor /= 10
            }
        }
    }

    /// An exact decimal as a JSON string, without trailing fraction zeros.
    mutating func decimal(_ value: ExactDecimal) {
        var mantissa = value.mantissa
        var scale = value.scale
        while scale > 0 && mantissa % 10 == 0 {
            mantissa /= 10
            scale -= 1
        }
        bytes.append(UInt8(ascii: "\""))
        if mantissa < 0 { bytes.append(UInt8(ascii: "-")) }
        let magnitude = mantissa.magnitude
        guard magnitude <= UInt64.max else {
            bytes.append(contentsOf: value.normalized.description.utf8.drop { $0 == UInt8(ascii: "-") })
            bytes.append(UInt8(ascii: "\""))
            return
        }
        var divisor: UInt64 = 1
        for _ in 0..<scale { divisor *= 10 }
        unsigned(UInt64(magnitude) / divisor)
        if scale > 0 {
            bytes.append(UInt8(ascii: "."))
            padded(Int(UInt64(magnitude) % divisor), scale)
        }
        bytes.append(UInt8(ascii: "\""))
    }

    mutating func day(_ day: CalendarDay) {
        let (y, m, d) = CalendarDay.civilFromDays(day.daysSinceEpoch)
        bytes.append(UInt8(ascii: "\""))
        padded(y, 4)
        bytes.append(UInt8(ascii: "-"))
        padded(m, 2)
        bytes.append(UInt8(ascii: "-"))
        padded(d, 2)
        bytes.append(UInt8(ascii: "\""))
    }

    /// ISO 8601 UTC to the millisecond, as `ISOTime.format` writes it.
    mutating func time(_ nanoseconds: Int64) {
        let seconds = nanoseconds >= 0 ? nanoseconds / 1_000_000_000 : (nanoseconds - 999_999_999) / 1_000_000_000
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let (y, m, d) = CalendarDay.civilFromDays(Int(days))
        let s = Int(seconds - days * 86_400)
        let millis = Int((nanoseconds - seconds * 1_000_000_000) / 1_000_000)
        bytes.append(UInt8(ascii: "\""))
        padded(y, 4)
        bytes.append(UInt8(ascii: "-"))
        padded(m, 2)
        bytes.append(UInt8(ascii: "-"))
        padded(d, 2)
        bytes.append(UInt8(ascii: "T"))
        padded(s / 3600, 2)
        bytes.append(UInt8(ascii: ":"))
        padded(s / 60 % 60, 2)
        bytes.append(UInt8(ascii: ":"))
        padded(s % 60, 2)
        bytes.append(UInt8(ascii: "."))
        padded(millis, 3)
        raw("Z\"")
    }

    /// A journal entry as `TradeView` encodes it.
    mutating func trade(_ entry: JournalEntry) {
        raw("{")
        key("offset", first: true)
        unsigned(entry.offset)
        key("kind")
        string(entry.kind.description)
        key("source")
        string(entry.source)
        key("executionID")
        string(entry.executionID)
        if entry.reference != 0 {
            key("reference")
            unsigned(entry.reference)
        }
        key("account")
        string(entry.account)
        key("instrument")
        string(entry.instrument)
        key("side")
        raw(entry.side == .buy ? "\"buy\"" : "\"sell\"")
        key("quantity")
        decimal(entry.quantity)
        key("price")
        decimal(entry.price)
        key("currency")
        string(entry.currency)
        key("tradeDate")
        day(entry.tradeDate)
        key("valueDate")
        day(entry.valueDate)
        key("transactTime")
        time(entry.transactTime)
        key("commission")
        decimal(entry.commission)
        key("fees")
        decimal(entry.fees)
        key("bookedAt")
        time(entry.bookedAt)
        raw("}")
    }

    /// A page of trades: `{"items": […], "nextCursor": "…"}`.
    static func tradePage(_ page: TradePage) -> Response {
        var writer = JSONWriter(capacity: 64 + page.trades.count * 420)
        writer.raw("{\"items\":[")
        for (index, entry) in page.trades.enumerated() {
            if index > 0 { writer.raw(",") }
            writer.trade(entry)
        }
        writer.raw("]")
        if let cursor = page.nextCursor {
            writer.key("nextCursor")
            writer.bytes.append(UInt8(ascii: "\""))
            writer.unsigned(cursor)
            writer.bytes.append(UInt8(ascii: "\""))
        }
        writer.raw("}")
        return Response(status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
                        body: ResponseBody(byteBuffer: ByteBuffer(bytes: writer.bytes)))
    }
}
