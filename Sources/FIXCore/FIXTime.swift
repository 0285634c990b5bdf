import ExactNumbers

/// A calendar date (UTCDateOnly, LocalMktDate): `YYYYMMDD`.
public struct FIXDate: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let year: Int
    public let month: Int
    public let day: Int

    /// A valid date, or nil (February 30th is not one).
    public init?(year: Int, month: Int, day: Int) {
        guard year >= 0 && year <= 9999, month >= 1 && month <= 12,
              day >= 1 && day <= FIXDate.daysIn(month: month, year: year) else { return nil }
        self.year = year
        self.month = month
        self.day = day
    }

    public static func daysIn(month: Int, year: Int) -> Int { CalendarDay.daysIn(month: month, year: year) }

    /// Days since 1970-01-01 (negative before), in the proleptic Gregorian calendar.
    public var daysSinceEpoch: Int { CalendarDay.daysFromCivil(year: year, month: month, day: day) }

    /// The date `days` after 1970-01-01.
    public init(daysSinceEpoch days: Int) {
        (year, month, day) = CalendarDay.civilFromDays(days)
    }

    /// The same day as a `CalendarDay`, for arithmetic on business days.
    public var calendarDay: CalendarDay { CalendarDay(daysSinceEpoch: daysSinceEpoch) }

    /// Monday = 1 … Sunday = 7 (ISO 8601).
    public var isoWeekday: Int {
        let d = daysSinceEpoch
        // 1970-01-01 was a Thursday (4).
        return ((d % 7 + 7) % 7 + 3) % 7 + 1
    }

    public static func < (a: FIXDate, b: FIXDate) -> Bool {
        (a.year, a.month, a.day) < (b.year, b.month, b.day)
    }

    public var description: String {
        FIXDigits.pad(year, 4) + FIXDigits.pad(month, 2) + FIXDigits.pad(day, 2)
    }

    /// Whether `bytes` are a valid `YYYYMMDD` day, without building one.
    @inlinable
    public static func isValid(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count == 8 else { return false }
        return validYear(bytes) != nil
    }

    /// The year of the `YYYYMMDD` date in the first eight bytes, or nil if they are not a
    /// valid date. One eight-byte load: the digits are checked and combined in parallel.
    @inlinable
    static func validYear(_ bytes: UnsafeRawBufferPointer) -> Int? {
        guard bytes.count >= 8, let base = bytes.baseAddress else { return nil }
        let word = UInt64(littleEndian: base.loadUnaligned(as: UInt64.self))
        // A byte is a digit if neither adding 0x46 nor subtracting 0x30 reaches its top
        // bit; the lowest non-digit byte is always caught, as nothing carries into it.
        if (word | (word &+ 0x4646_4646_4646_4646) | (word &- 0x3030_3030_3030_3030)) & 0x8080_8080_8080_8080 != 0 {
            return nil
        }
        let digits = word &- 0x3030_3030_3030_3030
        // Pairs of digits (the first is the more significant) into 16-bit lanes: YY YY MM DD.
        let pairs = (digits & 0x00FF_00FF_00FF_00FF) &* 10 &+ ((digits &>> 8) & 0x00FF_00FF_00FF_00FF)
        let year = Int(truncatingIfNeeded: pairs & 0xFFFF) &* 100 &+ Int(truncatingIfNeeded: (pairs &>> 16) & 0xFFFF)
        let month = Int(truncatingIfNeeded: (pairs &>> 32) & 0xFFFF)
        let day = Int(truncatingIfNeeded: pairs &>> 48)
        guard month >= 1 && month <= 12 && day >= 1 && day <= daysIn(month: month, year: year) else { return nil }
        return year
    }

    @inlinable
    public static func parse(_ bytes: UnsafeRawBufferPointer) -> FIXDate? {
        guard bytes.count == 8,
              let y = FIXDigits.number(bytes, 0, 4), let m = FIXDigits.number(bytes, 4, 2),
              let d = FIXDigits.number(bytes, 6, 2) else { return nil }
        return FIXDate(year: y, month: m, day: d)
    }
}

