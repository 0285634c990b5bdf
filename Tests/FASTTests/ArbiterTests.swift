@testable import FAST
import Testing

/// A/B arbitration alone: sequence numbers in, deliveries and gaps out.
@Suite struct FeedArbiterTests {
    typealias Arbiter = FeedArbiter<String>

    static func summary(_ events: [Arbiter.Event]) -> [String] {
        events.map { event in
            switch event {
            case .deliver(let sequence, let line, let payload): return "\(sequence)\(line == .a ? "A" : "B"):\(payload)"
            case .gap(let gap): return "gap \(gap.first)-\(gap.last)"
            }
        }
    }

    @Test("the first copy of each number goes on; the other line's copy is a duplicate")
    func firstCopyWins() {
        var arbiter = Arbiter(window: 8)
        var out: [String] = []
        out += Self.summary(arbiter.receive(10, line: .a, payload: "x"))
        out += Self.summary(arbiter.receive(10, line: .b, payload: "x"))
        out += Self.summary(arbiter.receive(11, line: .b, payload: "y"))
        out += Self.summary(arbiter.receive(11, line: .a, payload: "y"))
        #expect(out == ["10A:x", "11B:y"])
        #expect(arbiter.duplicates == 2 && arbiter.expected == 12)
    }

    @Test("a number missing on one line is taken from the other, in order")
    func otherLineFills() {
        var arbiter = Arbiter(window: 8, expecting: 1)
        var out: [String] = []
        out += Self.summary(arbiter.receive(1, line: .a, payload: "1"))
        out += Self.summary(arbiter.receive(3, line: .a, payload: "3"))
        out += Self.summary(arbiter.receive(4, line: .a, payload: "4"))
        #expect(arbiter.missing == Arbiter.Gap(first: 2, last: 2))
        out += Self.summary(arbiter.receive(2, line: .b, payload: "2"))
        out += Self.summary(arbiter.receive(3, line: .b, payload: "3"))
        #expect(out == ["1A:1", "2B:2", "3A:3", "4A:4"])
        #expect(arbiter.missing == nil)
    }

    @Test("missing on both lines: reported as a gap when the window fills or on flush, then on in order")
    func gaps() {
        var arbiter = Arbiter(window: 3, expecting: 1)
        var out: [String] = []
        for sequence: UInt64 in [1, 4, 5, 6] { out += Self.summary(arbiter.receive(sequence, line: .a, payload: "\(sequence)")) }
        #expect(out == ["1A:1"])
        out += Self.summary(arbiter.receive(7, line: .a, payload: "7"))
        #expect(out == ["1A:1", "gap 2-3", "4A:4", "5A:5", "6A:6", "7A:7"])
        // Late copies of what was given up are duplicates now.
        #expect(arbiter.receive(2, line: .b, payload: "2").isEmpty)
        out = Self.summary(arbiter.receive(9, line: .b, payload: "9"))
        out += Self.summary(arbiter.flush())
        #expect(out == ["gap 8-8", "9B:9"])
    }
}
