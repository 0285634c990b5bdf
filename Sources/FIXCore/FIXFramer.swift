/// The SOH delimiter between FIX fields.
public let fixSOH: UInt8 = 0x01

/// What the framer found at the start of a byte stream.
public enum FIXFrame: Equatable, Sendable {
    /// A complete message whose BodyLength and CheckSum agree occupies the first `length` bytes.
    case message(length: Int)
    /// The bytes so far are the beginning of a message (or nothing yet); wait for more.
    case needMoreBytes
    /// The first `length` bytes are garbage or a broken message: drop them and frame again.
    /// The next frame starts at the next `8=FIX` (resynchronisation).
    case skip(length: Int, error: FIXDecodingError)
}

/// Finds message boundaries in a stream of bytes: `8=` BeginString, `9=` BodyLength,
/// `10=` CheckSum, with the checksum verified and the size bounded.
///
/// The framer keeps no state: call it on the unconsumed bytes, drop what it says to drop.
public struct FIXFramer: Sendable {
    /// The largest message accepted, in bytes, from `8=` to the final delimiter.
    public var messageSizeMax: Int

    public init(messageSizeMax: Int = 64 * 1024) {
        precondition(messageSizeMax >= 32, "messageSizeMax too small for any FIX message")
        self.messageSizeMax = messageSizeMax
    }

    /// Frames the message at the start of `bytes`.
    @inlinable
    public func frame(_ bytes: UnsafeRawBufferPointer) -> FIXFrame {
        let n = bytes.count
        guard n > 0, let base = bytes.baseAddress else { return .needMoreBytes }
        // Resynchronise: the stream must start with 8=FIX.
        let prefixLength = FIXFramer.matchingPrefixLength(base, n)
        if prefixLength < 5 {
            if prefixLength == n { return .needMoreBytes }
            return FIXFramer.skipToNextBeginString(base, n)
        }
        // BeginString value: up to the first SOH, within a short distance.
        var i = 2
        let beginStringLimit = min(n, 18)
        while i < beginStringLimit && base.load(fromByteOffset: i, as: UInt8.self) != fixSOH { i += 1 }
        if i == beginStringLimit {
            if n < 18 { return .needMoreBytes }
            return .skip(length: FIXFramer.resyncLength(base, n), error: .badBeginString)
        }
        i += 1
        // BodyLength.
        if n < i + 2 { return .needMoreBytes }
        guard base.load(fromByteOffset: i, as: UInt8.self) == UInt8(ascii: "9"),
              base.load(fromByteOffset: i + 1, as: UInt8.self) == UInt8(ascii: "=") else {
            return .skip(length: FIXFramer.resyncLength(base, n), error: FIXDecodingError.missingBodyLength.at(offset: i))
        }
        i += 2
        var bodyLength = 0
        var digits = 0
        while true {
            if i >= n { return .needMoreBytes }
            let c = base.load(fromByteOffset: i, as: UInt8.self)
            if c == fixSOH { break }
            let d = c &- UInt8(ascii: "0")
            if d > 9 || digits == 9 { return .skip(length: FIXFramer.resyncLength(base, n), error: FIXDecodingError.badBodyLength.at(offset: i)) }
            bodyLength = bodyLength &* 10 &+ Int(d)
            digits += 1
            i += 1
        }
        if digits == 0 { return .skip(length: FIXFramer.resyncLength(base, n), error: FIXDecodingError.badBodyLength.at(offset: i)) }
        let bodyStart = i + 1
        let checksumStart = bodyStart + bodyLength
        let total = checksumStart + 7
        if total > messageSizeMax {
            return .skip(length: FIXFramer.resyncLength(base, n), error: FIXDecodingError(.messageTooLarge, expected: messageSizeMax, actual: total))
        }
        if n < total {
            // A short CheckSum value ("10=0<SOH>") ends before `total`: do not wait for bytes
            // that belong to the next message.
            if n >= checksumStart + 4, base.load(fromByteOffset: checksumStart - 1, as: UInt8.self) == fixSOH,
               base.load(fromByteOffset: checksumStart, as: UInt8.self) == UInt8(ascii: "1"),
               base.load(fromByteOffset: checksumStart + 1, as: UInt8.self) == UInt8(ascii: "0"),
               base.load(fromByteOffset: checksumStart + 2, as: UInt8.self) == UInt8(ascii: "=") {
                var end = checksumStart + 3
                while end < n && base.load(fromByteOffset: end, as: UInt8.self) != fixSOH { end += 1 }
                if end < n { return .skip(length: end + 1, error: FIXDecodingError.badChecksumField.at(offset: checksumStart)) }
            }
            return .needMoreBytes
        }
        // 10=NNN<SOH> must stand exactly where BodyLength says the body ends.
        guard base.load(fromByteOffset: checksumStart - 1, as: UInt8.self) == fixSOH,
              base.load(fromByteOffset: checksumStart, as: UInt8.self) == UInt8(ascii: "1"),
              base.load(fromByteOffset: checksumStart + 1, as: UInt8.self) == UInt8(ascii: "0"),
              base.load(fromByteOffset: checksumStart + 2, as: UInt8.self) == UInt8(ascii: "=") else {
            return bodyLengthMismatch(base, n, checksumStart: checksumStart, bodyLength: bodyLength)
        }
        let d0 = base.load(fromByteOffset: checksumStart + 3, as: UInt8.self) &- UInt8(ascii: "0")
        let d1 = base.load(fromByteOffset: checksumStart + 4, as: UInt8.self) &- UInt8(ascii: "0")
        let d2 = base.load(fromByteOffset: checksumStart + 5, as: UInt8.self) &- UInt8(ascii: "0")
        guard d0 <= 9, d1 <= 9, d2 <= 9, base.load(fromByteOffset: checksumStart + 6, as: UInt8.self) == fixSOH else {
            // Not three digits: the message still ends at the delimiter after `10=` (not
            // three bytes on), so the next message is not cut.
            var end = checksumStart + 3
            while end < n && end < checksumStart + 16 && base.load(fromByteOffset: end, as: UInt8.self) != fixSOH { end += 1 }
            return .skip(length: min(end + 1, n), error: FIXDecodingError.badChecksumField.at(offset: checksumStart))
        }
        let declared = Int(d0) * 100 + Int(d1) * 10 + Int(d2)
        let computed = Int(FIXFramer.checksum(UnsafeRawBufferPointer(start: base, count: checksumStart)))
        if declared != computed {
            return .skip(length: total, error: FIXDecodingError(.badChecksum, offset: checksumStart, expected: computed, actual: declared))
        }
        return .message(length: total)
    }

