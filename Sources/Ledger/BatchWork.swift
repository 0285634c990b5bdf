import CMalloc

/// The ledger's own threads, the writer and the projector, run as batch work for the
/// scheduler (SCHED_BATCH on Linux): the same share of the CPU, but a thread that wakes
/// does not preempt the one running.
///
/// - The projector works in bursts of tens of milliseconds every `booksDelay`. On two
///   cores a burst used to take a core just as the event loop or the writer woke for the
///   next execution: the acceptor's read-to-durable p99 at 50,000 reports a second went
///   from 2.6-4.3 ms to 6.0-6.4 ms; as batch work it measured 3.4-3.9 ms. (A nice value of
///   10 did as well there but starved the projector under full load, and an unprivileged
///   thread cannot raise its priority back.)
/// - The writer wakes for every request and after every commit, a thousand times a second
///   and more under load. Each wake could preempt a reader in the middle of a read: a
///   client's latest ten trades, read while a writer books 500 at a time, measured a p99
///   of 19-24 us with the writer at normal priority and 8-11 us as batch work (the harness,
///   three alternating pairs); the acceptor's throughput and 50,000/s p99 did not change.
enum BatchWork {
    static func markThisThread() {
        _ = counterfoil_set_thread_batch()
    }
}
