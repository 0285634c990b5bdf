import ExactNumbers
import FAST
import Foundation
import Ledger

/// What one FAST message gives the books.
public struct FASTMapped: Sendable {
    public var executions: [Execution] = []
    public var marks: [(instrument: String, price: ExactDecimal)] = []
    /// Entries that match the mapping but cannot be booked, with why.
    public var rejected: [Rejected] = []
}

/// A mapping checked against its templates: every template and field it names exists.
public struct FASTMapper: Sendable {
    public let mapping: FASTMapping
    let templates: FASTTemplates
    let tradeTemplate: UInt32?
    let markTemplate: UInt32?
    let multiplier: ExactDecimal

    public init(mapping: FASTMapping, templates: FASTTemplates) throws {
        self.mapping = mapping
        self.templates = templates
        let names = Set(templates.fields.map(\.name))
        func template(_ name: String, _ what: String) throws -> UInt32 {
            if let template = templates.byName[name] { return template.id }
            if let id = UInt32(name), templates.templates[id] != nil { return id }
            throw FASTMappingError("\(what).template: no template named '\(name)'")
        }
        func check(_ value: FASTMapping.Value?, _ what: String) throws {
            switch value {
            case .field(let name)?, .formatted(let name, _)?:
                guard names.contains(name) else { throw FASTMappingError("\(what): no field named '\(name)' in the templates") }
            case .constant?, nil:
                break
            }
        }
        if let trades = mapping.trades {
            tradeTemplate = try template(trades.template, "trades")
            for (value, what) in [(trades.executionID, "executionID"), (trades.account, "account"), (trades.instrument, "instrument"),
                                  (trades.side, "side"), (trades.quantity, "quantity"), (trades.price, "price"),
                                  (trades.currency, "currency"), (trades.tradeDate, "tradeDate")] {
                try check(value, "trades.\(what)")
            }
            try check(trades.transactTime, "trades.transactTime")
            try check(trades.settlementDate, "trades.settlementDate")
            if let entries = trades.entries, !names.contains(entries) { throw FASTMappingError("trades.entries: no sequence named '\(entries)'") }
            for name in (trades.filter ?? [:]).keys where !names.contains(name) { throw FASTMappingError("trades.filter: no field named '\(name)'") }
            guard let multiplier = ExactDecimal(trades.quantityMultiplier ?? "1"), multiplier > .zero else {
                throw FASTMappingError("trades.quantityMultiplier: '\(trades.quantityMultiplier ?? "")' is not a positive number")
            }
            self.multiplier = multiplier
        } else {
            tradeTemplate = nil
            multiplier = 1
        }
        if let marks = mapping.marks {
            markTemplate = try template(marks.template, "marks")
            try check(marks.instrument, "marks.instrument")
            try check(marks.price, "marks.price")
            if let entries = marks.entries, !names.contains(entries) { throw FASTMappingError("marks.entries: no sequence named '\(entries)'") }
        } else {
            markTemplate = nil
        }
    }

    /// The executions and marks in `message`. `raw` is kept with what cannot be booked.
    public func map(_ message: FASTMessage, raw: [UInt8]) -> FASTMapped {
        var result = FASTMapped()
        guard message.templateID == tradeTemplate || message.templateID == markTemplate else { return result }
        let fields = message.tree(templates)
        if let trades = mapping.trades, message.templateID == tradeTemplate {
            for entry in Self.items(fields, trades.entries) where Self.passes(entry, fields, trades.filter) {
                do {
                    result.executions.append(try execution(entry, fields, trades))
                } catch {
                    result.rejected.append(Rejected(source: mapping.source, raw: raw, reason: "\(error)"))
                }
            }
        }
        if let marks = mapping.marks, message.templateID == markTemplate {
            for entry in Self.items(fields, marks.entries) where Self.passes(entry, fields, marks.filter) {
                if let instrument = try? Self.text(marks.instrument, entry, fields), let price = try? Self.decimal(marks.price, entry, fields) {
                    result.marks.append((instrument, price))
                }
            }
        }
        return result
    }

    typealias Fields = [(String, FASTNode)]

    static func items(_ fields: Fields, _ entries: String?) -> [Fields] {
        guard let entries else { return [[]] }
        guard case .sequence(let items)? = fields.first(where: { $0.0 == entries })?.1 else { return [] }
        return items
    }

    static func passes(_ entry: Fields, _ fields: Fields, _ filter: [String: [String]]?) -> Bool {
        for (name, allowed) in filter ?? [:] {
            guard let value = try? text(.field(name), entry, fields), allowed.contains(value) else { return false }
        }
        return true
    }

    static func node(_ name: String, _ entry: Fields, _ fields: Fields) -> FASTNode? {
        entry.first { $0.0 == name }?.1 ?? fields.first { $0.0 == name }?.1
    }

    static func text(_ value: FASTMapping.Value, _ entry: Fields, _ fields: Fields) throws -> String {
        let name: String
        switch value {
        case .constant(let constant): return constant
        case .field(let field), .formatted(let field, _): name = field
        }
        switch node(name, entry, fields) {
        case .string(let text)?: return text
        case .int(let number)?: return "\(number)"
        case .uint(let number)?: return "\(number)"
        case .decimal(let mantissa, let exponent)?: return "\(ExactDecimal.from(mantissa: mantissa, exponent: exponent))"
        case .bytes(let bytes)?: return bytes.map { String(format: "%02x", $0) }.joined()
        default: throw FASTMappingError("\(name) is absent")
        }
    }

