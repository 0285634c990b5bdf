/// A result of `ExactDecimal` arithmetic that does not fit 128 bits (at its scale).
public struct ExactDecimalOverflow: Error, Sendable, Equatable, CustomStringConvertible {
    /// The operation, with its operands.
    public let operation: String
    public init(_ operation: String) { self.operation = operation }
    public var description: String { "\(operation) does not fit an exact decimal" }
}

/// An exact decimal number: `mantissa × 10^-scale`.
///
/// Prices, quantities and money in Counterfoil are always `ExactDecimal`, never
/// `Double`: `0.1 + 0.2` is exactly `0.3`, and a position is the exact sum of
/// its fills. The mantissa is 128 bits wide so that quantity × price with
/// eighteen decimals cannot overflow for any real trade.
///
/// Equality and hashing are by value (`1.50 == 1.5`); the scale is kept so a
/// value read from the wire is written back with the digits it came with.
public struct ExactDecimal: Sendable {
    /// The digits of the number, including its sign.
    public let mantissa: Int128
    /// How many of the mantissa's digits stand after the decimal point.
    public let scale: Int

    /// The largest scale any value or result carries; results with more
    /// decimals are rounded half-even to this many.
    public static let scaleMax = 18
    /// The most digits accepted before the decimal point when parsing.
    public static let integerDigitsMax = 20

    public static let zero = ExactDecimal(mantissa: 0, scale: 0)
    public static let one = ExactDecimal(mantissa: 1, scale: 0)

    @inlinable
    public init(mantissa: Int128, scale: Int) {
        precondition(scale >= 0 && scale <= ExactDecimal.scaleMax, "ExactDecimal scale \(scale) out of range")
        self.mantissa = mantissa
        self.scale = scale
    }

    @inlinable
    public init(_ value: Int) {
        self.init(mantissa: Int128(value), scale: 0)
    }

    public var isZero: Bool { mantissa == 0 }
    public var isNegative: Bool { mantissa < 0 }
    public var signum: Int { mantissa == 0 ? 0 : (mantissa < 0 ? -1 : 1) }
    public var magnitude: ExactDecimal { ExactDecimal(mantissa: mantissa < 0 ? -mantissa : mantissa, scale: scale) }

    /// The same value with trailing fractional zeros removed (`1.500` → `1.5`).
    public var normalized: ExactDecimal {
        guard scale > 0, mantissa != 0 else { return ExactDecimal(mantissa: mantissa, scale: mantissa == 0 ? 0 : scale) }
        if var m = Int64(exactly: mantissa) {
            // Most values fit 64 bits, whose division is a machine instruction.
            var s = scale
            while s > 0 && m % 10 == 0 {
                m /= 10
                s -= 1
            }
            return ExactDecimal(mantissa: Int128(m), scale: s)
        }
        var m = mantissa
        var s = scale
        while s > 0 && m % 10 == 0 {
            m /= 10
            s -= 1
        }
        return ExactDecimal(mantissa: m, scale: s)
    }

    /// The same value with exactly `newScale` decimals, if that is exact and fits.
    public func rescaled(to newScale: Int) -> ExactDecimal? {
        guard newScale >= 0 && newScale <= ExactDecimal.scaleMax else { return nil }
        if newScale == scale { return self }
        if newScale > scale {
            let (m, overflow) = mantissa.multipliedReportingOverflow(by: ExactDecimal.powerOfTen(newScale - scale))
            return overflow ? nil : ExactDecimal(mantissa: m, scale: newScale)
        }
        let divisor = ExactDecimal.powerOfTen(scale - newScale)
        let (q, r) = mantissa.quotientAndRemainder(dividingBy: divisor)
        return r == 0 ? ExactDecimal(mantissa: q, scale: newScale) : nil
    }

    /// `10^0` to `10^19`.
    @usableFromInline static let smallPowersOfTen: [UInt64] = (0...19).map { exponent in (0..<exponent).reduce(1) { power, _ in power * 10 } }

