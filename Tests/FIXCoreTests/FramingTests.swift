import TestSupport
import FIXCore
import Testing

@Suite struct FramingTests {
    static let logon = wire([(35, "A"), (49, "PLATFORM"), (56, "COUNTERFOIL"), (34, "1"), (52, "20261129-09:00:00.000"),
                             (98, "0"), (108, "30")])
    static let execution = wire([(35, "8"), (49, "PLATFORM"), (56, "COUNTERFOIL"), (34, "2"), (52, "20261129-09:00:01.000"),
                                 (37, "O1"), (17, "E1"), (150, "F"), (39, "2"), (55, "EUR/USD"), (54, "1"), (32, "1000"),
                                 (31, "1.08425")])

    @Test("a complete message is framed to its exact length with the checksum verified")
    func completeMessage() {
        let result = Self.execution.withUnsafeBytes { FIXFramer().frame($0) }
        #expect(result == .message(length: Self.execution.count))
    }

    @Test("every proper prefix of a message asks for more bytes, never reports an error")
    func partialFrames() {
        for length in 0..<Self.execution.count {
            let result = Self.execution[0..<length].withUnsafeBytes { FIXFramer().frame($0) }
            #expect(result == .needMoreBytes, "prefix of \(length) bytes gave \(result)")
        }
    }

    @Test("the same stream framed whole, byte by byte and in random chunks gives the same messages")
    func fragmentation() throws {
        var stream: [UInt8] = []
        let messages = try fixtureMessages("dropcopy-fix44.log").prefix(300)
        var rng = SplitMix64(seed: 7)
        for message in messages {
            stream += message
            if Int.random(in: 0..<10, using: &rng) == 0 { stream += Array("garbage\u{1}9=12".utf8) }
        }
        let whole = readAll(stream, chunks: [])
        #expect(whole.filter { if case .message = $0 { true } else { false } }.count == messages.count)
        #expect(readAll(stream, chunks: [1]) == whole)
        for seed in 1...5 as ClosedRange<UInt64> {
            var chunkRng = SplitMix64(seed: seed)
            let sizes = (0..<500).map { _ in Int.random(in: 1...700, using: &chunkRng) }
            #expect(readAll(stream, chunks: sizes) == whole, "chunk seed \(seed)")
        }
    }

    @Test("a wrong checksum is reported with both values and the next message still arrives")
    func badChecksum() {
        let bad = wire([(35, "0"), (49, "A"), (56, "B"), (34, "5"), (52, "20261129-09:00:00")], checksum: 7)
        let seen = readAll(bad + Self.logon, chunks: [])
        #expect(seen.count == 2)
        guard case .malformed(let error, 0) = seen[0] else { Issue.record("expected malformed, got \(seen)"); return }
        #expect(error == .badChecksum)
        #expect(error.actual == 7)
        #expect(error.description.contains("CheckSum (10) is 7"))
        #expect(seen[1] == .message(offset: bad.count, bytes: Self.logon))
    }

    @Test("a BodyLength too short loses only its own message")
    func bodyLengthTooShort() {
        let fields = [(35, "0"), (49, "A"), (56, "B"), (34, "5"), (52, "20261129-09:00:00")]
        let correct = fields.reduce(0) { $0 + "\($1.0)=\($1.1)".utf8.count + 1 }  // the heartbeat's body length
        let bad = wire(fields, bodyLength: correct - 3)
        let seen = readAll(bad + Self.logon + Self.execution, chunks: [])
        #expect(seen == [.malformed(.bodyLengthMismatch, offset: 0),
                         .message(offset: bad.count, bytes: Self.logon),
                         .message(offset: bad.count + Self.logon.count, bytes: Self.execution)])
    }

    @Test("a BodyLength too long swallows the next message up to its CheckSum, as QuickFIX frames it")
    func bodyLengthTooLong() {
        let fields = [(35, "0"), (49, "A"), (56, "B"), (34, "5"), (52, "20261129-09:00:00")]
        let correct = fields.reduce(0) { $0 + "\($1.0)=\($1.1)".utf8.count + 1 }
        let bad = wire(fields, bodyLength: correct + 4)
        // Byte by byte: the framer waits rather than misjudging a partial frame.
        let seen = readAll(bad + Self.logon + Self.execution, chunks: [1])
        #expect(seen == [.malformed(.bodyLengthMismatch, offset: 0),
                         .message(offset: bad.count + Self.logon.count, bytes: Self.execution)])
    }

    @Test("garbage between messages is skipped and reported once as one run")
    func garbageBetweenMessages() {
        let stream = Self.logon + Array("\r\n".utf8) + Array("noise 8=FIY 8=".utf8) + Self.execution
        let seen = readAll(stream, chunks: [3])
        #expect(seen == [.message(offset: 0, bytes: Self.logon),
                         .malformed(.garbage, offset: Self.logon.count),
                         .message(offset: stream.count - Self.execution.count, bytes: Self.execution)])
    }

    @Test("a message larger than the limit is refused without waiting for its bytes")
    func oversize() {
        let big = wire([(35, "8"), (58, String(repeating: "x", count: 5000))])
        let seen = readAll(Array(big.prefix(40)), chunks: [], messageSizeMax: 1024)
        #expect(seen.first == .malformed(.messageTooLarge, offset: 0))
        let recovered = readAll(big + Self.logon, chunks: [], messageSizeMax: 1024)
        #expect(recovered.first == .malformed(.messageTooLarge, offset: 0))
        #expect(recovered.last == .message(offset: big.count, bytes: Self.logon))
    }

    @Test("a BodyLength that is not a number or a second field that is not 9 are framing errors")
    func badHeader() {
        let letters = Array("8=FIX.4.4\u{1}9=1x2\u{1}35=0\u{1}10=000\u{1}".utf8)
        #expect(readAll(letters + Self.logon, chunks: []) == [.malformed(.badBodyLength, offset: 0),
                                                             .message(offset: letters.count, bytes: Self.logon)])
        let noLength = Array("8=FIX.4.4\u{1}35=0\u{1}10=000\u{1}".utf8)
        #expect(readAll(noLength + Self.logon, chunks: []) == [.malformed(.missingBodyLength, offset: 0),
                                                              .message(offset: noLength.count, bytes: Self.logon)])
    }

    @Test("memory stays bounded on endless garbage")
    func endlessGarbage() {
        let reader = FIXStreamReader()
        let junk = [UInt8](repeating: UInt8(ascii: "z"), count: 4096)
        for _ in 0..<1000 {
            junk.withUnsafeBytes { reader.append($0) }
            while reader.next() != nil {}
        }
        #expect(reader.bufferedByteCount < 8)
    }
}
