import TestSupport
import ExactNumbers
import Foundation
@testable import Ledger

let tradeDay = CalendarDay(year: 2026, month: 11, day: 27)!

func trade(_ id: String, _ account: String, _ instrument: String, _ side: Side, _ quantity: String, _ price: String,
           currency: String = "USD", source: String = "test", kind: ExecutionKind = .trade, commission: String = "0") -> Execution {
    Execution(source: source, executionID: id, kind: kind, account: account, instrument: instrument, side: side,
              quantity: ExactDecimal(quantity)!, price: ExactDecimal(price)!, currency: currency, tradeDate: tradeDay,
              transactTime: 1_795_800_000_000_000_000, commission: ExactDecimal(commission)!)
}

/// An independent model of the books: a plain list of effective events per account ×
/// instrument, replayed with the textbook rules. It shares no code with the ledger.
struct BooksModel {
    struct Book {
        var quantity = ExactDecimal.zero
        var averageCost = ExactDecimal.zero
        var realized = ExactDecimal.zero
        var lots: [(quantity: ExactDecimal, price: ExactDecimal)] = []
    }

    let fifo: Bool
    var books: [String: Book] = [:]           // "account|instrument"
    var cash: [String: ExactDecimal] = [:]     // "account|currency"
    /// The current terms of each booked execution by id, nil once busted.
    var live: [String: Execution] = [:]

    mutating func apply(_ e: Execution) {
        switch e.kind {
        case .trade:
            guard live[e.executionID] == nil else { return }
            live[e.executionID] = e
            move(e, reversing: false)
        case .bust(let reference):
            guard let original = live[reference] else { return }
            move(original, reversing: true)
            live[reference] = nil
        case .correction(let reference):
            guard let original = live[reference] else { return }
            move(original, reversing: true)
            var replacement = e
            replacement.kind = .trade
            live[reference] = replacement
            move(replacement, reversing: false)
        }
    }

    mutating func move(_ e: Execution, reversing: Bool) {
        let sign: ExactDecimal = (e.side == .buy) != reversing ? 1 : -1
        let units = sign * e.quantity
        let commission = reversing ? -e.commission : e.commission
        cash[e.account + "|" + e.currency, default: .zero] += -(units * e.price) - commission
        var book = books[e.account + "|" + e.instrument] ?? Book()
        if fifo { fifoMove(&book, units, e.price) } else { averageMove(&book, units, e.price) }
        books[e.account + "|" + e.instrument] = book
    }

    func averageMove(_ book: inout Book, _ units: ExactDecimal, _ price: ExactDecimal) {
        let before = book.quantity
        let after = before + units
        let sameWay = before.isZero || (before < .zero) == (units < .zero)
        if sameWay {
            let totalCost = before.magnitude * book.averageCost + units.magnitude * price
            book.averageCost = totalCost.divided(by: after.magnitude, scale: 10, .halfEven)
        } else {
            let closed = before.magnitude < units.magnitude ? before.magnitude : units.magnitude
            book.realized += before > .zero ? closed * (price - book.averageCost) : closed * (book.averageCost - price)
            if after.isZero { book.averageCost = .zero } else if (after < .zero) != (before < .zero) { book.averageCost = price }
        }
        book.quantity = after
    }

    func fifoMove(_ book: inout Book, _ units: ExactDecimal, _ price: ExactDecimal) {
        var left = units
        while !left.isZero, let first = book.lots.first, (first.quantity < .zero) != (left < .zero) {
            let take = first.quantity.magnitude < left.magnitude ? first.quantity.magnitude : left.magnitude
            book.realized += first.quantity > .zero ? take * (price - first.price) : take * (first.price - price)
            let remaining = first.quantity > .zero ? first.quantity - take : first.quantity + take
            if remaining.isZero { book.lots.removeFirst() } else { book.lots[0].quantity = remaining }
            left = left > .zero ? left - take : left + take
        }
        if !left.isZero { book.lots.append((left, price)) }
        book.quantity += units
        var openUnits = ExactDecimal.zero
        var openCost = ExactDecimal.zero
        for lot in book.lots {
            openUnits += lot.quantity.magnitude
            openCost += lot.quantity.magnitude * lot.price
        }
        book.averageCost = openUnits.isZero ? .zero : openCost.divided(by: openUnits, scale: 10, .halfEven)
    }
}

/// `entry` as record version 1 wrote it: fixed-width numbers, every leg listed. The
/// ledger no longer writes this, but must read the journals that hold it.
func versionOneRecord(_ entry: JournalEntry) -> [UInt8] {
    var w = ByteWriter(capacity: 512)
    w.u8(1)
    w.u64(entry.offset)
    w.u8(entry.kind.rawValue)
    w.string(entry.source)
    w.string(entry.executionID)
    w.u64(entry.reference)
    w.string(entry.account)
    w.string(entry.instrument)
    w.u8(entry.side.rawValue)
    w.decimal(entry.quantity)
    w.decimal(entry.price)
    w.string(entry.currency)
    w.day(entry.tradeDate)
    w.day(entry.valueDate)
    w.i64(entry.transactTime)
    w.decimal(entry.commission)
    w.decimal(entry.fees)
    w.i64(entry.bookedAt)
    w.string(entry.memo)
    w.u32(UInt32(entry.postings.count))
    for posting in entry.postings {
        w.string(posting.account)
        switch posting.asset {
        case .instrument(let name): w.u8(1); w.string(name)
        case .currency(let code): w.u8(2); w.string(code)
        }
        w.decimal(posting.amount)
    }
    return w.bytes
}