    /// BodyLength does not end at `10=`. As QuickFIX (and so the standard acceptance
    /// scripts) expects, the broken message runs to the first `<SOH>10=nnn<SOH>` from
    /// where BodyLength says the body ends: its own trailer when BodyLength is too short,
    /// the next message's when it is too long (that message is lost with it, and the
    /// session's gap detection asks for it again).
    @usableFromInline
    func bodyLengthMismatch(_ base: UnsafeRawPointer, _ n: Int, checksumStart: Int, bodyLength: Int) -> FIXFrame {
        let error = FIXDecodingError(.bodyLengthMismatch, offset: checksumStart, expected: bodyLength)
        var i = checksumStart - 1
        let limit = min(n, messageSizeMax)
        while i + 4 < limit {
            if base.load(fromByteOffset: i, as: UInt8.self) == fixSOH,
               base.load(fromByteOffset: i + 1, as: UInt8.self) == UInt8(ascii: "1"),
               base.load(fromByteOffset: i + 2, as: UInt8.self) == UInt8(ascii: "0"),
               base.load(fromByteOffset: i + 3, as: UInt8.self) == UInt8(ascii: "=") {
                var end = i + 4
                while end < limit && base.load(fromByteOffset: end, as: UInt8.self) != fixSOH { end += 1 }
                if end < limit { return .skip(length: end + 1, error: error) }
                break
            }
            i += 1
        }
        if n >= messageSizeMax { return .skip(length: FIXFramer.resyncLength(base, n), error: error) }
        return .needMoreBytes
    }

    /// The FIX CheckSum: the sum of all bytes modulo 256.
    @inlinable
    public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt8 {
        // Wrapping byte arithmetic is exactly "mod 256", and the loop vectorises.
        var sum: UInt8 = 0
        for b in bytes { sum &+= b }
        return sum
    }

    /// How many of the first bytes match `8=FIX` (5 means a full match).
    @inlinable
    static func matchingPrefixLength(_ base: UnsafeRawPointer, _ n: Int) -> Int {
        let pattern: (UInt8, UInt8, UInt8, UInt8, UInt8) = (0x38, 0x3D, 0x46, 0x49, 0x58) // 8=FIX
        let limit = min(n, 5)
        var i = 0
        while i < limit {
            let expected: UInt8
            switch i {
            case 0: expected = pattern.0
            case 1: expected = pattern.1
            case 2: expected = pattern.2
            case 3: expected = pattern.3
            default: expected = pattern.4
            }
            if base.load(fromByteOffset: i, as: UInt8.self) != expected { return i }
            i += 1
        }
        return i
    }

    /// Skips to the next `8=FIX` after the first byte, keeping a tail that may be its start.
    @usableFromInline
    static func skipToNextBeginString(_ base: UnsafeRawPointer, _ n: Int) -> FIXFrame {
        let i = resyncLength(base, n)
        return .skip(length: i, error: FIXDecodingError(.garbage, actual: i))
    }

    /// The offset of the next `8=FIX` after the first byte, or of a tail that may begin one.
    @usableFromInline
    static func resyncLength(_ base: UnsafeRawPointer, _ n: Int) -> Int {
        var i = 1
        while i < n {
            if base.load(fromByteOffset: i, as: UInt8.self) == UInt8(ascii: "8") {
                let matched = matchingPrefixLength(base + i, n - i)
                if matched == 5 || matched == n - i { break }
            }
            i += 1
        }
        return i
    }
}
