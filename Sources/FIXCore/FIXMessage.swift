/// A parsed FIX message: a view over the received bytes and the parser's field table.
///
/// Nothing is copied: values are decoded from the bytes when asked for. The view is
/// valid until its parser parses another message, and while the bytes it was parsed
/// from are alive and unchanged (see `FIXParser`). Copy out what must outlive it.
///
/// As a collection it is the fields in wire order, repeated tags included.
public struct FIXMessage: RandomAccessCollection {
    /// The whole message, from `8=` to the delimiter after the CheckSum.
    public let bytes: UnsafeRawBufferPointer
    @usableFromInline let entries: UnsafePointer<FIXFieldEntry>
    /// How many fields the message has, header and trailer included.
    public let count: Int
    @usableFromInline let tagIndex: UnsafePointer<UInt32>
    @usableFromInline let generation: UInt32

    @inlinable
    init(bytes: UnsafeRawBufferPointer, entries: UnsafePointer<FIXFieldEntry>, count: Int,
         tagIndex: UnsafePointer<UInt32>, generation: UInt32) {
        self.bytes = bytes
        self.entries = entries
        self.count = count
        self.tagIndex = tagIndex
        self.generation = generation
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { count }

    /// The field at `position` in wire order.
    @inlinable
    public subscript(position: Int) -> FIXField {
        precondition(position >= 0 && position < count, "field position out of range")
        let entry = entries[position]
        return FIXField(tag: Int(entry.tag), value: value(of: entry))
    }

    @inlinable
    func value(of entry: FIXFieldEntry) -> FIXValue {
        FIXValue(UnsafeRawBufferPointer(rebasing: bytes[Int(entry.valueOffset)..<Int(entry.valueOffset + entry.valueLength)]))
    }

    /// The position of the first field with `tag`, if any.
    @inlinable
    public func firstPosition(of tag: Int) -> Int? {
        if tag > 0 && tag < FIXParser.indexedTagLimit {
            let slot = tagIndex[tag]
            return slot &>> 16 == generation ? Int(truncatingIfNeeded: slot & FIXParser.positionMask) : nil
        }
        return position(of: tag, from: 0)
    }

    /// The position of the first field with `tag` at or after `start`, if any.
    @inlinable
    public func position(of tag: Int, from start: Int) -> Int? {
        var i = start
        let wanted = UInt32(truncatingIfNeeded: tag)
        while i < count {
            if entries[i].tag == wanted { return i }
            i += 1
        }
        return nil
    }

    /// The value of the first field with `tag`, if any.
    @inlinable
    public subscript(tag tag: Int) -> FIXValue? {
        guard let position = firstPosition(of: tag) else { return nil }
        return value(of: entries[position])
    }

    /// The tag of the field at `position`, without building its value.
    @inlinable
    public func tag(at position: Int) -> Int {
        precondition(position >= 0 && position < count, "field position out of range")
        return Int(entries[position].tag)
    }

    /// Every field with `tag`, in wire order (repeated tags, group members).
    @inlinable
    public func values(of tag: Int) -> FIXTagValues {
        FIXTagValues(message: self, tag: UInt32(truncatingIfNeeded: tag))
    }

    /// BeginString (8), always the first field.
    @inlinable public var beginString: FIXValue { value(of: entries[0]) }
    /// MsgType (35), always the third field.
    @inlinable public var msgType: FIXValue { value(of: entries[2]) }
    /// The field table, for layers (validation, groups) that walk it directly.
    @inlinable public var fieldEntries: UnsafeBufferPointer<FIXFieldEntry> {
        UnsafeBufferPointer(start: entries, count: count)
    }
}

/// A field: its tag and its value.
public struct FIXField {
    public let tag: Int
    public let value: FIXValue

    @inlinable
    public init(tag: Int, value: FIXValue) {
        self.tag = tag
        self.value = value
    }
}

/// The values of every occurrence of one tag in a message.
public struct FIXTagValues: Sequence, IteratorProtocol {
    @usableFromInline let message: FIXMessage
    @usableFromInline let tag: UInt32
    @usableFromInline var next_: Int = 0

    @inlinable
    init(message: FIXMessage, tag: UInt32) {
        self.message = message
        self.tag = tag
    }

    @inlinable
    public mutating func next() -> FIXValue? {
        while next_ < message.count {
            let entry = message.entries[next_]
            next_ += 1
            if entry.tag == tag { return message.value(of: entry) }
        }
        return nil
    }
}

extension FIXMessage {
    /// The message as a person reads it: `8=FIX.4.4|9=120|35=8|…|10=042|`.
    /// Non-printable bytes in raw data are shown as `\xNN`.
    public func rendered(separator: String = "|") -> String {
        var text = ""
        text.reserveCapacity(bytes.count + 16)
        for field in self {
            text += String(field.tag)
            text += "="
            text += field.value.printable
            text += separator
        }
        return text
    }
}