/// A point in time in UTC with the precision it was written with (UTCTimestamp).
public struct FIXTimestamp: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Nanoseconds since 1970-01-01T00:00:00Z (covers the years 1678 to 2261).
    public let nanosecondsSinceEpoch: Int64
    /// Fraction digits when written: 0, 3, 6 or 9.
    public let fractionDigits: Int

    public init(nanosecondsSinceEpoch: Int64, fractionDigits: Int = 3) {
        precondition([0, 3, 6, 9].contains(fractionDigits), "fractionDigits must be 0, 3, 6 or 9")
        self.nanosecondsSinceEpoch = nanosecondsSinceEpoch
        self.fractionDigits = fractionDigits
    }

    /// A valid timestamp from its parts, or nil. A leap second (60) is accepted as FIX allows.
    public init?(date: FIXDate, hour: Int, minute: Int, second: Int, nanosecond: Int = 0, fractionDigits: Int = 3) {
        guard hour >= 0 && hour < 24, minute >= 0 && minute < 60, second >= 0 && second <= 60,
              nanosecond >= 0 && nanosecond < 1_000_000_000, [0, 3, 6, 9].contains(fractionDigits),
              FIXTimestamp.years.contains(date.year) else { return nil }
        let seconds = Int64(date.daysSinceEpoch) * 86_400 + Int64(hour * 3600 + minute * 60 + second)
        let (ns, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        guard !overflow else { return nil }
        self.nanosecondsSinceEpoch = ns + Int64(nanosecond)
        self.fractionDigits = fractionDigits
    }

    public var date: FIXDate {
        FIXDate(daysSinceEpoch: Int(nanosecondsSinceEpoch.floorDivided(by: 86_400_000_000_000)))
    }

    /// Nanoseconds since midnight UTC of `date`.
    public var nanosecondOfDay: Int64 {
        nanosecondsSinceEpoch - nanosecondsSinceEpoch.floorDivided(by: 86_400_000_000_000) * 86_400_000_000_000
    }

    public static func < (a: FIXTimestamp, b: FIXTimestamp) -> Bool {
        a.nanosecondsSinceEpoch < b.nanosecondsSinceEpoch
    }

    /// Equal instants are equal whatever their written precision.
    public static func == (a: FIXTimestamp, b: FIXTimestamp) -> Bool {
        a.nanosecondsSinceEpoch == b.nanosecondsSinceEpoch
    }

    public func hash(into hasher: inout Hasher) { hasher.combine(nanosecondsSinceEpoch) }

    /// `YYYYMMDD-HH:MM:SS[.fraction]`, as FIX writes it.
    public var description: String {
        var buffer = [UInt8](repeating: 0, count: 30)
        let n = buffer.withUnsafeMutableBytes { FIXTimestamp.write(self, into: $0.baseAddress!) }
        return String(decoding: buffer[0..<n], as: UTF8.self)
    }

    /// Writes the FIX form at `out` (at most 27 bytes) and returns its length.
    @inlinable
    public static func write(_ value: FIXTimestamp, into out: UnsafeMutableRawPointer) -> Int {
        let days = value.nanosecondsSinceEpoch.floorDivided(by: 86_400_000_000_000)
        let ofDay = value.nanosecondsSinceEpoch - days * 86_400_000_000_000
        let date = FIXDate(daysSinceEpoch: Int(days))
        var secondOfDay = Int(ofDay / 1_000_000_000)
        let nanos = Int(ofDay % 1_000_000_000)
        FIXDigits.write(date.year, 4, out)
        FIXDigits.write(date.month, 2, out + 4)
        FIXDigits.write(date.day, 2, out + 6)
        out.storeBytes(of: UInt8(ascii: "-"), toByteOffset: 8, as: UInt8.self)
        let hour = secondOfDay / 3600
        secondOfDay -= hour * 3600
        FIXDigits.write(hour, 2, out + 9)
        out.storeBytes(of: UInt8(ascii: ":"), toByteOffset: 11, as: UInt8.self)
        FIXDigits.write(secondOfDay / 60, 2, out + 12)
        out.storeBytes(of: UInt8(ascii: ":"), toByteOffset: 14, as: UInt8.self)
        FIXDigits.write(secondOfDay % 60, 2, out + 15)
        return 17 + FIXDigits.writeFraction(nanos, value.fractionDigits, out + 17)
    }

    /// The years a timestamp can hold: whole years within nanoseconds since 1970 in 64 bits.
    public static let years = 1678...2261

    /// Whether `bytes` are a valid UTCTimestamp, checked without working out the instant
    /// (a validator's question, asked for every timestamp of every message).
    @inlinable
    public static func isValid(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let n = bytes.count
        guard n == 17 || n == 21 || n == 24 || n == 27 || n == 30,
              let year = FIXDate.validYear(bytes), years.contains(year),
              bytes[8] == UInt8(ascii: "-"), bytes[11] == UInt8(ascii: ":"), bytes[14] == UInt8(ascii: ":") else { return false }
        let h0 = bytes[9] &- 48, h1 = bytes[10] &- 48, m0 = bytes[12] &- 48, m1 = bytes[13] &- 48
        let s0 = bytes[15] &- 48, s1 = bytes[16] &- 48
        guard h0 <= 2, h1 <= 9, h0 * 10 + h1 < 24, m0 <= 5, m1 <= 9, s0 <= 6, s1 <= 9, s0 * 10 + s1 <= 60 else { return false }
        if n == 17 { return true }
        guard bytes[17] == UInt8(ascii: ".") else { return false }
        var i = 18
        while i < n {
            if bytes[i] &- 48 > 9 { return false }
            i += 1
        }
        return true
    }

    @inlinable
    public static func parse(_ bytes: UnsafeRawBufferPointer) -> FIXTimestamp? {
        guard bytes.count >= 17, bytes[8] == UInt8(ascii: "-"), bytes[11] == UInt8(ascii: ":"),
              bytes[14] == UInt8(ascii: ":"),
              let date = FIXDate.parse(UnsafeRawBufferPointer(rebasing: bytes[0..<8])),
              let h = FIXDigits.number(bytes, 9, 2), let m = FIXDigits.number(bytes, 12, 2),
              let s = FIXDigits.number(bytes, 15, 2),
              let (nanos, digits) = FIXDigits.fraction(bytes, from: 17) else { return nil }
        return FIXTimestamp(date: date, hour: h, minute: m, second: s, nanosecond: nanos, fractionDigits: digits)
    }
}

