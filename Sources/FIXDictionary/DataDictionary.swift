import Foundation

/// A field's data type as a QuickFIX dictionary names it.
public enum FIXFieldType: Sendable, Hashable {
    case string, char, boolean
    case int, length, seqNum, numInGroup, tagNum, dayOfMonth
    /// FLOAT, QTY, PRICE, PRICEOFFSET, AMT, PERCENTAGE: exact decimals.
    case decimal
    case utcTimestamp, utcTimeOnly, utcDateOnly, localMktDate, monthYear
    /// DATA and XMLDATA: length-prefixed, may contain SOH.
    case data
    /// MULTIPLEVALUESTRING, MULTIPLESTRINGVALUE, MULTIPLECHARVALUE: space-separated values.
    case multipleValue
    /// Types Counterfoil accepts as text (CURRENCY, EXCHANGE, COUNTRY, LANGUAGE, XID, TZ…, …).
    case other

    init(_ name: String) {
        switch name.uppercased() {
        case "CHAR": self = .char
        case "BOOLEAN": self = .boolean
        case "INT": self = .int
        case "LENGTH": self = .length
        case "SEQNUM": self = .seqNum
        case "NUMINGROUP": self = .numInGroup
        case "TAGNUM": self = .tagNum
        case "DAYOFMONTH": self = .dayOfMonth
        case "FLOAT", "QTY", "PRICE", "PRICEOFFSET", "AMT", "PERCENTAGE": self = .decimal
        case "UTCTIMESTAMP", "TIME": self = .utcTimestamp
        case "UTCTIMEONLY": self = .utcTimeOnly
        case "UTCDATEONLY", "UTCDATE", "DATE": self = .utcDateOnly
        case "LOCALMKTDATE": self = .localMktDate
        case "MONTHYEAR": self = .monthYear
        case "DATA", "XMLDATA": self = .data
        case "MULTIPLEVALUESTRING", "MULTIPLESTRINGVALUE", "MULTIPLECHARVALUE": self = .multipleValue
        case "STRING": self = .string
        default: self = .other
        }
    }

    public var isInteger: Bool {
        switch self {
        case .int, .length, .seqNum, .numInGroup, .tagNum, .dayOfMonth: return true
        default: return false
        }
    }
}

/// A field defined in the dictionary.
public struct FIXFieldDefinition: Sendable {
    public let tag: Int
    public let name: String
    public let typeName: String
    public let type: FIXFieldType
    /// Enumerated values and their descriptions, if the field has any.
    public let values: [String: String]
    let line: Int
}

/// A set of tags as a bitmap: membership is one load and a bit test, with no reference
/// counting on the validator's hot path. The bits live in memory owned by the
/// `FIXLayout` that holds the set, and are never changed after it is built.
public struct TagSet: @unchecked Sendable {
    @usableFromInline let words: UnsafeMutablePointer<UInt64>
    @usableFromInline let wordCount: Int

    init(_ tags: [Int]) {
        let count = ((tags.max() ?? 0) >> 6) + 1
        words = .allocate(capacity: count)
        words.initialize(repeating: 0, count: count)
        wordCount = count
        for tag in tags where tag > 0 { words[tag >> 6] |= 1 << UInt64(tag & 63) }
    }

    func deallocate() { words.deallocate() }

    @inlinable @inline(__always)
    public func contains(_ tag: Int) -> Bool {
        let word = tag >> 6
        return tag > 0 && word < wordCount && words[word] & (1 << UInt64(tag & 63)) != 0
    }
}

/// The fields a level may hold: a message's header, body or trailer, or a group instance.
public final class FIXLayout: Sendable {
    /// Tags that may appear at this level (components are flattened in).
    public let members: TagSet
    /// Tags in declared order.
    public let order: [Int]
    /// Tags that must appear at this level.
    public let required: [Int]
    /// Repeating groups at this level, by their NumInGroup tag.
    public let groups: [Int: FIXGroupLayout]

    init(order: [Int], required: [Int], groups: [Int: FIXGroupLayout]) {
        members = TagSet(order)
        self.order = order
        self.required = required
        self.groups = groups
    }

    deinit { members.deallocate() }
}

/// A repeating group: its count field, the field that starts each instance, and the
/// layout of one instance.
public final class FIXGroupLayout: Sendable {
    public let countTag: Int
    public let delimiter: Int
    public let instance: FIXLayout

    init(countTag: Int, delimiter: Int, instance: FIXLayout) {
        self.countTag = countTag
        self.delimiter = delimiter
        self.instance = instance
    }
}

/// A message type defined in the dictionary.
public struct FIXMessageDefinition: Sendable {
    public let msgType: String
    public let name: String
    /// `admin` or `app`.
    public let category: String
    public let body: FIXLayout
}

/// A QuickFIX-format data dictionary: fields, header, trailer, messages, components and
/// groups, read once into tables that answer in constant time.
public final class FIXDataDictionary: Sendable {
    /// `FIX.4.4`, `FIXT.1.1`, `FIX.5.0SP2`, …
    public let version: String
    /// True for a FIXT transport dictionary (header, trailer, session messages).
    public let isTransport: Bool
    public let fields: [Int: FIXFieldDefinition]
    public let fieldNames: [String: Int]
    public let header: FIXLayout
    public let trailer: FIXLayout
    public let messages: [String: FIXMessageDefinition]
    /// Field types by tag for tags below `tableLimit`, for the validator's hot path.
    @usableFromInline let typeTable: [FIXFieldType?]
    let enumTable: [EnumSet?]
    @usableFromInline let tableLimit: Int

