/// A/B line arbitration by sequence number, for a feed published twice (two multicast
/// groups, or two TCP streams): the first copy of each sequence number goes on, the
/// second is dropped, and numbers that arrive early wait (up to `window` of them) for the
/// ones before them. When the window overflows, or `flush` is called after a timeout, the
/// missing numbers are reported as a gap and the waiting messages go on in order.
///
/// Pure: packets and decisions in, no I/O, no clock.
public struct FeedArbiter<Payload> {
    public enum Line: Sendable { case a, b }

    public struct Gap: Equatable, Sendable {
        /// The missing sequence numbers, both ends included.
        public let first: UInt64
        public let last: UInt64
    }

    /// What `receive` and `flush` decided, in order.
    public enum Event {
        case deliver(sequence: UInt64, line: Line, payload: Payload)
        case gap(Gap)
    }

    public let window: Int
    /// The next sequence number to deliver (nil until the first packet sets it).
    public private(set) var expected: UInt64?
    private var waiting: [UInt64: (Line, Payload)] = [:]
    public private(set) var duplicates = 0
    public private(set) var delivered: [Line: Int] = [.a: 0, .b: 0]

    public init(window: Int = 1024, expecting first: UInt64? = nil) {
        precondition(window > 0)
        self.window = window
        expected = first
    }

    /// A packet from one line; what follows from it.
    public mutating func receive(_ sequence: UInt64, line: Line, payload: Payload) -> [Event] {
        guard let next = expected else {
            expected = sequence
            return receive(sequence, line: line, payload: payload)
        }
        if sequence < next || waiting[sequence] != nil {
            duplicates += 1
            return []
        }
        var events: [Event] = []
        if sequence == next {
            events.append(deliver(sequence, line, payload))
            drain(&events)
            return events
        }
        waiting[sequence] = (line, payload)
        if waiting.count > window {
            skipToWaiting(&events)
        }
        return events
    }

    /// Gives up waiting (the caller's timeout): the missing numbers before the earliest
    /// waiting message are a gap, and what waits goes on in order.
    public mutating func flush() -> [Event] {
        var events: [Event] = []
        while !waiting.isEmpty { skipToWaiting(&events) }
        return events
    }

    /// The sequence numbers missing right now, before the messages that wait.
    public var missing: Gap? {
        guard let next = expected, let first = waiting.keys.min() else { return nil }
        return Gap(first: next, last: first - 1)
    }

    private mutating func deliver(_ sequence: UInt64, _ line: Line, _ payload: Payload) -> Event {
        expected = sequence + 1
        delivered[line, default: 0] += 1
        return .deliver(sequence: sequence, line: line, payload: payload)
    }

    private mutating func drain(_ events: inout [Event]) {
        while let next = expected, let (line, payload) = waiting.removeValue(forKey: next) {
            events.append(deliver(next, line, payload))
        }
    }

    private mutating func skipToWaiting(_ events: inout [Event]) {
        guard let next = expected, let first = waiting.keys.min() else { return }
        events.append(.gap(Gap(first: next, last: first - 1)))
        expected = first
        drain(&events)
    }
}
