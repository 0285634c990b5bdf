import CFIXScan
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
    /// Where the body (from `35=`) starts: room for `8=…|9=NNNNNNNNN|` before it.
    @usableFromInline let bodyStart: Int
    /// The mutable state lives behind a constant pointer: a class's `var`s would be
    /// checked for exclusive access at run time on every field, which costs more than
    /// writing the field.
    @usableFromInline let state: UnsafeMutablePointer<State>
    @usableFromInline let beginStringBytes: UnsafeMutableRawBufferPointer
    @usableFromInline let renderedTags: UnsafeMutablePointer<UInt64>

    @usableFromInline
    struct State {
        @usableFromInline var storage: UnsafeMutableRawPointer
        @usableFromInline var capacity: Int
        @usableFromInline var position: Int
        @usableFromInline var started = false
        /// The day (since the epoch) whose `YYYYMMDD` is in `cachedDate`.
        @usableFromInline var cachedDay: Int64 = .min
        @usableFromInline var cachedDate: UInt64 = 0

        @usableFromInline
        init(storage: UnsafeMutableRawPointer, capacity: Int, position: Int) {
            self.storage = storage
            self.capacity = capacity
            self.position = position
        }
    }

    public init(beginString: String, capacity: Int = 1024) {
        precondition(!beginString.isEmpty && beginString.utf8.count <= 16, "BeginString must be 1 to 16 bytes")
        self.beginString = beginString
        bodyStart = 2 + beginString.utf8.count + 1 + 2 + 9 + 1
        let capacity = max(capacity, bodyStart + 64)
        beginStringBytes = .allocate(byteCount: beginString.utf8.count, alignment: 1)
        beginStringBytes.copyBytes(from: beginString.utf8)
        renderedTags = .allocate(capacity: FIXEncoder.renderedTagLimit)
        renderedTags.initialize(repeating: 0, count: FIXEncoder.renderedTagLimit)
        state = .allocate(capacity: 1)
        state.initialize(to: State(storage: .allocate(byteCount: capacity, alignment: 8), capacity: capacity, position: bodyStart))
    }

    deinit {
        state.pointee.storage.deallocate()
        beginStringBytes.deallocate()
        renderedTags.deallocate()
        state.deinitialize(count: 1)
        state.deallocate()
    }

    @inlinable var storage: UnsafeMutableRawPointer { state.pointee.storage }
    @inlinable var position: Int {
        get { state.pointee.position }
        set { state.pointee.position = newValue }
    }
    @inlinable var started: Bool {
        get { state.pointee.started }
        set { state.pointee.started = newValue }
    }

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
    //
    // Each writer reads the buffer and the position once, writes through a local cursor
    // and stores the position once: stores into the buffer could, as far as the compiler
    // knows, change the state behind `state`, so going through it per byte would reload.

    @inlinable
    public func append(_ tag: Int, _ value: StaticString) {
        value.withUTF8Buffer { appendField(tag, UnsafeRawBufferPointer($0)) }
    }

    @inlinable
    public func append(_ tag: Int, _ value: String) {
        if value.isContiguousUTF8 {
            // A span of a borrowed string costs no reference counting (its contiguous
            // storage through a closure costs two atomic operations a field).
            value.utf8.span.withUnsafeBytes { appendField(tag, $0) }
        } else {
            let utf8 = value.utf8
            let out = fieldStart(tag, room: utf8.count)
            var k = writeTag(tag, out)
            for byte in utf8 {
                out.storeBytes(of: byte, toByteOffset: k, as: UInt8.self)
                k &+= 1
            }
            fieldEnd(out, k)
        }
    }

    /// An identifier made of a text and a number (`SIM-E` and 42 give `SIM-E42`),
    /// written without building the String.
    @inlinable
    public func append(_ tag: Int, _ prefix: String, number: Int) {
        precondition(number >= 0, "identifier numbers are not negative")
        var prefix = prefix
        prefix.withUTF8 { text in
            let out = fieldStart(tag, room: text.count + 20)
            var k = writeTag(tag, out)
            if let source = text.baseAddress, text.count > 0 {
                cf_copy_short(out + k, source, text.count)
            }
            k &+= text.count
            k &+= FIXDigits.write(UInt(number), out + k)
            fieldEnd(out, k)
        }
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
        let out = fieldStart(tag, room: 21)
        var k = writeTag(tag, out)
        if value < 0 {
            out.storeBytes(of: UInt8(ascii: "-"), toByteOffset: k, as: UInt8.self)
            k &+= 1
        }
        k &+= FIXDigits.write(value.magnitude, out + k)
        fieldEnd(out, k)
    }

    @inlinable
    public func append(_ tag: Int, _ value: ExactDecimal) {
        let out = fieldStart(tag, room: 44)
        var k = writeTag(tag, out)
        var mantissa = value.mantissa
        if mantissa < 0 {
            out.storeBytes(of: UInt8(ascii: "-"), toByteOffset: k, as: UInt8.self)
            k &+= 1
            mantissa = -mantissa
        }
        let scale = value.scale
        if scale == 0 {
            k &+= FIXDigits.write128(mantissa, out + k)
        } else if mantissa <= Int128(UInt.max) {
            // The common case: 64-bit arithmetic, which the compiler turns into multiplications.
            let m = UInt(mantissa)
            let divisor = UInt(ExactDecimal.powerOfTen(scale))
            k &+= FIXDigits.write(m / divisor, out + k)
            out.storeBytes(of: UInt8(ascii: "."), toByteOffset: k, as: UInt8.self)
            FIXDigits.writeUInt(m % divisor, scale, out + (k &+ 1))
            k &+= scale &+ 1
        } else {
            let divisor = ExactDecimal.powerOfTen(scale)
            let (whole, fraction) = mantissa.quotientAndRemainder(dividingBy: divisor)
            k &+= FIXDigits.write128(whole, out + k)
            out.storeBytes(of: UInt8(ascii: "."), toByteOffset: k, as: UInt8.self)
            FIXDigits.writeUInt(UInt(fraction), scale, out + (k &+ 1))
            k &+= scale &+ 1
        }
        fieldEnd(out, k)
    }

    /// A `char` field.
    @inlinable
    public func append(_ tag: Int, char: UInt8) {
        let out = fieldStart(tag, room: 1)
        let k = writeTag(tag, out)
        out.storeBytes(of: char, toByteOffset: k, as: UInt8.self)
        fieldEnd(out, k &+ 1)
    }

    /// A `Boolean` field: `Y` or `N`.
    @inlinable
    public func append(_ tag: Int, _ value: Bool) {
        append(tag, char: value ? UInt8(ascii: "Y") : UInt8(ascii: "N"))
    }

    @inlinable
    public func append(_ tag: Int, _ value: FIXTimestamp) {
        let field = fieldStart(tag, room: 28)
        let out = field + writeTag(tag, field)
        // Messages carry several timestamps of the same day: the date part is
        // written once and copied after that.
        let nanos = value.nanosecondsSinceEpoch
        let day = nanos.floorDivided(by: 86_400_000_000_000)
        if day != state.pointee.cachedDay {
            _ = FIXTimestamp.write(value, into: out)
            state.pointee.cachedDay = day
            state.pointee.cachedDate = out.loadUnaligned(as: UInt64.self)
        }
        out.storeBytes(of: state.pointee.cachedDate, as: UInt64.self)
        out.storeBytes(of: UInt8(ascii: "-"), toByteOffset: 8, as: UInt8.self)
        let ofDay = nanos &- day &* 86_400_000_000_000
        let secondOfDay = Int(ofDay / 1_000_000_000)
        let hour = secondOfDay / 3600
        let minute = secondOfDay / 60 % 60
        FIXDigits.writeTwo(hour, out + 9)
        out.storeBytes(of: UInt8(ascii: ":"), toByteOffset: 11, as: UInt8.self)
        FIXDigits.writeTwo(minute, out + 12)
        out.storeBytes(of: UInt8(ascii: ":"), toByteOffset: 14, as: UInt8.self)
        FIXDigits.writeTwo(secondOfDay % 60, out + 15)
        let k = 17 &+ FIXDigits.writeFraction(Int(ofDay % 1_000_000_000), value.fractionDigits, out + 17)
        fieldEnd(field, (out - field) &+ k)
    }

    @inlinable
    public func append(_ tag: Int, _ value: FIXDate) {
        let field = fieldStart(tag, room: 8)
        let k = writeTag(tag, field)
        FIXDigits.write(value.year, 4, field + k)
        FIXDigits.write(value.month, 2, field + (k &+ 4))
        FIXDigits.write(value.day, 2, field + (k &+ 6))
        fieldEnd(field, k &+ 8)
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
        p -= beginStringBytes.count
        (storage + p).copyMemory(from: beginStringBytes.baseAddress!, byteCount: beginStringBytes.count)
        p -= 2
        storage.storeBytes(of: UInt8(ascii: "8"), toByteOffset: p, as: UInt8.self)
        storage.storeBytes(of: UInt8(ascii: "="), toByteOffset: p + 1, as: UInt8.self)
        let sum = FIXFramer.checksum(UnsafeRawBufferPointer(start: storage + p, count: position - p))
        ensure(7)
        storage.storeBytes(of: UInt8(ascii: "1"), toByteOffset: position, as: UInt8.self)
        storage.storeBytes(of: UInt8(ascii: "0"), toByteOffset: position + 1, as: UInt8.self)
        storage.storeBytes(of: UInt8(ascii: "="), toByteOffset: position + 2, as: UInt8.self)
        FIXDigits.write(Int(sum), 3, storage + position + 3)
        storage.storeBytes(of: fixSOH, toByteOffset: position + 6, as: UInt8.self)
        position += 7
        return UnsafeRawBufferPointer(start: storage + p, count: position - p)
    }

    // MARK: Internals

    @inlinable @inline(__always)
    func appendField(_ tag: Int, _ value: UnsafeRawBufferPointer) {
        let out = fieldStart(tag, room: value.count)
        let k = writeTag(tag, out)
        if let source = value.baseAddress, value.count > 0 {
            cf_copy_short(out + k, source, value.count)
        }
        fieldEnd(out, k &+ value.count)
    }

    /// Where the next field goes, with room for its tag (16 bytes), `room` bytes of
    /// value and the delimiter.
    @inlinable @inline(__always)
    func fieldStart(_ tag: Int, room: Int) -> UnsafeMutableRawPointer {
        precondition(started, "append before start(msgType:)")
        precondition(tag > 0, "FIX tags are positive")
        ensure(room &+ 1 &+ 16)
        return storage + position
    }

    /// Ends the field begun at `out` after `length` bytes with its delimiter.
    @inlinable @inline(__always)
    func fieldEnd(_ out: UnsafeMutableRawPointer, _ length: Int) {
        out.storeBytes(of: fixSOH, toByteOffset: length, as: UInt8.self)
        position &+= length &+ 1
    }

    /// Writes `tag=` at `out` (room ensured by `fieldStart`) and returns its length.
    @inlinable @inline(__always)
    func writeTag(_ tag: Int, _ out: UnsafeMutableRawPointer) -> Int {
        if tag < FIXEncoder.renderedTagLimit {
            // "tag=" rendered once per encoder: its bytes in the low seven bytes, its length in the top one.
            var rendered = renderedTags[tag]
            if rendered == 0 { rendered = renderTag(tag) }
            out.storeBytes(of: UInt64(littleEndian: rendered & 0x00FF_FFFF_FFFF_FFFF), as: UInt64.self)
            return Int(truncatingIfNeeded: rendered &>> 56)
        }
        let k = FIXDigits.write(UInt(tag), out)
        out.storeBytes(of: UInt8(ascii: "="), toByteOffset: k, as: UInt8.self)
        return k &+ 1
    }

    @usableFromInline
    func renderTag(_ tag: Int) -> UInt64 {
        var rendered: UInt64 = 0
        var length = 0
        for byte in String(tag).utf8 + [UInt8(ascii: "=")] {
            rendered |= UInt64(byte) << UInt64(8 * length)
            length += 1
        }
        rendered |= UInt64(length) << 56
        renderedTags[tag] = rendered
        return rendered
    }

    /// Tags below this are rendered once and copied after that.
    @usableFromInline static let renderedTagLimit = 2048

    @inlinable @inline(__always)
    func ensure(_ extra: Int) {
        if position + extra + 7 > state.pointee.capacity { grow(position + extra + 7) }
    }

    @usableFromInline
    func grow(_ needed: Int) {
        var newCapacity = state.pointee.capacity * 2
        while newCapacity < needed { newCapacity *= 2 }
        let newStorage = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 8)
        newStorage.copyMemory(from: storage, byteCount: position)
        storage.deallocate()
        state.pointee.storage = newStorage
        state.pointee.capacity = newCapacity
    }
}

