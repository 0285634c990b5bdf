import Crypto
import ExactNumbers
import FIXCore
import Ledger

extension Statement {
    /// The PositionReports (35=AP) a FIX session sent, as a positions statement: for each
    /// account × instrument the latest report (only those answering RequestForPositions
    /// `request` (PosReqID 710) when given, only those received from `since` when given).
    /// The quantity is LongQty − ShortQty of the end-of-day entry (PosType FIN), else the
    /// transaction quantity (TQ), else the first entry of NoPositions; SettlPrice (730) is
    /// a mark, not an average cost, so prices are not compared. "Line" numbers are
    /// the reports' order of arrival. The cut-off is exact: the journal as it stood when
    /// the last report used was stored, which holds everything the platform sent before it.
    public static func positionReports(ledger: Ledger, source: String, request: String? = nil, since: Int64? = nil) throws -> Statement {
        let reports = try ledger.reports(kind: "PositionReport", source: source)
        var hasher = SHA256()
        var statement = Statement(origin: "fix:\(source)", digest: "", kinds: [.positions])
        var latest: [String: Int] = [:]
        let parser = FIXParser(options: FIXParserOptions(allowsEmptyValues: true))
        for (number, report) in reports.enumerated() {
            if let since, report.time < since { continue }
            hasher.update(data: report.message)
            let position: StatementPosition? = try report.message.withUnsafeBytes { bytes in
                let message: FIXMessage
                do {
                    message = try parser.parse(bytes)
                } catch {
                    throw StatementError(file: "fix:\(source)", line: number + 1, why: "stored PositionReport does not parse: \(error)")
                }
                if let request, message[tag: 710]?.string != request { return nil }
                // PosReqResult (728): 0 valid; anything else (no positions, not authorised…) carries none.
                if let result = message[tag: 728], !result.equals("0") { return nil }
                return try Self.position(in: message, line: number + 1, origin: "fix:\(source)")
            }
            guard let position else { continue }
            let key = position.account + "\u{1}" + position.instrument
            if let index = latest[key] {
                statement.positions[index] = position
            } else {
                latest[key] = statement.positions.count
                statement.positions.append(position)
            }
            statement.asOf = max(statement.asOf ?? report.time, report.time)
            statement.cutoffOffset = max(statement.cutoffOffset ?? report.journalOffset, report.journalOffset)
        }
        statement.digest = hasher.finalize().map { String(format: "%02x", $0) }.joined()
        return statement
    }

    /// PosReqID (710) of a stored report, if it parses and has one.
    static func requestID(in message: [UInt8]) -> String? {
        message.withUnsafeBytes { bytes in
            (try? FIXParser(options: FIXParserOptions(allowsEmptyValues: true)).parse(bytes))?[tag: 710]?.string
        }
    }

    static func position(in message: FIXMessage, line: Int, origin: String) throws -> StatementPosition {
        func fail(_ tag: Int, _ why: String) -> StatementError { StatementError(file: origin, line: line, column: "tag \(tag)", why: why) }
        guard let account = message[tag: 1]?.string, !account.isEmpty else { throw fail(1, "Account missing") }
        guard let instrument = message[tag: 55]?.string, !instrument.isEmpty else { throw fail(55, "Symbol missing") }
        var entries: [(type: String, long: ExactDecimal, short: ExactDecimal)] = []
        for field in message {
            switch field.tag {
            case 703:
                entries.append((field.value.string, .zero, .zero))
            case 704, 705:
                guard !entries.isEmpty else { throw fail(field.tag, "outside a NoPositions (702) entry") }
                guard let value = try? field.value.decimal() else { throw fail(field.tag, "'\(field.value.string)' is not a quantity") }
                if field.tag == 704 { entries[entries.count - 1].long = value } else { entries[entries.count - 1].short = value }
            default:
                continue
            }
        }
        guard let entry = entries.first(where: { $0.type == "FIN" }) ?? entries.first(where: { $0.type == "TQ" }) ?? entries.first else {
            throw fail(702, "no position quantities (NoPositions)")
        }
        return StatementPosition(line: line, account: account, instrument: instrument, quantity: entry.long - entry.short,
                                 currency: message[tag: 15]?.string)
    }
}
