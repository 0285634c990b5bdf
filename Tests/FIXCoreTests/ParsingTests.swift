import TestSupport
import ExactNumbers
@testable import FIXCore
import Testing

@Suite struct ParsingTests {
    func parse(_ bytes: [UInt8], parser: FIXParser = FIXParser()) throws(FIXDecodingError) -> [(Int, String)] {
        var result: [(Int, String)] = []
        var failure: FIXDecodingError?
        bytes.withUnsafeBytes { buffer in
            do {
                let message = try parser.parse(buffer)
                result = message.map { ($0.tag, $0.value.string) }
            } catch {
                failure = error as? FIXDecodingError
            }
        }
        if let failure { throw failure }
        return result
    }

    @Test("fields come back in wire order, with repeated tags and lookup by tag")
    func lookup() throws {
        let bytes = wire([(35, "8"), (49, "P"), (56, "C"), (34, "9"), (52, "20261129-09:00:00.000"), (17, "E9"),
                          (453, "2"), (448, "BROKER"), (452, "1"), (448, "CLIENT"), (452, "3"), (9001, "custom")])
        try bytes.withUnsafeBytes { buffer in
            let parser = FIXParser()
            let message = try parser.parse(buffer)
            #expect(message.count == 15)
            #expect(message.msgType.equals("8"))
            #expect(message.beginString.string == "FIX.4.4")
            #expect(message[tag: 17]?.string == "E9")
            #expect(message[tag: 34].map { try? $0.int() } == 9)
            #expect(message[tag: 9001]?.string == "custom")
            #expect(message[tag: 58] == nil)
            #expect(message[tag: 99999] == nil)
            #expect(message.values(of: 448).map(\.string) == ["BROKER", "CLIENT"])
            #expect(message.firstPosition(of: 448) == 9)
            #expect(message.position(of: 448, from: 10) == 11)
            #expect(message.map(\.tag) == [8, 9, 35, 49, 56, 34, 52, 17, 453, 448, 452, 448, 452, 9001, 10])
        }
    }

    @Test("a second parse on the same parser forgets the first message's index")
    func generations() throws {
        let parser = FIXParser()
        let first = wire([(35, "8"), (17, "E1"), (58, "text")])
        let second = wire([(35, "0")])
        _ = try parse(first, parser: parser)
        try second.withUnsafeBytes { buffer in
            let message = try parser.parse(buffer)
            #expect(message[tag: 17] == nil)
            #expect(message[tag: 58] == nil)
        }
    }

    @Test("raw data fields may contain SOH and '=' when their length field says so")
    func rawData() throws {
        let data = "a\u{1}b=c\u{1}"
        let bytes = wire([(35, "B"), (148, "headline"), (95, String(data.utf8.count)), (96, data), (58, "after")])
        let fields = try parse(bytes)
        #expect(fields.map(\.0) == [8, 9, 35, 148, 95, 96, 58, 10])
        #expect(fields[5].1 == data)
        #expect(fields[6].1 == "after")
        // A wrong length is caught, not turned into phantom fields.
        let lying = wire([(35, "B"), (95, "3"), (96, data)])
        #expect(throws: FIXDecodingError.badRawDataLength) { try parse(lying) }
    }

    @Test("structural errors name what is wrong",
          arguments: [
            ("8=FIX.4.4\u{1}9=5\u{1}49=X\u{1}35=0\u{1}10=000\u{1}", FIXDecodingError.msgTypeNotThird),
            ("8=FIX.4.4\u{1}9=5\u{1}35=0\u{1}4x=1\u{1}10=000\u{1}", .nonNumericTag),
            ("8=FIX.4.4\u{1}9=5\u{1}35=0\u{1}=1\u{1}10=000\u{1}", .badTag),
            ("8=FIX.4.4\u{1}9=5\u{1}35=0\u{1}0=1\u{1}10=000\u{1}", .badTag),
            ("8=FIX.4.4\u{1}9=5\u{1}35=0\u{1}058=1\u{1}10=000\u{1}", .badTag),
            ("8=FIX.4.4\u{1}9=5\u{1}35=0\u{1}58=\u{1}10=000\u{1}", .emptyValue),
            ("8=FIX.4.4\u{1}9=5\u{1}35=0\u{1}58\u{1}10=000\u{1}", .missingEquals),
            ("8=FIX.4.4\u{1}9=5\u{1}35=0\u{1}10=000\u{1}58=x\u{1}10=000\u{1}", .checksumNotLast),
            ("9=5\u{1}8=FIX.4.4\u{1}35=0\u{1}10=000\u{1}", .badBeginString),
          ])
    func structuralErrors(text: String, expected: FIXDecodingError) {
        #expect(throws: expected) { try parse(Array(text.utf8)) }
    }

