/// How FAST messages sit in a stream or a capture file.
public enum FASTFraming: String, Sendable, CaseIterable {
    /// Messages back to back, nothing between them.
    case raw
    /// MOEX: a 4-byte little-endian sequence number before each message.
    case sequence4 = "moex"
    /// CME: a 5-byte preamble (4-byte sequence number, 1-byte sub-channel) before each message.
    case cme
    /// A 4-byte little-endian length before each message.
    case length4 = "length"
    /// A stop-bit-encoded block size before each message (FAST session control).
    case blockSize = "block"
}

/// One framed message of a stream: where its FAST bytes are and what the framing said.
public struct FASTFrame: Sendable {
    /// Byte offset of the frame (its preamble) in the stream.
    public let offset: Int
    /// The sequence number the preamble carried (MOEX and CME framing).
    public let sequenceNumber: UInt32?
    /// The FAST message's bytes, as a range of the stream.
    public let message: Range<Int>
}

/// Splits a buffer into frames and decodes each: a capture replay or a feed's datagram.
public struct FASTStreamReader {
    public let framing: FASTFraming
    public private(set) var offset = 0

    public init(framing: FASTFraming) { self.framing = framing }

    /// For framings that state each message's length (length, block): the size of the frame
    /// at the start of `buffer`, header included, or nil while its header is incomplete.
    public static func frameSize(_ framing: FASTFraming, _ buffer: UnsafeRawBufferPointer) -> Int? {
        switch framing {
        case .length4:
            guard buffer.count >= 4 else { return nil }
            return 4 + Int(UInt32(buffer[0]) | UInt32(buffer[1]) << 8 | UInt32(buffer[2]) << 16 | UInt32(buffer[3]) << 24)
        case .blockSize:
            var length = 0
            for index in 0..<min(buffer.count, 5) {
                length = length << 7 | Int(buffer[index] & 0x7F)
                if buffer[index] & 0x80 != 0 { return index + 1 + length }
            }
            return nil
        case .raw, .sequence4, .cme:
            return nil
        }
    }

    /// Decodes the next message of `buffer` (from `offset`) into `message`; nil at the end.
    /// A framing problem or a decoding error names the byte offset in the whole buffer.
    public mutating func next(_ buffer: UnsafeRawBufferPointer, decoder: FASTDecoder,
                              into message: inout FASTMessage) throws(FASTError) -> FASTFrame? {
        guard offset < buffer.count else { return nil }
        let start = offset
        var sequenceNumber: UInt32?
        var end = buffer.count
        func littleEndian(_ at: Int) throws(FASTError) -> UInt32 {
            guard at + 4 <= buffer.count else {
                throw FASTError(.truncated, offset: at, field: nil, "the stream ends inside a frame header")
            }
            return UInt32(buffer[at]) | UInt32(buffer[at + 1]) << 8 | UInt32(buffer[at + 2]) << 16 | UInt32(buffer[at + 3]) << 24
        }
        var body = start
        switch framing {
        case .raw:
            break
        case .sequence4:
            sequenceNumber = try littleEndian(start)
            body = start + 4
        case .cme:
            sequenceNumber = try littleEndian(start)
            body = start + 5
        case .length4:
            let length = Int(try littleEndian(start))
            body = start + 4
            end = body + length
            guard end <= buffer.count else {
                throw FASTError(.truncated, offset: start, field: nil, "a \(length)-byte frame runs past the end of the stream")
            }
        case .blockSize:
            var length = 0
            var at = start
            while true {
                guard at < buffer.count, at - start < 5 else {
                    throw FASTError(.truncated, offset: start, field: nil, "unreadable block size")
                }
                let byte = buffer[at]
                at += 1
                length = length << 7 | Int(byte & 0x7F)
                if byte & 0x80 != 0 { break }
            }
            body = at
            end = body + length
            guard end <= buffer.count else {
                throw FASTError(.truncated, offset: start, field: nil, "a \(length)-byte block runs past the end of the stream")
            }
        }
        guard body <= end else { throw FASTError(.truncated, offset: start, field: nil, "the stream ends inside a frame header") }
        let used: Int
        do {
            used = try decoder.decode(UnsafeRawBufferPointer(rebasing: buffer[body..<end]), into: &message)
        } catch {
            throw FASTError(error.code, offset: body + error.offset, field: error.field, error.reason)
        }
        if framing == .length4 || framing == .blockSize, used != end - body {
            throw FASTError(.truncated, offset: body + used, field: nil,
                            "the message took \(used) of its frame's \(end - body) bytes")
        }
        offset = body + used
        return FASTFrame(offset: start, sequenceNumber: sequenceNumber, message: body..<offset)
    }
}
