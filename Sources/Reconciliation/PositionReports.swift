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

extension Statement {
    /// The TradeCaptureReports (35=AE) a session that does not book them sent (a clearer's
    /// or LP's trade feed; BookTradeCaptureReports=N), as a trades statement: each trade by
    /// TradeReportID (571), the first side's Side (54) and Account (1), LastQty (32),
    /// LastPx (31), TradeDate (75), TransactTime (60), SettlDate (64). A report that cancels
    /// (TradeReportTransType 487=1) or replaces (487=2) an earlier one, named by
    /// TradeReportRefID (572), takes it out or puts itself in its place.
    public static func tradeCaptureReports(ledger: Ledger, source: String, since: Int64? = nil) throws -> Statement {
        let origin = "fix:\(source)"
        var hasher = SHA256()
        var statement = Statement(origin: origin, digest: "", kinds: [.trades])
        var byID: [String: Int] = [:]
        var trades: [StatementTrade?] = []
        let parser = FIXParser(options: FIXParserOptions(allowsEmptyValues: true))
        for (number, report) in try ledger.reports(kind: "TradeCaptureReport", source: source).enumerated() {
            if let since, report.time < since { continue }
            hasher.update(data: report.message)
            let line = number + 1
            let (trade, transType, reference): (StatementTrade?, Int, String?) = try report.message.withUnsafeBytes { bytes in
                let message: FIXMessage
                do {
                    message = try parser.parse(bytes)
                } catch {
                    throw StatementError(file: origin, line: line, why: "stored TradeCaptureReport does not parse: \(error)")
                }
                let transType = (try? message[tag: 487]?.int()) ?? 0
                let reference = message[tag: 572]?.string
                if transType == 1 { return (nil, transType, reference) }
                return (try Self.trade(in: message, line: line, origin: origin), transType, reference)
            }
            if let reference, transType == 1 || transType == 2, let index = byID.removeValue(forKey: reference) {
                trades[index] = nil
            }
            guard let trade else { continue }
            if let index = byID[trade.tradeID] { trades[index] = nil }
            byID[trade.tradeID] = trades.count
            trades.append(trade)
            statement.asOf = max(statement.asOf ?? report.time, report.time)
            statement.cutoffOffset = max(statement.cutoffOffset ?? report.journalOffset, report.journalOffset)
        }
        statement.trades = trades.compactMap { $0 }
        statement.digest = hasher.finalize().map { String(format: "%02x", $0) }.joined()
        return statement
    }

    static func trade(in message: FIXMessage, line: Int, origin: String) throws -> StatementTrade {
        func fail(_ tag: Int, _ why: String) -> StatementError { StatementError(file: origin, line: line, column: "tag \(tag)", why: why) }
        guard let id = message[tag: 571]?.string, !id.isEmpty else { throw fail(571, "TradeReportID missing") }
        guard let instrument = message[tag: 55]?.string, !instrument.isEmpty else { throw fail(55, "Symbol missing") }
        guard let quantity = try? message[tag: 32]?.decimal(), quantity > .zero else { throw fail(32, "LastQty missing or not positive") }
        guard let price = try? message[tag: 31]?.decimal() else { throw fail(31, "LastPx missing or not a price") }
        // The first side of NoSides (552) is the reporting account's.
        let sidePosition = message.firstPosition(of: 552).flatMap { message.position(of: 54, from: $0) }
        guard let sidePosition, let sideByte = try? message[sidePosition].value.char() else { throw fail(54, "Side missing") }
        let side: Side
        switch sideByte {
        case UInt8(ascii: "1"), UInt8(ascii: "3"): side = .buy
        case UInt8(ascii: "2"), UInt8(ascii: "4"), UInt8(ascii: "5"), UInt8(ascii: "6"): side = .sell
        default: throw fail(54, "Side \(Character(UnicodeScalar(sideByte))) is neither a buy nor a sell")
        }
        guard let account = message.position(of: 1, from: sidePosition).map({ message[$0].value.string }) ?? message[tag: 1]?.string,
              !account.isEmpty else { throw fail(1, "Account missing") }
        func day(_ tag: Int) throws -> CalendarDay? {
            guard let text = message[tag: tag]?.string else { return nil }
            guard let value = CalendarDay(text) else { throw fail(tag, "'\(text)' is not a date (YYYYMMDD)") }
            return value
        }
        var time: Int64?
        if let text = message[tag: 60]?.string {
            guard let value = StatementNumbers.time(text) else { throw fail(60, "'\(text)' is not a UTCTimestamp") }
            time = value
        }
        return StatementTrade(line: line, tradeID: id, account: account, instrument: instrument, side: side, quantity: quantity,
                              price: price, time: time, tradeDate: try day(75) ?? time.map { CalendarDay(daysSinceEpoch: Int($0 / 86_400_000_000_000)) },
                              valueDate: try day(64))
    }
}
