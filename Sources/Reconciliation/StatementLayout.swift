import ExactNumbers
import Foundation

/// How to read one platform's CSV statement: which column holds what, how its numbers,
/// dates and signs are written, and how its account and instrument codes map to ours.
/// The native layout (`account,instrument,quantity`…) needs none of this; a `[STATEMENT]`
/// section of the settings file describes any other.
public struct StatementLayout: Sendable {
    /// A value a statement row can carry. The raw values are the native header names.
    public enum Field: String, Sendable, CaseIterable {
        case account, instrument, quantity, averagePrice = "average_price", currency, asOf = "as_of"
        case amount, tradeID = "trade_id", side, price, time, tradeDate = "trade_date", valueDate = "value_date"
    }

    /// Where a field is: a header name, or a 1-based position.
    public enum Column: Sendable, Hashable, CustomStringConvertible {
        case named(String)
        case position(Int)

        public var description: String {
            switch self {
            case .named(let name): return name
            case .position(let n): return "#\(n)"
            }
        }
    }

    public enum DateFormat: String, Sendable, CaseIterable {
        case iso = "YYYY-MM-DD"
        case compact = "YYYYMMDD"
        case dayMonthYearDots = "DD.MM.YYYY"
        case dayMonthYearSlashes = "DD/MM/YYYY"
        case monthDayYearSlashes = "MM/DD/YYYY"
    }

    public var name: String
    public var kind: ReconKind
    public var delimiter: UInt8 = UInt8(ascii: ",")
    public var hasHeader = true
    /// Lines before the header (or the first row) to skip: banners, report titles.
    public var skipLines = 0
    public var columns: [Field: Column] = [:]
    public var decimalSeparator: UInt8 = UInt8(ascii: ".")
    public var thousandsSeparator: UInt8?
    public var dateFormat: DateFormat = .iso
    /// Quantities (and cash amounts) written with the opposite sign to ours.
    public var negate = false
    /// With a side column, what marks a buy (or long) and a sell (or short), upper case.
    public var buyValues: Set<String> = ["B", "BUY", "1", "L", "LONG"]
    public var sellValues: Set<String> = ["S", "SELL", "2", "SHORT"]
    /// Their codes to ours.
    public var accountMap: [String: String] = [:]
    public var instrumentMap: [String: String] = [:]

    public init(name: String, kind: ReconKind) {
        self.name = name
        self.kind = kind
    }

    /// The fields a row of `kind` must have.
    public static func required(for kind: ReconKind) -> [Field] {
        switch kind {
        case .positions: return [.account, .instrument, .quantity]
        case .cash: return [.account, .currency, .amount]
        case .trades: return [.tradeID, .account, .instrument, .side, .quantity, .price]
        }
    }

