import CLMDB
import Foundation
import Synchronization

/// An error from the storage layer: what LMDB said, and during what.
public struct StorageError: Error, CustomStringConvertible, Sendable {
    public let code: Int32
    public let operation: String

    init(_ code: Int32, _ operation: String) {
        self.code = code
        self.operation = operation
    }

    public var isMapFull: Bool { code == MDB_MAP_FULL }

    public var description: String {
        let message = String(cString: mdb_strerror(code))
        return "\(operation): \(message)"
    }
}

@inline(__always)
func check(_ code: Int32, _ operation: @autoclosure () -> String) throws(StorageError) {
    if code != 0 { throw StorageError(code, operation()) }
}

/// One LMDB environment: a folder with a memory-mapped B-tree file.
///
/// Read transactions run concurrently and never block each other or the writer. Write
/// transactions belong to one owner (the ledger's writer thread). The map grows on
/// demand: when a write finds it full, the writer waits for readers to step aside,
/// doubles it, and redoes the write. An environment is opened once per process.
public final class LMDBEnvironment: @unchecked Sendable {
    let env: OpaquePointer
    public let path: String
    /// Readers hold this shared while a transaction is open; resizing the map holds it
    /// exclusively (LMDB requires no open transaction in the process for that).
    let resizeLock = ReadersWriterLock()
    private let databases = Mutex<[String: MDB_dbi]>([:])
    /// Read transactions kept between uses, reset (no snapshot, reader slot kept):
    /// renewing one skips the lock on the reader table that beginning one takes.
    private let idleReaders = Mutex<[IdleReader]>([])
    /// At most this many idle read transactions are kept (each holds a reader slot).
    static let idleReadersMax = 32

    /// A reset read transaction; only the pool holds it, and only one caller uses it.
    struct IdleReader: @unchecked Sendable {
        let txn: OpaquePointer
    }
    /// Guards against opening one folder twice in a process, which LMDB forbids.
    private static let openPaths = Mutex<Set<String>>([])

    /// Every page of the map this process has read counts as its resident memory (file
    /// pages, not heap), and without a release that grows with the files: by 1.6 GB over
    /// 10 M drop-copy reports. So after a commit that finds the file grown by this many
    /// pages since the last release, the map's pages are released from the process
    /// (`madvise(MADV_DONTNEED)` over the read-only shared map). The data stays in the page
    /// cache; a page read again is mapped again by a minor fault.
    let releaseEveryPages: Int
    /// The file's last page when the map was last released.
    private let releasedAt = Atomic<Int>(0)
    /// Releases run here, off the committing thread: one over hundreds of MiB takes
    /// milliseconds (6 ms measured), which the writer's next batch would wait out. A
    /// release holds the environment until it is done (`waitForReleases`).
    private let releases = DispatchQueue(label: "counterfoil.lmdb.map-release", qos: .utility)

    /// Opens (creating if needed) the environment in `path`.
    public init(path: String, mapSize: Int = 1 << 30, maxDatabases: Int = 32, maxReaders: Int = 256,
                releaseEveryPages: Int = 65_536) throws {
        self.releaseEveryPages = releaseEveryPages
        let url = URL(fileURLWithPath: path)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        let canonical = url.resolvingSymlinksInPath().standardizedFileURL.path
        let claimed = LMDBEnvironment.openPaths.withLock { $0.insert(canonical).inserted }
        guard claimed else {
            throw StorageError(EBUSY, "open \(canonical): already open in this process")
        }
        var handle: OpaquePointer?
        do {
            try check(mdb_env_create(&handle), "create environment")
            try check(mdb_env_set_maxdbs(handle, MDB_dbi(maxDatabases)), "set max databases")
            try check(mdb_env_set_maxreaders(handle, UInt32(maxReaders)), "set max readers")
            try check(mdb_env_set_mapsize(handle, mapSize), "set map size")
            // NOTLS: read transactions belong to their object, not their thread, so that
            // Swift tasks may hop threads while reading.
            try check(mdb_env_open(handle, canonical, UInt32(MDB_NOTLS), 0o640), "open \(canonical)")
        } catch {
            if let handle { mdb_env_close(handle) }
            _ = LMDBEnvironment.openPaths.withLock { $0.remove(canonical) }
            throw error
        }
        env = handle!
        self.path = canonical
        // Readers left behind by processes that died (a crash) hold old pages; clear them.
        var dead: Int32 = 0
        mdb_reader_check(env, &dead)
    }