    static func decimal(_ value: FASTMapping.Value, _ entry: Fields, _ fields: Fields) throws -> ExactDecimal {
        if case .field(let name) = value, case .decimal(let mantissa, let exponent)? = node(name, entry, fields) {
            return ExactDecimal.from(mantissa: mantissa, exponent: exponent)
        }
        let text = try text(value, entry, fields)
        guard let number = ExactDecimal(text) else { throw FASTMappingError("'\(text)' is not a number") }
        return number
    }

    /// A date and time from a value's digits laid out as `format` (yyyy or yy, MM, dd, HH,
    /// mm, ss, S… for fractions): ns since the epoch.
    static func time(_ value: FASTMapping.Value, _ entry: Fields, _ fields: Fields, day: CalendarDay?) throws -> Int64 {
        guard case .formatted(let name, let format) = value else { throw FASTMappingError("a date or time needs {field, format}") }
        var digits = try text(.field(name), entry, fields)
        guard digits.allSatisfy(\.isNumber) else { throw FASTMappingError("\(name): '\(digits)' is not digits for \(format)") }
        if digits.count < format.count { digits = String(repeating: "0", count: format.count - digits.count) + digits }
        guard digits.count == format.count else { throw FASTMappingError("\(name): '\(digits)' does not fit \(format)") }
        var parts: [Character: Int] = [:]
        var fraction = ""
        for (letter, digit) in zip(format, digits) {
            if letter == "S" { fraction.append(digit); continue }
            parts[letter] = (parts[letter] ?? 0) * 10 + (digit.wholeNumberValue ?? 0)
        }
        var year = parts["y"] ?? 0
        if format.filter({ $0 == "y" }).count == 2 { year += 2000 }
        let date: CalendarDay?
        if parts["y"] != nil {
            date = CalendarDay(year: year, month: parts["M"] ?? 1, day: parts["d"] ?? 1)
            guard date != nil else { throw FASTMappingError("\(name): '\(digits)' is not a date (\(format))") }
        } else {
            date = day
        }
        guard let date else { throw FASTMappingError("\(name): a time without a date") }
        let hours: Int = parts["H"] ?? 0
        let minutes: Int = parts["m"] ?? 0
        let seconds: Int = hours * 3600 + minutes * 60 + (parts["s"] ?? 0)
        let padded = fraction + String(repeating: "0", count: max(0, 9 - fraction.count))
        let nanos: Int64 = Int64(padded.prefix(9)) ?? 0
        let daySeconds: Int64 = Int64(date.daysSinceEpoch) * 86_400 + Int64(seconds)
        return daySeconds * 1_000_000_000 + nanos
    }

    func execution(_ entry: Fields, _ fields: Fields, _ trades: FASTMapping.Trades) throws -> Execution {
        func field(_ what: String, _ body: () throws -> String) throws -> String {
            do { return try body() } catch { throw FASTMappingError("\(what): \(error)") }
        }
        let id = try field("executionID") { try Self.text(trades.executionID, entry, fields) }
        let sideText = try field("side") { try Self.text(trades.side, entry, fields) }
        let side: Side
        if trades.buy.contains(sideText) {
            side = .buy
        } else if trades.sell.contains(sideText) {
            side = .sell
        } else {
            throw FASTMappingError("execution \(id): side '\(sideText)' is neither buy \(trades.buy) nor sell \(trades.sell)")
        }
        let quantity: ExactDecimal
        let price: ExactDecimal
        do {
            quantity = try Self.decimal(trades.quantity, entry, fields) * multiplier
            price = try Self.decimal(trades.price, entry, fields)
        } catch {
            throw FASTMappingError("execution \(id): \(error)")
        }
        let tradeDay = try Self.time(trades.tradeDate, entry, fields, day: nil) / 86_400_000_000_000
        let day = CalendarDay(daysSinceEpoch: Int(tradeDay))
        let transactTime = try trades.transactTime.map { try Self.time($0, entry, fields, day: day) } ?? Int64(tradeDay) * 86_400_000_000_000
        let settlement = try trades.settlementDate.map { CalendarDay(daysSinceEpoch: Int(try Self.time($0, entry, fields, day: nil) / 86_400_000_000_000)) }
        return Execution(source: mapping.source, executionID: id,
                         account: try field("account") { try Self.text(trades.account, entry, fields) },
                         instrument: try field("instrument") { try Self.text(trades.instrument, entry, fields) },
                         side: side, quantity: quantity, price: price,
                         currency: try field("currency") { try Self.text(trades.currency, entry, fields) },
                         tradeDate: day, transactTime: transactTime, settlementDate: settlement)
    }
}

extension ExactDecimal {
    /// mantissa × 10^exponent, exactly.
    static func from(mantissa: Int64, exponent: Int32) -> ExactDecimal {
        exponent >= 0
            ? ExactDecimal(mantissa: Int128(mantissa) * ExactDecimal.powerOfTen(Int(exponent)), scale: 0)
            : ExactDecimal(mantissa: Int128(mantissa), scale: Int(-exponent))
    }
}
