import ExactNumbers

/// Builds keys and values byte by byte. Keys sort correctly as bytes: integers are
/// big-endian (signed ones with the sign bit flipped), strings length-prefixed.
///
/// The bytes go into memory the writer owns, through a raw cursor: a field costs a bound
/// check and a store, not an array append. `withBytes` hands them to LMDB in place, and
/// `removeAll()` lets a writer that builds one record after another reuse its memory.
/// Not copyable: two writers never share memory.
public struct ByteWriter: ~Copyable {
    private var base: UnsafeMutableRawPointer
    private var capacity: Int
    public private(set) var count = 0

    public init(capacity: Int = 64) {
        self.capacity = max(capacity, 16)
        base = UnsafeMutableRawPointer.allocate(byteCount: self.capacity, alignment: 8)
    }

    deinit { base.deallocate() }

    /// The bytes written so far, as an array (a copy).
    public var bytes: [UInt8] { [UInt8](UnsafeRawBufferPointer(start: base, count: count)) }

    /// The bytes written so far, in place: valid only during the call.
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: base, count: count))
    }

    /// Forgets what was written, keeping the memory.
    public mutating func removeAll() { count = 0 }

    /// Room for `size` more bytes; returns where they go and counts them written.
    @inline(__always)
    private mutating func claim(_ size: Int) -> UnsafeMutableRawPointer {
        if count + size > capacity { grow(to: count + size) }
        let at = base + count
        count += size
        return at
    }

    @inline(never)
    private mutating func grow(to needed: Int) {
        let newCapacity = max(capacity * 2, needed)
        let newBase = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 8)
        newBase.copyMemory(from: base, byteCount: count)
        base.deallocate()
        base = newBase
        capacity = newCapacity
    }

    @inline(__always)
    public mutating func u8(_ value: UInt8) { claim(1).storeBytes(of: value, as: UInt8.self) }

    @inline(__always)
    public mutating func u32(_ value: UInt32) { claim(4).storeBytes(of: value.bigEndian, as: UInt32.self) }

    @inline(__always)
    public mutating func u64(_ value: UInt64) { claim(8).storeBytes(of: value.bigEndian, as: UInt64.self) }

    /// Signed, ordered: the sign bit flipped so that negative values sort first.
    @inline(__always)
    public mutating func i64(_ value: Int64) { u64(UInt64(bitPattern: value) ^ (1 << 63)) }

    public mutating func string(_ value: String) {
        // Native strings (small ones included) are contiguous UTF-8: read through a span of
        // the borrowed String, which costs no reference counting and no copy.
        if value.isContiguousUTF8 {
            value.utf8.span.withUnsafeBytes { string($0) }
            return
        }
        var value = value
        value.withUTF8 { utf8 in bytes(utf8) }
    }

    /// A string given as its UTF-8 bytes.
    public mutating func string(_ utf8: UnsafeRawBufferPointer) {
        bytes(UnsafeBufferPointer(start: utf8.baseAddress?.assumingMemoryBound(to: UInt8.self), count: utf8.count))
    }

    @inline(__always)
    private mutating func bytes(_ utf8: UnsafeBufferPointer<UInt8>) {
        precondition(utf8.count <= Int(UInt16.max), "string too long for a key or record")
        let at = claim(2 + utf8.count)
        at.storeBytes(of: UInt16(utf8.count).bigEndian, as: UInt16.self)
        if let source = utf8.baseAddress { (at + 2).copyMemory(from: source, byteCount: utf8.count) }
    }

    public mutating func blob(_ value: [UInt8]) {
        u32(UInt32(value.count))
        value.withUnsafeBytes { raw in
            if let source = raw.baseAddress { claim(raw.count).copyMemory(from: source, byteCount: raw.count) }
        }
    }

    public mutating func bool(_ value: Bool) { u8(value ? 1 : 0) }

    /// Bytes as they are, without a length.
    public mutating func raw(_ bytes: UnsafeRawBufferPointer) {
        if let source = bytes.baseAddress { claim(bytes.count).copyMemory(from: source, byteCount: bytes.count) }
    }

    /// A decimal as its scale and 128-bit mantissa (not ordered; for values only).
    @inline(__always)
    public mutating func decimal(_ value: ExactDecimal) {
        let at = claim(17)
        at.storeBytes(of: UInt8(value.scale), as: UInt8.self)
        let bits = UInt128(bitPattern: value.mantissa)
        (at + 1).storeBytes(of: UInt64(truncatingIfNeeded: bits >> 64).bigEndian, as: UInt64.self)
        (at + 9).storeBytes(of: UInt64(truncatingIfNeeded: bits).bigEndian, as: UInt64.self)
    }

    /// An unsigned integer in as few bytes as it needs: seven bits a byte, low bits first,
    /// the high bit set on every byte but the last (LEB128). Not ordered; for values only.
    @inline(__always)
    public mutating func varint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            u8(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        u8(UInt8(value))
    }

    /// A signed integer as a `varint`, zigzagged so that small magnitudes of either sign
    /// are short.
    @inline(__always)
    public mutating func signedVarint(_ value: Int64) {
        varint(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    /// A decimal in as few bytes as it needs: its scale, then its mantissa zigzagged in
    /// seven-bit groups (a price of 123.45 takes four bytes, not `decimal`'s seventeen).
    public mutating func compactDecimal(_ value: ExactDecimal) {
        u8(UInt8(value.scale))
        if let small = Int64(exactly: value.mantissa) {
            signedVarint(small)
            return
        }
        var bits = UInt128(bitPattern: (value.mantissa << 1) ^ (value.mantissa >> 127))
        while bits >= 0x80 {
            u8(UInt8(truncatingIfNeeded: bits) | 0x80)
            bits >>= 7
        }
        u8(UInt8(bits))
    }

    @inline(__always)
    public mutating func day(_ value: CalendarDay) { i64(Int64(value.daysSinceEpoch)) }

    public mutating func optionalDay(_ value: CalendarDay?) {
        bool(value != nil)
        if let value { day(value) }
    }
}

/// Reads what a `ByteWriter` wrote. A short or malformed record is a corrupt store.
public struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    public private(set) var offset = 0

    public init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    public var isAtEnd: Bool { offset >= bytes.count }
    /// How many bytes are left to read.
    public var remaining: Int { bytes.count - offset }

    @inline(__always)
    mutating func take(_ count: Int) throws -> UnsafeRawBufferPointer {
        guard offset + count <= bytes.count else { throw LedgerError.corrupt("record shorter than expected") }
        defer { offset += count }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)])
    }

    @inline(__always)
    public mutating func u8() throws -> UInt8 {
        guard offset < bytes.count else { throw LedgerError.corrupt("record shorter than expected") }
        defer { offset += 1 }
        return bytes[offset]
    }

    /// The next `count` bytes, in place.
    public mutating func bytes(_ count: Int) throws -> UnsafeRawBufferPointer { try take(count) }

    @inline(__always)
    public mutating func u32() throws -> UInt32 {
        let b = try take(4)
        return UInt32(b[0]) << 24 | UInt32(b[1]) << 16 | UInt32(b[2]) << 8 | UInt32(b[3])
    }

    @inline(__always)
    public mutating func u64() throws -> UInt64 {
        let b = try take(8)
        return UInt64(bigEndian: b.loadUnaligned(as: UInt64.self))
    }

    @inline(__always)
    public mutating func i64() throws -> Int64 { Int64(bitPattern: try u64() ^ (1 << 63)) }

    public mutating func string() throws -> String {
        let b = try take(2)
        let count = Int(b[0]) << 8 | Int(b[1])
        return String(decoding: try take(count), as: UTF8.self)
    }

    /// A length-prefixed string's UTF-8 bytes, in place.
    @inline(__always)
    public mutating func stringBytes() throws -> UnsafeRawBufferPointer {
        let b = try take(2)
        return try take(Int(b[0]) << 8 | Int(b[1]))
    }

    public mutating func blob() throws -> [UInt8] {
        let count = Int(try u32())
        return Array(try take(count))
    }

    public mutating func bool() throws -> Bool { try u8() != 0 }

    @inline(__always)
    public mutating func decimal() throws -> ExactDecimal {
        let scale = Int(try u8())
        guard scale <= ExactDecimal.scaleMax else { throw LedgerError.corrupt("decimal scale \(scale)") }
        let high = try u64()
        let low = try u64()
        return ExactDecimal(mantissa: Int128(bitPattern: UInt128(high) << 64 | UInt128(low)), scale: scale)
    }

    /// What `ByteWriter.varint` wrote.
    @inline(__always)
    public mutating func varint() throws -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let byte = try u8()
            guard shift < 64, shift < 63 || byte <= 1 else { throw LedgerError.corrupt("integer longer than 64 bits") }
            value |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return value }
            shift += 7
        }
    }

    /// What `ByteWriter.signedVarint` wrote.
    @inline(__always)
    public mutating func signedVarint() throws -> Int64 {
        let bits = try varint()
        return Int64(bitPattern: bits >> 1) ^ -Int64(bitPattern: bits & 1)
    }

    /// What `ByteWriter.compactDecimal` wrote.
    @inline(__always)
    public mutating func compactDecimal() throws -> ExactDecimal {
        let scale = Int(try u8())
        guard scale <= ExactDecimal.scaleMax else { throw LedgerError.corrupt("decimal scale \(scale)") }
        // Nine bytes hold 63 bits: nearly every amount, read in 64-bit arithmetic.
        var bits: UInt64 = 0
        var shift: UInt64 = 0
        while shift < 63 {
            let byte = try u8()
            bits |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 {
                let mantissa = Int64(bitPattern: bits >> 1) ^ -Int64(bitPattern: bits & 1)
                return ExactDecimal(mantissa: Int128(mantissa), scale: scale)
            }
            shift += 7
        }
        return try compactDecimalWide(scale: scale, low: bits)
    }

    /// The rest of a mantissa longer than nine bytes, whose first 63 bits are `low`.
    @inline(never)
    private mutating func compactDecimalWide(scale: Int, low: UInt64) throws -> ExactDecimal {
        var bits = UInt128(low)
        var shift: UInt128 = 63
        while true {
            let byte = try u8()
            guard shift < 126 || (shift == 126 && byte <= 3) else { throw LedgerError.corrupt("decimal longer than 128 bits") }
            bits |= UInt128(byte & 0x7F) << shift
            if byte < 0x80 { break }
            shift += 7
        }
        let mantissa = Int128(bitPattern: bits >> 1) ^ -Int128(bitPattern: bits & 1)
        return ExactDecimal(mantissa: mantissa, scale: scale)
    }

    @inline(__always)
    public mutating func day() throws -> CalendarDay { CalendarDay(daysSinceEpoch: Int(try i64())) }

    public mutating func optionalDay() throws -> CalendarDay? { try bool() ? try day() : nil }
}

/// Key helpers.
public enum Key {
    /// A key (or value) built field by field.
    public static func of(_ build: (inout ByteWriter) -> Void) -> [UInt8] {
        var writer = ByteWriter(capacity: 48)
        build(&writer)
        return writer.bytes
    }

    public static func offset(_ value: UInt64) -> [UInt8] { of { $0.u64(value) } }
}
