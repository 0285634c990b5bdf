import ExactNumbers
import FAST
import Foundation
import Ledger

/// How a FAST feed's messages become executions and price marks: a JSON file per feed.
///
///     { "source": "MOEX-TLR",
///       "trades": { "template": "Benchmark", "entries": "GroupMDEntries",
///                   "filter": { "MDEntryType": ["z"] },
///                   "executionID": "MDEntryID", "account": { "constant": "MOEX-STREET" },
///                   "instrument": "Symbol", "side": "OrderSide", "buy": ["B"], "sell": ["S"],
///                   "quantity": "MDEntrySize", "quantityMultiplier": "10", "price": "MDEntryPx",
///                   "currency": { "constant": "RUB" },
///                   "tradeDate": { "field": "SendingTime", "format": "yyMMdd" },
///                   "transactTime": { "field": "SendingTime", "format": "yyMMddHHmmssSSSSSS" },
///                   "settlementDate": { "field": "SettlDate", "format": "yyyyMMdd" } },
///       "marks": { "template": "Benchmark", "entries": "GroupMDEntries", "instrument": "Symbol", "price": "MDEntryPx" } }
///
/// A field is looked up in the entry first (the item of `entries`), then in the message.
public struct FASTMapping: Codable, Sendable {
    /// A field name, or `{"constant": value}`, or `{"field": name, "format": pattern}` for dates and times.
    public enum Value: Codable, Sendable, Equatable {
        case field(String)
        case constant(String)
        case formatted(field: String, format: String)

        public init(from decoder: Decoder) throws {
            if let name = try? decoder.singleValueContainer().decode(String.self) {
                self = .field(name)
                return
            }
            let container = try decoder.container(keyedBy: Keys.self)
            if let constant = try container.decodeIfPresent(String.self, forKey: .constant) {
                self = .constant(constant)
            } else {
                self = .formatted(field: try container.decode(String.self, forKey: .field),
                                  format: try container.decodeIfPresent(String.self, forKey: .format) ?? "")
            }
        }

        public func encode(to encoder: Encoder) throws {
            switch self {
            case .field(let name):
                var container = encoder.singleValueContainer()
                try container.encode(name)
            case .constant(let value):
                var container = encoder.container(keyedBy: Keys.self)
                try container.encode(value, forKey: .constant)
            case .formatted(let field, let format):
                var container = encoder.container(keyedBy: Keys.self)
                try container.encode(field, forKey: .field)
                try container.encode(format, forKey: .format)
            }
        }

        enum Keys: String, CodingKey { case constant, field, format }
    }

    public struct Trades: Codable, Sendable {
        public var template: String
        public var entries: String?
        public var filter: [String: [String]]?
        public var executionID: Value
        public var account: Value
        public var instrument: Value
        public var side: Value
        public var buy: [String]
        public var sell: [String]
        public var quantity: Value
        public var quantityMultiplier: String?
        public var price: Value
        public var currency: Value
        public var tradeDate: Value
        public var transactTime: Value?
        public var settlementDate: Value?
    }

    public struct Marks: Codable, Sendable {
        public var template: String
        public var entries: String?
        public var filter: [String: [String]]?
        public var instrument: Value
        public var price: Value
    }

    /// The ledger source the feed books under (its executions' identity space and progress).
    public var source: String
    public var trades: Trades?
    public var marks: Marks?

    /// Reads a mapping file; a mistake names the file and the setting.
    public static func load(path: String) throws -> FASTMapping {
        guard let data = FileManager.default.contents(atPath: path) else { throw FASTMappingError("\(path): cannot read the file") }
        do {
            return try JSONDecoder().decode(FASTMapping.self, from: data)
        } catch let DecodingError.keyNotFound(key, context) {
            throw FASTMappingError("\(path): \((context.codingPath + [key]).map(\.stringValue).joined(separator: ".")) is missing")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            throw FASTMappingError("\(path): \(context.codingPath.map(\.stringValue).joined(separator: ".")): \(context.debugDescription)")
        } catch let DecodingError.dataCorrupted(context) {
            let underlying = (context.underlyingError as NSError?)?.userInfo["NSDebugDescription"] as? String
            throw FASTMappingError("\(path): not valid JSON" + (underlying.map { ": \($0)" } ?? ""))
        }
    }
}

public struct FASTMappingError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