    deinit {
        for idle in idleReaders.withLock({ $0 }) { mdb_txn_abort(idle.txn) }
        mdb_env_close(env)
        _ = LMDBEnvironment.openPaths.withLock { $0.remove(path) }
    }

    /// The current map size in bytes.
    public var mapSize: Int {
        var info = MDB_envinfo()
        mdb_env_info(env, &info)
        return info.me_mapsize
    }

    /// Opens (creating) a named database; call during start-up.
    public func database(_ name: String, duplicateSort: Bool = false) throws -> MDB_dbi {
        if let dbi = databases.withLock({ $0[name] }) { return dbi }
        var txn: OpaquePointer?
        try check(mdb_txn_begin(env, nil, 0, &txn), "begin transaction to open \(name)")
        var dbi: MDB_dbi = 0
        var flags = UInt32(MDB_CREATE)
        if duplicateSort { flags |= UInt32(MDB_DUPSORT) }
        let code = mdb_dbi_open(txn, name, flags, &dbi)
        if code != 0 {
            mdb_txn_abort(txn)
            throw StorageError(code, "open database \(name)")
        }
        try check(mdb_txn_commit(txn), "commit opening \(name)")
        databases.withLock { $0[name] = dbi }
        return dbi
    }

    /// Runs `body` in a read-only transaction (a consistent snapshot).
    public func read<R>(_ body: (ReadTransaction) throws -> R) throws -> R {
        resizeLock.lockShared()
        defer { resizeLock.unlockShared() }
        var txn: OpaquePointer?
        if let idle = idleReaders.withLock({ $0.popLast() }) {
            if mdb_txn_renew(idle.txn) == 0 {
                txn = idle.txn
            } else {
                mdb_txn_abort(idle.txn)
            }
        }
        if txn == nil {
            try check(mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &txn), "begin read transaction")
        }
        let reader = txn!
        defer {
            // Back to the pool without its snapshot (so the writer may reuse old pages).
            mdb_txn_reset(reader)
            let kept = idleReaders.withLock { idle -> Bool in
                guard idle.count < LMDBEnvironment.idleReadersMax else { return false }
                idle.append(IdleReader(txn: reader))
                return true
            }
            if !kept { mdb_txn_abort(reader) }
        }
        return try body(ReadTransaction(txn: reader))
    }

    /// Runs `body` in a write transaction and commits it (one fsync). Growing the map and
    /// redoing `body` when it is full. Only the ledger's writer calls this.
    public func write<R>(_ body: (WriteTransaction) throws -> R) throws -> R {
        while true {
            var txn: OpaquePointer?
            try check(mdb_txn_begin(env, nil, 0, &txn), "begin write transaction")
            let result: R
            do {
                result = try body(WriteTransaction(txn: txn!))
            } catch let error as StorageError where error.isMapFull {
                mdb_txn_abort(txn)
                try growMap()
                continue
            } catch {
                mdb_txn_abort(txn)
                throw error
            }
            // mdb_txn_commit frees the transaction whether it succeeds or not.
            let code = mdb_txn_commit(txn)
            if code == 0 {
                if mapReleaseDue() { releases.async { self.releaseMap() } }
                return result
            }
            if code == MDB_MAP_FULL {
                try growMap()
                continue
            }
            throw StorageError(code, "commit")
        }
    }

    /// Whether the file has grown by `releaseEveryPages` since the map's pages were last
    /// released (see there); true once per such growth.
    func mapReleaseDue() -> Bool {
        var info = MDB_envinfo()
        mdb_env_info(env, &info)
        let last = Int(info.me_last_pgno)
        let previous = releasedAt.load(ordering: .relaxed)
        return last - previous >= releaseEveryPages
            && releasedAt.compareExchange(expected: previous, desired: last, ordering: .relaxed).exchanged
    }

    /// Releases the map's pages from the process.
    func releaseMap() {
        // Held shared, the lock keeps the map where it is (growing it remaps) meanwhile.
        resizeLock.lockShared()
        defer { resizeLock.unlockShared() }
        for (start, count) in mappedRanges() { _ = madvise(start, count, MADV_DONTNEED) }
    }

    /// Returns once the releases already begun are done: then nothing but its owners holds
    /// the environment, and dropping them closes it.
    public func waitForReleases() { releases.sync {} }

    /// Where this process maps the environment's data file: LMDB does not say (its
    /// `me_mapaddr` is only for fixed maps), the kernel's list of the process's mappings
    /// does. Empty where there is no such list.
    func mappedRanges() -> [(UnsafeMutableRawPointer, Int)] {
        // Read to the end: the file reports no size, and `String(contentsOfFile:)` stops
        // after its first page.
        guard let handle = FileHandle(forReadingAtPath: "/proc/self/maps"),
              let bytes = try? handle.readToEnd() else { return [] }
        let maps = String(decoding: bytes, as: UTF8.self)
        let file = path + "/data.mdb"
        var ranges: [(UnsafeMutableRawPointer, Int)] = []
        for line in maps.split(separator: "\n") where line.hasSuffix(" " + file) {
            // "start-end perms offset device inode path"
            let bounds = line.prefix { $0 != " " }.split(separator: "-")
            guard bounds.count == 2, let start = UInt(bounds[0], radix: 16), let end = UInt(bounds[1], radix: 16), end > start,
                  let address = UnsafeMutableRawPointer(bitPattern: start) else { continue }
            ranges.append((address, Int(end - start)))
        }
        return ranges
    }

    /// Doubles the map, with no transaction open in this process.
    func growMap() throws {
        resizeLock.lockExclusive()
        defer { resizeLock.unlockExclusive() }
        let newSize = mapSize * 2
        try check(mdb_env_set_mapsize(env, newSize), "grow map to \(newSize) bytes")
    }

    /// A consistent, compacted copy of the environment into the folder `destination`,
    /// taken while writers carry on (LMDB copies from one read snapshot).
    public func backup(to destination: String) throws {
        try FileManager.default.createDirectory(atPath: destination, withIntermediateDirectories: true)
        resizeLock.lockShared()
        defer { resizeLock.unlockShared() }
        try check(mdb_env_copy2(env, destination, UInt32(MDB_CP_COMPACT)), "back up to \(destination)")
    }
}

