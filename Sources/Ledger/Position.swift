import ExactNumbers

/// An account's holding of one instrument.
public struct Position: Hashable, Sendable {
    public var account: String
    public var instrument: String
    /// Net units: positive long, negative short.
    public var quantity: ExactDecimal
    /// Average price of the open units (by the ledger's P&L method).
    public var averageCost: ExactDecimal
    /// Profit realized by closing units, in `currency`.
    public var realizedPnL: ExactDecimal
    /// The currency the instrument is traded in.
    public var currency: String
    /// For FIFO: open lots are numbered `firstLot ..< nextLot`, and `lotCost` is the
    /// sum of |units| × price over them (so the average needs no walk over the lots).
    public var firstLot: UInt64
    public var nextLot: UInt64
    public var lotCost: ExactDecimal

    public init(account: String, instrument: String, currency: String) {
        self.account = account
        self.instrument = instrument
        self.currency = currency
        quantity = .zero
        averageCost = .zero
        realizedPnL = .zero
        firstLot = 0
        nextLot = 0
        lotCost = .zero
    }

    /// Decimals kept for average costs; the rest is rounded half-even.
    public static let averageCostScale = 10

    /// Unrealized P&L against `mark`.
    public func unrealizedPnL(mark: ExactDecimal) -> ExactDecimal {
        (mark - averageCost) * quantity
    }

    func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: 128)
        encode(into: &w)
        return w.bytes
    }

    func encode(into w: inout ByteWriter) {
        w.decimal(quantity)
        w.decimal(averageCost)
        w.decimal(realizedPnL)
        w.string(currency)
        w.u64(firstLot)
        w.u64(nextLot)
        w.decimal(lotCost)
    }

    init(account: String, instrument: String, decoding bytes: UnsafeRawBufferPointer) throws {
        var r = ByteReader(bytes)
        self.account = account
        self.instrument = instrument
        quantity = try r.decimal()
        averageCost = try r.decimal()
        realizedPnL = try r.decimal()
        currency = try r.string()
        firstLot = try r.u64()
        nextLot = try r.u64()
        lotCost = try r.decimal()
    }
}

/// An open FIFO lot: units still open from one trade, at its price.
public struct Lot: Hashable, Sendable {
    public var quantity: ExactDecimal
    public var price: ExactDecimal
}

/// Applying trades to a position. The same code books and re-computes (`check`), so
/// the stored books and an independent replay of the journal agree exactly.
enum PositionMath {
    /// Average cost: buys raise the average, sells realize against it; a trade through
    /// zero closes the old position and opens a new one at the trade price.
    /// Every step is checked: a sum or product that does not fit throws
    /// `ExactDecimalOverflow` before the position changes.
    static func applyAverageCost(_ position: inout Position, units: ExactDecimal, price: ExactDecimal) throws {
        let q = position.quantity
        if q.isZero || q.signum == units.signum {
            let newQuantity = try q.adding(units)
            let cost = try q.magnitude.multiplied(by: position.averageCost).adding(units.magnitude.multiplied(by: price))
            position.averageCost = try cost.dividing(by: newQuantity.magnitude, scale: Position.averageCostScale)
            position.quantity = newQuantity
            return
        }
        let closing = min(units.magnitude, q.magnitude)
        let direction: ExactDecimal = q.isNegative ? -1 : 1
        let realized = try position.realizedPnL.adding(closing.multiplied(by: price.subtracting(position.averageCost)).multiplied(by: direction))
        let newQuantity = try q.adding(units)
        position.realizedPnL = realized
        if newQuantity.isZero {
            position.averageCost = .zero
        } else if newQuantity.signum != q.signum {
            position.averageCost = price
        }
        position.quantity = newQuantity
    }

    /// FIFO: closing units consume the oldest open lots first; opening units become a
    /// new lot at the end. Only the lots consumed are read.
    static func applyFIFO<Lots: LotQueue>(_ position: inout Position, lots: inout Lots, units: ExactDecimal, price: ExactDecimal) throws {
        var remaining = units
        while !remaining.isZero, position.firstLot < position.nextLot {
            let first = try lots.lot(position.firstLot)
            if first.quantity.signum == remaining.signum { break }
            let closing = min(remaining.magnitude, first.quantity.magnitude)
            let direction: ExactDecimal = first.quantity.isNegative ? -1 : 1
            position.realizedPnL = try position.realizedPnL.adding(closing.multiplied(by: price.subtracting(first.price)).multiplied(by: direction))
            position.lotCost = try position.lotCost.subtracting(closing.multiplied(by: first.price))
            let left = first.quantity - closing * direction
            if left.isZero {
                try lots.remove(position.firstLot)
                position.firstLot += 1
            } else {
                try lots.set(position.firstLot, Lot(quantity: left, price: first.price))
            }
            remaining += closing * direction
        }
        if !remaining.isZero {
            try lots.set(position.nextLot, Lot(quantity: remaining, price: price))
            position.nextLot += 1
            position.lotCost = try position.lotCost.adding(remaining.magnitude.multiplied(by: price))
        }
        position.quantity = try position.quantity.adding(units)
        position.averageCost = position.quantity.isZero ? .zero
            : try position.lotCost.dividing(by: position.quantity.magnitude, scale: Position.averageCostScale)
    }
}

/// Where a position's FIFO lots are kept: LMDB when booking, memory when checking.
protocol LotQueue {
    mutating func lot(_ number: UInt64) throws -> Lot
    mutating func set(_ number: UInt64, _ lot: Lot) throws
    mutating func remove(_ number: UInt64) throws
}

/// Positions rebuilt in memory from journal entries, with the ledger's P&L method: what
/// `check` compares with the stored positions, and what as-of queries return.
struct PositionReplay {
    let method: RealizedPnLMethod
    var positions: [PositionKey: Position] = [:]
    var lots: [PositionKey: MemoryLots] = [:]

    init(method: RealizedPnLMethod) { self.method = method }

    /// Applies `posting` of `entry` if it moves a position (an instrument leg of a trade,
    /// reversal, replacement or position adjustment).
    mutating func apply(_ posting: Posting, of entry: JournalEntry) throws {
        guard entry.movesPosition, case .instrument(let instrument) = posting.asset else { return }
        let key = PositionKey(account: posting.account, instrument: instrument)
        var position = positions[key] ?? Position(account: posting.account, instrument: instrument, currency: entry.currency)
        switch method {
        case .averageCost:
            try PositionMath.applyAverageCost(&position, units: posting.amount, price: entry.price)
        case .fifo:
            var queue = lots[key] ?? MemoryLots()
            try PositionMath.applyFIFO(&position, lots: &queue, units: posting.amount, price: entry.price)
            lots[key] = queue
        }
        positions[key] = position
    }
}