extension FIXDigits {
    /// Writes `value` (0...99) as two digits.
    @inlinable @inline(__always)
    public static func writeTwo(_ value: Int, _ out: UnsafeMutableRawPointer) {
        let tens = value / 10
        out.storeBytes(of: UInt16(littleEndian: UInt16(truncatingIfNeeded: 0x3030 | tens | (value - tens * 10) << 8)), as: UInt16.self)
    }

    /// The number of decimal digits of `value` (1 for 0): two or three comparisons for
    /// anything below 10^8, which is what messages mostly carry.
    @inlinable @inline(__always)
    public static func count(_ value: UInt) -> Int {
        if value < 10_000 { return value < 100 ? (value < 10 ? 1 : 2) : (value < 1_000 ? 3 : 4) }
        if value < 100_000_000 { return value < 1_000_000 ? (value < 100_000 ? 5 : 6) : (value < 10_000_000 ? 7 : 8) }
        var digits = 9
        var bound: UInt = 1_000_000_000
        while digits < 20 && value >= bound {
            digits += 1
            bound &*= 10
        }
        return digits
    }

    /// Writes the decimal digits of `value` at `out` and returns how many.
    @inlinable
    public static func write(_ value: UInt, _ out: UnsafeMutableRawPointer) -> Int {
        // Most numbers in a message are small (counts, roles, sides); write them directly.
        if value < 10 {
            out.storeBytes(of: UInt8(truncatingIfNeeded: value) &+ 48, as: UInt8.self)
            return 1
        }
        if value < 100 {
            writeTwo(Int(truncatingIfNeeded: value), out)
            return 2
        }
        let digits = count(value)
        writeUInt(value, digits, out)
        return digits
    }

    /// Writes the decimal digits of `value` (not negative) at `out` and returns how many.
    @inlinable
    public static func write128(_ value: Int128, _ out: UnsafeMutableRawPointer) -> Int {
        if value <= Int128(UInt.max) { return write(UInt(value), out) }
        // Above 64 bits: peel off the low nineteen digits with one 128-bit division.
        let divisor = Int128(10_000_000_000_000_000_000 as UInt)
        let (high, low) = value.quotientAndRemainder(dividingBy: divisor)
        let k = write128(high, out)
        writeUInt(UInt(low), 19, out + k)
        return k &+ 19
    }

    /// Writes the low `width` digits of `value`, zero-padded, two at a time.
    @inlinable
    public static func writeUInt(_ value: UInt, _ width: Int, _ out: UnsafeMutableRawPointer) {
        var v = value
        var i = width
        while i >= 2 {
            i &-= 2
            writeTwo(Int(truncatingIfNeeded: v % 100), out + i)
            v /= 100
        }
        if i == 1 {
            out.storeBytes(of: UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: v % 10), as: UInt8.self)
        }
    }
}
