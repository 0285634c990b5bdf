import CLMDB
import Foundation
import Testing

@Suite struct CLMDBTests {
    @Test("the system library links and writes to a real environment on disk")
    func putThenGet() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("clmdb-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }

        var env: OpaquePointer?
        #expect(mdb_env_create(&env) == 0)
        defer { mdb_env_close(env) }
        #expect(mdb_env_set_mapsize(env, 1 << 20) == 0)
        #expect(mdb_env_open(env, folder.path, 0, 0o644) == 0)

        var txn: OpaquePointer?
        #expect(mdb_txn_begin(env, nil, 0, &txn) == 0)
        var dbi: MDB_dbi = 0
        #expect(mdb_dbi_open(txn, nil, 0, &dbi) == 0)
        var keyBytes = Array("key".utf8)
        var valueBytes = Array("value".utf8)
        try keyBytes.withUnsafeMutableBytes { k in
            try valueBytes.withUnsafeMutableBytes { v in
                var key = MDB_val(mv_size: k.count, mv_data: k.baseAddress)
                var value = MDB_val(mv_size: v.count, mv_data: v.baseAddress)
                #expect(mdb_put(txn, dbi, &key, &value, 0) == 0)
                var found = MDB_val()
                #expect(mdb_get(txn, dbi, &key, &found) == 0)
                let bytes = try #require(found.mv_data)
                #expect(String(decoding: UnsafeRawBufferPointer(start: bytes, count: found.mv_size), as: UTF8.self) == "value")
            }
        }
        #expect(mdb_txn_commit(txn) == 0)
    }
}
