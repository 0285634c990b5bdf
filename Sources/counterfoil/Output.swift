import ArgumentParser
import Foundation

/// How a command prints rows.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case table, csv, json
}

/// Rows of named columns, printed as an aligned table, CSV or a JSON array of objects.
struct Rows {
    let columns: [String]
    var rows: [[String]] = []
    /// Columns whose values are numbers (right-aligned in tables; still strings in JSON,
    /// so that no reader turns an exact decimal into a binary float).
    var numeric: Set<String> = []

    init(_ columns: [String], numeric: Set<String> = []) {
        self.columns = columns
        self.numeric = numeric
    }

    mutating func append(_ values: [String]) {
        precondition(values.count == columns.count, "row width")
        rows.append(values)
    }

    func render(_ format: OutputFormat) -> String {
        switch format {
        case .table: return table()
        case .csv: return csv()
        case .json: return json()
        }
    }

    func table() -> String {
        if rows.isEmpty { return "(none)" }
        // Values from outside (a FIX field, a statement) may hold escape sequences that
        // would drive the reader's terminal: control characters are shown escaped.
        let rows = self.rows.map { $0.map(Rows.escapingControls) }
        var widths = columns.map(\.count)
        for row in rows {
            for (i, value) in row.enumerated() { widths[i] = max(widths[i], value.count) }
        }
        func line(_ values: [String]) -> String {
            values.enumerated().map { i, value in
                let padding = String(repeating: " ", count: widths[i] - value.count)
                return numeric.contains(columns[i]) ? padding + value : value + padding
            }.joined(separator: "  ").replacing(/\ +$/, with: "")
        }
        var out = [line(columns), widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")]
        out += rows.map(line)
        return out.joined(separator: "\n")
    }

    func csv() -> String {
        func field(_ value: String, numeric: Bool) -> String {
            let value = numeric ? value : Rows.neutralizingFormula(value)
            return value.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
                ? "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : value
        }
        let header = columns.map { field($0, numeric: false) }.joined(separator: ",")
        let body = rows.map { row in
            zip(columns, row).map { field($1, numeric: numeric.contains($0)) }.joined(separator: ",")
        }
        return ([header] + body).joined(separator: "\n")
    }

    /// A text cell a spreadsheet would run as a formula (`=HYPERLINK(…)`, `+`, `-`, `@`,
    /// tab, CR) gets a leading apostrophe, as OWASP advises; numeric columns are left alone,
    /// so that -12.5 stays a number.
    static func neutralizingFormula(_ value: String) -> String {
        guard let first = value.unicodeScalars.first, ["=", "+", "-", "@", "\t", "\r"].contains(first) else { return value }
        return "'" + value
    }

    /// Control characters (ESC, BEL, CR, SOH…) as `\u{…}` escapes; other text as it is.
    static func escapingControls(_ value: String) -> String {
        guard value.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else { return value }
        var out = ""
        for scalar in value.unicodeScalars {
            if scalar.properties.generalCategory == .control {
                out += "\\u{" + String(scalar.value, radix: 16) + "}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    func json() -> String {
        let objects = rows.map { Dictionary(uniqueKeysWithValues: zip(columns, $0)) }
        guard let data = try? JSONSerialization.data(withJSONObject: objects, options: [.prettyPrinted, .sortedKeys]) else { return "[]" }
        return String(decoding: data, as: UTF8.self)
    }
}

/// Where the books live unless `--ledger` says otherwise.
let defaultLedgerFolder = "var/ledger"

struct LedgerOption: ParsableArguments {
    @Option(name: .customLong("ledger"), help: "The ledger folder (an LMDB environment).")
    var folder: String = defaultLedgerFolder
}