/// A read-only snapshot.
public struct ReadTransaction {
    let txn: OpaquePointer

    /// The value stored under `key`, handed to `body` without copying.
    public func get<R>(_ dbi: MDB_dbi, _ key: [UInt8], _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R? {
        try key.withUnsafeBytes { try get(dbi, $0, body) }
    }

    /// The value stored under `key` (given in place), handed to `body` without copying.
    public func get<R>(_ dbi: MDB_dbi, _ key: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R? {
        var k = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        var v = MDB_val()
        let code = mdb_get(txn, dbi, &k, &v)
        if code == MDB_NOTFOUND { return nil }
        try check(code, "get")
        return try body(UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size))
    }

    /// Walks keys from `start` (inclusive) in order while `body` returns true.
    public func scan(_ dbi: MDB_dbi, from start: [UInt8], reverse: Bool = false,
                     _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool) throws {
        try start.withUnsafeBytes { try scan(dbi, from: $0, reverse: reverse, body) }
    }

    /// As `scan(_:from:reverse:_:)`, from a key the caller holds in memory of its own.
    public func scan(_ dbi: MDB_dbi, from startBytes: UnsafeRawBufferPointer, reverse: Bool = false,
                     _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool) throws {
        var cursor: OpaquePointer?
        try check(mdb_cursor_open(txn, dbi, &cursor), "open cursor")
        defer { mdb_cursor_close(cursor) }
        var k = MDB_val(mv_size: startBytes.count, mv_data: UnsafeMutableRawPointer(mutating: startBytes.baseAddress))
        var v = MDB_val()
        var code: Int32
        if reverse {
            // Position at the last key <= start.
            code = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE)
            if code == MDB_NOTFOUND {
                code = mdb_cursor_get(cursor, &k, &v, MDB_LAST)
            } else if code == 0 {
                let exact = UnsafeRawBufferPointer(start: k.mv_data, count: k.mv_size).elementsEqual(startBytes)
                if !exact { code = mdb_cursor_get(cursor, &k, &v, MDB_PREV) }
            }
        } else {
            code = startBytes.isEmpty ? mdb_cursor_get(cursor, &k, &v, MDB_FIRST)
                : mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE)
        }
        while code == 0 {
            let more = try body(UnsafeRawBufferPointer(start: k.mv_data, count: k.mv_size),
                                UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size))
            if !more { return }
            code = mdb_cursor_get(cursor, &k, &v, reverse ? MDB_PREV : MDB_NEXT)
        }
        if code != MDB_NOTFOUND { try check(code, "scan") }
    }

    /// The last key of a database keyed by big-endian u64 ids (0 when it is empty): the
    /// next id to hand out follows it.
    public func lastID(_ dbi: MDB_dbi) throws -> UInt64 {
        var last: UInt64 = 0
        try scan(dbi, from: Key.offset(.max), reverse: true) { key, _ in
            var r = ByteReader(key)
            last = try r.u64()
            return false
        }
        return last
    }

    /// The number of entries in a database.
    public func count(_ dbi: MDB_dbi) throws -> Int {
        var stat = MDB_stat()
        try check(mdb_stat(txn, dbi, &stat), "stat")
        return stat.ms_entries
    }

    /// The pages a database's B-tree takes: leaves, branches and overflow pages.
    public func pages(_ dbi: MDB_dbi) throws -> (leaf: Int, branch: Int, overflow: Int) {
        var stat = MDB_stat()
        try check(mdb_stat(txn, dbi, &stat), "stat")
        return (stat.ms_leaf_pages, stat.ms_branch_pages, stat.ms_overflow_pages)
    }
}

