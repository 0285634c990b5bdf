import FAST
import FASTFeed
import Foundation
import Ledger
import NIOCore

/// A live feed into the books: each message the feed delivers (in sequence order, on its
/// event loop) goes to a `FASTBooker`, which books in batches with the feed's sequence
/// number as the source's progress; what is pending is booked every `flushInterval` too,
/// so a quiet feed's last trades do not wait. A restart books nothing twice.
///
/// Everything here runs on the feed's event loop: the booker needs no lock. A batch's
/// durable commit blocks that loop for the commit's few milliseconds; the sockets' receive
/// buffers hold what arrives meanwhile.
public final class FeedBooking: FASTFeedDelegate, @unchecked Sendable {
    public let booker: FASTBooker
    private let loop: EventLoop
    private var flushTask: RepeatedTask?
    private let lock = NSLock()
    private var _gaps: [FeedArbiter<[UInt8]>.Gap] = []
    private var _failures: [String] = []
    private var _counts = FASTBooker.Counts()
    private var _progress: UInt64 = 0
    /// Called (on the loop) with each problem: a gap neither line filled, a message that
    /// would not decode or book.
    public var onProblem: (@Sendable (String) -> Void)?

    public init(booker: FASTBooker, loop: EventLoop, flushInterval: TimeAmount = .milliseconds(200)) {
        self.booker = booker
        self.loop = loop
        _progress = booker.progress
        flushTask = loop.scheduleRepeatedTask(initialDelay: flushInterval, delay: flushInterval) { [weak self] _ in
            self?.flush()
        }
    }

    /// What was booked, what the feed missed and what failed, as of the last flush (any thread).
    public var counts: FASTBooker.Counts { lock.withLock { _counts } }
    public var progress: UInt64 { lock.withLock { _progress } }
    public var gaps: [FeedArbiter<[UInt8]>.Gap] { lock.withLock { _gaps } }
    public var failures: [String] { lock.withLock { _failures } }

    public func feed(_ feed: FASTFeed, received message: FASTMessage, sequence: UInt64?) {
        guard let sequence else {
            problem("a message without a sequence number (the framing carries none): not booked")
            return
        }
        do {
            // The decoded message is what is kept with a reject: the datagram is not handed over.
            try booker.take(message, sequence: sequence, raw: Array(message.bytes))
        } catch {
            problem("booking failed at sequence \(sequence): \(error)")
        }
    }

    public func feed(_ feed: FASTFeed, missed gap: FeedArbiter<[UInt8]>.Gap) {
        lock.withLock { _gaps.append(gap) }
        problem("sequence numbers \(gap.first)...\(gap.last) never arrived on either line")
    }

    public func feed(_ feed: FASTFeed, failed error: FASTError) {
        problem("\(error)")
    }

    /// Books what is pending now (on the loop).
    public func flush() {
        loop.execute { [self] in
            do {
                try booker.flush()
            } catch {
                problem("booking failed: \(error)")
            }
            let counts = booker.counts
            let progress = booker.progress
            lock.withLock {
                _counts = counts
                _progress = progress
            }
        }
    }

    /// Books what is pending and stops the timer; waits until done.
    public func stop() async {
        flushTask?.cancel()
        flushTask = nil
        flush()
        try? await loop.submit {}.get()
    }

    private func problem(_ text: String) {
        lock.withLock { _failures.append(text) }
        onProblem?(text)
    }
}
