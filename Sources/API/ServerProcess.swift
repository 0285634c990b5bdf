import CMalloc
import NIOCore
import NIOPosix

/// Process-wide settings for a process that serves the API: call `prepare()` once, first
/// thing in `main`, before any task runs.
public enum ServerProcess {
    /// - NIO's event loops become Swift concurrency's global executor, so that a request's
    ///   handler runs on the loop that read it, without a hop between threads (the API
    ///   sends its blocking writes to NIO's thread pool: see `APIServer.writing`).
    /// - malloc keeps up to 64 MiB of freed memory instead of giving it back to the kernel
    ///   at once: a trade page's 30-40 KB buffer otherwise costs seven page faults a
    ///   request, about a twentieth of the CPU under load (Benchmarks/README.md).
    public static func prepare() {
        _ = NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        keepFreedMemory()
    }

    /// Whether malloc took the setting (it does with glibc).
    @discardableResult
    static func keepFreedMemory() -> Bool {
        counterfoil_malloc_trim_threshold(64 << 20) == 1
    }
}