/// A write transaction: reads see its own writes.
public struct WriteTransaction {
    let txn: OpaquePointer

    public var reader: ReadTransaction { ReadTransaction(txn: txn) }

    public func put(_ dbi: MDB_dbi, _ key: [UInt8], _ value: [UInt8], append: Bool = false) throws {
        try key.withUnsafeBytes { k in
            try value.withUnsafeBytes { v in
                try put(dbi, k, v, append: append)
            }
        }
    }

    public func put(_ dbi: MDB_dbi, _ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer, append: Bool = false) throws {
        var k = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        var v = MDB_val(mv_size: value.count, mv_data: UnsafeMutableRawPointer(mutating: value.baseAddress))
        try check(mdb_put(txn, dbi, &k, &v, append ? UInt32(MDB_APPEND) : 0), "put")
    }

    /// Runs `body` with a cursor on `dbi`. Keys visited in order through one cursor are
    /// found from the page it is on, without a descent from the root each time.
    public func withCursor<R>(_ dbi: MDB_dbi, _ body: (WriteCursor) throws -> R) throws -> R {
        var cursor: OpaquePointer?
        try check(mdb_cursor_open(txn, dbi, &cursor), "open cursor")
        defer { mdb_cursor_close(cursor) }
        return try body(WriteCursor(cursor: cursor!))
    }

    /// A cursor on `dbi` for the rest of this transaction: LMDB closes a write
    /// transaction's cursors when it ends.
    public func openCursor(_ dbi: MDB_dbi) throws -> WriteCursor {
        var cursor: OpaquePointer?
        try check(mdb_cursor_open(txn, dbi, &cursor), "open cursor")
        return WriteCursor(cursor: cursor!)
    }

