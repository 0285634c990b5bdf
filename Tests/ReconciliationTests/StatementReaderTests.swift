import ExactNumbers
import Foundation
import Ledger
import Reconciliation
import TestSupport
import Testing

@Suite struct StatementReaderTests {
    func read(_ text: String, name: String = "s.csv", layout: StatementLayout? = nil) throws -> Statement {
        let folder = TemporaryFolder("statement")
        defer { folder.cleanup() }
        let path = folder.file(name)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return try StatementReader.read(path: path, layout: layout)
    }

    func error(_ text: String, name: String = "s.csv", layout: StatementLayout? = nil) -> StatementError? {
        do {
            _ = try read(text, name: name, layout: layout)
            return nil
        } catch let error as StatementError {
            return error
        } catch {
            Issue.record("unexpected error \(error)")
            return nil
        }
    }

    @Test("the native layouts need no configuration: positions, cash and trades by their header")
    func nativeLayouts() throws {
        let positions = try read("\u{FEFF}instrument,account,quantity,average_price,as_of\r\n"
                                 + "AAPL,ACC-1,60,190,2026-11-27T17:00:00Z\r\n\"MSFT\", ACC-1 ,-50.5,,2026-11-27T17:00:00Z\r\n\r\n# note\n")
        #expect(positions.positions == [
            StatementPosition(line: 2, account: "ACC-1", instrument: "AAPL", quantity: 60, averagePrice: 190),
            StatementPosition(line: 3, account: "ACC-1", instrument: "MSFT", quantity: ExactDecimal("-50.5")!),
        ])
        #expect(positions.asOf == StatementNumbers.time("2026-11-27T17:00:00Z"))
        #expect(positions.kinds == [.positions])

        let cash = try read("account,currency,amount\nACC-1,USD,(31725.00)\nACC-2,\"G\"\"BP\",5730\n")
        #expect(cash.cash.map(\.amount) == [ExactDecimal("-31725.00")!, 5730])
        #expect(cash.cash[1].currency == "G\"BP")

        let trades = try read("trade_id,account,instrument,side,quantity,price,time,value_date\n"
                              + "T1,ACC-1,AAPL,BUY,100,190,20261127-14:01:00.250,2026-12-01\n")
        let trade = try #require(trades.trades.first)
        #expect(trade.side == .buy && trade.quantity == 100 && trade.price == 190)
        #expect(trade.time == tradeTime + 60_250_000_000)
        #expect(trade.tradeDate == tradeDay && trade.valueDate == CalendarDay(year: 2026, month: 12, day: 1))
    }

    @Test("a bad statement names the line and the column", arguments: [
        ("account,instrument,quantity\nACC-1,AAPL,60\nACC-1,MSFT,5O\n", 3, "quantity", "'5O' is not a number"),
        ("account,instrument,quantity\nACC-1,AAPL\n", 2, nil, "2 columns, expected at least 3"),
        ("account,instrument,quantity\nACC-1,,60\n", 2, "instrument", "empty"),
        ("account,instrument,qty\nACC-1,AAPL,60\n", 1, "qty", "unknown column"),
        ("account,instrument\nACC-1,AAPL\n", 1, "quantity", "missing from the header of a positions statement"),
        ("account,instrument,quantity,as_of\nA,X,1,2026-11-27\nA,Y,1,2026-11-28\n", 3, "as_of", "as_of differs from line 2's"),
        ("account,instrument,quantity,as_of\nA,X,1,2026-13-27\n", 2, "as_of", "is not a time"),
        ("trade_id,account,instrument,side,quantity,price\nT1,A,X,HOLD,1,2\n", 2, "side", "'HOLD' is neither a buy"),
        ("trade_id,account,instrument,side,quantity,price\nT1,A,X,B,-1,2\n", 2, "quantity", "must be positive"),
        ("account,instrument,quantity\n\"ACC-1,AAPL,60\n", 2, "#1", "a quoted value is not closed"),
        ("price,time\n1,2\n", 1, nil, "the header names no known layout"),
    ] as [(String, Int, String?, String)])
    func badLines(text: String, line: Int, column: String?, why: String) throws {
        let error = try #require(self.error(text))
        #expect(error.line == line)
        #expect(error.column == column)
        #expect(error.why.contains(why), "\(error)")
        #expect(error.description.hasPrefix(error.file + ":\(line)"))
    }

    @Test("a platform's own CSV read through a [STATEMENT] layout: delimiter, banner, decimal comma, sides, code maps")
    func mappedLayout() throws {
        let settings = [
            "Name": "broker-x", "Kind": "positions", "Delimiter": ";", "SkipLines": "1", "DecimalSeparator": ",",
            "ThousandsSeparator": ".", "Column.account": "Acct", "Column.instrument": "ISIN", "Column.quantity": "Net",
            "Column.average_price": "Avg Px", "Column.side": "L/S", "BuyValues": "L", "SellValues": "S",
            "AccountMap": "X-1:ACC-1, X-2:ACC-2", "InstrumentMap": "US0378331005:AAPL,GB00BH4HKS39:VOD.L",
        ]
        let layout = try StatementLayout(settings: settings, line: { _ in 7 }, file: "counterfoil.cfg")
        let statement = try read("Positions of Broker X, 27.11.2026\nAcct;ISIN;Net;Avg Px;L/S\n"
                                 + "X-1;US0378331005;60;190,00;L\nX-2;US0378331005;30;191;S\nX-2;GB00BH4HKS39;\"1.000\";0,72;L\n",
                                 layout: layout)
        #expect(statement.positions.map { "\($0.line) \($0.account) \($0.instrument) \($0.quantity) \($0.averagePrice!)" } == [
            "3 ACC-1 AAPL 60 190.00", "4 ACC-2 AAPL -30 191", "5 ACC-2 VOD.L 1000 0.72",
        ])
        var broken = settings
        broken["Column.quantity"] = nil
        #expect(throws: StatementLayoutError.self) { try StatementLayout(settings: broken, line: { _ in 7 }, file: "counterfoil.cfg") }
        broken = settings
        broken["DateFormat"] = "D/M/Y"
        do {
            _ = try StatementLayout(settings: broken, line: { $0 == "DateFormat" ? 12 : 7 }, file: "counterfoil.cfg")
            Issue.record("a bad DateFormat was accepted")
        } catch let error as StatementLayoutError {
            #expect(error.description.hasPrefix("counterfoil.cfg:12: [STATEMENT] DateFormat: expected one of"))
        }
    }

    @Test("positions by column number without a header, signs negated, dates day first")
    func positionalLayout() throws {
        var layout = try StatementLayout(settings: [
            "Name": "clearer", "Kind": "cash", "Header": "N", "Column.account": "#2", "Column.currency": "#3",
            "Column.amount": "#4", "Column.as_of": "#1", "DateFormat": "DD/MM/YYYY", "QuantitySign": "negate",
        ], line: { _ in 1 }, file: "cfg")
        let statement = try read("27/11/2026,ACC-1,USD,31725\n27/11/2026,ACC-2,GBP,720\n", layout: layout)
        #expect(statement.cash.map(\.amount) == [-31725, -720])
        #expect(statement.asOf == StatementNumbers.time("2026-11-27")!)
        #expect(statement.asOf! % 86_400_000_000_000 == 86_400_000_000_000 - 1, "a date alone is the end of that day")
        layout.columns[.amount] = .position(9)
        #expect(error("27/11/2026,ACC-1,USD,31725\n", layout: layout)?.why == "4 columns, expected at least 9")
    }

    @Test("JSON statements: numbers read exactly whether written as numbers or strings; errors name the element")
    func json() throws {
        let statement = try read("""
            {"as_of": "2026-11-27T17:00:00Z",
             "positions": [{"account": "ACC-1", "instrument": "AAPL", "quantity": 60, "average_price": 190.000000000000000001}],
             "cash": [{"account": "ACC-1", "currency": "USD", "amount": "-31725.10"}],
             "trades": [{"trade_id": "T1", "account": "ACC-1", "instrument": "AAPL", "side": "buy", "quantity": 100, "price": "190",
                         "time": "2026-11-27T14:01:00Z"}]}
            """, name: "s.json")
        #expect(statement.positions.first?.averagePrice == ExactDecimal("190.000000000000000001"))
        #expect(statement.cash.first?.amount == ExactDecimal("-31725.10"))
        #expect(statement.trades.first?.time == tradeTime + 60_000_000_000)
        #expect(statement.kinds == [.positions, .cash, .trades])
        let bad = try #require(error(#"{"positions": [{"account": "A", "instrument": "X", "quantity": 1}, {"account": "A", "instrument": "Y", "quantity": "x"}]}"#, name: "s.json"))
        #expect(bad.column == "positions[1].quantity" && bad.why == "'x' is not a number")
        #expect(error("{\"positions\": [", name: "s.json")?.why.hasPrefix("not valid JSON") == true)
    }

    @Test("times: ISO with or without Z and fractions, FIX UTCTimestamp, a date alone")
    func times() {
        #expect(StatementNumbers.time("2026-11-27T14:00:00Z") == tradeTime)
        #expect(StatementNumbers.time("2026-11-27 14:00") == tradeTime)
        #expect(StatementNumbers.time("20261127-14:00:00.000000001") == tradeTime + 1)
        #expect(StatementNumbers.time("2026-11-27T25:00:00") == nil)
        #expect(StatementNumbers.time("yesterday") == nil)
    }
}