    /// Loads the dictionary in `path`; a defect that makes it unusable is an error with
    /// the file, line and reason.
    public convenience init(contentsOf path: String) throws {
        let (dictionary, defects) = try FIXDataDictionary.load(path: path)
        if let fatal = defects.first(where: \.isFatal) { throw DictionaryError(fatal.description) }
        self.init(copying: dictionary)
    }

    private init(copying other: FIXDataDictionary) {
        version = other.version
        isTransport = other.isTransport
        fields = other.fields
        fieldNames = other.fieldNames
        header = other.header
        trailer = other.trailer
        messages = other.messages
        typeTable = other.typeTable
        enumTable = other.enumTable
        tableLimit = other.tableLimit
    }

    init(version: String, isTransport: Bool, fields: [Int: FIXFieldDefinition], fieldNames: [String: Int],
         header: FIXLayout, trailer: FIXLayout, messages: [String: FIXMessageDefinition]) {
        self.version = version
        self.isTransport = isTransport
        self.fields = fields
        self.fieldNames = fieldNames
        self.header = header
        self.trailer = trailer
        self.messages = messages
        let limit = (fields.keys.max() ?? 0) + 1
        var types = [FIXFieldType?](repeating: nil, count: limit)
        var enums = [EnumSet?](repeating: nil, count: limit)
        for (tag, field) in fields {
            types[tag] = field.type
            if !field.values.isEmpty { enums[tag] = EnumSet(field.values.keys) }
        }
        typeTable = types
        enumTable = enums
        tableLimit = limit
    }

    /// The type of `tag`, or nil if the dictionary does not define it.
    @inlinable
    public func type(of tag: Int) -> FIXFieldType? {
        tag > 0 && tag < tableLimit ? typeTable[tag] : nil
    }

    /// Whether `tag` may appear in a message of type `msgType` (header and trailer included).
    public func isField(_ tag: Int, in msgType: String) -> Bool {
        guard let message = messages[msgType] else { return false }
        return message.body.members.contains(tag) || header.members.contains(tag) || trailer.members.contains(tag)
    }
}

/// Allowed values of an enumerated field, checked without allocating.
struct EnumSet: Sendable {
    /// Single-byte values as a 256-bit map.
    var singleBytes: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
    /// Values of two to seven bytes, packed by `EnumSet.packed`, sorted.
    var packed: [UInt64] = []
    /// Values of eight bytes or more (rare).
    var overlong: [[UInt8]] = []

    init<S: Sequence>(_ values: S) where S.Element == String {
        for value in values {
            let bytes = Array(value.utf8)
            if bytes.count == 1 {
                let b = bytes[0]
                let bit = UInt64(1) << UInt64(b & 63)
                switch b >> 6 {
                case 0: singleBytes.0 |= bit
                case 1: singleBytes.1 |= bit
                case 2: singleBytes.2 |= bit
                default: singleBytes.3 |= bit
                }
            } else if let key = bytes.withUnsafeBytes({ EnumSet.packed($0) }) {
                packed.append(key)
            } else {
                overlong.append(bytes)
            }
        }
        packed.sort()
    }

    /// A value of one to seven bytes as one integer: its bytes, and its length in the top
    /// byte (so that values with trailing zero bytes stay distinct); nil if longer.
    @inline(__always)
    static func packed(_ value: UnsafeRawBufferPointer) -> UInt64? {
        let n = value.count
        guard n > 0 && n < 8 else { return nil }
        var key = UInt64(truncatingIfNeeded: n) &<< 56
        for i in 0..<n { key |= UInt64(value[i]) &<< UInt64(truncatingIfNeeded: i &* 8) }
        return key
    }

    /// Whether the sorted `keys` hold `key`: a binary search.
    @inline(__always)
    static func search(_ keys: UnsafePointer<UInt64>, _ count: Int, _ key: UInt64) -> Bool {
        var low = 0
        var high = count
        while low < high {
            let middle = (low &+ high) &>> 1
            if keys[middle] < key { low = middle &+ 1 } else { high = middle }
        }
        return low < count && keys[low] == key
    }

    func contains(_ value: UnsafeRawBufferPointer) -> Bool {
        if value.count == 1 {
            let b = value[0]
            let bit = UInt64(1) << UInt64(b & 63)
            switch b >> 6 {
            case 0: return singleBytes.0 & bit != 0
            case 1: return singleBytes.1 & bit != 0
            case 2: return singleBytes.2 & bit != 0
            default: return singleBytes.3 & bit != 0
            }
        }
        if let key = EnumSet.packed(value) {
            return packed.withUnsafeBufferPointer { keys in
                guard let base = keys.baseAddress else { return false }
                return EnumSet.search(base, keys.count, key)
            }
        }
        for candidate in overlong where candidate.count == value.count {
            if candidate.withUnsafeBytes({ $0.elementsEqual(value) }) { return true }
        }
        return false
    }
}

/// Something wrong with a dictionary: where, and what.
public struct DictionaryDefect: Sendable, CustomStringConvertible {
    public let path: String
    public let line: Int
    public let message: String
    /// Fatal defects make the dictionary unusable (undefined references, no version).
    public let isFatal: Bool

    public var description: String { "\(path):\(line): \(message)" }
}