/// A time of day in UTC (UTCTimeOnly): `HH:MM:SS[.fraction]`.
public struct FIXTimeOnly: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let nanosecondOfDay: Int64
    public let fractionDigits: Int

    public init?(hour: Int, minute: Int, second: Int, nanosecond: Int = 0, fractionDigits: Int = 0) {
        guard hour >= 0 && hour < 24, minute >= 0 && minute < 60, second >= 0 && second <= 60,
              nanosecond >= 0 && nanosecond < 1_000_000_000, [0, 3, 6, 9].contains(fractionDigits) else { return nil }
        nanosecondOfDay = Int64(hour * 3600 + minute * 60 + second) * 1_000_000_000 + Int64(nanosecond)
        self.fractionDigits = fractionDigits
    }

    public var hour: Int { Int(nanosecondOfDay / 3_600_000_000_000) }
    public var minute: Int { Int(nanosecondOfDay / 60_000_000_000 % 60) }
    public var second: Int { Int(nanosecondOfDay / 1_000_000_000 % 60) + (nanosecondOfDay >= 86_400_000_000_000 ? 60 : 0) }

    public static func < (a: FIXTimeOnly, b: FIXTimeOnly) -> Bool { a.nanosecondOfDay < b.nanosecondOfDay }
    public static func == (a: FIXTimeOnly, b: FIXTimeOnly) -> Bool { a.nanosecondOfDay == b.nanosecondOfDay }
    public func hash(into hasher: inout Hasher) { hasher.combine(nanosecondOfDay) }

    public var description: String {
        let seconds = Int(nanosecondOfDay / 1_000_000_000)
        var text = FIXDigits.pad(seconds / 3600, 2) + ":" + FIXDigits.pad(seconds / 60 % 60, 2) + ":" + FIXDigits.pad(seconds % 60, 2)
        if fractionDigits > 0 {
            let nanos = Int(nanosecondOfDay % 1_000_000_000)
            var divisor = 1
            for _ in 0..<(9 - fractionDigits) { divisor *= 10 }
            text += "." + FIXDigits.pad(nanos / divisor, fractionDigits)
        }
        return text
    }

    @inlinable
    public static func parse(_ bytes: UnsafeRawBufferPointer) -> FIXTimeOnly? {
        guard bytes.count >= 8, bytes[2] == UInt8(ascii: ":"), bytes[5] == UInt8(ascii: ":"),
              let h = FIXDigits.number(bytes, 0, 2), let m = FIXDigits.number(bytes, 3, 2),
              let s = FIXDigits.number(bytes, 6, 2),
              let (nanos, digits) = FIXDigits.fraction(bytes, from: 8) else { return nil }
        return FIXTimeOnly(hour: h, minute: m, second: s, nanosecond: nanos, fractionDigits: digits)
    }
}

