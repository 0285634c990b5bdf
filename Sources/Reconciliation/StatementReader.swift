import Crypto
import ExactNumbers
import Foundation
import Ledger

/// Reads statement files: the native CSV layouts, CSV described by a `StatementLayout`,
/// and JSON. A statement is read whole before anything uses it: one bad line and the
/// reader throws, naming the line and column, and nothing of the file is applied.
public enum StatementReader {
    /// Reads `path`; JSON when it ends in `.json` or starts with `{`, else CSV in
    /// `layout` (the native layout when nil).
    /// The largest statement file read: a platform's or clearer's daily statement is far
    /// smaller; a larger file is refused before it is read into memory.
    public static let fileBytesMax = 256 * 1024 * 1024

    public static func read(path: String, layout: StatementLayout? = nil) throws -> Statement {
        if let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int, size > fileBytesMax {
            throw StatementError(file: path, line: 0, why: "the file has \(size) bytes; statements of up to \(fileBytesMax) are read")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw StatementError(file: path, line: 0, why: "cannot read the file")
        }
        return try read(bytes: [UInt8](data), origin: path, layout: layout)
    }

    public static func read(bytes: [UInt8], origin: String, layout: StatementLayout? = nil) throws -> Statement {
        let digest = SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
        let firstByte = bytes.first { $0 != 32 && $0 != 9 && $0 != 10 && $0 != 13 }
        if layout == nil && (origin.lowercased().hasSuffix(".json") || firstByte == UInt8(ascii: "{")) {
            return try JSONStatement.read(bytes: bytes, origin: origin, digest: digest)
        }
        return try bytes.withUnsafeBytes { buffer in
            var reader = CSVStatement(bytes: buffer, origin: origin)
            return try reader.read(layout: layout, digest: digest)
        }
    }
}

/// One pass over a CSV statement's bytes. Fields are slices of the file; a row makes
/// Strings only for the codes it keeps (accounts, instruments, currencies, ids).
struct CSVStatement {
    let bytes: UnsafeRawBufferPointer
    let origin: String
    var position = 0
    var lineNumber = 0
    /// The current row's fields as byte ranges, and unescaped copies of quoted fields with "".
    var fields: [Range<Int>] = []
    var unescaped: [Int: [UInt8]] = [:]

    init(bytes: UnsafeRawBufferPointer, origin: String) {
        self.bytes = bytes
        self.origin = origin
        fields.reserveCapacity(16)
    }

    mutating func read(layout given: StatementLayout?, digest: String) throws -> Statement {
        var statement = Statement(origin: origin, digest: digest)
        var layout: StatementLayout
        var header: [String] = []
        let delimiter = given?.delimiter ?? UInt8(ascii: ",")
        for _ in 0..<(given?.skipLines ?? 0) { _ = nextLine() }
        if given?.hasHeader ?? true {
            guard let line = nextNonEmptyLine() else { throw StatementError(file: origin, line: 0, why: "the file is empty") }
            try split(line, delimiter: delimiter)
            header = (0..<fields.count).map { string($0).trimmingCharacters(in: .whitespaces) }
        }
        if let given {
            layout = given
        } else {
            layout = try StatementLayout.native(header: header, file: origin)
        }
        statement.kinds = [layout.kind]
        // Each field's index in a row.
        var index: [StatementLayout.Field: Int] = [:]
        for (field, column) in layout.columns {
            switch column {
            case .position(let n):
                index[field] = n - 1
            case .named(let name):
                guard let i = header.firstIndex(where: { $0.caseInsensitiveCompare(name) == .orderedSame }) else {
                    throw StatementError(file: origin, line: lineNumber, column: name, why: "not in the header (\(layout.name) layout, field \(field.rawValue))")
                }
                index[field] = i
            }
        }
        let widest = (index.values.max() ?? 0) + 1
        var asOfLine = 0
        let row = Row(layout: layout, index: index, header: header)
        while let line = nextLine() {
            if line.isEmpty || bytes[line.lowerBound] == UInt8(ascii: "#") { continue }
            try split(line, delimiter: layout.delimiter)
            if fields.count == 1 && withValue(0, { $0.isEmpty }) { continue }
            guard fields.count >= widest else {
                throw StatementError(file: origin, line: lineNumber, why: "\(fields.count) columns, expected at least \(widest)")
            }
            if let asOf = try time(.asOf, in: row) {
                if let earlier = statement.asOf, earlier != asOf {
                    throw StatementError(file: origin, line: lineNumber, column: columnName(.asOf, in: row),
                                         why: "as_of differs from line \(asOfLine)'s; one statement has one cut-off")
                }
                statement.asOf = asOf
                asOfLine = lineNumber
            }
            switch layout.kind {
            case .positions:
                var quantity = try decimal(.quantity, in: row)!
                if let sign = try side(.side, in: row) { quantity = sign == .buy ? quantity.magnitude : -quantity.magnitude }
                statement.positions.append(StatementPosition(
                    line: lineNumber, account: try account(in: row), instrument: try instrument(in: row),
                    quantity: layout.negate ? -quantity : quantity, averagePrice: try decimal(.averagePrice, in: row),
                    currency: try code(.currency, in: row)))
            case .cash:
                let amount = try decimal(.amount, in: row)!
                statement.cash.append(StatementCash(
                    line: lineNumber, account: try account(in: row), currency: try code(.currency, in: row)!,
                    amount: layout.negate ? -amount : amount))
            case .trades:
                let quantity = try decimal(.quantity, in: row)!
                guard !quantity.isNegative, !quantity.isZero else {
                    throw StatementError(file: origin, line: lineNumber, column: columnName(.quantity, in: row), why: "a trade's quantity must be positive")
                }
                let time = try time(.time, in: row)
                statement.trades.append(StatementTrade(
                    line: lineNumber, tradeID: try code(.tradeID, in: row)!, account: try account(in: row),
                    instrument: try instrument(in: row), side: try side(.side, in: row)!, quantity: quantity,
                    price: try decimal(.price, in: row)!, time: time,
                    tradeDate: try date(.tradeDate, in: row) ?? time.map { CalendarDay(daysSinceEpoch: Int($0 / 86_400_000_000_000)) },
                    valueDate: try date(.valueDate, in: row)))
            }
        }
        return statement
    }

