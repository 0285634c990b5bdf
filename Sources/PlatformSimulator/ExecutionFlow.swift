import ExactNumbers
import FIXCore

/// A trading platform's day in ExecutionReports: client orders on a handful of
/// instruments whose prices wander tick by tick, filled in parts, with commission, and
/// now and then a fill corrected or busted by the platform afterwards.
///
/// Deterministic for a seed, so a demo or a benchmark run can be repeated. Each report
/// is written straight into a `FIXEncoder` (no per-message arrays or strings beyond the
/// identifiers), so the flow can feed a load test as well as the demo.
public struct ExecutionFlow: Sendable {
    struct Instrument: Sendable {
        let symbol: StaticString
        let currency: StaticString
        /// Price in ticks of 10^-scale.
        var price: Int64
        let scale: Int
        let spread: Int64
    }

    struct Order: Sendable {
        let number: Int
        let account: Int
        let instrument: Int
        let buy: Bool
        let quantity: Int64
        var filled: Int64 = 0
        /// Σ quantity × price of the fills, in ticks, for the average price.
        var notional: Int64 = 0
    }

    struct Fill: Sendable {
        /// Its ExecID is `execPrefix` and this number.
        let exec: Int
        let order: Order
        let quantity: Int64
        let price: Int64
    }

    /// Accounts the platform reports for.
    public static let accounts = ["ALPHA-001", "ALPHA-002", "BRIGHTON-17", "CASTLE-CAP", "DELTA-FAM", "EVEREST-9",
                                  "FOXTROT-LP", "GARNET-22"]

    private var instruments: [Instrument] = [
        Instrument(symbol: "VOD.L", currency: "GBP", price: 7_250, scale: 2, spread: 5),
        Instrument(symbol: "BARC.L", currency: "GBP", price: 21_480, scale: 2, spread: 10),
        Instrument(symbol: "AAPL", currency: "USD", price: 19_012, scale: 2, spread: 4),
        Instrument(symbol: "MSFT", currency: "USD", price: 42_150, scale: 2, spread: 8),
        Instrument(symbol: "SAP.DE", currency: "EUR", price: 23_605, scale: 2, spread: 10),
        Instrument(symbol: "EURUSD", currency: "USD", price: 108_450, scale: 5, spread: 2),
    ]
    private var random: UInt64
    private var orders: [Order] = []
    private var recentFills: [Fill] = []
    private var nextOrder = 1
    private var nextExec = 1
    /// Prefix of every ExecID and OrderID, so that runs on the same books never collide.
    public let prefix: String
    /// The identifiers' texts before their numbers: ExecIDs, OrderIDs, ClOrdIDs.
    private let execPrefix: String
    private let orderPrefix: String
    private let clOrdPrefix: String
    /// Per thousand reports, how many correct or bust an earlier fill.
    public var correctionsPerMille = 4
    public private(set) var reports = 0
    /// Net quantity per account × instrument of everything reported so far (fills, less
    /// busts): what the books must show.
    private var net: [Int64]

    public init(seed: UInt64, prefix: String) {
        random = seed | 1
        self.prefix = prefix
        execPrefix = prefix + "-E"
        orderPrefix = prefix + "-O"
        clOrdPrefix = prefix + "-C"
        net = Array(repeating: 0, count: Self.accounts.count * instruments.count)
    }

    /// The net quantity the reports so far add up to, per account and symbol (zeros left out).
    public func netPositions() -> [(account: String, instrument: String, quantity: Int64)] {
        var result: [(account: String, instrument: String, quantity: Int64)] = []
        for (account, name) in Self.accounts.enumerated() {
            for (index, instrument) in instruments.enumerated() where net[account * instruments.count + index] != 0 {
                result.append((name, "\(instrument.symbol)", net[account * instruments.count + index]))
            }
        }
        return result
    }

    /// A net position as the platform reports it in a PositionReport.
    public struct ReportedPosition: Sendable {
        public let account: String
        public let instrument: String
        public let currency: String
        public let quantity: Int64
        /// The instrument's last price: the report's settlement price.
        public let price: ExactDecimal
    }

    /// What a PositionReport per non-zero account × instrument says.
    public func reportedPositions() -> [ReportedPosition] {
        var result: [ReportedPosition] = []
        for (account, name) in Self.accounts.enumerated() {
            for (index, instrument) in instruments.enumerated() where net[account * instruments.count + index] != 0 {
                result.append(ReportedPosition(account: name, instrument: "\(instrument.symbol)", currency: "\(instrument.currency)",
                                               quantity: net[account * instruments.count + index],
                                               price: ExactDecimal(mantissa: Int128(instrument.price), scale: instrument.scale)))
            }
        }
        return result
    }

    private mutating func book(_ order: Order, _ quantity: Int64) {
        net[order.account * instruments.count + order.instrument] += order.buy ? quantity : -quantity
    }

