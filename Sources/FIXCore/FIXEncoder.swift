import ExactNumbers

/// Builds FIX messages into a reusable buffer, with BodyLength and CheckSum filled in.
///
/// ```
/// encoder.start(msgType: "8")
/// encoder.append(49, "PLATFORM")
/// encoder.append(34, 42)
/// encoder.append(31, price)
/// let wire = encoder.finish()   // valid until the next start(msgType:)
/// ```
///
/// The body is written after room kept for the `8=` and `9=` fields, which are
/// written in front of it once its length is known; no bytes are moved. The
/// buffer grows when a message needs it and is then reused, so encoding
/// allocates nothing in the steady state.
public final class FIXEncoder {
    /// The BeginString every message gets (`FIX.4.4`, `FIXT.1.1`, …).
    public let beginString: String
    @usableFromInline var storage: UnsafeMutableRawPointer
    @usableFromInline var capacity: Int
    /// Where the body (from `35=`) starts: room for `8=…|9=NNNNNNNNN|` before it.
    @usableFromInline let bodyStart: Int
    @usableFromInline var position: Int
    @usableFromInline var messageStart: Int = 0
    @usableFromInline var started = false

    public init(beginString: String, capacity: Int = 1024) {
        precondition(!beginString.isEmpty && beginString.utf8.count <= 16, "BeginString must be 1 to 16 bytes")
        self.beginString = beginString
        bodyStart = 2 + beginString.utf8.count + 1 + 2 + 9 + 1
        self.capacity = max(capacity, bodyStart + 64)
        storage = .allocate(byteCount: self.capacity, alignment: 8)
        position = bodyStart
    }

    deinit { storage.deallocate() }

    /// Begins a new message of type `msgType`; the previous one's bytes become invalid.
    @inlinable
    public func start(msgType: StaticString) {
        position = bodyStart
        started = true
        msgType.withUTF8Buffer { appendField(35, UnsafeRawBufferPointer($0)) }
    }

    /// Begins a new message of type `msgType` given at run time.
    @inlinable
    public func start(msgType: String) {
        position = bodyStart
        started = true
        append(35, msgType)
    }

    // MARK: Fields

    @inlinable
    public func append(_ tag: Int, _ value: StaticString) {
        value.withUTF8Buffer { appendField(tag, UnsafeRawBufferPointer($0)) }
    }

    @inlinable
    public func append(_ tag: Int, _ value: String) {
        var text = value
        text.withUTF8 { appendField(tag, UnsafeRawBufferPointer($0)) }
    }

    /// A value copied from a parsed message.
    @inlinable
    public func append(_ tag: Int, _ value: FIXValue) {
        appendField(tag, value.bytes)
    }

    @inlinable
    public func append(_ tag: Int, bytes: UnsafeRawBufferPointer) {
        appendField(tag, bytes)
    }

    @inlinable
    public func append(_ tag: Int, _ value: Int) {
        writeTag(tag)
        ensure(21)
        if value < 0 {
            storage.storeBytes(of: UInt8(ascii: "-"), toByteOffset: position, as: UInt8.self)
            position += 1
        }
        writeDigits(value.magnitude)
        writeSOH()
    }

    @inlinable
    public func append(_ tag: Int, _ value: ExactDecimal) {
        writeTag(tag)
        ensure(44)
        var mantissa = value.mantissa
        if mantissa < 0 {
            storage.storeBytes(of: UInt8(ascii: "-"), toByteOffset: position, as: UInt8.self)
            position += 1
            mantissa = -mantissa
        }
        let scale = value.scale
        if scale == 0 {
            writeDigits128(mantissa)
        } else if mantissa <= Int128(UInt.max) {
            // The common case: 64-bit arithmetic, which the compiler turns into multiplications.
            let m = UInt(mantissa)
            let divisor = UInt(ExactDecimal.powerOfTen(scale))
            writeDigits(m / divisor)
            storage.storeBytes(of: UInt8(ascii: "."), toByteOffset: position, as: UInt8.self)
            FIXDigits.writeUInt(m % divisor, scale, storage + position + 1)
            position += scale + 1
        } else {
            let divisor = ExactDecimal.powerOfTen(scale)
            let (whole, fraction) = mantissa.quotientAndRemainder(dividingBy: divisor)
            writeDigits128(whole)
            storage.storeBytes(of: UInt8(ascii: "."), toByteOffset: position, as: UInt8.self)
            FIXDigits.writeUInt(UInt(fraction), scale, storage + position + 1)
            position += scale + 1
        }
        writeSOH()
    }

    /// A `char` field.
    @inlinable
    public func append(_ tag: Int, char: UInt8) {
        writeTag(tag)
        ensure(2)
        storage.storeBytes(of: char, toByteOffset: position, as: UInt8.self)
        position += 1
        writeSOH()
    }

    /// A `Boolean` field: `Y` or `N`.
    @inlinable
    public func append(_ tag: Int, _ value: Bool) {
        append(tag, char: value ? UInt8(ascii: "Y") : UInt8(ascii: "N"))
    }

    @inlinable
    public func append(_ tag: Int, _ value: FIXTimestamp) {
        writeTag(tag)
        ensure(28)
        position += FIXTimestamp.write(value, into: storage + position)
        writeSOH()
    }

    @inlinable
    public func append(_ tag: Int, _ value: FIXDate) {
        writeTag(tag)
        ensure(9)
        FIXDigits.write(value.year, 4, storage + position)
        FIXDigits.write(value.month, 2, storage + position + 4)
        FIXDigits.write(value.day, 2, storage + position + 6)
        position += 8
        writeSOH()
    }

