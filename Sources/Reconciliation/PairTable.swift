import Foundation

/// Statement rows by their two codes (account and instrument, say), found from bytes:
/// open addressing over row numbers with a cheap multiplicative hash, so that a million
/// positions read in place from the books are matched without making a String or
/// running SipHash for each.
struct PairTable {
    private var slots: [Int32]
    private let mask: Int

    init(capacity: Int) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        slots = [Int32](repeating: -1, count: size)
        mask = size - 1
    }

    static func hash(_ first: UnsafeRawBufferPointer, _ second: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(first.count &* 31 &+ second.count)
        @inline(__always) func mix(_ bytes: UnsafeRawBufferPointer) {
            var i = 0
            while i + 8 <= bytes.count {
                h = (h ^ bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* 0xBF58_476D_1CE4_E5B9
                h ^= h >> 31
                i += 8
            }
            var tail: UInt64 = 0
            var shift: UInt64 = 0
            while i < bytes.count {
                tail |= UInt64(bytes[i]) << shift
                shift += 8
                i += 1
            }
            h = (h ^ tail ^ 0xFF) &* 0x94D0_49BB_1331_11EB
            h ^= h >> 29
        }
        mix(first)
        mix(second)
        return h
    }

    /// The row already under this hash for which `same` holds, or nil after adding `row`.
    mutating func insert(_ row: Int32, hash: UInt64, same: (Int32) -> Bool) -> Int32? {
        var slot = Int(truncatingIfNeeded: hash) & mask
        while true {
            let existing = slots[slot]
            if existing < 0 {
                slots[slot] = row
                return nil
            }
            if same(existing) { return existing }
            slot = (slot + 1) & mask
        }
    }

    func find(hash: UInt64, same: (Int32) -> Bool) -> Int32? {
        var slot = Int(truncatingIfNeeded: hash) & mask
        while true {
            let existing = slots[slot]
            if existing < 0 { return nil }
            if same(existing) { return existing }
            slot = (slot + 1) & mask
        }
    }
}

extension String {
    /// Calls `body` with the string's UTF-8 bytes without copying native strings.
    @inline(__always)
    func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        if let result = try utf8.withContiguousStorageIfAvailable({ try body(UnsafeRawBufferPointer($0)) }) { return result }
        return try Array(utf8).withUnsafeBytes(body)
    }

    @inline(__always)
    func equals(_ bytes: UnsafeRawBufferPointer) -> Bool {
        withBytes { mine in mine.count == bytes.count && (mine.count == 0 || memcmp(mine.baseAddress!, bytes.baseAddress!, mine.count) == 0) }
    }
}