    /// Deletes `key`; true if it was there.
    @discardableResult
    public func delete(_ dbi: MDB_dbi, _ key: [UInt8]) throws -> Bool {
        try key.withUnsafeBytes { keyBytes in
            var k = MDB_val(mv_size: keyBytes.count, mv_data: UnsafeMutableRawPointer(mutating: keyBytes.baseAddress))
            let code = mdb_del(txn, dbi, &k, nil)
            if code == MDB_NOTFOUND { return false }
            try check(code, "delete")
            return true
        }
    }

    public func get<R>(_ dbi: MDB_dbi, _ key: [UInt8], _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R? {
        try reader.get(dbi, key, body)
    }

    /// Deletes every key in `dbi` (the database itself stays).
    public func empty(_ dbi: MDB_dbi) throws {
        try check(mdb_drop(txn, dbi, 0), "empty")
    }
}

/// A cursor in a write transaction, for reading and writing keys in order.
public struct WriteCursor {
    let cursor: OpaquePointer

    /// The value stored under `key`, handed to `body` without copying.
    public func get<R>(_ key: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R? {
        var k = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        var v = MDB_val()
        let code = mdb_cursor_get(cursor, &k, &v, MDB_SET_KEY)
        if code == MDB_NOTFOUND { return nil }
        try check(code, "cursor get")
        return try body(UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size))
    }

    /// The last key in the database, handed to `body` in place; nil when it is empty.
    public func lastKey<R>(_ body: (UnsafeRawBufferPointer) throws -> R) throws -> R? {
        var k = MDB_val()
        var v = MDB_val()
        let code = mdb_cursor_get(cursor, &k, &v, MDB_LAST)
        if code == MDB_NOTFOUND { return nil }
        try check(code, "cursor last")
        return try body(UnsafeRawBufferPointer(start: k.mv_data, count: k.mv_size))
    }

    /// Stores `value` under `key`; `append` when the key sorts after every key there is.
    public func put(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer, append: Bool = false) throws {
        var k = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        var v = MDB_val(mv_size: value.count, mv_data: UnsafeMutableRawPointer(mutating: value.baseAddress))
        try check(mdb_cursor_put(cursor, &k, &v, append ? UInt32(MDB_APPEND) : 0), "cursor put")
    }

    /// Stores `value` under `key` unless the key is there already; then stores nothing and
    /// hands `body` the stored value. One search, where a `get` and a `put` take two.
    public func insert<R>(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer,
                          ifPresent body: (UnsafeRawBufferPointer) throws -> R) throws -> R? {
        var k = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        var v = MDB_val(mv_size: value.count, mv_data: UnsafeMutableRawPointer(mutating: value.baseAddress))
        let code = mdb_cursor_put(cursor, &k, &v, UInt32(MDB_NOOVERWRITE))
        // On MDB_KEYEXIST, LMDB points `v` at the value stored.
        if code == MDB_KEYEXIST { return try body(UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size)) }
        try check(code, "cursor insert")
        return nil
    }

    /// Replaces the value of the key the cursor is on (`key`, which `get` just found),
    /// without searching for it again.
    public func replaceCurrent(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws {
        var k = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        var v = MDB_val(mv_size: value.count, mv_data: UnsafeMutableRawPointer(mutating: value.baseAddress))
        try check(mdb_cursor_put(cursor, &k, &v, UInt32(MDB_CURRENT)), "cursor replace")
    }
}

/// Many readers or one exclusive holder; readers never wait for each other.
final class ReadersWriterLock: @unchecked Sendable {
    private var lock = pthread_rwlock_t()

    init() { pthread_rwlock_init(&lock, nil) }
    deinit { pthread_rwlock_destroy(&lock) }

    func lockShared() { pthread_rwlock_rdlock(&lock) }
    func unlockShared() { pthread_rwlock_unlock(&lock) }
    func lockExclusive() { pthread_rwlock_wrlock(&lock) }
    func unlockExclusive() { pthread_rwlock_unlock(&lock) }
}