    // MARK: Lines and fields

    /// The next line's byte range without its line ending, or nil at the end.
    mutating func nextLine() -> Range<Int>? {
        guard position < bytes.count else { return nil }
        lineNumber += 1
        let start = position
        var end = start
        while end < bytes.count && bytes[end] != 10 { end += 1 }
        position = end + 1
        if end > start && bytes[end - 1] == 13 { end -= 1 }
        if lineNumber == 1 && end - start >= 3 && bytes[start] == 0xEF && bytes[start + 1] == 0xBB && bytes[start + 2] == 0xBF {
            return (start + 3)..<end  // a UTF-8 byte order mark
        }
        return start..<end
    }

    mutating func nextNonEmptyLine() -> Range<Int>? {
        while let line = nextLine() {
            if !line.isEmpty && bytes[line.lowerBound] != UInt8(ascii: "#") { return line }
        }
        return nil
    }

    /// Splits a line at `delimiter`, honouring double quotes ("" inside is a quote).
    mutating func split(_ line: Range<Int>, delimiter: UInt8) throws {
        fields.removeAll(keepingCapacity: true)
        if !unescaped.isEmpty { unescaped.removeAll() }
        var i = line.lowerBound
        while true {
            if i < line.upperBound && bytes[i] == UInt8(ascii: "\"") {
                var j = i + 1
                var copy: [UInt8]?
                while true {
                    guard j < line.upperBound else {
                        throw StatementError(file: origin, line: lineNumber, column: "#\(fields.count + 1)", why: "a quoted value is not closed")
                    }
                    if bytes[j] == UInt8(ascii: "\"") {
                        if j + 1 < line.upperBound && bytes[j + 1] == UInt8(ascii: "\"") {
                            if copy == nil { copy = Array(bytes[(i + 1)..<j]) }
                            copy!.append(UInt8(ascii: "\""))
                            j += 2
                            continue
                        }
                        break
                    }
                    copy?.append(bytes[j])
                    j += 1
                }
                if let copy { unescaped[fields.count] = copy }
                fields.append((i + 1)..<j)
                i = j + 1
                guard i >= line.upperBound || bytes[i] == delimiter else {
                    throw StatementError(file: origin, line: lineNumber, column: "#\(fields.count)", why: "text after a closing quote")
                }
            } else {
                var j = i
                while j < line.upperBound && bytes[j] != delimiter { j += 1 }
                fields.append(i..<j)
                i = j
            }
            if i >= line.upperBound { break }
            i += 1  // the delimiter
            if i == line.upperBound {
                fields.append(i..<i)
                break
            }
        }
    }

    /// Calls `body` with a field's bytes, spaces trimmed.
    func withValue<R>(_ field: Int, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        if let copy = unescaped[field] { return try copy.withUnsafeBytes { try body(Self.trimmed($0)) } }
        return try body(Self.trimmed(UnsafeRawBufferPointer(rebasing: bytes[fields[field]])))
    }

    static func trimmed(_ raw: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        var start = 0
        var end = raw.count
        while start < end && (raw[start] == 32 || raw[start] == 9) { start += 1 }
        while end > start && (raw[end - 1] == 32 || raw[end - 1] == 9) { end -= 1 }
        return UnsafeRawBufferPointer(rebasing: raw[start..<end])
    }

    func string(_ field: Int) -> String { withValue(field) { String(decoding: $0, as: UTF8.self) } }
}