    /// `10^exponent` for `0 ≤ exponent ≤ 38`.
    @inlinable
    public static func powerOfTen(_ exponent: Int) -> Int128 {
        precondition(exponent >= 0 && exponent <= 38, "power of ten \(exponent) out of range")
        if exponent <= 19 { return Int128(smallPowersOfTen[exponent]) }
        var result: Int128 = 10_000_000_000_000_000_000
        for _ in 19..<exponent { result &*= 10 }
        return result
    }
}

// MARK: - Rounding

extension ExactDecimal {
    /// How to round when a result has more decimals than wanted.
    public enum RoundingRule: Sendable, Hashable {
        /// To the nearest; ties to the even neighbour (banker's rounding).
        case halfEven
        /// To the nearest; ties away from zero (the usual commercial rule).
        case halfUp
        /// Toward zero.
        case down
        /// Toward negative infinity.
        case floor
        /// Toward positive infinity.
        case ceiling
    }

    /// The value rounded to at most `newScale` decimals.
    public func rounded(scale newScale: Int, _ rule: RoundingRule = .halfEven) -> ExactDecimal {
        precondition(newScale >= 0 && newScale <= ExactDecimal.scaleMax, "rounding scale \(newScale) out of range")
        if newScale >= scale { return self }
        let divisor = ExactDecimal.powerOfTen(scale - newScale)
        let q = ExactDecimal.divide(mantissa, by: divisor, rule)
        return ExactDecimal(mantissa: q, scale: newScale)
    }

    /// Integer division of `numerator` by a non-zero `denominator` under `rule`.
    static func divide(_ numerator: Int128, by denominator: Int128, _ rule: RoundingRule) -> Int128 {
        precondition(denominator != 0, "division by zero")
        let q: Int128, r: Int128
        if let n = Int64(exactly: numerator), let d = Int64(exactly: denominator), n != .min {
            // Both fit 64 bits (and the quotient cannot overflow): a machine division, not
            // the 128-bit routine.
            let (q64, r64) = n.quotientAndRemainder(dividingBy: d)
            (q, r) = (Int128(q64), Int128(r64))
        } else {
            (q, r) = numerator.quotientAndRemainder(dividingBy: denominator)
        }
        if r == 0 { return q }
        let negative = (numerator < 0) != (denominator < 0)
        let awayFromZero: Int128 = negative ? -1 : 1
        switch rule {
        case .down:
            return q
        case .floor:
            return negative ? q - 1 : q
        case .ceiling:
            return negative ? q : q + 1
        case .halfUp, .halfEven:
            let twiceRemainder = (r < 0 ? -r : r) * 2
            let absDenominator = denominator < 0 ? -denominator : denominator
            if twiceRemainder > absDenominator { return q + awayFromZero }
            if twiceRemainder < absDenominator { return q }
            if rule == .halfUp { return q + awayFromZero }
            return q % 2 == 0 ? q : q + awayFromZero
        }
    }
}

// MARK: - Arithmetic

extension ExactDecimal {
    /// Both mantissas at the larger of the two scales.
    @usableFromInline
    static func aligned(_ a: ExactDecimal, _ b: ExactDecimal) -> (Int128, Int128, Int) {
        if a.scale == b.scale { return (a.mantissa, b.mantissa, a.scale) }
        if a.scale > b.scale {
            return (a.mantissa, scaleUp(b.mantissa, by: a.scale - b.scale), a.scale)
        }
        return (scaleUp(a.mantissa, by: b.scale - a.scale), b.mantissa, b.scale)
    }

    @usableFromInline
    static func scaleUp(_ m: Int128, by digits: Int) -> Int128 {
        // Below 2^63 times at most 10^19 (< 2^64): the product fits 127 bits.
        if let small = Int64(exactly: m), digits <= 19 { return Int128(small) &* powerOfTen(digits) }
        let (r, overflow) = m.multipliedReportingOverflow(by: powerOfTen(digits))
        precondition(!overflow, "ExactDecimal overflow")
        return r
    }