    private mutating func next(_ bound: Int) -> Int {
        // xorshift64*: fast, and plenty for a simulation.
        random ^= random >> 12
        random ^= random << 25
        random ^= random >> 27
        return Int((random &* 0x2545_F491_4F6C_DD1D) >> 33) % bound
    }

    /// Appends the body of the next ExecutionReport (the caller started the message and
    /// wrote its header).
    public mutating func appendNextReport(to encoder: FIXEncoder, transactTime: FIXTimestamp, tradeDate: FIXDate) {
        reports += 1
        if recentFills.count > 16 && next(1000) < correctionsPerMille {
            appendCorrection(to: encoder, transactTime: transactTime, tradeDate: tradeDate)
            return
        }
        if orders.count < 12 || next(10) == 0 { openOrder() }
        let slot = next(orders.count)
        var order = orders[slot]
        var instrument = instruments[order.instrument]
        instrument.price = max(instrument.spread * 10, instrument.price + Int64(next(7) - 3))
        instruments[order.instrument] = instrument
        let price = instrument.price + (order.buy ? instrument.spread / 2 : -instrument.spread / 2)
        let remaining = order.quantity - order.filled
        let quantity = remaining <= 100 || next(3) == 0 ? remaining : Int64(1 + next(Int(remaining / 100))) * 100
        order.filled += quantity
        order.notional += quantity * price
        if order.filled == order.quantity {
            orders.swapAt(slot, orders.count - 1)
            orders.removeLast()
        } else {
            orders[slot] = order
        }
        let exec = nextExec
        nextExec += 1
        book(order, quantity)
        recentFills.append(Fill(exec: exec, order: order, quantity: quantity, price: price))
        if recentFills.count > 64 { recentFills.removeFirst(32) }
        appendReport(to: encoder, exec: exec, execType: UInt8(ascii: "F"), reference: nil, order: order,
                     quantity: quantity, price: price, transactTime: transactTime, tradeDate: tradeDate)
    }

    private mutating func openOrder() {
        orders.append(Order(number: nextOrder, account: next(Self.accounts.count), instrument: next(instruments.count),
                            buy: next(2) == 0, quantity: Int64(1 + next(20)) * 100))
        nextOrder += 1
    }

    /// A correction (new quantity or price, ExecType G) or a bust (H) of a recent fill.
    private mutating func appendCorrection(to encoder: FIXEncoder, transactTime: FIXTimestamp, tradeDate: FIXDate) {
        let fill = recentFills.remove(at: next(recentFills.count))
        let exec = nextExec
        nextExec += 1
        if next(3) == 0 {
            book(fill.order, -fill.quantity)
            appendReport(to: encoder, exec: exec, execType: UInt8(ascii: "H"), reference: fill.exec, order: fill.order,
                         quantity: fill.quantity, price: fill.price, transactTime: transactTime, tradeDate: tradeDate)
        } else {
            let price = fill.price + Int64(next(5) - 2)
            recentFills.append(Fill(exec: exec, order: fill.order, quantity: fill.quantity, price: price))
            appendReport(to: encoder, exec: exec, execType: UInt8(ascii: "G"), reference: fill.exec, order: fill.order,
                         quantity: fill.quantity, price: price, transactTime: transactTime, tradeDate: tradeDate)
        }
    }

    private func appendReport(to encoder: FIXEncoder, exec: Int, execType: UInt8, reference: Int?, order: Order,
                              quantity: Int64, price: Int64, transactTime: FIXTimestamp, tradeDate: FIXDate) {
        let instrument = instruments[order.instrument]
        let done = order.filled == order.quantity
        encoder.append(1, Self.accounts[order.account])
        encoder.append(6, ExactDecimal(mantissa: Int128(order.filled == 0 ? price : order.notional / order.filled), scale: instrument.scale))
        encoder.append(11, clOrdPrefix, number: order.number)
        // Commission: 0.02% of the fill's value, at least 1, in the instrument's currency.
        let commission = max(100, Int128(quantity) * Int128(price) * 2 / 10_000 / Int128(ExactDecimal.powerOfTen(instrument.scale - 2)))
        encoder.append(12, ExactDecimal(mantissa: commission, scale: 2))
        encoder.append(13, char: UInt8(ascii: "3"))
        encoder.append(14, Int(order.filled))
        encoder.append(15, instrument.currency)
        encoder.append(17, execPrefix, number: exec)
        if let reference { encoder.append(19, execPrefix, number: reference) }
        encoder.append(31, ExactDecimal(mantissa: Int128(price), scale: instrument.scale))
        encoder.append(32, Int(quantity))
        encoder.append(37, orderPrefix, number: order.number)
        encoder.append(38, Int(order.quantity))
        encoder.append(39, char: done ? UInt8(ascii: "2") : UInt8(ascii: "1"))
        encoder.append(54, char: order.buy ? UInt8(ascii: "1") : UInt8(ascii: "2"))
        encoder.append(55, instrument.symbol)
        encoder.append(60, transactTime)
        encoder.append(75, tradeDate)
        encoder.append(150, char: execType)
        encoder.append(151, Int(order.quantity - order.filled))
    }
}
