import TestSupport
import ExactNumbers
import FIXCore
import Testing

func withValue<R>(_ text: String, _ body: (FIXValue) throws -> R) rethrows -> R {
    try Array(text.utf8).withUnsafeBytes { try body(FIXValue($0)) }
}

@Suite struct ValueTests {
    @Test("integers decode exactly and refuse anything else",
          arguments: [("0", 0), ("42", 42), ("-17", -17), ("007", 7), ("9223372036854775807", Int.max)])
    func integers(text: String, expected: Int) throws {
        #expect(try withValue(text) { try $0.int() } == expected)
    }

    @Test("bad integers name the reason", arguments: [("", FIXValueError.notAnInteger), ("-", .notAnInteger),
                                                     ("1.0", .notAnInteger), ("12a", .notAnInteger),
                                                     ("9223372036854775808", .integerOverflow)])
    func badIntegers(text: String, error: FIXValueError) {
        #expect(throws: error) { try withValue(text) { try $0.int() } }
    }

    @Test("prices decode as exact decimals, never through Double")
    func decimals() throws {
        #expect(try withValue("1.08425") { try $0.decimal() } == ExactDecimal(mantissa: 108_425, scale: 5))
        #expect(try withValue("-0.1") { try $0.decimal() }.description == "-0.1")
        #expect(throws: FIXValueError.notADecimal) { try withValue("1.2e3") { try $0.decimal() } }
    }

    @Test("chars and booleans")
    func charsAndBooleans() throws {
        #expect(try withValue("F") { try $0.char() } == UInt8(ascii: "F"))
        #expect(throws: FIXValueError.notAChar) { try withValue("FF") { try $0.char() } }
        #expect(try withValue("Y") { try $0.bool() })
        #expect(try !withValue("N") { try $0.bool() })
        #expect(throws: FIXValueError.notABoolean) { try withValue("y") { try $0.bool() } }
    }

