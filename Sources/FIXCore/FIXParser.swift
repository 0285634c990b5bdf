/// One field's place in a message: its tag and where its value lies.
@frozen
public struct FIXFieldEntry: Sendable, Equatable {
    public var tag: UInt32
    public var valueOffset: UInt32
    public var valueLength: UInt32

    @inlinable
    public init(tag: UInt32, valueOffset: UInt32, valueLength: UInt32) {
        self.tag = tag
        self.valueOffset = valueOffset
        self.valueLength = valueLength
    }
}

/// How a parser reads messages.
public struct FIXParserOptions: Sendable {
    /// The most fields one message may have; the parser's table is allocated this large once.
    public var fieldsMax: Int
    /// Accept `tag=` with nothing before the delimiter (QuickFIX's ValidateFieldsHaveValues=N).
    /// The value is then empty; validation decides what to make of it.
    public var allowsEmptyValues: Bool
    /// Length field → data field pairs whose data may contain SOH (RawDataLength 95 → RawData 96, …).
    public var rawDataFields: [(lengthTag: Int, dataTag: Int)]

    /// The length-prefixed data fields of FIX 4.0 to 5.0SP2.
    public static let standardRawDataFields: [(lengthTag: Int, dataTag: Int)] = [
        (90, 91), (93, 89), (95, 96), (212, 213), (348, 349), (350, 351), (352, 353),
        (354, 355), (356, 357), (358, 359), (360, 361), (362, 363), (364, 365), (445, 446),
        (618, 619), (621, 622), (1184, 1185), (1277, 1278), (1401, 1402), (1403, 1404),
    ]

    public init(fieldsMax: Int = 1024, allowsEmptyValues: Bool = false,
                rawDataFields: [(lengthTag: Int, dataTag: Int)] = FIXParserOptions.standardRawDataFields) {
        precondition(fieldsMax >= 4 && fieldsMax <= 65_535, "fieldsMax must be in 4...65535")
        self.fieldsMax = fieldsMax
        self.allowsEmptyValues = allowsEmptyValues
        self.rawDataFields = rawDataFields
    }
}

/// Parses framed FIX messages into views over their bytes.
///
/// A parser owns a fixed table of field entries and a tag index, allocated once;
/// parsing a message allocates nothing. The `FIXMessage` it returns points into
/// the caller's bytes and into this table, so it is valid until the next `parse`
/// on the same parser and while the bytes are alive and unchanged. Use one parser
/// per connection (or per message you need to hold at once).
public final class FIXParser {
    public let options: FIXParserOptions
    @usableFromInline let entries: UnsafeMutablePointer<FIXFieldEntry>
    @usableFromInline let entriesMax: Int
    /// For tags below `indexedTagLimit`: `generation << 32 | position` of the first occurrence.
    @usableFromInline let tagIndex: UnsafeMutablePointer<UInt64>
    @usableFromInline var generation: UInt32 = 0
    /// For tags below `indexedTagLimit`: the data tag this length tag announces, or 0.
    @usableFromInline let rawDataTagFor: UnsafeMutablePointer<UInt32>
    /// Raw-data pairs whose length tag is above the direct table.
    @usableFromInline let highRawDataFields: [(lengthTag: UInt32, dataTag: UInt32)]

    /// Tags below this are found in constant time; others by a scan of the table.
    public static let indexedTagLimit = 2048

    public init(options: FIXParserOptions = FIXParserOptions()) {
        self.options = options
        entriesMax = options.fieldsMax
        entries = .allocate(capacity: options.fieldsMax)
        tagIndex = .allocate(capacity: FIXParser.indexedTagLimit)
        tagIndex.initialize(repeating: 0, count: FIXParser.indexedTagLimit)
        rawDataTagFor = .allocate(capacity: FIXParser.indexedTagLimit)
        rawDataTagFor.initialize(repeating: 0, count: FIXParser.indexedTagLimit)
        var high: [(lengthTag: UInt32, dataTag: UInt32)] = []
        for pair in options.rawDataFields {
            precondition(pair.lengthTag > 0 && pair.dataTag > 0, "raw data tags must be positive")
            if pair.lengthTag < FIXParser.indexedTagLimit {
                rawDataTagFor[pair.lengthTag] = UInt32(pair.dataTag)
            } else {
                high.append((UInt32(pair.lengthTag), UInt32(pair.dataTag)))
            }
        }
        highRawDataFields = high
    }

    deinit {
        entries.deallocate()
        tagIndex.deallocate()
        rawDataTagFor.deallocate()
    }