/// MonthYear: `YYYYMM`, `YYYYMMDD` (a day) or `YYYYMMwN` (a week, 1–5).
public struct FIXMonthYear: Hashable, Sendable, CustomStringConvertible {
    public let year: Int
    public let month: Int
    /// The day of the month, when given.
    public let day: Int?
    /// The week of the month (1–5), when given.
    public let week: Int?

    public init?(year: Int, month: Int, day: Int? = nil, week: Int? = nil) {
        guard year >= 0 && year <= 9999, month >= 1 && month <= 12, day == nil || week == nil else { return nil }
        if let day, day < 1 || day > FIXDate.daysIn(month: month, year: year) { return nil }
        if let week, week < 1 || week > 5 { return nil }
        self.year = year
        self.month = month
        self.day = day
        self.week = week
    }

    public var description: String {
        var text = FIXDigits.pad(year, 4) + FIXDigits.pad(month, 2)
        if let day { text += FIXDigits.pad(day, 2) }
        if let week { text += "w" + String(week) }
        return text
    }

    @inlinable
    public static func parse(_ bytes: UnsafeRawBufferPointer) -> FIXMonthYear? {
        guard bytes.count == 6 || bytes.count == 8,
              let y = FIXDigits.number(bytes, 0, 4), let m = FIXDigits.number(bytes, 4, 2) else { return nil }
        if bytes.count == 6 { return FIXMonthYear(year: y, month: m) }
        if bytes[6] == UInt8(ascii: "w") {
            guard let w = FIXDigits.number(bytes, 7, 1) else { return nil }
            return FIXMonthYear(year: y, month: m, week: w)
        }
        guard let d = FIXDigits.number(bytes, 6, 2) else { return nil }
        return FIXMonthYear(year: y, month: m, day: d)
    }
}

/// Fixed-width digit reading and writing for the time formats.
public enum FIXDigits {
    /// The number written by `width` digits at `offset`, or nil if any is not a digit.
    @inlinable
    public static func number(_ bytes: UnsafeRawBufferPointer, _ offset: Int, _ width: Int) -> Int? {
        guard offset + width <= bytes.count else { return nil }
        var value = 0
        for i in offset..<(offset + width) {
            let d = bytes[i] &- UInt8(ascii: "0")
            guard d <= 9 else { return nil }
            value = value * 10 + Int(d)
        }
        return value
    }

    /// A fraction of a second from `.` at `from` to the end: (nanoseconds, digits written as 0/3/6/9).
    /// Nothing at `from` is a whole second. Twelve digits (picoseconds) are truncated to nanoseconds.
    @inlinable
    public static func fraction(_ bytes: UnsafeRawBufferPointer, from: Int) -> (Int, Int)? {
        if bytes.count == from { return (0, 0) }
        let digits = bytes.count - from - 1
        guard bytes[from] == UInt8(ascii: "."), digits == 3 || digits == 6 || digits == 9 || digits == 12 else { return nil }
        var nanos = 0
        for i in 0..<digits {
            let d = bytes[from + 1 + i] &- UInt8(ascii: "0")
            guard d <= 9 else { return nil }
            if i < 9 { nanos = nanos * 10 + Int(d) }
        }
        for _ in min(digits, 9)..<9 { nanos *= 10 }
        return (nanos, min(digits, 9))
    }

    /// Writes `value` (not negative) as exactly `width` digits, zero-padded.
    @inlinable
    public static func write(_ value: Int, _ width: Int, _ out: UnsafeMutableRawPointer) {
        writeUInt(UInt(value), width, out)
    }

    /// Writes `.` and the first `digits` digits of `nanos` (none if `digits` is 0); returns bytes written.
    @inlinable
    public static func writeFraction(_ nanos: Int, _ digits: Int, _ out: UnsafeMutableRawPointer) -> Int {
        guard digits > 0 else { return 0 }
        out.storeBytes(of: UInt8(ascii: "."), as: UInt8.self)
        // Constant divisors for the usual precisions become multiplications.
        let value: Int
        switch digits {
        case 3: value = nanos / 1_000_000
        case 6: value = nanos / 1_000
        case 9: value = nanos
        default:
            var scaled = nanos
            for _ in 0..<(9 - digits) { scaled /= 10 }
            value = scaled
        }
        write(value, digits, out + 1)
        return digits + 1
    }

    static func pad(_ value: Int, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }
}

extension Int64 {
    @inlinable
    func floorDivided(by divisor: Int64) -> Int64 {
        let (q, r) = quotientAndRemainder(dividingBy: divisor)
        return r < 0 ? q - 1 : q
    }
}
