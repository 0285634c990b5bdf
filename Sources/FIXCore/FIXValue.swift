import ExactNumbers

/// A field's value: the bytes between `=` and the delimiter, decoded on demand.
public struct FIXValue {
    /// The raw value bytes, valid as long as the message they belong to.
    public let bytes: UnsafeRawBufferPointer

    @inlinable
    public init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    @inlinable public var count: Int { bytes.count }
    @inlinable public var isEmpty: Bool { bytes.isEmpty }

    /// The value as a FIX `int` (also SeqNum, Length, NumInGroup, TagNum): optional `-`, digits.
    @inlinable
    public func int() throws(FIXValueError) -> Int {
        let n = bytes.count
        guard n > 0 else { throw .notAnInteger }
        var i = 0
        var negative = false
        if bytes[0] == UInt8(ascii: "-") {
            negative = true
            i = 1
            guard n > 1 else { throw .notAnInteger }
        }
        var value = 0
        while i < n {
            let d = bytes[i] &- UInt8(ascii: "0")
            guard d <= 9 else { throw .notAnInteger }
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int(d))
            if o1 || o2 { throw .integerOverflow }
            value = a
            i += 1
        }
        return negative ? -value : value
    }

    /// The value as an exact decimal (`float`, `Qty`, `Price`, `Amt`, `PriceOffset`, `Percentage`).
    @inlinable
    public func decimal() throws(FIXValueError) -> ExactDecimal {
        guard let value = ExactDecimal.parse(bytes) else { throw .notADecimal }
        return value
    }

    /// The value as a single ASCII character (`char`), as its byte.
    @inlinable
    public func char() throws(FIXValueError) -> UInt8 {
        guard bytes.count == 1 else { throw .notAChar }
        return bytes[0]
    }

    /// The value as a FIX `Boolean`: `Y` or `N`.
    @inlinable
    public func bool() throws(FIXValueError) -> Bool {
        guard bytes.count == 1 else { throw .notABoolean }
        switch bytes[0] {
        case UInt8(ascii: "Y"): return true
        case UInt8(ascii: "N"): return false
        default: throw .notABoolean
        }
    }

    /// The value as a `String` (this allocates: ask only when you need one).
    public var string: String { String(decoding: bytes, as: UTF8.self) }

    /// True if the value is exactly `text`, compared without allocating.
    @inlinable
    public func equals(_ text: StaticString) -> Bool {
        guard text.utf8CodeUnitCount == bytes.count else { return false }
        return text.withUTF8Buffer { expected in
            var i = 0
            while i < expected.count {
                if expected[i] != bytes[i] { return false }
                i += 1
            }
            return true
        }
    }

    /// True if the value is exactly these bytes.
    @inlinable
    public func equals(_ other: UnsafeRawBufferPointer) -> Bool {
        guard other.count == bytes.count else { return false }
        var i = 0
        while i < other.count {
            if other[i] != bytes[i] { return false }
            i += 1
        }
        return true
    }

    /// The value as `UTCTimestamp`: `YYYYMMDD-HH:MM:SS` with optional `.sss`, `.ssssss`, `.sssssssss`.
    @inlinable
    public func timestamp() throws(FIXValueError) -> FIXTimestamp {
        guard let value = FIXTimestamp.parse(bytes) else { throw .notATimestamp }
        return value
    }

    /// The value as `UTCDateOnly` or `LocalMktDate`: `YYYYMMDD`.
    @inlinable
    public func date() throws(FIXValueError) -> FIXDate {
        guard let value = FIXDate.parse(bytes) else { throw .notADate }
        return value
    }

    /// The value as `MonthYear`: `YYYYMM`, `YYYYMMDD` or `YYYYMMwN`.
    @inlinable
    public func monthYear() throws(FIXValueError) -> FIXMonthYear {
        guard let value = FIXMonthYear.parse(bytes) else { throw .notAMonthYear }
        return value
    }

    /// The value as `UTCTimeOnly`: `HH:MM:SS` with optional fraction.
    @inlinable
    public func timeOnly() throws(FIXValueError) -> FIXTimeOnly {
        guard let value = FIXTimeOnly.parse(bytes) else { throw .notATime }
        return value
    }

    /// The value for display: printable ASCII as is, other bytes as `\xNN`.
    public var printable: String {
        var text = ""
        text.reserveCapacity(bytes.count)
        for b in bytes {
            if b >= 0x20 && b < 0x7F {
                text.unicodeScalars.append(Unicode.Scalar(b))
            } else {
                let hex = String(b, radix: 16, uppercase: true)
                text += b < 16 ? "\\x0" + hex : "\\x" + hex
            }
        }
        return text
    }
}
