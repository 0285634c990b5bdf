import ExactNumbers

/// Numbers, dates and times as statements write them, parsed from bytes.
public enum StatementNumbers {
    /// A decimal with the given separators; `(12.5)` is negative, as accountants write it.
    public static func decimal(_ bytes: UnsafeRawBufferPointer, decimalSeparator: UInt8 = UInt8(ascii: "."),
                               thousandsSeparator: UInt8? = nil) -> ExactDecimal? {
        var body = bytes
        var negate = false
        if body.count >= 2 && body[0] == UInt8(ascii: "(") && body[body.count - 1] == UInt8(ascii: ")") {
            body = UnsafeRawBufferPointer(rebasing: body[1..<(body.count - 1)])
            negate = true
        }
        let plain = decimalSeparator == UInt8(ascii: ".") && (thousandsSeparator == nil || !body.contains(thousandsSeparator!))
        let value: ExactDecimal?
        if plain {
            value = ExactDecimal.parse(body)
        } else {
            // Rewrite into the form ExactDecimal reads: at most 64 bytes, on the stack.
            guard body.count <= 64 else { return nil }
            value = withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 64) { scratch in
                var n = 0
                for byte in body where byte != thousandsSeparator {
                    scratch[n] = byte == decimalSeparator ? UInt8(ascii: ".") : (byte == UInt8(ascii: ".") ? 0 : byte)
                    n += 1
                }
                return ExactDecimal.parse(UnsafeRawBufferPointer(rebasing: UnsafeMutableRawBufferPointer(scratch)[0..<n]))
            }
        }
        guard let value else { return nil }
        return negate ? -value : value
    }

    public static func decimal(_ text: String) -> ExactDecimal? {
        var text = text
        return text.withUTF8 { decimal(UnsafeRawBufferPointer($0)) }
    }

    /// A calendar day in `format`.
    public static func date(_ bytes: UnsafeRawBufferPointer, format: StatementLayout.DateFormat) -> CalendarDay? {
        func digits(_ at: Int, _ count: Int) -> Int? {
            guard at + count <= bytes.count else { return nil }
            var value = 0
            for i in at..<(at + count) {
                let d = bytes[i] &- UInt8(ascii: "0")
                guard d <= 9 else { return nil }
                value = value * 10 + Int(d)
            }
            return value
        }
        func separator(_ at: Int, _ byte: Character) -> Bool { at < bytes.count && bytes[at] == byte.asciiValue! }
        let ymd: (Int?, Int?, Int?)
        switch format {
        case .iso:
            guard bytes.count == 10, separator(4, "-"), separator(7, "-") else { return nil }
            ymd = (digits(0, 4), digits(5, 2), digits(8, 2))
        case .compact:
            guard bytes.count == 8 else { return nil }
            ymd = (digits(0, 4), digits(4, 2), digits(6, 2))
        case .dayMonthYearDots, .dayMonthYearSlashes:
            let mark: Character = format == .dayMonthYearDots ? "." : "/"
            guard bytes.count == 10, separator(2, mark), separator(5, mark) else { return nil }
            ymd = (digits(6, 4), digits(3, 2), digits(0, 2))
        case .monthDayYearSlashes:
            guard bytes.count == 10, separator(2, "/"), separator(5, "/") else { return nil }
            ymd = (digits(6, 4), digits(0, 2), digits(3, 2))
        }
        guard let year = ymd.0, let month = ymd.1, let day = ymd.2 else { return nil }
        return CalendarDay(year: year, month: month, day: day)
    }

    static let nanosecondsPerDay: Int64 = 86_400_000_000_000

    /// A UTC time, nanoseconds since the epoch: a date in `dateFormat` (or ISO) followed by
    /// `T` or a space and HH:MM[:SS[.fraction]] with an optional `Z`, or FIX's
    /// YYYYMMDD-HH:MM:SS[.fraction]. A date alone means the end of that day.
    public static func time(_ bytes: UnsafeRawBufferPointer, dateFormat: StatementLayout.DateFormat = .iso) -> Int64? {
        var split = bytes.count
        for (i, byte) in bytes.enumerated() where byte == UInt8(ascii: "T") || byte == 32 || (byte == UInt8(ascii: "-") && i == 8) {
            split = i
            break
        }
        let datePart = UnsafeRawBufferPointer(rebasing: bytes[0..<split])
        let day = date(datePart, format: dateFormat)
            ?? date(datePart, format: .iso) ?? (split == 8 ? date(datePart, format: .compact) : nil)
        guard let day else { return nil }
        let midnight = Int64(day.daysSinceEpoch) * nanosecondsPerDay
        if split == bytes.count { return midnight + nanosecondsPerDay - 1 }
        var clock = UnsafeRawBufferPointer(rebasing: bytes[(split + 1)...])
        if clock.last == UInt8(ascii: "Z") { clock = UnsafeRawBufferPointer(rebasing: clock[0..<(clock.count - 1)]) }
        func two(_ at: Int) -> Int64? {
            guard at + 2 <= clock.count else { return nil }
            let a = clock[at] &- 48, b = clock[at + 1] &- 48
            guard a <= 9, b <= 9 else { return nil }
            return Int64(a) * 10 + Int64(b)
        }
        guard clock.count >= 5, clock[2] == UInt8(ascii: ":"), let hour = two(0), let minute = two(3), hour < 24, minute < 60 else { return nil }
        var second: Int64 = 0
        var nanos: Int64 = 0
        if clock.count > 5 {
            guard clock[5] == UInt8(ascii: ":"), let s = two(6), s < 61 else { return nil }
            second = s
            if clock.count > 8 {
                guard clock[8] == UInt8(ascii: "."), clock.count > 9, clock.count <= 18 else { return nil }
                var scale: Int64 = 100_000_000
                for i in 9..<clock.count {
                    let d = clock[i] &- 48
                    guard d <= 9 else { return nil }
                    nanos += Int64(d) * scale
                    scale /= 10
                }
            }
        }
        return midnight + ((hour * 60 + minute) * 60 + second) * 1_000_000_000 + nanos
    }

    public static func time(_ text: String) -> Int64? {
        var text = text
        return text.withUTF8 { time(UnsafeRawBufferPointer($0)) }
    }
}
