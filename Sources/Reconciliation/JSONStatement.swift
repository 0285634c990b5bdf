import ExactNumbers
import Foundation
import Ledger

/// A JSON statement: `{"as_of": …, "positions": […], "cash": […], "trades": […]}` with
/// the native CSV column names as keys. Numbers may be JSON numbers or strings; both are
/// read exactly. Errors name the element (`positions[3].quantity`).
enum JSONStatement {
    struct Document: Decodable {
        var as_of: String?
        var positions: [[String: Scalar]]?
        var cash: [[String: Scalar]]?
        var trades: [[String: Scalar]]?
    }

    /// A JSON string or number, kept as text so that no binary float touches it.
    enum Scalar: Decodable {
        case text(String)
        case null

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if container.decodeNil() {
                self = .null
            } else if let string = try? container.decode(String.self) {
                self = .text(string)
            } else if let number = try? container.decode(Decimal.self) {
                self = .text(number.description)
            } else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "expected a string or a number")
            }
        }
    }

    static func read(bytes: [UInt8], origin: String, digest: String) throws -> Statement {
        let document: Document
        do {
            document = try JSONDecoder().decode(Document.self, from: Data(bytes))
        } catch let error as DecodingError {
            throw StatementError(file: origin, line: 0, why: describe(error))
        } catch {
            throw StatementError(file: origin, line: 0, why: "not JSON: \(error)")
        }
        var statement = Statement(origin: origin, digest: digest)
        statement.kinds = [(ReconKind.positions, document.positions), (.cash, document.cash), (.trades, document.trades)]
            .compactMap { $0.1 == nil ? nil : $0.0 }
        if let asOf = document.as_of {
            guard let time = StatementNumbers.time(asOf) else {
                throw StatementError(file: origin, line: 0, column: "as_of", why: "'\(asOf)' is not a time")
            }
            statement.asOf = time
        }
        for (i, item) in (document.positions ?? []).enumerated() {
            let row = Item(values: item, path: "positions[\(i)]", origin: origin)
            statement.positions.append(StatementPosition(
                line: i + 1, account: try row.text("account"), instrument: try row.text("instrument"),
                quantity: try row.decimal("quantity"), averagePrice: try row.optionalDecimal("average_price"),
                currency: row.optionalText("currency")))
        }
        for (i, item) in (document.cash ?? []).enumerated() {
            let row = Item(values: item, path: "cash[\(i)]", origin: origin)
            statement.cash.append(StatementCash(line: i + 1, account: try row.text("account"), currency: try row.text("currency"),
                                                amount: try row.decimal("amount")))
        }
        for (i, item) in (document.trades ?? []).enumerated() {
            let row = Item(values: item, path: "trades[\(i)]", origin: origin)
            let sideText = try row.text("side").lowercased()
            guard let side: Side = ["buy": .buy, "b": .buy, "1": .buy, "sell": .sell, "s": .sell, "2": .sell][sideText] else {
                throw row.fail("side", "'\(sideText)' is neither buy nor sell")
            }
            let quantity = try row.decimal("quantity")
            guard quantity > .zero else { throw row.fail("quantity", "a trade's quantity must be positive") }
            let time = try row.optionalTime("time")
            statement.trades.append(StatementTrade(
                line: i + 1, tradeID: try row.text("trade_id"), account: try row.text("account"),
                instrument: try row.text("instrument"), side: side, quantity: quantity, price: try row.decimal("price"),
                time: time, tradeDate: try row.optionalDay("trade_date") ?? time.map { CalendarDay(daysSinceEpoch: Int($0 / 86_400_000_000_000)) },
                valueDate: try row.optionalDay("value_date")))
        }
        return statement
    }

    struct Item {
        let values: [String: Scalar]
        let path: String
        let origin: String

        func fail(_ key: String, _ why: String) -> StatementError {
            StatementError(file: origin, line: 0, column: "\(path).\(key)", why: why)
        }

        func optionalText(_ key: String) -> String? {
            if case .text(let value)? = values[key], !value.isEmpty { return value }
            return nil
        }

        func text(_ key: String) throws -> String {
            guard let value = optionalText(key) else { throw fail(key, "missing") }
            return value
        }

        func optionalDecimal(_ key: String) throws -> ExactDecimal? {
            guard let text = optionalText(key) else { return nil }
            guard let value = StatementNumbers.decimal(text) else { throw fail(key, "'\(text)' is not a number") }
            return value
        }

        func decimal(_ key: String) throws -> ExactDecimal {
            guard let value = try optionalDecimal(key) else { throw fail(key, "missing") }
            return value
        }

        func optionalTime(_ key: String) throws -> Int64? {
            guard let text = optionalText(key) else { return nil }
            guard let value = StatementNumbers.time(text) else { throw fail(key, "'\(text)' is not a time") }
            return value
        }

        func optionalDay(_ key: String) throws -> CalendarDay? {
            guard let text = optionalText(key) else { return nil }
            guard let value = CalendarDay(text) else { throw fail(key, "'\(text)' is not a date (YYYY-MM-DD)") }
            return value
        }
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
                .trimmingCharacters(in: CharacterSet(charactersIn: "."))
        }
        switch error {
        case .dataCorrupted(let context):
            let underlying = (context.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String
            return "not valid JSON" + (underlying.map { ": \($0)" } ?? (context.debugDescription.isEmpty ? "" : ": \(context.debugDescription)"))
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            return "\(path(context)): \(context.debugDescription)"
        case .keyNotFound(let key, let context):
            return "\(path(context)): missing \(key.stringValue)"
        @unknown default:
            return "\(error)"
        }
    }
}