    @Test("empty values pass structural parsing when the session allows them")
    func emptyValuesAllowed() throws {
        let parser = FIXParser(options: FIXParserOptions(allowsEmptyValues: true))
        let fields = try parse(Array("8=FIX.4.4\u{1}9=5\u{1}35=0\u{1}58=\u{1}10=000\u{1}".utf8), parser: parser)
        #expect(fields[3].0 == 58 && fields[3].1 == "")
    }

    @Test("a message with more fields than the table holds is refused")
    func tooManyFields() {
        let parser = FIXParser(options: FIXParserOptions(fieldsMax: 8))
        let bytes = wire([(35, "B")] + (0..<10).map { (58, "x\($0)") })
        #expect(throws: FIXDecodingError.tooManyFields) { try parse(bytes, parser: parser) }
    }

    @Test("every message of the drop-copy fixtures parses, with the types a session sends")
    func fixtures() throws {
        var types: [String: Int] = [:]
        let parser = FIXParser()
        for bytes in try fixtureMessages("dropcopy-fix44.log") + fixtureMessages("dropcopy-fix42-pipe.log") {
            try bytes.withUnsafeBytes { buffer in
                #expect(FIXFramer().frame(buffer) == .message(length: buffer.count))
                let message = try parser.parse(buffer)
                types[message.msgType.string, default: 0] += 1
                if message.msgType.equals("8") {
                    _ = try message[tag: 31].map { try $0.decimal() }
                    _ = try message[tag: 52]!.timestamp()
                }
            }
        }
        #expect(types["8", default: 0] > 3000)
        #expect(types["AE", default: 0] > 50)
        #expect(types["AP", default: 0] > 10)
        #expect(types["A"] == 2 && types["5"] == 2)
    }