    @Test("UTCTimestamp with seconds, milli, micro, nano and pico seconds",
          arguments: [("20261129-09:04:31", 1_795_943_071_000_000_000 as Int64, 0),
                      ("20261129-09:04:31.123", 1_795_943_071_123_000_000, 3),
                      ("20261129-09:04:31.123456", 1_795_943_071_123_456_000, 6),
                      ("20261129-09:04:31.123456789", 1_795_943_071_123_456_789, 9),
                      ("20261129-09:04:31.123456789012", 1_795_943_071_123_456_789, 9),
                      ("19700101-00:00:00.000", 0, 3), ("20240229-23:59:60", 1_709_251_200_000_000_000, 0)])
    func timestamps(text: String, nanos: Int64, digits: Int) throws {
        let value = try withValue(text) { try $0.timestamp() }
        #expect(value.nanosecondsSinceEpoch == nanos)
        #expect(value.fractionDigits == digits)
        if digits < 9 || text.count == 27 { #expect(value.description == text || text.hasSuffix(":60")) }
    }

    @Test("impossible timestamps and dates are refused",
          arguments: ["20261129 09:04:31", "20261329-09:04:31", "20261129-24:00:00", "20261129-09:04:31.12",
                      "20230229-00:00:00", "2026112-09:04:31", "20261129-09:61:00"])
    func badTimestamps(text: String) {
        #expect(throws: FIXValueError.notATimestamp) { try withValue(text) { try $0.timestamp() } }
    }

    @Test("dates, month-years and times of day")
    func datesAndTimes() throws {
        let date = try withValue("20261129") { try $0.date() }
        #expect(date.year == 2026 && date.month == 11 && date.day == 29 && date.isoWeekday == 7)
        #expect(FIXDate(daysSinceEpoch: date.daysSinceEpoch) == date)
        #expect(throws: FIXValueError.notADate) { try withValue("20260431") { try $0.date() } }
        #expect(try withValue("202612") { try $0.monthYear() }.description == "202612")
        #expect(try withValue("20261218") { try $0.monthYear() }.day == 18)
        #expect(try withValue("202612w3") { try $0.monthYear() }.week == 3)
        #expect(throws: FIXValueError.notAMonthYear) { try withValue("202612w9") { try $0.monthYear() } }
        let time = try withValue("09:04:31.250") { try $0.timeOnly() }
        #expect(time.hour == 9 && time.minute == 4 && time.second == 31 && time.description == "09:04:31.250")
    }

    @Test("every day for 400 years survives the trip through days since the epoch")
    func calendar() {
        var date = FIXDate(year: 1900, month: 1, day: 1)!
        for days in date.daysSinceEpoch..<(date.daysSinceEpoch + 146_097) {
            let back = FIXDate(daysSinceEpoch: days)
            #expect(back.daysSinceEpoch == days)
            if days > date.daysSinceEpoch { #expect(date < back) }
            date = back
        }
    }
}

@Suite struct EncoderTests {
    @Test("the encoder writes what an independent builder writes, byte for byte")
    func matchesReference() throws {
        let encoder = FIXEncoder(beginString: "FIX.4.4")
        encoder.start(msgType: "8")
        encoder.append(49, "PLATFORM")
        encoder.append(56, "COUNTERFOIL")
        encoder.append(34, 12)
        encoder.append(52, FIXTimestamp(nanosecondsSinceEpoch: 1_795_943_071_123_000_000))
        encoder.append(31, ExactDecimal("1.08425")!)
        encoder.append(32, ExactDecimal("-0.005")!)
        encoder.append(54, char: UInt8(ascii: "1"))
        encoder.append(43, true)
        encoder.append(75, FIXDate(year: 2026, month: 11, day: 29)!)
        encoder.append(58, ExactDecimal(mantissa: 123_456_789_012_345_678_901_234, scale: 4))
        let expected = wire([(35, "8"), (49, "PLATFORM"), (56, "COUNTERFOIL"), (34, "12"), (52, "20261129-09:04:31.123"),
                             (31, "1.08425"), (32, "-0.005"), (54, "1"), (43, "Y"), (75, "20261129"),
                             (58, "12345678901234567890.1234")])
        #expect(Array(encoder.finish()) == expected)
    }

    @Test("integers of every length, their edges and the extremes are written as Swift writes them")
    func integerLengths() throws {
        var values: [Int] = [0, Int.min, Int.max, Int.min + 1]
        var power = 1
        for _ in 0..<19 {
            values += [power - 1, power, power + 1, -power, -(power - 1)]
            power = power.multipliedReportingOverflow(by: 10).overflow ? power : power * 10
        }
        let encoder = FIXEncoder(beginString: "FIX.4.4")
        encoder.start(msgType: "B")
        for value in values { encoder.append(58, value) }
        // High tags are written digit by digit, not from the rendered-tag table.
        encoder.append(9_999, 7)
        encoder.append(123_456, 12_345_678_901)
        let expected = wire([(35, "B")] + values.map { (58, String($0)) } + [(9_999, "7"), (123_456, "12345678901")])
        #expect(Array(encoder.finish()) == expected)
    }

    @Test("identifiers of a text and a number are written as the String they make")
    func identifiers() throws {
        let encoder = FIXEncoder(beginString: "FIX.4.4")
        encoder.start(msgType: "8")
        let cases: [(String, Int)] = [("SIM-E", 0), ("SIM-E", 42), ("", 7), ("A-LONGER-PREFIX-THAN-SMALL-STRINGS-HOLD-", Int.max)]
        for (prefix, number) in cases { encoder.append(17, prefix, number: number) }
        #expect(Array(encoder.finish()) == wire([(35, "8")] + cases.map { (17, "\($0.0)\($0.1)") }))
    }

    @Test("timestamps keep the precision they were given")
    func timestampPrecisions() throws {
        let encoder = FIXEncoder(beginString: "FIX.4.4")
        encoder.start(msgType: "0")
        let nanos: Int64 = 1_795_943_071_123_456_789
        for digits in [0, 3, 6, 9] {
            encoder.append(52, FIXTimestamp(nanosecondsSinceEpoch: nanos, fractionDigits: digits))
        }
        let expected = wire([(35, "0"), (52, "20261129-09:04:31"), (52, "20261129-09:04:31.123"),
                             (52, "20261129-09:04:31.123456"), (52, "20261129-09:04:31.123456789")])
        #expect(Array(encoder.finish()) == expected)
    }

    @Test("the buffer grows for a large message and is reused afterwards")
    func growth() throws {
        let encoder = FIXEncoder(beginString: "FIX.4.2", capacity: 32)
        let long = String(repeating: "x", count: 10_000)
        encoder.start(msgType: "B")
        encoder.append(58, long)
        let big = Array(encoder.finish())
        #expect(big == wire([(35, "B"), (58, long)], beginString: "FIX.4.2"))
        encoder.start(msgType: "0")
        #expect(Array(encoder.finish()) == wire([(35, "0")], beginString: "FIX.4.2"))
    }

    @Test("raw data with SOH inside round-trips through the parser")
    func rawData() throws {
        let encoder = FIXEncoder(beginString: "FIXT.1.1")
        encoder.start(msgType: "n")
        let xml = Array("<a>\u{1}</a>".utf8)
        xml.withUnsafeBytes { encoder.appendRawData(lengthTag: 212, dataTag: 213, $0) }
        let bytes = encoder.finish()
        // The message is a view into the parser's table: the parser must outlive it.
        let parser = FIXParser()
        let message = try parser.parse(bytes)
        defer { withExtendedLifetime(parser) {} }
        #expect(message[tag: 213].map { Array($0.bytes) } == xml)
    }
}

@Suite struct TimeValidityTests {
    @Test("isValid answers exactly as parse does, for good, bad and random timestamps and dates")
    func agreesWithParse() {
        var rng = SplitMix64(seed: 314)
        var samples = ["20261129-09:04:31", "20261129-09:04:31.123", "20261129-09:04:31.123456", "20261129-09:04:31.123456789",
                       "20261129-09:04:31.123456789012", "20240229-23:59:60", "20230229-00:00:00", "20261129-24:00:00",
                       "20261129-09:60:00", "20261129 09:04:31", "20261129-09:04:31.12", "2026112-09:04:31", "20261329-09:04:31"]
        let alphabet = Array("0123456789-:. x".utf8)
        for _ in 0..<20_000 {
            var bytes = Array(samples[Int.random(in: 0..<5, using: &rng)].utf8)
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                bytes[Int.random(in: 0..<bytes.count, using: &rng)] = alphabet.randomElement(using: &rng)!
            }
            samples.append(String(decoding: bytes, as: UTF8.self))
        }
        for text in samples {
            Array(text.utf8).withUnsafeBytes { bytes in
                #expect(FIXTimestamp.isValid(bytes) == (FIXTimestamp.parse(bytes) != nil), "\(text)")
                let day = UnsafeRawBufferPointer(rebasing: bytes[0..<min(8, bytes.count)])
                #expect(FIXDate.isValid(day) == (FIXDate.parse(day) != nil), "\(text.prefix(8))")
            }
        }
    }
}
