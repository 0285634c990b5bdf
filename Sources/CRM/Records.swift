import CLMDB
import Foundation
import Ledger

/// JSON records in LMDB: what the CRM keeps is small and read far less often than the
/// books, so it is stored readably.
enum Records {
    static func encode<T: Encodable>(_ value: T) throws -> [UInt8] { [UInt8](try JSONEncoder().encode(value)) }

    static func decode<T: Decodable>(_ type: T.Type, _ bytes: UnsafeRawBufferPointer) throws -> T {
        try JSONDecoder().decode(type, from: Data(bytes))
    }

    static func get<T: Decodable>(_ txn: ReadTransaction, _ dbi: MDB_dbi, _ key: [UInt8], as type: T.Type) throws -> T? {
        try txn.get(dbi, key) { try decode(type, $0) }
    }

    static func put<T: Encodable>(_ txn: WriteTransaction, _ dbi: MDB_dbi, _ key: [UInt8], _ value: T) throws {
        try txn.put(dbi, key, try encode(value))
    }

    /// Values of every key starting with `prefix`, in key order.
    static func scan<T: Decodable>(_ txn: ReadTransaction, _ dbi: MDB_dbi, prefix: [UInt8], as type: T.Type,
                                   while more: (T) -> Bool = { _ in true }) throws -> [T] {
        var result: [T] = []
        try txn.scan(dbi, from: prefix) { key, value in
            guard key.starts(with: prefix) else { return false }
            let item = try decode(type, value)
            result.append(item)
            return more(item)
        }
        return result
    }

    static func json<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "null"
    }
}