    public static func + (a: ExactDecimal, b: ExactDecimal) -> ExactDecimal {
        let (x, y, s) = aligned(a, b)
        let (r, overflow) = x.addingReportingOverflow(y)
        precondition(!overflow, "ExactDecimal overflow")
        return ExactDecimal(mantissa: r, scale: s)
    }

    public static func - (a: ExactDecimal, b: ExactDecimal) -> ExactDecimal {
        let (x, y, s) = aligned(a, b)
        let (r, overflow) = x.subtractingReportingOverflow(y)
        precondition(!overflow, "ExactDecimal overflow")
        return ExactDecimal(mantissa: r, scale: s)
    }

    /// The exact product, rounded half-even only if it needs more than `scaleMax` decimals.
    public static func * (a: ExactDecimal, b: ExactDecimal) -> ExactDecimal {
        let m: Int128
        if let x = Int64(exactly: a.mantissa), let y = Int64(exactly: b.mantissa) {
            // Two 64-bit factors: the product fits 127 bits, no overflow check needed.
            m = Int128(x) &* Int128(y)
        } else {
            let (product, overflow) = a.mantissa.multipliedReportingOverflow(by: b.mantissa)
            precondition(!overflow, "ExactDecimal overflow")
            m = product
        }
        let s = a.scale + b.scale
        if s <= scaleMax { return ExactDecimal(mantissa: m, scale: s) }
        return ExactDecimal(mantissa: divide(m, by: powerOfTen(s - scaleMax), .halfEven), scale: scaleMax)
    }

    /// Both mantissas at the larger of the two scales, or nil if that does not fit.
    @usableFromInline
    static func checkedAligned(_ a: ExactDecimal, _ b: ExactDecimal) -> (Int128, Int128, Int)? {
        if a.scale == b.scale { return (a.mantissa, b.mantissa, a.scale) }
        if a.scale > b.scale {
            guard let y = checkedScaleUp(b.mantissa, by: a.scale - b.scale) else { return nil }
            return (a.mantissa, y, a.scale)
        }
        guard let x = checkedScaleUp(a.mantissa, by: b.scale - a.scale) else { return nil }
        return (x, b.mantissa, b.scale)
    }

    @usableFromInline
    static func checkedScaleUp(_ m: Int128, by digits: Int) -> Int128? {
        if let small = Int64(exactly: m), digits <= 19 { return Int128(small) &* powerOfTen(digits) }
        let (r, overflow) = m.multipliedReportingOverflow(by: powerOfTen(digits))
        return overflow ? nil : r
    }

    /// `self + other`, or `ExactDecimalOverflow` where `+` would stop the process. For sums
    /// of values from outside (a journal written by an older version, a statement, a feed).
    public func adding(_ other: ExactDecimal) throws(ExactDecimalOverflow) -> ExactDecimal {
        guard case let (x, y, s)? = ExactDecimal.checkedAligned(self, other) else { throw ExactDecimalOverflow("\(self) + \(other)") }
        let (r, overflow) = x.addingReportingOverflow(y)
        if overflow { throw ExactDecimalOverflow("\(self) + \(other)") }
        return ExactDecimal(mantissa: r, scale: s)
    }

    public func subtracting(_ other: ExactDecimal) throws(ExactDecimalOverflow) -> ExactDecimal {
        guard case let (x, y, s)? = ExactDecimal.checkedAligned(self, other) else { throw ExactDecimalOverflow("\(self) - \(other)") }
        let (r, overflow) = x.subtractingReportingOverflow(y)
        if overflow { throw ExactDecimalOverflow("\(self) - \(other)") }
        return ExactDecimal(mantissa: r, scale: s)
    }