    /// The native layout for a header line: its kind follows from the columns it has.
    static func native(header: [String], file: String) throws -> StatementLayout {
        let names = header.map { $0.lowercased() }
        let kind: ReconKind
        if names.contains("trade_id") {
            kind = .trades
        } else if names.contains("instrument") {
            kind = .positions
        } else if names.contains("amount") {
            kind = .cash
        } else {
            throw StatementError(file: file, line: 1, why: "the header names no known layout: expected account,instrument,quantity"
                                 + " (positions), account,currency,amount (cash) or trade_id,account,instrument,side,quantity,price (trades)")
        }
        var layout = StatementLayout(name: "native", kind: kind)
        for (index, name) in names.enumerated() {
            guard let field = Field(rawValue: name) else {
                throw StatementError(file: file, line: 1, column: header[index],
                                     why: "unknown column (known: \(Field.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            if layout.columns[field] != nil {
                throw StatementError(file: file, line: 1, column: header[index], why: "named twice in the header")
            }
            layout.columns[field] = .position(index + 1)
        }
        for field in required(for: kind) where layout.columns[field] == nil {
            throw StatementError(file: file, line: 1, column: field.rawValue, why: "missing from the header of a \(kind) statement")
        }
        return layout
    }

    /// A layout from a `[STATEMENT]` section's settings; `line(key)` gives the line a key
    /// was set on, for errors.
    public init(settings values: [String: String], line: (String) -> Int, file: String) throws {
        func fail(_ key: String, _ why: String) -> StatementLayoutError {
            StatementLayoutError(file: file, line: line(key), key: key, why: why)
        }
        guard let name = values["Name"], !name.isEmpty else { throw fail("Name", "a [STATEMENT] section needs a Name") }
        guard let kindText = values["Kind"], let kind = ReconKind(rawValue: kindText.lowercased()) else {
            throw fail("Kind", "expected positions, cash or trades")
        }
        self.init(name: name, kind: kind)
        for (key, value) in values {
            switch key {
            case "Name", "Kind":
                break
            case "Delimiter":
                switch value.lowercased() {
                case "tab", "\\t": delimiter = 9
                case _ where value.utf8.count == 1: delimiter = value.utf8.first!
                default: throw fail(key, "expected one character or 'tab'")
                }
            case "Header":
                guard value == "Y" || value == "N" else { throw fail(key, "expected Y or N") }
                hasHeader = value == "Y"
            case "SkipLines":
                guard let n = Int(value), n >= 0 else { throw fail(key, "expected a whole number") }
                skipLines = n
            case "DecimalSeparator":
                guard value == "." || value == "," else { throw fail(key, "expected '.' or ','") }
                decimalSeparator = value.utf8.first!
            case "ThousandsSeparator":
                guard value.utf8.count == 1 || value.lowercased() == "space" else { throw fail(key, "expected one character or 'space'") }
                thousandsSeparator = value.lowercased() == "space" ? 32 : value.utf8.first!
            case "DateFormat":
                guard let format = DateFormat(rawValue: value) else {
                    throw fail(key, "expected one of \(DateFormat.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                dateFormat = format
            case "QuantitySign":
                guard value == "as-is" || value == "negate" else { throw fail(key, "expected as-is or negate") }
                negate = value == "negate"
            case "BuyValues", "SellValues":
                let set = Set(value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).uppercased() })
                guard !set.isEmpty else { throw fail(key, "expected a comma-separated list") }
                if key == "BuyValues" { buyValues = set } else { sellValues = set }
            case "AccountMap", "InstrumentMap":
                var map: [String: String] = [:]
                for pair in value.split(separator: ",") {
                    let parts = pair.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                    guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                        throw fail(key, "expected theirs:ours pairs separated by commas, not '\(pair)'")
                    }
                    map[parts[0]] = parts[1]
                }
                if key == "AccountMap" { accountMap.merge(map) { a, _ in a } } else { instrumentMap.merge(map) { a, _ in a } }
            case "AccountMapFile", "InstrumentMapFile":
                let map = try Self.loadMap(value, key: key, line: line(key), file: file)
                if key == "AccountMapFile" { accountMap.merge(map) { a, _ in a } } else { instrumentMap.merge(map) { a, _ in a } }
            case _ where key.hasPrefix("Column."):
                let fieldName = String(key.dropFirst("Column.".count))
                guard let field = Field(rawValue: fieldName) else {
                    throw fail(key, "unknown field '\(fieldName)' (known: \(Field.allCases.map(\.rawValue).joined(separator: ", ")))")
                }
                if value.hasPrefix("#") {
                    guard let n = Int(value.dropFirst()), n >= 1 else { throw fail(key, "a position is # and a number from 1") }
                    columns[field] = .position(n)
                } else {
                    guard !value.isEmpty else { throw fail(key, "expected a header name or #position") }
                    columns[field] = .named(value)
                }
            default:
                throw fail(key, "unknown [STATEMENT] setting")
            }
        }
        for field in Self.required(for: kind) where columns[field] == nil {
            throw fail("Column.\(field.rawValue)", "a \(kind) statement needs Column.\(field.rawValue)")
        }
        if !hasHeader {
            for (field, column) in columns {
                if case .named = column { throw fail("Column.\(field.rawValue)", "without a header, columns are given as #position") }
            }
        }
    }

    /// `theirs,ours` lines.
    static func loadMap(_ path: String, key: String, line: Int, file: String) throws -> [String: String] {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw StatementLayoutError(file: file, line: line, key: key, why: "cannot read \(path)")
        }
        var map: [String: String] = [:]
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let row = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if row.isEmpty || row.hasPrefix("#") || (index == 0 && row.lowercased().hasPrefix("theirs,")) { continue }
            let parts = row.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw StatementLayoutError(file: path, line: index + 1, key: key, why: "expected theirs,ours")
            }
            map[parts[0]] = parts[1]
        }
        return map
    }
}

/// A `[STATEMENT]` or `[RECON]` section that cannot be used, named by file, line and key.
public struct StatementLayoutError: Error, CustomStringConvertible, Sendable {
    public let file: String
    public let line: Int
    public let key: String
    public let why: String
    public var section = "STATEMENT"

    public init(file: String, line: Int, key: String, why: String, section: String = "STATEMENT") {
        self.file = file
        self.line = line
        self.key = key
        self.why = why
        self.section = section
    }

    public var description: String { "\(file):\(line): [\(section)] \(key): \(why)" }
}
