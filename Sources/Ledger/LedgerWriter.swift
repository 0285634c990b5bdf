import Foundation
import Synchronization

/// The one owner of write transactions: a dedicated thread that takes every request
/// waiting (up to `batchSizeMax`), runs them in one transaction, commits once (one
/// fsync), then answers them all. A batch's latency is one commit; its size is bounded.
/// Nothing inside a transaction awaits anything.
final class LedgerWriter: @unchecked Sendable {
    private let environment: LMDBEnvironment
    private let db: Databases
    private let settings: LedgerSettings
    private let condition = NSCondition()
    private var queue: [Request] = []
    private var stopping = false
    private let stopped = DispatchSemaphore(value: 0)
    /// The booking tables, reused from one transaction to the next (writer thread only).
    private var scratch = BookingTransaction.Scratch()
    /// Told the last journal offset of every commit (the books follow it).
    private let committed: (UInt64) -> Void
    /// Called with the last committed offset before each batch: it waits while the
    /// books are too far behind.
    private let throttle: (UInt64) -> Void
    private var lastCommitted: UInt64 = 0
    /// Sessions one of whose writes failed: their later writes fail too, until the session
    /// has reloaded its durable state (`resume`). Writer thread only.
    @exclusivity(unchecked) var fencedSessions: Set<String> = []

    /// One piece of work and how to answer it. Only the writer thread touches `run`
    /// and `failure` between enqueue and completion.
    final class Request: @unchecked Sendable {
        let run: (inout BookingTransaction) throws -> Void
        let complete: (Error?) -> Void
        var failure: Error?

        init(run: @escaping (inout BookingTransaction) throws -> Void, complete: @escaping (Error?) -> Void) {
            self.run = run
            self.complete = complete
        }
    }

    init(environment: LMDBEnvironment, db: Databases, settings: LedgerSettings, committed: @escaping (UInt64) -> Void,
         throttle: @escaping (UInt64) -> Void) {
        self.environment = environment
        self.db = db
        self.settings = settings
        self.committed = committed
        self.throttle = throttle
        // The thread holds the object (and so the environments) only while `loop` runs,
        // and says it is done after that, so that `stop()` returning means they can close.
        let stopped = self.stopped
        let thread = Thread { [unowned self] in
            BatchWork.markThisThread()
            loop()
            stopped.signal()
        }
        thread.name = "counterfoil-ledger-writer"
        thread.qualityOfService = .userInitiated
        thread.start()
    }

    /// Finishes what is queued, then ends the thread.
    func stop() {
        condition.lock()
        let already = stopping
        stopping = true
        condition.signal()
        condition.unlock()
        if !already { stopped.wait() }
    }

    func enqueue(_ request: Request) {
        condition.lock()
        if stopping {
            condition.unlock()
            request.complete(LedgerError.invalid("the ledger is closed"))
            return
        }
        queue.append(request)
        condition.signal()
        condition.unlock()
    }

    /// Runs `work` in the next write transaction and waits until it is durable.
    func submitAndWait<R>(_ work: @escaping (inout BookingTransaction) throws -> R) throws -> R {
        let done = DispatchSemaphore(value: 0)
        let box = Box<R>()
        enqueue(Request(run: { box.value = try work(&$0) }, complete: { error in
            box.error = error
            done.signal()
        }))
        done.wait()
        if let error = box.error { throw error }
        return box.value!
    }

    /// Runs `work` in the next write transaction; resumes when it is durable.
    func submit<R: Sendable>(_ work: @escaping (inout BookingTransaction) throws -> R) async throws -> R {
        let box = Box<R>()
        return try await withCheckedThrowingContinuation { continuation in
            enqueue(Request(run: { box.value = try work(&$0) }, complete: { error in
                if let error {
                    continuation.resume(throwing: error)
                } else {
                    continuation.resume(returning: box.value!)
                }
            }))
        }
    }

    private func loop() {
        while true {
            condition.lock()
            while queue.isEmpty && !stopping { condition.wait() }
            if queue.isEmpty && stopping {
                condition.unlock()
                return
            }
            let take = min(queue.count, settings.batchSizeMax)
            let batch = Array(queue.prefix(take))
            queue.removeFirst(take)
            condition.unlock()
            throttle(lastCommitted)
            commit(batch)
        }
    }

    private func commit(_ batch: [Request]) {
        let db = self.db
        let settings = self.settings
        do {
            let end = try environment.write { txn -> UInt64 in
                // Run afresh on every attempt: a full map aborts and redoes the whole batch.
                // Handed over uniquely held, so that emptying it keeps its storage.
                let tables = scratch
                scratch = BookingTransaction.Scratch()
                var booking = try BookingTransaction(txn: txn, db: db, settings: settings, now: LedgerClock.now(), scratch: consume tables)
                defer { scratch = booking.takeScratch() }
                for request in batch {
                    request.failure = nil
                    do {
                        try request.run(&booking)
                    } catch let error as LedgerError {
                        // invalid / notFound are raised before anything is written: only this
                        // request fails. A corrupt store fails the batch.
                        if case .corrupt = error { throw error }
                        request.failure = error
                    }
                }
                try booking.finish()
                return booking.nextOffset - 1
            }
            scratch.confirmSources()
            committed(end)
            lastCommitted = end
            for request in batch { request.complete(request.failure) }
        } catch {
            for request in batch { request.complete(error) }
        }
    }
}

final class Box<T>: @unchecked Sendable {
    var value: T?
    var error: Error?
}

/// Wall-clock time for `bookedAt`, in nanoseconds since the epoch.
enum LedgerClock {
    static func now() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec)
    }
}