    /// `self × other` as `*` computes it, or `ExactDecimalOverflow`.
    public func multiplied(by other: ExactDecimal) throws(ExactDecimalOverflow) -> ExactDecimal {
        let m: Int128
        if let x = Int64(exactly: mantissa), let y = Int64(exactly: other.mantissa) {
            m = Int128(x) &* Int128(y)
        } else {
            let (product, overflow) = mantissa.multipliedReportingOverflow(by: other.mantissa)
            if overflow { throw ExactDecimalOverflow("\(self) × \(other)") }
            m = product
        }
        let s = scale + other.scale
        if s <= ExactDecimal.scaleMax { return ExactDecimal(mantissa: m, scale: s) }
        return ExactDecimal(mantissa: ExactDecimal.divide(m, by: ExactDecimal.powerOfTen(s - ExactDecimal.scaleMax), .halfEven),
                            scale: ExactDecimal.scaleMax)
    }

    /// `divided(by:scale:_:)`, or `ExactDecimalOverflow` where the shift to `scale` does not fit.
    public func dividing(by divisor: ExactDecimal, scale resultScale: Int, _ rule: RoundingRule = .halfEven) throws(ExactDecimalOverflow) -> ExactDecimal {
        let shift = resultScale + divisor.scale - scale
        if shift > 0, ExactDecimal.checkedScaleUp(mantissa, by: shift) == nil { throw ExactDecimalOverflow("\(self) ÷ \(divisor)") }
        if shift < 0, ExactDecimal.checkedScaleUp(divisor.mantissa, by: -shift) == nil { throw ExactDecimalOverflow("\(self) ÷ \(divisor)") }
        return divided(by: divisor, scale: resultScale, rule)
    }

    /// Whether the value, written without trailing fractional zeros, has at most
    /// `integerDigits` digits before the point and `scale` after it: the bound a value
    /// from outside is held to before it reaches arithmetic.
    public func fits(integerDigits: Int, scale maxScale: Int) -> Bool {
        precondition(integerDigits >= 0 && maxScale >= 0 && integerDigits + maxScale <= 38, "bound out of range")
        let value = scale > maxScale ? normalized : self
        guard value.scale <= maxScale else { return false }
        let limit = ExactDecimal.powerOfTen(integerDigits + value.scale)
        return value.mantissa < limit && value.mantissa > -limit
    }

    public static prefix func - (a: ExactDecimal) -> ExactDecimal {
        ExactDecimal(mantissa: -a.mantissa, scale: a.scale)
    }

    public static func += (a: inout ExactDecimal, b: ExactDecimal) { a = a + b }
    public static func -= (a: inout ExactDecimal, b: ExactDecimal) { a = a - b }
    public static func *= (a: inout ExactDecimal, b: ExactDecimal) { a = a * b }

    /// `self / divisor` with `scale` decimals, rounded by `rule`. Division is the one
    /// operation that cannot be exact in general, so the caller names the precision.
    public func divided(by divisor: ExactDecimal, scale resultScale: Int, _ rule: RoundingRule = .halfEven) -> ExactDecimal {
        precondition(!divisor.isZero, "division by zero")
        precondition(resultScale >= 0 && resultScale <= ExactDecimal.scaleMax, "division scale out of range")
        // self/divisor = (m1 / m2) × 10^(s2 - s1); we want the mantissa at resultScale:
        // q = m1 × 10^(resultScale + s2 - s1) / m2.
        let shift = resultScale + divisor.scale - scale
        var numerator = mantissa
        var denominator = divisor.mantissa
        if shift > 0 {
            numerator = ExactDecimal.scaleUp(numerator, by: shift)
        } else if shift < 0 {
            denominator = ExactDecimal.scaleUp(denominator, by: -shift)
        }
        return ExactDecimal(mantissa: ExactDecimal.divide(numerator, by: denominator, rule), scale: resultScale)
    }
}

// MARK: - Equality, order, hashing