/// The layout and column positions a statement's rows are read with, made once per file.
final class Row {
    let layout: StatementLayout
    let header: [String]
    /// Each field's index in a row (by `Field.ordinal`), -1 when the layout has none.
    let columns: [Int]
    let required: [Bool]

    init(layout: StatementLayout, index: [StatementLayout.Field: Int], header: [String]) {
        self.layout = layout
        self.header = header
        var columns = [Int](repeating: -1, count: StatementLayout.Field.allCases.count)
        for (field, i) in index { columns[field.ordinal] = i }
        self.columns = columns
        var required = [Bool](repeating: false, count: columns.count)
        for field in StatementLayout.required(for: layout.kind) { required[field.ordinal] = true }
        self.required = required
    }
}

extension StatementLayout.Field {
    /// Its position in `allCases`, for tables indexed by field.
    var ordinal: Int {
        switch self {
        case .account: return 0
        case .instrument: return 1
        case .quantity: return 2
        case .averagePrice: return 3
        case .currency: return 4
        case .asOf: return 5
        case .amount: return 6
        case .tradeID: return 7
        case .side: return 8
        case .price: return 9
        case .time: return 10
        case .tradeDate: return 11
        case .valueDate: return 12
        }
    }
}

extension CSVStatement {
    /// How errors name a field's column: its header name, or its position.
    func columnName(_ field: StatementLayout.Field, in row: Row) -> String {
        let i = row.columns[field.ordinal]
        guard i >= 0 else { return field.rawValue }
        return i < row.header.count ? row.header[i] : "#\(i + 1)"
    }

    func fail(_ field: StatementLayout.Field, in row: Row, _ why: String) -> StatementError {
        StatementError(file: origin, line: lineNumber, column: columnName(field, in: row), why: why)
    }

    /// Calls `body` with the field's bytes; nil when the layout has no such column or the
    /// value is empty (an error for the fields the statement's kind requires).
    func withField<R>(_ field: StatementLayout.Field, in row: Row, _ body: (UnsafeRawBufferPointer) throws -> R?) throws -> R? {
        let i = row.columns[field.ordinal]
        guard i >= 0, i < fields.count else {
            if row.required[field.ordinal] { throw fail(field, in: row, "missing") }
            return nil
        }
        return try withValue(i) { bytes in
            if bytes.isEmpty {
                if row.required[field.ordinal] { throw fail(field, in: row, "empty") }
                return nil
            }
            return try body(bytes)
        }
    }

    func decimal(_ field: StatementLayout.Field, in row: Row) throws -> ExactDecimal? {
        try withField(field, in: row) { bytes in
            guard let value = StatementNumbers.decimal(bytes, decimalSeparator: row.layout.decimalSeparator,
                                                       thousandsSeparator: row.layout.thousandsSeparator) else {
                throw fail(field, in: row, "'\(String(decoding: bytes, as: UTF8.self))' is not a number")
            }
            return value
        }
    }

    func code(_ field: StatementLayout.Field, in row: Row) throws -> String? {
        try withField(field, in: row) { String(decoding: $0, as: UTF8.self) }
    }

    func account(in row: Row) throws -> String {
        let code = try code(.account, in: row)!
        return row.layout.accountMap.isEmpty ? code : row.layout.accountMap[code] ?? code
    }

    func instrument(in row: Row) throws -> String {
        let code = try code(.instrument, in: row)!
        return row.layout.instrumentMap.isEmpty ? code : row.layout.instrumentMap[code] ?? code
    }

    func side(_ field: StatementLayout.Field, in row: Row) throws -> Side? {
        try withField(field, in: row) { bytes in
            let text = String(decoding: bytes, as: UTF8.self).uppercased()
            if row.layout.buyValues.contains(text) { return Side.buy }
            if row.layout.sellValues.contains(text) { return Side.sell }
            throw fail(field, in: row, "'\(text)' is neither a buy (\(row.layout.buyValues.sorted().joined(separator: "/")))"
                       + " nor a sell (\(row.layout.sellValues.sorted().joined(separator: "/")))")
        }
    }

    func date(_ field: StatementLayout.Field, in row: Row) throws -> CalendarDay? {
        try withField(field, in: row) { bytes in
            guard let day = StatementNumbers.date(bytes, format: row.layout.dateFormat) else {
                throw fail(field, in: row, "'\(String(decoding: bytes, as: UTF8.self))' is not a date in \(row.layout.dateFormat.rawValue)")
            }
            return day
        }
    }

    func time(_ field: StatementLayout.Field, in row: Row) throws -> Int64? {
        try withField(field, in: row) { bytes in
            guard let time = StatementNumbers.time(bytes, dateFormat: row.layout.dateFormat) else {
                throw fail(field, in: row, "'\(String(decoding: bytes, as: UTF8.self))' is not a time (\(row.layout.dateFormat.rawValue)"
                           + " with an optional HH:MM:SS[.fff], or YYYYMMDD-HH:MM:SS)")
            }
            return time
        }
    }
}
