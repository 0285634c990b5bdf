import CFIXScan

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
        precondition(fieldsMax >= 4 && fieldsMax <= 32_767, "fieldsMax must be in 4...32767")
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
    /// For tags below `indexedTagLimit`, one word per tag: the message stamp (high 16
    /// bits), whether the tag announces raw data (bit 15, set once at start) and the
    /// position of its first occurrence (low 15 bits). A slot whose stamp is not the
    /// current message's is simply stale, so nothing is cleared between messages.
    @usableFromInline let tagIndex: UnsafeMutablePointer<UInt32>
    /// Mutable state behind a constant pointer, so that the hot path does not pay a
    /// run-time exclusivity check on every access to a class `var`.
    @usableFromInline let state: UnsafeMutablePointer<State>

    @usableFromInline
    struct State {
        /// The current message's stamp in `tagIndex` (1...0xFFFF).
        @usableFromInline var generation: UInt32 = 0
        /// One bit per message byte: set where the byte is SOH. Grows to the largest message seen.
        @usableFromInline var delimiters: UnsafeMutablePointer<UInt64>
        @usableFromInline var delimiterWords: Int

        @usableFromInline
        init(delimiterWords: Int) {
            self.delimiterWords = delimiterWords
            delimiters = .allocate(capacity: delimiterWords)
        }
    }
    @usableFromInline let allowsEmptyValues: Bool
    /// Tags already read, by the bytes of their digits: `tag << 32 | digits`. 1,024 slots.
    @usableFromInline let tagCache: UnsafeMutablePointer<UInt64>
    @usableFromInline let hasHighRawDataFields: Bool
    /// For tags below `indexedTagLimit`: the data tag this length tag announces, or 0.
    @usableFromInline let rawDataTagFor: UnsafeMutablePointer<UInt32>
    /// Raw-data pairs whose length tag is above the direct table.
    @usableFromInline let highRawDataFields: [(lengthTag: UInt32, dataTag: UInt32)]

    /// Tags below this are found in constant time; others by a scan of the table.
    public static let indexedTagLimit = 2048
    @usableFromInline static let rawDataFlag: UInt32 = 0x8000
    @usableFromInline static let positionMask: UInt32 = 0x7FFF

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
                tagIndex[pair.lengthTag] = FIXParser.rawDataFlag
            } else {
                high.append((UInt32(pair.lengthTag), UInt32(pair.dataTag)))
            }
        }
        highRawDataFields = high
        hasHighRawDataFields = !high.isEmpty
        allowsEmptyValues = options.allowsEmptyValues
        state = .allocate(capacity: 1)
        state.initialize(to: State(delimiterWords: 64))
        tagCache = .allocate(capacity: 1024)
        tagCache.initialize(repeating: 0, count: 1024)
    }

    deinit {
        entries.deallocate()
        tagIndex.deallocate()
        rawDataTagFor.deallocate()
        state.pointee.delimiters.deallocate()
        tagCache.deallocate()
        state.deinitialize(count: 1)
        state.deallocate()
    }

    /// Parses one complete message, as delimited by `FIXFramer`.
    ///
    /// Checks the structure every FIX message has: tags are positive numbers,
    /// each field has `=` and a value, the first three fields are 8, 9 and 35,
    /// the last is 10, raw-data fields have their announced length. Checks of
    /// meaning (required fields, types, enums) belong to the dictionary.
    ///
    /// It works in three passes. The first marks every SOH in a bitmap, sixteen bytes
    /// at a time with no branches. The second walks the set bits into the table: each
    /// field's end is the next bit, a chain of a few cycles. The third reads each
    /// field's tag and indexes it (`indexFields`). Short messages (under sixteen bytes)
    /// and anything unusual go to `parseCarefully`.
    @inlinable
    public func parse(_ bytes: UnsafeRawBufferPointer) throws(FIXDecodingError) -> FIXMessage {
        guard let base = bytes.baseAddress, bytes.count > 0 else {
            throw FIXDecodingError.badBeginString
        }
        let n = bytes.count
        let generation = advanceGeneration()
        if hasHighRawDataFields { return try parseCarefully(bytes) }
        let delimiters = markDelimiters(base, n)
        let words = (n &+ 63) &>> 6
        // Each delimiter ends a field: a message with more of them than the table holds
        // goes to the careful parser (which says so). Only a long message needs counting.
        if n < 16 || n > entriesMax && FIXParser.bitCount(delimiters, words) > entriesMax {
            return try parseCarefully(bytes)
        }
        var count = indexFieldsOfKnownTags(base, n, delimiters, words, generation &<< 16)
        if count == FIXParser.newTag { count = indexFieldsLearningTags(base, n, delimiters, words, generation &<< 16) }
        if count < 4 { return try parseCarefully(bytes) }
        return try checkStructure(bytes, count: count, generation: generation)
    }

    /// `indexFields` for a message whose tags are all in the cache (the steady state):
    /// `newTag` as soon as one is not.
    @inlinable @inline(never)
    func indexFieldsOfKnownTags(_ base: UnsafeRawPointer, _ n: Int, _ delimiters: UnsafeMutablePointer<UInt64>,
                                _ words: Int, _ generationTag: UInt32) -> Int {
        indexFields(base, n, delimiters, words, generationTag, learnsTags: false)
    }

    /// `indexFields` that reads and caches tags it has not seen.
    @usableFromInline @inline(never)
    func indexFieldsLearningTags(_ base: UnsafeRawPointer, _ n: Int, _ delimiters: UnsafeMutablePointer<UInt64>,
                                 _ words: Int, _ generationTag: UInt32) -> Int {
        indexFields(base, n, delimiters, words, generationTag, learnsTags: true)
    }

    /// What `indexFieldsOfKnownTags` returns for a tag not in the cache.
    @usableFromInline static let newTag = -2

    /// The fast path: fills the table and the tag index for a message of plain fields,
    /// and returns the number of fields, or -1 for anything unusual (a raw data field,
    /// whose SOH bytes the bitmap takes for delimiters; a long tag; an empty value; a
    /// malformed field), which the careful parser then reads and names.
    ///
    /// First the bitmap gives every field's end (a chain of a few instructions per field
    /// that reading tags does not hold up); then each field's tag is read from its first
    /// eight bytes. Two loops with few live values each, and no call in the steady state
    /// (`learnsTags` false), keep everything in registers.
    @inlinable @inline(__always)
    func indexFields(_ base: UnsafeRawPointer, _ n: Int, _ delimiters: UnsafeMutablePointer<UInt64>,
                     _ words: Int, _ generationTag: UInt32, learnsTags: Bool) -> Int {
        // Locals, not properties: stores through the table pointers could, as far as the
        // compiler knows, change this object, which would reload every property per field.
        let entries = self.entries
        let tagIndex = self.tagIndex
        let tagCache = self.tagCache
        var count = 0
        for wordIndex in 0..<words {
            var bits = delimiters[wordIndex]
            let wordBase = UInt32(truncatingIfNeeded: wordIndex &<< 6)
            while bits != 0 {
                // The end, for now, where the value's length will go.
                entries[count].valueLength = wordBase | UInt32(truncatingIfNeeded: bits.trailingZeroBitCount)
                bits &= bits &- 1
                count &+= 1
            }
        }
        // The last delimiter must end the message.
        if count == 0 || Int(entries[count &- 1].valueLength) != n &- 1 { return -1 }
        var start = 0
        // The caller sent messages shorter than sixteen bytes to the careful parser.
        let lastWordStart = n &- 8
        let lastWord = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: lastWordStart, as: UInt64.self))
        for position in 0..<count {
            let entry = entries + position
            let end = Int(truncatingIfNeeded: entry.pointee.valueLength)
            defer { start = end &+ 1 }
            // Eight bytes from the field's start; near the end of the message, the last
            // eight shifted down, so the bytes past the end read as zeros.
            let word = start <= lastWordStart
                ? UInt64(littleEndian: base.loadUnaligned(fromByteOffset: start, as: UInt64.self))
                : lastWord &>> UInt64(truncatingIfNeeded: (start &- lastWordStart) &<< 3)
            let equals = FIXParser.zeroBytes(word ^ 0x3D3D_3D3D_3D3D_3D3D)
            let tagLength = equals.trailingZeroBitCount &>> 3
            let valueStart = start &+ tagLength &+ 1
            // One to four digits, `=`, and a value before the delimiter.
            guard UInt(bitPattern: tagLength &- 1) < 4 && valueStart < end else { return -1 }
            // The tag's digits (the bytes below the lowest `=`) as a key into a small cache
            // of tags already read: tags repeat from message to message, so converting
            // digits is rare. Only indexed tags that announce no raw data are cached.
            let key = UInt32(truncatingIfNeeded: word & ((equals ^ (equals &- 1)) &>> 8))
            let cached = tagCache + Int(truncatingIfNeeded: (key &* 0x9E37_79B1) &>> 22)
            var tag = UInt32(truncatingIfNeeded: cached.pointee &>> 32)
            if UInt32(truncatingIfNeeded: cached.pointee) != key {
                if !learnsTags { return FIXParser.newTag }
                tag = readNewTag(word, tagLength, cached, key)
                if tag == 0 { return -1 }
            }
            entry.pointee = FIXFieldEntry(tag: tag, valueOffset: UInt32(truncatingIfNeeded: valueStart),
                                          valueLength: UInt32(truncatingIfNeeded: end &- valueStart))
            if tag < UInt32(FIXParser.indexedTagLimit) {
                let slot = tagIndex + Int(truncatingIfNeeded: tag)
                if slot.pointee & 0xFFFF_0000 != generationTag {
                    slot.pointee = generationTag | UInt32(truncatingIfNeeded: position)
                }
            }
        }
        return count
    }

    /// A tag not in the cache: its value from the digits, remembered under `key`; or 0
    /// if they are not a plain tag or it announces raw data (the careful parser takes
    /// those, and such tags are never cached).
    @usableFromInline @inline(never)
    func readNewTag(_ word: UInt64, _ tagLength: Int, _ cached: UnsafeMutablePointer<UInt64>, _ key: UInt32) -> UInt32 {
        let tag = FIXParser.digitsValue(word, tagLength)
        if tag == 0 { return 0 }
        if tag < UInt32(FIXParser.indexedTagLimit) && tagIndex[Int(tag)] & FIXParser.rawDataFlag != 0 { return 0 }
        cached.pointee = UInt64(tag) &<< 32 | UInt64(key)
        return tag
    }

    /// The general parser: one pass, field by field, that follows raw-data lengths
    /// across SOH bytes and names the first error exactly.
    @usableFromInline
    func parseCarefully(_ bytes: UnsafeRawBufferPointer) throws(FIXDecodingError) -> FIXMessage {
        guard let base = bytes.baseAddress, bytes.count > 0 else {
            throw FIXDecodingError.badBeginString
        }
        let n = bytes.count
        let generation = advanceGeneration()
        let generationTag = generation &<< 16
        let delimiters = markDelimiters(base, n)
        var count = 0
        var fieldStart = 0
        var wordIndex = 0
        var bits = delimiters[0]
        let words = (n &+ 63) &>> 6
        // No tag is UInt32.max, so that stands for "no raw data announced".
        var pendingDataTag = UInt32.max
        var pendingDataLength = 0
        while fieldStart < n {
            while bits == 0 {
                wordIndex &+= 1
                if wordIndex >= words { throw FIXDecodingError.missingEquals.at(offset: fieldStart) }
                bits = delimiters[wordIndex]
            }
            var fieldEnd = wordIndex &<< 6 &+ bits.trailingZeroBitCount
            bits &= bits &- 1
            // Tag: one to four digits read with one load; anything else by the careful path.
            var tag: UInt32 = 0
            var tagLength = 0
            if fieldStart &+ 8 <= n {
                let word = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: fieldStart, as: UInt64.self))
                tagLength = FIXParser.zeroBytes(word ^ 0x3D3D_3D3D_3D3D_3D3D).trailingZeroBitCount &>> 3
                if UInt(bitPattern: tagLength &- 1) < 4 && tagLength < fieldEnd &- fieldStart {
                    tag = FIXParser.digitsValue(word, tagLength)
                }
            }
            if tag == 0 {
                tagLength = try FIXParser.tagLength(base, from: fieldStart, to: fieldEnd)
                tag = try FIXParser.tagValue(base, from: fieldStart, length: tagLength)
            }
            let valueStart = fieldStart &+ tagLength &+ 1
            if tag == pendingDataTag {
                // Raw data: exactly the announced length, SOH bytes inside it included.
                fieldEnd = valueStart &+ pendingDataLength
                if fieldEnd >= n || base.load(fromByteOffset: fieldEnd, as: UInt8.self) != fixSOH {
                    throw FIXDecodingError(.badRawDataLength, tag: Int(tag), offset: valueStart, expected: pendingDataLength)
                }
                wordIndex = fieldEnd &>> 6
                bits = delimiters[wordIndex] & ~((2 &<< UInt64(fieldEnd & 63)) &- 1)
            }
            pendingDataTag = UInt32.max
            if fieldEnd == valueStart && !allowsEmptyValues {
                throw FIXDecodingError.emptyValue.at(offset: fieldStart, tag: Int(tag))
            }
            if count == entriesMax { throw FIXDecodingError(.tooManyFields, offset: fieldStart, expected: entriesMax) }
            entries[count] = FIXFieldEntry(tag: tag, valueOffset: UInt32(truncatingIfNeeded: valueStart),
                                           valueLength: UInt32(truncatingIfNeeded: fieldEnd &- valueStart))
            if tag < UInt32(FIXParser.indexedTagLimit) {
                let slot = tagIndex + Int(tag)
                let old = slot.pointee
                if old & 0xFFFF_0000 != generationTag {
                    slot.pointee = generationTag | (old & FIXParser.rawDataFlag) | UInt32(truncatingIfNeeded: count)
                }
                if old & FIXParser.rawDataFlag != 0 {
                    pendingDataTag = rawDataTagFor[Int(tag)]
                    pendingDataLength = FIXParser.rawLength(base, valueStart, fieldEnd)
                }
            } else if hasHighRawDataFields {
                for pair in highRawDataFields where pair.lengthTag == tag {
                    pendingDataTag = pair.dataTag
                    pendingDataLength = FIXParser.rawLength(base, valueStart, fieldEnd)
                }
            }
            count &+= 1
            fieldStart = fieldEnd &+ 1
        }
        return try checkStructure(bytes, count: count, generation: generation)
    }

    /// Every FIX message starts with 8, 9, 35 and ends with 10, which appears once.
    @inlinable
    func checkStructure(_ bytes: UnsafeRawBufferPointer, count: Int, generation: UInt32) throws(FIXDecodingError) -> FIXMessage {
        if count < 4 || entries[0].tag != 8 { throw FIXDecodingError.badBeginString }
        if entries[1].tag != 9 { throw FIXDecodingError.missingBodyLength.at(offset: Int(entries[1].valueOffset)) }
        if entries[2].tag != 35 {
            throw FIXDecodingError(.msgTypeNotThird, tag: Int(entries[2].tag), offset: Int(entries[2].valueOffset))
        }
        if entries[count - 1].tag != 10 || tagIndex[10] & FIXParser.positionMask != UInt32(count - 1) {
            throw FIXDecodingError.checksumNotLast
        }
        return FIXMessage(bytes: bytes, entries: UnsafePointer(entries), count: count,
                          tagIndex: UnsafePointer(tagIndex), generation: generation)
    }

    @usableFromInline
    static func bitCount(_ words: UnsafeMutablePointer<UInt64>, _ count: Int) -> Int {
        var total = 0
        for i in 0..<count { total &+= words[i].nonzeroBitCount }
        return total
    }

    /// Marks every SOH of the message in the delimiter bitmap and returns it.
    @inlinable
    func markDelimiters(_ base: UnsafeRawPointer, _ n: Int) -> UnsafeMutablePointer<UInt64> {
        let words = (n &+ 63) &>> 6
        if words > state.pointee.delimiterWords { growDelimiters(words) }
        let delimiters = state.pointee.delimiters
        cf_mark_bytes(base.assumingMemoryBound(to: UInt8.self), n, fixSOH, delimiters)
        return delimiters
    }

    @usableFromInline
    func growDelimiters(_ words: Int) {
        state.pointee.delimiters.deallocate()
        state.pointee.delimiters = .allocate(capacity: words)
        state.pointee.delimiterWords = words
    }

    @inlinable
    func advanceGeneration() -> UInt32 {
        if state.pointee.generation == 0xFFFF {
            // Every 65,535 messages the stamps would repeat: clear them, keep the flags.
            for tag in 0..<FIXParser.indexedTagLimit { tagIndex[tag] &= FIXParser.rawDataFlag }
            state.pointee.generation = 0
        }
        state.pointee.generation &+= 1
        return state.pointee.generation
    }

    /// 0x80 in each byte of `x` that is zero. Exact for the lowest such byte; a byte
    /// above a zero byte may show up falsely, so callers use only the lowest one.
    @inlinable @inline(__always)
    static func zeroBytes(_ x: UInt64) -> UInt64 {
        (x &- 0x0101_0101_0101_0101) & ~x & 0x8080_8080_8080_8080
    }

    /// The number written by the first `length` (1...4) bytes of `word`, or 0 if they
    /// are not all digits or start with a redundant zero; 0 sends the caller to the
    /// slow path, which names the error.
    @inlinable @inline(__always)
    static func digitsValue(_ word: UInt64, _ length: Int) -> UInt32 {
        // Bytes after the digits become '0' so that one check covers the digits only.
        let digitMask: UInt64 = (1 &<< UInt64(length &* 8)) &- 1
        let padded = (word & digitMask) | (0x3030_3030_3030_3030 & ~digitMask)
        let notDigits = ((padded &+ 0x4646_4646_4646_4646) | (padded &- 0x3030_3030_3030_3030)) & 0x8080_8080_8080_8080
        if notDigits != 0 || (length > 1 && word & 0xFF == 0x30) { return 0 }
        // Right-align the digits in four bytes, then combine pairs: "35" → 0,0,3,5 → 35.
        var v = ((padded &- 0x3030_3030_3030_3030) &<< UInt64((4 &- length) &* 8)) & 0xFFFF_FFFF
        v = v &* 10 &+ (v &>> 8)
        v = ((v & 0x00FF_00FF) &* (1 &+ (100 &<< 16))) &>> 16 & 0xFFFF
        return UInt32(truncatingIfNeeded: v)
    }

    /// The length of the tag of the field in `[start, end)`: the digits before `=`.
    @inlinable
    static func tagLength(_ base: UnsafeRawPointer, from start: Int, to end: Int) throws(FIXDecodingError) -> Int {
        var p = start
        while p < end {
            let c = base.load(fromByteOffset: p, as: UInt8.self)
            if c == UInt8(ascii: "=") { return p - start }
            if c &- UInt8(ascii: "0") > 9 { throw FIXDecodingError.nonNumericTag.at(offset: p) }
            p += 1
        }
        throw FIXDecodingError.missingEquals.at(offset: start)
    }

    /// The tag written by `length` digits at `start`, or the error that makes it no tag.
    @inlinable
    static func tagValue(_ base: UnsafeRawPointer, from start: Int, length: Int) throws(FIXDecodingError) -> UInt32 {
        if length == 0 || length > 9 || (length > 1 && base.load(fromByteOffset: start, as: UInt8.self) == UInt8(ascii: "0")) {
            throw FIXDecodingError.badTag.at(offset: start)
        }
        var tag: UInt32 = 0
        for i in start..<(start + length) {
            tag = tag &* 10 &+ UInt32(base.load(fromByteOffset: i, as: UInt8.self) &- UInt8(ascii: "0"))
        }
        if tag == 0 { throw FIXDecodingError.badTag.at(offset: start) }
        return tag
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
}
