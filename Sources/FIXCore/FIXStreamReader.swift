/// What a stream reader found next.
public enum FIXStreamEvent {
    /// A well-formed message starting at byte `offset` of the stream.
    case message(FIXMessage, offset: Int)
    /// Bytes from `offset` (`length` of them) that are not a message, and why.
    case malformed(FIXDecodingError, offset: Int, length: Int)
}

/// Frames and parses messages out of a byte stream that arrives in pieces of any size.
///
/// Feed bytes with `append`, then call `next()` until it returns nil (need more
/// bytes). Framing errors and parse errors both come out as `.malformed` with the
/// stream offset of the bytes dropped; the reader carries on with the next `8=FIX`.
/// Garbage that directly follows a malformed message is counted into it rather
/// than reported again. A returned message is valid until the next call on the
/// reader. Memory stays bounded: the buffer never holds more than one maximum-size
/// message plus one appended chunk.
public final class FIXStreamReader {
    public let framer: FIXFramer
    public let parser: FIXParser
    @usableFromInline var storage: UnsafeMutableRawPointer
    @usableFromInline var capacity: Int
    @usableFromInline var readIndex = 0
    @usableFromInline var writeIndex = 0
    /// Stream offset of `storage[0]`.
    @usableFromInline var baseOffset = 0
    @usableFromInline var resynchronising = false
    /// Whitespace between messages (newlines in a log) is not reported as garbage.
    public var ignoresWhitespaceBetweenMessages: Bool

    public init(framer: FIXFramer = FIXFramer(), parser: FIXParser = FIXParser(),
                ignoresWhitespaceBetweenMessages: Bool = true) {
        self.framer = framer
        self.parser = parser
        self.ignoresWhitespaceBetweenMessages = ignoresWhitespaceBetweenMessages
        capacity = 16 * 1024
        storage = .allocate(byteCount: capacity, alignment: 8)
    }

    deinit { storage.deallocate() }

    /// Bytes received but not yet consumed.
    public var bufferedByteCount: Int { writeIndex - readIndex }

    /// Adds received bytes; invalidates any message returned before.
    public func append(_ bytes: UnsafeRawBufferPointer) {
        guard let source = bytes.baseAddress, bytes.count > 0 else { return }
        if writeIndex + bytes.count > capacity {
            // Move the unconsumed tail to the front first; grow only if that is not enough.
            let pending = writeIndex - readIndex
            if readIndex > 0 {
                storage.copyMemory(from: storage + readIndex, byteCount: pending)
                baseOffset += readIndex
                readIndex = 0
                writeIndex = pending
            }
            if writeIndex + bytes.count > capacity {
                var newCapacity = capacity * 2
                while newCapacity < writeIndex + bytes.count { newCapacity *= 2 }
                let newStorage = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 8)
                newStorage.copyMemory(from: storage, byteCount: writeIndex)
                storage.deallocate()
                storage = newStorage
                capacity = newCapacity
            }
        }
        (storage + writeIndex).copyMemory(from: source, byteCount: bytes.count)
        writeIndex += bytes.count
    }

    public func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { append($0) }
    }

    /// The next message or error, or nil when more bytes are needed.
    public func next() -> FIXStreamEvent? {
        while true {
            let available = UnsafeRawBufferPointer(start: storage + readIndex, count: writeIndex - readIndex)
            let offset = baseOffset + readIndex
            let frame = framer.frame(available)
            if case .skip(let length, let error) = frame, error == .garbage {
                // Garbage is gathered into one run, however the bytes were chunked, and
                // reported when the next message or error shows where it ends.
                if garbageLength == 0 {
                    garbageOffset = offset
                    garbageIsWhitespace = true
                }
                garbageLength += length
                if garbageIsWhitespace && !FIXStreamReader.isWhitespace(available, length) { garbageIsWhitespace = false }
                readIndex += length
                continue
            }
            if frame == .needMoreBytes { return nil }
            if let run = takeGarbageRun() { return run }
            switch frame {
            case .needMoreBytes:
                return nil
            case .message(let length):
                readIndex += length
                resynchronising = false
                do {
                    let message = try parser.parse(UnsafeRawBufferPointer(rebasing: available[0..<length]))
                    return .message(message, offset: offset)
                } catch {
                    return .malformed(error, offset: offset, length: length)
                }
            case .skip(let length, let error):
                readIndex += length
                resynchronising = true
                return .malformed(error, offset: offset, length: length)
            }
        }
    }

    /// At the end of the stream: what is left over (a run of garbage, an incomplete
    /// message), reported once, or nil if the stream ended cleanly.
    public func finish() -> FIXStreamEvent? {
        if let run = takeGarbageRun() { return run }
        let pending = writeIndex - readIndex
        guard pending > 0 else { return nil }
        let offset = baseOffset + readIndex
        readIndex = writeIndex
        return .malformed(FIXDecodingError(.bodyLengthMismatch, offset: 0, expected: -1, actual: pending),
                          offset: offset, length: pending)
    }

    @usableFromInline var garbageOffset = 0
    @usableFromInline var garbageLength = 0
    @usableFromInline var garbageIsWhitespace = true

    /// The gathered garbage run as an event, unless it is only whitespace or the tail of a
    /// malformed message already reported.
    func takeGarbageRun() -> FIXStreamEvent? {
        guard garbageLength > 0 else { return nil }
        let length = garbageLength
        garbageLength = 0
        if resynchronising || (ignoresWhitespaceBetweenMessages && garbageIsWhitespace) { return nil }
        return .malformed(FIXDecodingError(.garbage, offset: 0, actual: length), offset: garbageOffset, length: length)
    }

    static func isWhitespace(_ bytes: UnsafeRawBufferPointer, _ length: Int) -> Bool {
        for i in 0..<length {
            switch bytes[i] {
            case 0x20, 0x09, 0x0A, 0x0D: continue
            default: return false
            }
        }
        return true
    }
}
