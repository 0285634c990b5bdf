import ExactNumbers
import Foundation

/// The state of a settlement obligation.
public enum SettlementStatus: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case pending = 1
    case settled = 2
    case failed = 3

    public var description: String {
        switch self {
        case .pending: return "pending"
        case .settled: return "settled"
        case .failed: return "failed"
        }
    }

    public init?(name: String) {
        guard let status = SettlementStatus.allCases.first(where: { $0.description == name.lowercased() }) else { return nil }
        self = status
    }
}

/// What an account owes or is owed of one asset on one value date, netted over trades.
public struct SettlementObligation: Hashable, Sendable {
    public var account: String
    public var asset: Asset
    public var valueDate: CalendarDay
    /// Positive: the account receives; negative: it delivers.
    public var amount: ExactDecimal
    public var status: SettlementStatus
}

/// How an instrument settles: after how many business days, on which calendars.
public struct SettlementRule: Sendable, Hashable {
    public var businessDays: Int
    /// Calendars whose holidays are not business days (for FX, both currencies').
    public var calendars: [String]

    public init(businessDays: Int, calendars: [String]) {
        self.businessDays = businessDays
        self.calendars = calendars
    }
}

/// Reference data for value dates: instrument conventions and holiday calendars.
///
/// Without an entry for an instrument: a currency pair `AAA/BBB` settles T+2 on both
/// currencies' calendars (USD/CAD and its mirror T+1), anything else T+1 on its
/// currency's calendar. An instrument file overrides per instrument, for example CFDs
/// at T+0.
public struct SettlementCalendar: Sendable {
    public var rules: [String: SettlementRule]
    public var holidays: [String: Set<CalendarDay>]

    public init(rules: [String: SettlementRule] = [:], holidays: [String: Set<CalendarDay>] = [:]) {
        self.rules = rules
        self.holidays = holidays
    }

    public func rule(for instrument: String, currency: String) -> SettlementRule {
        if let rule = rules[instrument] { return rule }
        let parts = instrument.split(separator: "/")
        if parts.count == 2, parts[0].count == 3, parts[1].count == 3 {
            let pair = Set([String(parts[0]), String(parts[1])])
            let days = pair == ["USD", "CAD"] || pair == ["USD", "TRY"] || pair == ["USD", "RUB"] ? 1 : 2
            return SettlementRule(businessDays: days, calendars: [String(parts[0]), String(parts[1])])
        }
        return SettlementRule(businessDays: 1, calendars: [currency])
    }

    public func isBusinessDay(_ day: CalendarDay, calendars: [String]) -> Bool {
        if day.isoWeekday >= 6 { return false }
        return !calendars.contains { holidays[$0]?.contains(day) ?? false }
    }

    /// `tradeDate` plus the rule's business days.
    public func valueDate(tradeDate: CalendarDay, instrument: String, currency: String) -> CalendarDay {
        let rule = rule(for: instrument, currency: currency)
        var day = tradeDate
        var left = rule.businessDays
        while left > 0 {
            day = day.adding(days: 1)
            if isBusinessDay(day, calendars: rule.calendars) { left -= 1 }
        }
        return day
    }

    /// Loads instrument rules (`instrument,business_days[,calendar;calendar…]`) and
    /// holidays (`calendar,date[,name]`) from CSV files; a bad line is named.
    public static func load(instrumentsFile: String?, holidaysFile: String?) throws -> SettlementCalendar {
        var calendar = SettlementCalendar()
        if let instrumentsFile {
            try forEachRow(instrumentsFile) { line, fields in
                guard fields.count >= 2, !fields[0].isEmpty else {
                    throw LedgerError.invalid("\(instrumentsFile):\(line): expected instrument,business_days[,calendars]")
                }
                guard let days = Int(fields[1]), days >= 0 && days <= 30 else {
                    throw LedgerError.invalid("\(instrumentsFile):\(line): business_days '\(fields[1])' is not a number from 0 to 30")
                }
                let calendars = fields.count > 2 ? fields[2].split(separator: ";").map(String.init) : []
                calendar.rules[fields[0]] = SettlementRule(businessDays: days, calendars: calendars)
            }
        }
        if let holidaysFile {
            try forEachRow(holidaysFile) { line, fields in
                guard fields.count >= 2, !fields[0].isEmpty else {
                    throw LedgerError.invalid("\(holidaysFile):\(line): expected calendar,date[,name]")
                }
                guard let day = CalendarDay(fields[1]) else {
                    throw LedgerError.invalid("\(holidaysFile):\(line): date '\(fields[1])' is not YYYY-MM-DD")
                }
                calendar.holidays[fields[0], default: []].insert(day)
            }
        }
        return calendar
    }

    /// Calls `body` with each data line's number and comma-separated fields; skips a
    /// header line (first field not a value) and `#` comments.
    static func forEachRow(_ path: String, _ body: (Int, [String]) throws -> Void) throws {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw LedgerError.invalid("cannot read \(path)")
        }
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map {
                $0.trimmingCharacters(in: .whitespaces)
            }
            if index == 0 && (fields.first == "instrument" || fields.first == "calendar") { continue }
            try body(index + 1, fields)
        }
    }
}