    @Test("random messages encoded then parsed give every field back")
    func roundTrip() throws {
        var rng = SplitMix64(seed: 2026)
        let encoder = FIXEncoder(beginString: "FIX.4.4", capacity: 64)
        let parser = FIXParser()
        let alphabet = Array("ABCxyz0123456789 =-.:/|#".utf8)
        for _ in 0..<2_000 {
            encoder.start(msgType: "8")
            var expected: [(Int, String)] = [(35, "8")]
            for _ in 0..<Int.random(in: 0...60, using: &rng) {
                var tag = Int.random(in: 11...9999, using: &rng)
                if [89, 90, 91, 93, 95, 96, 212, 213].contains(tag) || (348...365).contains(tag) || [445, 446, 618, 619, 621, 622].contains(tag) { tag = 58 }
                switch Int.random(in: 0..<5, using: &rng) {
                case 0:
                    let value = Int.random(in: Int.min / 2...Int.max / 2, using: &rng)
                    encoder.append(tag, value)
                    expected.append((tag, String(value)))
                case 1:
                    let value = ExactDecimal(mantissa: Int128(Int64.random(in: -10_000_000_000...10_000_000_000, using: &rng)),
                                             scale: Int.random(in: 0...9, using: &rng))
                    encoder.append(tag, value)
                    expected.append((tag, value.description))
                case 2:
                    let value = FIXTimestamp(nanosecondsSinceEpoch: Int64.random(in: 0...4_000_000_000_000_000_000, using: &rng),
                                             fractionDigits: [0, 3, 6, 9][Int.random(in: 0..<4, using: &rng)])
                    encoder.append(tag, value)
                    expected.append((tag, value.description))
                case 3:
                    let flag = Bool.random(using: &rng)
                    encoder.append(tag, flag)
                    expected.append((tag, flag ? "Y" : "N"))
                default:
                    let text = String(decoding: (0..<Int.random(in: 1...40, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }, as: UTF8.self)
                    encoder.append(tag, text)
                    expected.append((tag, text))
                }
            }
            let bytes = encoder.finish()
            #expect(FIXFramer().frame(bytes) == .message(length: bytes.count))
            let message = try parser.parse(bytes)
            let got = message.dropFirst(2).dropLast().map { ($0.tag, $0.value.string) }
            #expect(got.map(\.0) == expected.map(\.0))
            #expect(got.map(\.1) == expected.map(\.1))
        }
    }
}

@Suite struct FastPathTests {
    /// Random valid messages with every shape the fast path declines (raw data with SOH
    /// inside, tags of five to nine digits, tags above the index, a last field shorter
    /// than eight bytes): the two-pass parser and the careful one agree field for field.
    @Test("the fast parser and the careful parser agree on random messages")
    func agreement() throws {
        var rng = SplitMix64(seed: 99)
        let fast = FIXParser()
        for round in 0..<3_000 {
            var fields: [(Int, String)] = [(35, ["8", "AE", "0", "B"].randomElement(using: &rng)!)]
            for _ in 0..<Int.random(in: 0...40, using: &rng) {
                switch Int.random(in: 0..<10, using: &rng) {
                case 0:
                    let data = String(repeating: "\u{1}x=", count: Int.random(in: 1...5, using: &rng))
                    fields += [(95, String(data.utf8.count)), (96, data)]
                case 1: fields.append((Int.random(in: 10_000...999_999_999, using: &rng), "long"))
                case 2: fields.append((Int.random(in: 2048...9999, using: &rng), "high"))
                default: fields.append((Int.random(in: 1...2047, using: &rng) == 10 ? 11 : Int.random(in: 11...2047, using: &rng),
                                        String(Int.random(in: 0...Int.max, using: &rng))))
                }
            }
            // Keep away from raw-data length tags outside their pairs.
            fields = fields.enumerated().filter { index, field in
                let rawLengthTags: Set = [90, 93, 95, 212, 348, 350, 352, 354, 356, 358, 360, 362, 364, 445, 618, 621, 1184, 1277, 1401, 1403]
                let rawDataTags: Set = [89, 91, 96, 213, 349, 351, 353, 355, 357, 359, 361, 363, 365, 446, 619, 622, 1185, 1278, 1402, 1404]
                if field.0 == 95 { return index + 1 < fields.count && fields[index + 1].0 == 96 }
                if field.0 == 96 { return index > 0 && fields[index - 1].0 == 95 }
                return !rawLengthTags.contains(field.0) && !rawDataTags.contains(field.0)
            }.map(\.element)
            let bytes = wire(fields)
            try bytes.withUnsafeBytes { buffer in
                let careful = FIXParser()
                let a = try fast.parse(buffer).map { "\($0.tag)=\($0.value.string)" }
                let b = try careful.parseCarefully(buffer).map { "\($0.tag)=\($0.value.string)" }
                #expect(a == b, "round \(round)")
                let message = try fast.parse(buffer)
                for (tag, value) in fields where tag != 96 {
                    #expect(message.values(of: tag).contains { $0.string == value }, "round \(round) tag \(tag)")
                }
            }
        }
    }
}

@Suite struct RobustnessTests {
    /// Mutated and random bytes through the framer, the parser and the stream reader:
    /// every outcome is a message or a named error; nothing crashes or reads out of bounds
    /// (the fast path loads eight bytes at a time, so lengths near the end matter).
    @Test("random and mutated input never crashes the codec")
    func fuzz() throws {
        var rng = SplitMix64(seed: 4242)
        let messages = try fixtureMessages("dropcopy-fix44.log").prefix(200)
        let parser = FIXParser()
        var parsed = 0
        var refused = 0
        for round in 0..<20_000 {
            var bytes = Array(messages[round % messages.count])
            for _ in 0..<Int.random(in: 0...6, using: &rng) {
                let at = Int.random(in: 0..<bytes.count, using: &rng)
                switch Int.random(in: 0..<4, using: &rng) {
                case 0: bytes[at] = UInt8.random(in: 0...255, using: &rng)
                case 1: bytes.remove(at: at)
                case 2: bytes.insert([1, 61, 48, 57].randomElement(using: &rng)!, at: at)
                default: bytes = Array(bytes[0..<at])
                }
                if bytes.isEmpty { bytes = [56] }
            }
            bytes.withUnsafeBytes { buffer in
                if (try? parser.parse(buffer)) != nil { parsed += 1 } else { refused += 1 }
                _ = FIXFramer().frame(buffer)
            }
        }
        #expect(parsed + refused == 20_000 && refused > 0)
        let reader = FIXStreamReader()
        for _ in 0..<200 {
            let alphabet: [UInt8] = [1, 56, 61, 70, 73, 88, 57, 48, 49]
            let junk = (0..<Int.random(in: 1...2000, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }
            reader.append(junk)
            while reader.next() != nil {}
        }
        #expect(reader.bufferedByteCount < 70_000)
    }
}