extension ExactDecimal: Comparable, Hashable {
    public static func == (a: ExactDecimal, b: ExactDecimal) -> Bool {
        // Unequal if one cannot even be brought to the other's scale.
        guard case let (x, y, _)? = checkedAligned(a, b) else { return false }
        return x == y
    }

    public static func < (a: ExactDecimal, b: ExactDecimal) -> Bool {
        compare(a, b) < 0
    }

    /// -1, 0 or 1 as `a` is below, equal to or above `b`, whatever their size: when one
    /// mantissa cannot be brought to the other's scale, its magnitude is the larger.
    @usableFromInline
    static func compare(_ a: ExactDecimal, _ b: ExactDecimal) -> Int {
        if case let (x, y, _)? = checkedAligned(a, b) { return x < y ? -1 : (x == y ? 0 : 1) }
        // The operand scaled up overflowed: it has the lower scale and the larger magnitude.
        let big = a.scale < b.scale ? a : b
        let sign = big.mantissa < 0 ? -1 : 1
        return a.scale < b.scale ? sign : -sign
    }

    public func hash(into hasher: inout Hasher) {
        let n = normalized
        hasher.combine(n.mantissa)
        hasher.combine(n.scale)
    }
}

// MARK: - Text

extension ExactDecimal: CustomStringConvertible, LosslessStringConvertible {
    /// Plain decimal notation with the value's own scale: `-1234.50`.
    public var description: String {
        let negative = mantissa < 0
        var digits = String(negative ? -mantissa : mantissa)
        if scale > 0 {
            if digits.count <= scale {
                digits = String(repeating: "0", count: scale - digits.count + 1) + digits
            }
            digits.insert(".", at: digits.index(digits.endIndex, offsetBy: -scale))
        }
        return negative ? "-" + digits : digits
    }

    /// Parses plain decimal notation: an optional sign, digits, an optional
    /// point and fraction (`-12`, `0.5`, `.5`, `12.`). No exponents, no spaces.
    public init?(_ description: String) {
        var text = description
        let parsed = text.withUTF8 { ExactDecimal.parse(UnsafeRawBufferPointer($0)) }
        guard let parsed else { return nil }
        self = parsed
    }

    /// Parses the bytes of a decimal number, or returns nil if they are not one
    /// or have more than `integerDigitsMax` integer or `scaleMax` fraction digits.
    @inlinable
    public static func parse(_ bytes: UnsafeRawBufferPointer) -> ExactDecimal? {
        var i = 0
        let n = bytes.count
        guard n > 0 else { return nil }
        var negative = false
        if bytes[0] == UInt8(ascii: "-") {
            negative = true
            i = 1
        } else if bytes[0] == UInt8(ascii: "+") {
            i = 1
        }
        var mantissa: Int128 = 0
        var integerDigits = 0
        var fractionDigits = 0
        var sawPoint = false
        var sawDigit = false
        while i < n {
            let c = bytes[i]
            if c == UInt8(ascii: ".") {
                if sawPoint { return nil }
                sawPoint = true
            } else {
                let d = c &- UInt8(ascii: "0")
                guard d <= 9 else { return nil }
                sawDigit = true
                if sawPoint {
                    fractionDigits += 1
                    if fractionDigits > scaleMax { return nil }
                } else if mantissa != 0 || d != 0 {
                    integerDigits += 1
                    if integerDigits > integerDigitsMax { return nil }
                }
                mantissa = mantissa &* 10 &+ Int128(d)
            }
            i += 1
        }
        guard sawDigit else { return nil }
        return ExactDecimal(mantissa: negative ? -mantissa : mantissa, scale: fractionDigits)
    }
}

extension ExactDecimal: ExpressibleByIntegerLiteral {
    public init(integerLiteral value: Int) {
        self.init(value)
    }
}

extension ExactDecimal: Codable {
    /// Encoded as a JSON string so that no decoder turns it into a binary float.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let value = ExactDecimal(text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "'\(text)' is not a decimal number")
        }
        self = value
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