    /// A length field and its raw-data field (RawDataLength 95 + RawData 96, …); the data may hold SOH.
    @inlinable
    public func appendRawData(lengthTag: Int, dataTag: Int, _ data: UnsafeRawBufferPointer) {
        append(lengthTag, data.count)
        appendField(dataTag, data)
    }

    // MARK: Finish

    /// Writes BeginString, BodyLength and CheckSum and returns the whole message.
    /// The bytes are valid until the next `start(msgType:)`.
    @inlinable
    public func finish() -> UnsafeRawBufferPointer {
        precondition(started, "finish() without start(msgType:)")
        started = false
        let bodyLength = position - bodyStart
        // Header, written backwards so that it ends exactly where the body starts.
        var p = bodyStart - 1
        storage.storeBytes(of: fixSOH, toByteOffset: p, as: UInt8.self)
        var length = bodyLength
        repeat {
            p -= 1
            storage.storeBytes(of: UInt8(ascii: "0") + UInt8(truncatingIfNeeded: length % 10), toByteOffset: p, as: UInt8.self)
            length /= 10
        } while length > 0
        p -= 3
        storage.storeBytes(of: fixSOH, toByteOffset: p, as: UInt8.self)
        storage.storeBytes(of: UInt8(ascii: "9"), toByteOffset: p + 1, as: UInt8.self)
        storage.storeBytes(of: UInt8(ascii: "="), toByteOffset: p + 2, as: UInt8.self)
        var begin = beginString
        begin.withUTF8 { bytes in
            p -= bytes.count
            (storage + p).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        }
        p -= 2
        storage.storeBytes(of: UInt8(ascii: "8"), toByteOffset: p, as: UInt8.self)
        storage.storeBytes(of: UInt8(ascii: "="), toByteOffset: p + 1, as: UInt8.self)
        messageStart = p
        let sum = FIXFramer.checksum(UnsafeRawBufferPointer(start: storage + p, count: position - p))
        ensure(7)
        storage.storeBytes(of: UInt8(ascii: "1"), toByteOffset: position, as: UInt8.self)
        storage.storeBytes(of: UInt8(ascii: "0"), toByteOffset: position + 1, as: UInt8.self)
        storage.storeBytes(of: UInt8(ascii: "="), toByteOffset: position + 2, as: UInt8.self)
        FIXDigits.write(Int(sum), 3, storage + position + 3)
        storage.storeBytes(of: fixSOH, toByteOffset: position + 6, as: UInt8.self)
        position += 7
        return UnsafeRawBufferPointer(start: storage + messageStart, count: position - messageStart)
    }

    // MARK: Internals

    @inlinable
    func appendField(_ tag: Int, _ value: UnsafeRawBufferPointer) {
        writeTag(tag)
        ensure(value.count + 1)
        if let source = value.baseAddress, value.count > 0 {
            (storage + position).copyMemory(from: source, byteCount: value.count)
        }
        position += value.count
        writeSOH()
    }

    @inlinable
    func writeTag(_ tag: Int) {
        precondition(started, "append before start(msgType:)")
        precondition(tag > 0, "FIX tags are positive")
        ensure(12)
        writeDigits(UInt(tag))
        storage.storeBytes(of: UInt8(ascii: "="), toByteOffset: position, as: UInt8.self)
        position += 1
    }

    @inlinable
    func writeSOH() {
        storage.storeBytes(of: fixSOH, toByteOffset: position, as: UInt8.self)
        position += 1
    }

    /// Writes the decimal digits of `value` at `position` (room already ensured).
    @inlinable
    func writeDigits(_ value: UInt) {
        var digits = 1
        var v = value
        while v >= 10 {
            v /= 10
            digits += 1
        }
        v = value
        var i = position + digits - 1
        while i >= position {
            storage.storeBytes(of: UInt8(ascii: "0") + UInt8(truncatingIfNeeded: v % 10), toByteOffset: i, as: UInt8.self)
            v /= 10
            i -= 1
        }
        position += digits
    }

    @inlinable
    func writeDigits128(_ value: Int128) {
        if value <= Int128(UInt.max) {
            writeDigits(UInt(value))
            return
        }
        // Above 64 bits: peel off the low nineteen digits with one 128-bit division.
        let divisor = Int128(10_000_000_000_000_000_000 as UInt)
        let (high, low) = value.quotientAndRemainder(dividingBy: divisor)
        writeDigits128(high)
        FIXDigits.writeUInt(UInt(low), 19, storage + position)
        position += 19
    }

    @inlinable
    func ensure(_ extra: Int) {
        if position + extra + 7 > capacity { grow(position + extra + 7) }
    }

    @usableFromInline
    func grow(_ needed: Int) {
        var newCapacity = capacity * 2
        while newCapacity < needed { newCapacity *= 2 }
        let newStorage = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 8)
        newStorage.copyMemory(from: storage, byteCount: position)
        storage.deallocate()
        storage = newStorage
        capacity = newCapacity
    }
}

extension FIXDigits {
    /// Writes `value` as exactly `width` digits, zero-padded, for values beyond `Int`.
    @inlinable
    public static func writeUInt(_ value: UInt, _ width: Int, _ out: UnsafeMutableRawPointer) {
        var v = value
        var i = width - 1
        while i >= 0 {
            out.storeBytes(of: UInt8(ascii: "0") + UInt8(truncatingIfNeeded: v % 10), toByteOffset: i, as: UInt8.self)
            v /= 10
            i -= 1
        }
    }
}