    /// Parses one complete message, as delimited by `FIXFramer`.
    ///
    /// Checks the structure every FIX message has: tags are positive numbers,
    /// each field has `=` and a value, the first three fields are 8, 9 and 35,
    /// the last is 10, raw-data fields have their announced length. Checks of
    /// meaning (required fields, types, enums) belong to the dictionary.
    @inlinable
    public func parse(_ bytes: UnsafeRawBufferPointer) throws(FIXDecodingError) -> FIXMessage {
        guard let base = bytes.baseAddress, bytes.count > 0 else {
            throw FIXDecodingError.badBeginString
        }
        let n = bytes.count
        advanceGeneration()
        let generationTag = UInt64(generation) << 32
        var count = 0
        var p = 0
        var pendingDataTag: UInt32 = 0
        var pendingDataLength = 0
        while p < n {
            // Tag: digits up to '='.
            let tagStart = p
            var tag: UInt32 = 0
            var c = base.load(fromByteOffset: p, as: UInt8.self)
            while c != UInt8(ascii: "=") {
                let d = c &- UInt8(ascii: "0")
                if d > 9 {
                    if c == fixSOH { throw FIXDecodingError.missingEquals.at(offset: tagStart) }
                    throw FIXDecodingError.nonNumericTag.at(offset: p)
                }
                tag = tag &* 10 &+ UInt32(d)
                p += 1
                if p == n { throw FIXDecodingError.missingEquals.at(offset: tagStart) }
                c = base.load(fromByteOffset: p, as: UInt8.self)
            }
            let tagDigits = p - tagStart
            if tagDigits == 0 || tagDigits > 9 || tag == 0 || (tagDigits > 1 && base.load(fromByteOffset: tagStart, as: UInt8.self) == UInt8(ascii: "0")) {
                throw FIXDecodingError.badTag.at(offset: tagStart)
            }
            p += 1
            let valueStart = p
            let valueEnd: Int
            if pendingDataTag != 0 && tag == pendingDataTag {
                // Raw data: exactly the announced length, which may include SOH.
                valueEnd = valueStart + pendingDataLength
                if valueEnd >= n || base.load(fromByteOffset: valueEnd, as: UInt8.self) != fixSOH {
                    throw FIXDecodingError(.badRawDataLength, tag: Int(tag), offset: valueStart, expected: pendingDataLength)
                }
            } else {
                valueEnd = FIXParser.findSOH(base, from: valueStart, end: n)
                if valueEnd == n { throw FIXDecodingError.missingEquals.at(offset: tagStart, tag: Int(tag)) }
            }
            pendingDataTag = 0
            if valueEnd == valueStart && !options.allowsEmptyValues {
                throw FIXDecodingError.emptyValue.at(offset: tagStart, tag: Int(tag))
            }
            if count == entriesMax { throw FIXDecodingError(.tooManyFields, offset: tagStart, expected: entriesMax) }
            entries[count] = FIXFieldEntry(tag: tag, valueOffset: UInt32(truncatingIfNeeded: valueStart),
                                           valueLength: UInt32(truncatingIfNeeded: valueEnd - valueStart))
            if tag < UInt32(FIXParser.indexedTagLimit) {
                let slot = tagIndex + Int(tag)
                if slot.pointee & 0xFFFF_FFFF_0000_0000 != generationTag {
                    slot.pointee = generationTag | UInt64(count)
                }
                let dataTag = rawDataTagFor[Int(tag)]
                if dataTag != 0 {
                    pendingDataTag = dataTag
                    pendingDataLength = FIXParser.rawLength(base, valueStart, valueEnd)
                }
            } else if !highRawDataFields.isEmpty {
                for pair in highRawDataFields where pair.lengthTag == tag {
                    pendingDataTag = pair.dataTag
                    pendingDataLength = FIXParser.rawLength(base, valueStart, valueEnd)
                }
            }
            count += 1
            p = valueEnd + 1
        }
        // Structure: 8, 9, 35 first; 10 last and only there.
        if count < 4 || entries[0].tag != 8 { throw FIXDecodingError.badBeginString }
        if entries[1].tag != 9 { throw FIXDecodingError.missingBodyLength.at(offset: Int(entries[1].valueOffset)) }
        if entries[2].tag != 35 {
            throw FIXDecodingError(.msgTypeNotThird, tag: Int(entries[2].tag), offset: Int(entries[2].valueOffset))
        }
        if entries[count - 1].tag != 10 || tagIndex[10] & 0xFFFF_FFFF != UInt64(count - 1) {
            throw FIXDecodingError.checksumNotLast
        }
        return FIXMessage(bytes: bytes, entries: UnsafePointer(entries), count: count,
                          tagIndex: UnsafePointer(tagIndex), generation: generation)
    }

    @inlinable
    func advanceGeneration() {
        if generation == UInt32.max {
            // After four billion messages the stamps would repeat: start the index afresh.
            tagIndex.update(repeating: 0, count: FIXParser.indexedTagLimit)
            generation = 0
        }
        generation &+= 1
    }

    /// A length field's value as a byte count; a bad one yields an impossible length.
    @inlinable
    static func rawLength(_ base: UnsafeRawPointer, _ start: Int, _ end: Int) -> Int {
        if end == start || end - start > 9 { return Int.max / 2 }
        var value = 0
        for i in start..<end {
            let d = base.load(fromByteOffset: i, as: UInt8.self) &- UInt8(ascii: "0")
            if d > 9 { return Int.max / 2 }
            value = value * 10 + Int(d)
        }
        return value
    }

    /// The offset of the first SOH in `[from, end)`, or `end`. Eight bytes at a time.
    @inlinable @inline(__always)
    static func findSOH(_ base: UnsafeRawPointer, from: Int, end: Int) -> Int {
        var i = from
        while i &+ 8 <= end {
            let word = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            let x = word ^ 0x0101_0101_0101_0101
            let found = (x &- 0x0101_0101_0101_0101) & ~x & 0x8080_8080_8080_8080
            if found != 0 {
                return i &+ (found.trailingZeroBitCount &>> 3)
            }
            i &+= 8
        }
        while i < end {
            if base.load(fromByteOffset: i, as: UInt8.self) == fixSOH { return i }
            i &+= 1
        }
        return end
    }
}
