import ExactNumbers
import Foundation

/// How far apart ours and theirs may be and still agree: per asset class for quantities
/// and prices, per currency for cash. A difference within the absolute or the relative
/// bound (of the larger side) is no break.
public struct ReconTolerances: Sendable {
    public struct Tolerance: Sendable, Hashable, CustomStringConvertible {
        public var absolute: ExactDecimal
        /// A fraction: 0.0001 is one basis point.
        public var relative: ExactDecimal

        public init(absolute: ExactDecimal = .zero, relative: ExactDecimal = .zero) {
            self.absolute = absolute
            self.relative = relative
        }

        public static let exact = Tolerance()

        public func accepts(_ ours: ExactDecimal, _ theirs: ExactDecimal) -> Bool {
            let difference = (ours - theirs).magnitude
            if difference.isZero || difference <= absolute { return true }
            guard !relative.isZero else { return false }
            let larger = Swift.max(ours.magnitude, theirs.magnitude)
            return difference <= (larger * relative)
        }

        public var description: String { "\(absolute.normalized) or \((relative * 100).normalized)%" }

        /// `0.5`, `0.01%` or both, comma-separated.
        public init?(_ text: String) {
            self.init()
            let parts = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            guard !parts.isEmpty else { return nil }
            for part in parts {
                if part.hasSuffix("%") {
                    guard let value = ExactDecimal(String(part.dropLast())), !value.isNegative else { return nil }
                    relative = value.divided(by: 100, scale: value.scale + 2)
                } else {
                    guard let value = ExactDecimal(part), !value.isNegative else { return nil }
                    absolute = value
                }
            }
        }
    }

    /// Instrument → asset class; instruments not listed are in class "default".
    public var assetClasses: [String: String] = [:]
    public var quantity: [String: Tolerance] = [:]
    public var price: [String: Tolerance] = [:]
    /// By currency; "default" for the rest.
    public var cash: [String: Tolerance] = [:]
    /// How far apart two trades' times may be to match on their terms when ids differ.
    public var tradeTimeWindow: Int64 = 300 * 1_000_000_000

    public init() {}

    public func assetClass(of instrument: String) -> String { assetClasses[instrument] ?? "default" }
    public func quantity(for instrument: String) -> Tolerance { quantity[assetClass(of: instrument)] ?? quantity["default"] ?? .exact }
    public func price(for instrument: String) -> Tolerance { price[assetClass(of: instrument)] ?? price["default"] ?? .exact }
    public func cash(for currency: String) -> Tolerance { cash[currency] ?? cash["default"] ?? .exact }

    /// From a `[RECON]` section: `QuantityTolerance.CLASS`, `PriceTolerance.CLASS`,
    /// `CashTolerance.CURRENCY` (`default` for the rest), `AssetClasses=INSTR:CLASS,…`,
    /// `AssetClassFile=PATH` (instrument,asset_class lines), `TradeTimeWindow=SECONDS`.
    /// Other keys are left to the caller.
    public init(settings values: [String: String], line: (String) -> Int, file: String) throws {
        func fail(_ key: String, _ why: String) -> StatementLayoutError {
            StatementLayoutError(file: file, line: line(key), key: key, why: why, section: "RECON")
        }
        for (key, value) in values {
            let parts = key.split(separator: ".", maxSplits: 1).map(String.init)
            switch parts[0] {
            case "QuantityTolerance", "PriceTolerance", "CashTolerance":
                guard parts.count == 2, !parts[1].isEmpty else { throw fail(key, "name the asset class (or currency): \(parts[0]).default") }
                guard let tolerance = Tolerance(value) else {
                    throw fail(key, "expected an absolute amount, a percentage (0.01%) or both, comma-separated")
                }
                switch parts[0] {
                case "QuantityTolerance": quantity[parts[1]] = tolerance
                case "PriceTolerance": price[parts[1]] = tolerance
                default: cash[parts[1]] = tolerance
                }
            case "AssetClasses":
                for pair in value.split(separator: ",") {
                    let items = pair.split(separator: ":").map { $0.trimmingCharacters(in: .whitespaces) }
                    guard items.count == 2, !items[0].isEmpty, !items[1].isEmpty else { throw fail(key, "expected INSTRUMENT:CLASS pairs, not '\(pair)'") }
                    assetClasses[items[0]] = items[1]
                }
            case "AssetClassFile":
                let map = try StatementLayout.loadMap(value, key: key, line: line(key), file: file)
                assetClasses.merge(map) { a, _ in a }
            case "TradeTimeWindow":
                guard let seconds = Int64(value), seconds >= 0 else { throw fail(key, "expected whole seconds") }
                tradeTimeWindow = seconds * 1_000_000_000
            default:
                continue
            }
        }
    }
}
