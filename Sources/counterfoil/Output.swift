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
        func field(_ value: String) -> String {
            value.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" })
                ? "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : value
        }
        return ([columns] + rows).map { $0.map(field).joined(separator: ",") }.joined(separator: "\n")
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
