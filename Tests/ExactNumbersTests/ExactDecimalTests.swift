import ExactNumbers
import Testing

@Suite struct ExactDecimalTests {
    @Test("parsing keeps every digit and the scale it was written with",
          arguments: [("0", "0"), ("-12", "-12"), ("1.50", "1.50"), (".5", "0.5"), ("12.", "12"),
                      ("+3.25", "3.25"), ("-0.000001", "-0.000001"), ("00042.10", "42.10"),
                      ("123456789012345678.123456789012345678", "123456789012345678.123456789012345678")])
    func parses(text: String, printed: String) throws {
        let value = try #require(ExactDecimal(text))
        #expect(value.description == printed)
    }

    @Test("malformed numbers are refused, not approximated",
          arguments: ["", "-", ".", "1.2.3", "1e5", "12a", " 1", "1,5", "1.1234567890123456789",
                      "123456789012345678901"])
    func refuses(text: String) {
        #expect(ExactDecimal(text) == nil)
    }

    @Test("0.1 + 0.2 is exactly 0.3, and equality ignores trailing zeros")
    func exactSum() throws {
        let sum = try #require(ExactDecimal("0.1")) + #require(ExactDecimal("0.2"))
        #expect(sum == ExactDecimal("0.3")!)
        #expect(ExactDecimal("1.50")! == ExactDecimal("1.5")!)
        #expect(ExactDecimal("1.50")!.hashValue == ExactDecimal("1.5")!.hashValue)
        #expect(ExactDecimal("-2")! < ExactDecimal("-1.999")!)
    }

    @Test("products are exact up to eighteen decimals, then rounded half-even")
    func products() throws {
        #expect((ExactDecimal("1.25")! * ExactDecimal("-4.1")!).description == "-5.125")
        let tiny = ExactDecimal("0.000000001")! * ExactDecimal("0.0000000015")!
        #expect(tiny.scale == 18)
        #expect(tiny == ExactDecimal("0.000000000000000002")!)
    }

    @Test("division rounds by the rule asked for",
          arguments: [("10", "3", 4, ExactDecimal.RoundingRule.halfEven, "3.3333"),
                      ("2", "3", 2, .halfEven, "0.67"), ("-2", "3", 2, .halfEven, "-0.67"),
                      ("0.125", "1", 2, .halfEven, "0.12"), ("0.135", "1", 2, .halfEven, "0.14"),
                      ("0.125", "1", 2, .halfUp, "0.13"), ("-0.125", "1", 2, .halfUp, "-0.13"),
                      ("1", "3", 0, .ceiling, "1"), ("-1", "3", 0, .floor, "-1"), ("7", "0.5", 1, .down, "14.0")])
    func division(a: String, b: String, scale: Int, rule: ExactDecimal.RoundingRule, expected: String) {
        #expect(ExactDecimal(a)!.divided(by: ExactDecimal(b)!, scale: scale, rule).description == expected)
    }

    @Test("random sums and products agree with integer arithmetic on the mantissas")
    func randomArithmetic() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<5_000 {
            let a = ExactDecimal(mantissa: Int128(Int64.random(in: -1_000_000_000_000...1_000_000_000_000, using: &rng)),
                                 scale: Int.random(in: 0...8, using: &rng))
            let b = ExactDecimal(mantissa: Int128(Int64.random(in: -1_000_000_000...1_000_000_000, using: &rng)),
                                 scale: Int.random(in: 0...8, using: &rng))
            #expect((a + b) - b == a)
            #expect(a + b == b + a)
            let product = a * b
            #expect(product.mantissa == a.mantissa * b.mantissa && product.scale == a.scale + b.scale)
            #expect(ExactDecimal(a.description) == a)
            if !b.isZero {
                // a = q·b + r with |r| < |b| at the quotient's precision.
                let q = a.divided(by: b, scale: 8, .down)
                let r = a - q * b
                #expect(r.magnitude < b.magnitude * ExactDecimal(mantissa: 1, scale: 8) || r.isZero)
            }
        }
    }

    @Test("rescaling is exact or refused; rounding trims")
    func rescaling() {
        #expect(ExactDecimal("1.5")!.rescaled(to: 4)!.description == "1.5000")
        #expect(ExactDecimal("1.25")!.rescaled(to: 1) == nil)
        #expect(ExactDecimal("1.25")!.rounded(scale: 1).description == "1.2")
        #expect(ExactDecimal("1.35")!.rounded(scale: 1).description == "1.4")
        #expect(ExactDecimal("1.2500")!.normalized.description == "1.25")
    }

    @Test("arithmetic is exact on both sides of the 64-bit boundary: products, sums, quotients and normal forms agree with 128-bit arithmetic")
    func sixtyFourBitBoundary() {
        var random = SystemRandomNumberGenerator()
        let edges: [Int128] = [0, 1, -1, 10, -10, Int128(Int64.max), Int128(Int64.min), Int128(Int64.max) + 1,
                               Int128(Int64.min) - 1, Int128(Int64.max) * 10, 1_000_000_000_000_000_000]
        func mantissa() -> Int128 {
            switch Int.random(in: 0..<4, using: &random) {
            case 0: return edges.randomElement(using: &random)!
            case 1: return Int128(Int64.random(in: .min ... .max, using: &random))
            case 2: return Int128(Int32.random(in: .min ... .max, using: &random)) * 1000
            default: return Int128(Int64.random(in: .min ... .max, using: &random)) * Int128(Int.random(in: 1...1_000_000, using: &random))
            }
        }
        for _ in 0..<20_000 {
            let a = ExactDecimal(mantissa: mantissa(), scale: Int.random(in: 0...9, using: &random))
            let b = ExactDecimal(mantissa: mantissa(), scale: Int.random(in: 0...9, using: &random))
            let (product, overflow) = a.mantissa.multipliedReportingOverflow(by: b.mantissa)
            if !overflow {
                let p = a * b
                #expect(p.mantissa == product && p.scale == a.scale + b.scale)
            }
            // Sums at the larger scale, when the aligned operands fit.
            let scale = max(a.scale, b.scale)
            let (x, xOverflow) = a.mantissa.multipliedReportingOverflow(by: ExactDecimal.powerOfTen(scale - a.scale))
            let (y, yOverflow) = b.mantissa.multipliedReportingOverflow(by: ExactDecimal.powerOfTen(scale - b.scale))
            if !xOverflow && !yOverflow, case (let sum, false) = x.addingReportingOverflow(y) {
                let total = a + b
                #expect(total.mantissa == sum && total.scale == scale)
            }
            // Quotients rounded half-even, against the definition.
            if !b.isZero, !xOverflow, !yOverflow {
                let q = ExactDecimal(mantissa: x, scale: 0).divided(by: ExactDecimal(mantissa: y, scale: 0), scale: 0)
                let (whole, rest) = x.quotientAndRemainder(dividingBy: y)
                let twice = (rest < 0 ? -rest : rest) * 2
                let magnitude = y < 0 ? -y : y
                let away: Int128 = (x < 0) != (y < 0) ? -1 : 1
                let expected = rest == 0 || twice < magnitude || (twice == magnitude && whole % 2 == 0) ? whole : whole + away
                #expect(q.mantissa == expected)
            }
            // The normal form: the same value, no trailing fractional zero.
            let n = a.normalized
            #expect(n == a && (n.scale == 0 || n.mantissa % 10 != 0))
        }
    }
}
