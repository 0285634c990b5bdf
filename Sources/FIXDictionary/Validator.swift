import ExactNumbers
import FIXCore

/// SessionRejectReason (373).
public struct SessionRejectReason: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }

    public static let invalidTagNumber = SessionRejectReason(rawValue: 0)
    public static let requiredTagMissing = SessionRejectReason(rawValue: 1)
    public static let tagNotDefinedForMessageType = SessionRejectReason(rawValue: 2)
    public static let undefinedTag = SessionRejectReason(rawValue: 3)
    public static let tagSpecifiedWithoutValue = SessionRejectReason(rawValue: 4)
    public static let valueIsIncorrect = SessionRejectReason(rawValue: 5)
    public static let incorrectDataFormat = SessionRejectReason(rawValue: 6)
    public static let compIDProblem = SessionRejectReason(rawValue: 9)
    public static let sendingTimeAccuracyProblem = SessionRejectReason(rawValue: 10)
    public static let invalidMsgType = SessionRejectReason(rawValue: 11)
    public static let tagAppearsMoreThanOnce = SessionRejectReason(rawValue: 13)
    public static let tagSpecifiedOutOfRequiredOrder = SessionRejectReason(rawValue: 14)
    public static let repeatingGroupFieldsOutOfOrder = SessionRejectReason(rawValue: 15)
    public static let incorrectNumInGroupCount = SessionRejectReason(rawValue: 16)
    public static let other = SessionRejectReason(rawValue: 99)

    public var description: String {
        switch rawValue {
        case 0: return "Invalid tag number"
        case 1: return "Required tag missing"
        case 2: return "Tag not defined for this message type"
        case 3: return "Undefined tag"
        case 4: return "Tag specified without a value"
        case 5: return "Value is incorrect (out of range) for this tag"
        case 6: return "Incorrect data format for value"
        case 9: return "CompID problem"
        case 10: return "SendingTime accuracy problem"
        case 11: return "Invalid MsgType"
        case 13: return "Tag appears more than once"
        case 14: return "Tag specified out of required order"
        case 15: return "Repeating group fields out of order"
        case 16: return "Incorrect NumInGroup count for repeating group"
        default: return "Other"
        }
    }
}

/// What a session needs to send a Reject (35=3) for a message that failed validation.
public struct FIXRejection: Error, Sendable, Equatable, CustomStringConvertible {
    public let reason: SessionRejectReason
    /// RefTagID (371), when one tag is at fault.
    public let refTagID: Int?
    /// RefMsgType (372).
    public let refMsgType: String
    /// RefSeqNum (45), when the message had a readable MsgSeqNum.
    public let refSeqNum: Int?
    /// Text (58): the reason with the tag's name, for a person.
    public let text: String

    public var description: String {
        "373=\(reason.rawValue) (\(reason))" + (refTagID.map { " 371=\($0)" } ?? "") + " 372=\(refMsgType): \(text)"
    }
}

/// Which checks a session runs, under the names QuickFIX users know.
public struct FIXValidationOptions: Sendable, Hashable {
    /// ValidateIncomingMessage: run the dictionary checks at all.
    public var validateIncomingMessage = true
    /// ValidateFieldsOutOfOrder: header fields first, trailer fields last.
    public var validateFieldsOutOfOrder = true
    /// ValidateFieldsHaveValues: no `tag=` with an empty value.
    public var validateFieldsHaveValues = true
    /// ValidateUserDefinedFields: user-defined tags (5000–9999 and up) must be in the dictionary.
    public var validateUserDefinedFields = true
    /// AllowUnknownMsgFields: defined tags that the message type does not list are accepted.
    public var allowUnknownMessageFields = false
    /// ValidateUnorderedGroupFields: fields in a group instance follow the declared order.
    public var validateUnorderedGroupFields = true
    /// Accept enumerated fields with values the dictionary does not list.
    public var allowUnknownEnumValues = false

    public init() {}
}

/// Validates parsed messages against a dictionary (and, for FIXT sessions, the transport
/// dictionary for the header, trailer and session messages), QuickFIX's way.
///
/// One validator per session: it keeps a stamped table of the tags seen in the current
/// message, so validating a message that passes allocates nothing. The dictionaries'
/// layouts are compiled at start into plain tables (`Level`), so the hot path takes no
/// reference counts and hashes nothing.
public final class FIXValidator {
    public let application: FIXDataDictionary
    public let transport: FIXDataDictionary
    public let options: FIXValidationOptions
    /// Message levels by MsgType packed into an integer (no String per message).
    let messagesByKey: [UInt64: Int]
    let seen: UnsafeMutablePointer<UInt32>
    let seenLimit: Int
    var stamp: UInt32 = 0
    /// Tags seen in the current group instance, stamped per instance.
    let instanceSeen: UnsafeMutablePointer<UInt32>
    var instanceStamp: UInt32 = 0
    /// The last MsgType looked up and its level: sessions mostly repeat one type.
    var lastMsgTypeKey: UInt64 = 0
    var lastMsgTypeLevel = -1
    /// Whether the message being validated is a FIXT session message, whose tags the
    /// transport dictionary alone defines (a Heartbeat with a tag of FIX 5.0's is an
    /// invalid tag, not a misplaced one).
    var transportOnly = false
    /// Per tag below `seenLimit`: type, enum values and header/trailer membership from
    /// both dictionaries, in plain memory so that the hot path touches no reference counts.
    let info: UnsafeMutablePointer<TagInfo>
    /// Every compiled level (header, trailer, message bodies, group instances), by index.
    let levels: UnsafeMutablePointer<Level>
    let levelCount: Int
    let headerLevel: Int
    let trailerLevel: Int
    /// The arrays the levels point into, kept alive here.
    private let storage: LevelStorage

    struct TagInfo {
        var defined = false
        var type = FIXFieldType.other
        /// Enumerated: single-byte values in `bytes`, two to seven bytes in `packed`
        /// (sorted `EnumSet.packed` keys), longer ones only in the dictionary's set.
        var hasEnums = false
        var hasOverlongValues = false
        /// A repeating group's count field somewhere (FIX 4.2 types them INT, not NUMINGROUP).
        var isGroupCount = false
        var inHeader = false
        var inTrailer = false
        /// Defined by the transport dictionary (the same as `defined` outside FIXT).
        var inTransport = false
        /// Whether the value has a form or values to check (not for plain text).
        var readsValue = false
        var bytes: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        var packed: UnsafePointer<UInt64>? = nil
        var packedCount = 0
    }

    /// A `FIXLayout` (or a group's instance layout) as plain memory.
    struct Level {
        var members: TagSet
        var required: UnsafeBufferPointer<Int>
        /// Tags in declared order, for ValidateUnorderedGroupFields.
        var order: UnsafeBufferPointer<Int>
        /// Repeating groups at this level: count tag and the level of one instance.
        var groupCountTags: UnsafeBufferPointer<Int>
        var groupLevels: UnsafeBufferPointer<Int>
        /// For a group instance: its count tag and the tag that starts each instance.
        var countTag = 0
        var delimiter = 0
        /// A FIXT session message: its tags are judged by the transport dictionary alone.
        var transportOnly = false

        /// The instance level of the group counted by `tag`, or -1.
        @inline(__always)
        func group(countedBy tag: Int) -> Int {
            for i in 0..<groupCountTags.count where groupCountTags[i] == tag { return groupLevels[i] }
            return -1
        }

        /// Where `tag` stands in the declared order, or -1.
        @inline(__always)
        func orderIndex(of tag: Int) -> Int {
            for i in 0..<order.count where order[i] == tag { return i }
            return -1
        }
    }

    /// Owns the memory `Level`s point into.
    private final class LevelStorage {
        var arrays: [UnsafeMutableBufferPointer<Int>] = []
        var packed: [UnsafeMutableBufferPointer<UInt64>] = []
        /// The layouts whose TagSets the levels borrow.
        var layouts: [FIXLayout] = []

        func keep(_ values: [Int]) -> UnsafeBufferPointer<Int> {
            let buffer = UnsafeMutableBufferPointer<Int>.allocate(capacity: max(values.count, 1))
            _ = buffer.initialize(from: values)
            arrays.append(buffer)
            return UnsafeBufferPointer(rebasing: buffer[0..<values.count])
        }

        deinit {
            for buffer in arrays { buffer.deallocate() }
            for buffer in packed { buffer.deallocate() }
        }
    }

    /// `application` for the body; `transport` (a FIXT dictionary) for the header, trailer
    /// and admin messages when they differ, as in FIX 5.0 sessions.
    public init(application: FIXDataDictionary, transport: FIXDataDictionary? = nil, options: FIXValidationOptions = FIXValidationOptions()) {
        self.application = application
        let transport = transport ?? application
        self.transport = transport
        self.options = options
        // Levels: compile each layout once (group layouts are shared between messages
        // that use the same component), depth first.
        let storage = LevelStorage()
        var compiled: [Level] = []
        var indexByLayout: [ObjectIdentifier: Int] = [:]
        func compile(_ layout: FIXLayout, countTag: Int = 0, delimiter: Int = 0) -> Int {
            if let index = indexByLayout[ObjectIdentifier(layout)] { return index }
            let index = compiled.count
            indexByLayout[ObjectIdentifier(layout)] = index
            storage.layouts.append(layout)
            compiled.append(Level(members: layout.members, required: storage.keep(layout.required),
                                  order: storage.keep(layout.order), groupCountTags: storage.keep([]),
                                  groupLevels: storage.keep([]), countTag: countTag, delimiter: delimiter))
            let groups = layout.groups.sorted { $0.key < $1.key }
            var nested: [Int] = []
            for (tag, group) in groups {
                nested.append(compile(group.instance, countTag: tag, delimiter: group.delimiter))
            }
            compiled[index].groupCountTags = storage.keep(groups.map(\.key))
            compiled[index].groupLevels = storage.keep(nested)
            return index
        }
        headerLevel = compile(transport.header)
        trailerLevel = compile(transport.trailer)
        var byKey: [UInt64: Int] = [:]
        for (type, message) in transport.messages where transport !== application && message.category == "admin" {
            let level = compile(message.body)
            compiled[level].transportOnly = true
            byKey[FIXValidator.key(type)] = level
        }
        for (type, message) in application.messages { byKey[FIXValidator.key(type)] = compile(message.body) }
        messagesByKey = byKey
        levelCount = compiled.count
        levels = .allocate(capacity: max(compiled.count, 1))
        levels.initialize(from: compiled, count: compiled.count)

        seenLimit = max(application.tableLimit, transport.tableLimit)
        seen = .allocate(capacity: seenLimit)
        seen.initialize(repeating: 0, count: seenLimit)
        instanceSeen = .allocate(capacity: seenLimit)
        instanceSeen.initialize(repeating: 0, count: seenLimit)
        info = .allocate(capacity: seenLimit)
        info.initialize(repeating: TagInfo(), count: seenLimit)
        for tag in 1..<seenLimit {
            guard let type = application.type(of: tag) ?? transport.type(of: tag) else { continue }
            var entry = TagInfo(defined: true, type: type)
            let set = (tag < application.tableLimit ? application.enumTable[tag] : nil)
                ?? (tag < transport.tableLimit ? transport.enumTable[tag] : nil)
            if let set {
                entry.hasEnums = true
                entry.hasOverlongValues = !set.overlong.isEmpty
                entry.bytes = set.singleBytes
                if !set.packed.isEmpty {
                    let keys = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: set.packed.count)
                    _ = keys.initialize(from: set.packed)
                    storage.packed.append(keys)
                    entry.packed = UnsafePointer(keys.baseAddress)
                    entry.packedCount = keys.count
                }
            }
            switch type {
            case .string, .data, .other: entry.readsValue = entry.hasEnums
            default: entry.readsValue = true
            }
            entry.inTransport = transport.type(of: tag) != nil
            entry.inHeader = transport.header.members.contains(tag)
            entry.inTrailer = transport.trailer.members.contains(tag)
            info[tag] = entry
        }
        for level in compiled {
            for tag in level.groupCountTags where tag < seenLimit { info[tag].isGroupCount = true }
        }
        self.storage = storage
    }

    deinit {
        seen.deallocate()
        instanceSeen.deallocate()
        info.deallocate()
        levels.deinitialize(count: levelCount)
        levels.deallocate()
    }

    static func key(_ text: String) -> UInt64 {
        var key: UInt64 = 0
        for byte in text.utf8.prefix(8) { key = key << 8 | UInt64(byte) }
        return key
    }

    static func key(_ value: FIXValue) -> UInt64 {
        var key: UInt64 = 0
        for i in 0..<min(value.count, 8) { key = key << 8 | UInt64(value.bytes[i]) }
        return key
    }

    /// The definition of a field from either dictionary.
    func type(of tag: Int) -> FIXFieldType? {
        application.type(of: tag) ?? transport.type(of: tag)
    }

    func enums(of tag: Int) -> EnumSet? {
        if tag < application.tableLimit, let set = application.enumTable[tag] { return set }
        if tag < transport.tableLimit, let set = transport.enumTable[tag] { return set }
        return nil
    }

    func fieldName(_ tag: Int) -> String {
        application.fields[tag]?.name ?? transport.fields[tag]?.name ?? "tag \(tag)"
    }

    /// The level of a message's body, or -1 if the dictionaries do not define its type.
    @inline(__always)
    func bodyLevel(_ msgType: FIXValue) -> Int {
        let key = FIXValidator.key(msgType)
        if key == lastMsgTypeKey && lastMsgTypeLevel >= 0 { return lastMsgTypeLevel }
        guard let level = messagesByKey[key] else { return -1 }
        lastMsgTypeKey = key
        lastMsgTypeLevel = level
        return level
    }

    /// Nil if the message passes every enabled check, else the first failure.
    public func validate(_ message: FIXMessage) -> FIXRejection? {
        guard options.validateIncomingMessage else { return nil }
        let bodyIndex = bodyLevel(message.msgType)
        guard bodyIndex >= 0 else {
            return reject(.invalidMsgType, nil, message, "MsgType \(message.msgType.printable) is not in the dictionary")
        }
        stamp &+= 1
        if stamp == 0 {
            seen.update(repeating: 0, count: seenLimit)
            stamp = 1
        }
        let stamp = self.stamp
        transportOnly = levels[bodyIndex].transportOnly
        let seen = self.seen
        let info = self.info
        let seenLimit = self.seenLimit
        let header = levels + headerLevel
        let body = levels + bodyIndex
        let trailer = levels + trailerLevel
        let count = message.count
        let checksOrder = options.validateFieldsOutOfOrder
        // 0 header, 1 body, 2 trailer
        var part = 0
        var position = 0
        while position < count {
            let tag = message.tag(at: position)
            // Header and trailer fields are defined ones, so below `seenLimit`.
            let known = tag > 0 && tag < seenLimit
            let entry = info + (known ? tag : 0)
            let inHeader = known && entry.pointee.inHeader
            let inTrailer = known && entry.pointee.inTrailer
            if part == 0 && !inHeader { part = 1 }
            if part == 1 && inTrailer { part = 2 }
            if checksOrder {
                if inHeader && part != 0 { return reject(.tagSpecifiedOutOfRequiredOrder, tag, message, "\(fieldName(tag)) (\(tag)) belongs in the header") }
                if part == 2 && !inTrailer { return reject(.tagSpecifiedOutOfRequiredOrder, tag, message, "\(fieldName(tag)) (\(tag)) after the trailer began") }
            }
            let level = part == 0 ? header : (part == 1 ? body : trailer)
            let value = message[position].value
            if let reason = checkField(tag, value, members: level.pointee.members, isBody: part == 1) {
                return misplacedHeaderField(message) ?? rejection(for: reason, tag, value, message)
            }
            if known {
                if seen[tag] == stamp { return reject(.tagAppearsMoreThanOnce, tag, message, "\(fieldName(tag)) (\(tag)) appears more than once") }
                seen[tag] = stamp
                if entry.pointee.isGroupCount {
                    let group = level.pointee.group(countedBy: tag)
                    if group >= 0 {
                        switch walkGroup(group, at: position, message) {
                        case .failure(let failure):
                            return misplacedHeaderField(message) ?? failure
                        case .end(let next, let deferred):
                            if let deferred { return misplacedHeaderField(message) ?? deferred }
                            position = next
                        }
                        continue
                    }
                }
            }
            position += 1
        }
        if let tag = missing(header.pointee.required) {
            return reject(.requiredTagMissing, tag, message, "\(fieldName(tag)) (\(tag)) is required in the header")
        }
        if let tag = missing(body.pointee.required) {
            let name = application.messages[message.msgType.string]?.name ?? transport.messages[message.msgType.string]?.name ?? "the message"
            return reject(.requiredTagMissing, tag, message, "\(fieldName(tag)) (\(tag)) is required in \(name)")
        }
        if let tag = missing(trailer.pointee.required) {
            return reject(.requiredTagMissing, tag, message, "\(fieldName(tag)) (\(tag)) is required in the trailer")
        }
        return nil
    }

    /// Structure before content, as QuickFIX reports it: a header field after the first
    /// body field, named. Looked for only once a message has failed, so valid messages
    /// do not pay for a second pass.
    func misplacedHeaderField(_ message: FIXMessage) -> FIXRejection? {
        guard options.validateFieldsOutOfOrder else { return nil }
        let header = levels[headerLevel].members
        let trailer = levels[trailerLevel].members
        var inBody = false
        for position in 0..<message.count {
            let tag = message.tag(at: position)
            if header.contains(tag) {
                if inBody { return reject(.tagSpecifiedOutOfRequiredOrder, tag, message, "\(fieldName(tag)) (\(tag)) belongs in the header") }
            } else if !trailer.contains(tag) {
                inBody = true
            }
        }
        return nil
    }

    /// The first of `tags` not seen in the current message.
    func missing(_ tags: UnsafeBufferPointer<Int>) -> Int? {
        for tag in tags where tag >= seenLimit || seen[tag] != stamp { return tag }
        return nil
    }

    enum GroupWalk {
        /// The position after the group, and the first failure of a field's content inside it.
        case end(Int, deferred: FIXRejection?)
        /// A failure of the group's structure.
        case failure(FIXRejection)
    }

    /// Checks the instances of the group (`groupLevel`, an instance's level) whose count
    /// field is at `countPosition`; returns the position after the group.
    ///
    /// The structure is judged before the content, as QuickFIX does (it counts a group's
    /// instances while parsing, before it validates a field): a wrong NumInGroup count is
    /// reported even when a field inside the group also fails, so a failing value or a
    /// missing required field is only `deferred` to the group's end.
    func walkGroup(_ groupLevel: Int, at countPosition: Int, _ message: FIXMessage) -> GroupWalk {
        let layout = levels + groupLevel
        let countTag = layout.pointee.countTag
        let delimiter = layout.pointee.delimiter
        let declared = (try? message[countPosition].value.int()) ?? 0
        var position = countPosition + 1
        var instances = 0
        let count = message.count
        let members = layout.pointee.members
        let checksOrder = options.validateUnorderedGroupFields
        var deferred: FIXRejection?
        while position < count && message.tag(at: position) == delimiter {
            instances += 1
            // Each instance has its own stamp in `instanceSeen`: duplicates and required
            // fields are one lookup each. A nested group takes later stamps, which does
            // not disturb this instance's.
            instanceStamp &+= 1
            if instanceStamp == 0 {
                instanceSeen.update(repeating: 0, count: seenLimit)
                instanceStamp = 1
            }
            let mark = instanceStamp
            var lastOrder = -1
            while position < count {
                let tag = message.tag(at: position)
                // Members are defined tags, so below `seenLimit`.
                guard members.contains(tag) else { break }
                if instanceSeen[tag] == mark {
                    if tag == delimiter { break }
                    // A tag twice in one instance starts nothing new: QuickFIX counts it as a miscount.
                    return .failure(reject(.incorrectNumInGroupCount, countTag, message,
                                           "\(fieldName(tag)) (\(tag)) repeats inside one instance of \(fieldName(countTag))"))
                }
                if checksOrder {
                    let order = layout.pointee.orderIndex(of: tag)
                    if order >= 0 {
                        if order < lastOrder {
                            return .failure(reject(.repeatingGroupFieldsOutOfOrder, tag, message,
                                                   "\(fieldName(tag)) (\(tag)) is out of order in \(fieldName(countTag))"))
                        }
                        lastOrder = order
                    }
                }
                instanceSeen[tag] = mark
                let value = message[position].value
                if deferred == nil, let reason = checkField(tag, value, members: members, isBody: false) {
                    deferred = rejection(for: reason, tag, value, message)
                }
                if info[tag].isGroupCount {
                    let nested = layout.pointee.group(countedBy: tag)
                    if nested >= 0 {
                        switch walkGroup(nested, at: position, message) {
                        case .failure(let failure): return .failure(failure)
                        case .end(let next, let nestedDeferred):
                            if deferred == nil { deferred = nestedDeferred }
                            position = next
                        }
                        continue
                    }
                }
                position += 1
            }
            if deferred == nil, let tag = layout.pointee.required.first(where: { $0 >= seenLimit || instanceSeen[$0] != mark }) {
                deferred = reject(.requiredTagMissing, tag, message,
                                  "\(fieldName(tag)) (\(tag)) is required in each \(fieldName(countTag)) entry")
            }
        }
        if instances != declared {
            return .failure(reject(.incorrectNumInGroupCount, countTag, message,
                                   "\(fieldName(countTag)) (\(countTag)) says \(declared) but \(instances) entries follow"))
        }
        return .end(position, deferred: deferred)
    }

    /// Value, type, enum and membership checks of one field: the reason it fails, or nil.
    /// A small result on purpose: the hot path returns nil, and only a failure pays for
    /// building the Reject's text (`rejection(for:)`). Small itself, so that it is inlined
    /// into the loops: an empty value or an undefined tag, and values that need reading
    /// (numbers, times, enums), are checked out of line.
    @inline(__always)
    func checkField(_ tag: Int, _ value: FIXValue, members: TagSet, isBody: Bool) -> SessionRejectReason? {
        guard !value.isEmpty && tag < seenLimit && info[tag].defined && (!transportOnly || info[tag].inTransport) else {
            return checkUnusualField(tag, value)
        }
        let entry = info + tag
        if entry.pointee.readsValue, let reason = checkValue(value, tag, entry) { return reason }
        if isBody && !members.contains(tag) && !options.allowUnknownMessageFields
            && !(tag >= 5000 && !options.validateUserDefinedFields) {
            return .tagNotDefinedForMessageType
        }
        return nil
    }

    /// `checkField` for an empty value or a tag neither dictionary defines.
    @inline(never)
    func checkUnusualField(_ tag: Int, _ value: FIXValue) -> SessionRejectReason? {
        if value.isEmpty {
            return options.validateFieldsHaveValues ? .tagSpecifiedWithoutValue : nil
        }
        if tag >= 5000 && !options.validateUserDefinedFields { return nil }
        return .invalidTagNumber
    }

    /// The format and enum checks of a defined field's value.
    @inline(never)
    func checkValue(_ value: FIXValue, _ tag: Int, _ entry: UnsafeMutablePointer<TagInfo>) -> SessionRejectReason? {
        if !FIXValidator.hasFormat(value, entry.pointee.type) { return .incorrectDataFormat }
        if entry.pointee.hasEnums && !options.allowUnknownEnumValues && !isAllowed(value, tag, entry) { return .valueIsIncorrect }
        return nil
    }

    /// The Reject for a field that failed `checkField` with `reason`.
    func rejection(for reason: SessionRejectReason, _ tag: Int, _ value: FIXValue, _ message: FIXMessage) -> FIXRejection {
        let name = "\(fieldName(tag)) (\(tag))"
        let text: String
        switch reason {
        case .tagSpecifiedWithoutValue: text = "\(name) has no value"
        case .invalidTagNumber: text = "tag \(tag) is not defined in the dictionary"
        case .incorrectDataFormat: text = "\(name) '\(value.printable)' is not a valid \(type(of: tag).map { "\($0)" } ?? "value")"
        case .valueIsIncorrect: text = "\(name) '\(value.printable)' is not one of its values"
        default: text = "\(name) is not defined for this message type"
        }
        return reject(reason, tag, message, text)
    }

    /// Whether an enumerated field's value is one of its values: single bytes from the
    /// bitmap, two to seven by a binary search of the packed keys, longer ones (and
    /// multiple-value fields) from the dictionary's set.
    @inline(__always)
    func isAllowed(_ value: FIXValue, _ tag: Int, _ entry: UnsafeMutablePointer<TagInfo>) -> Bool {
        if entry.pointee.type == .multipleValue { return isAllowedFromSet(value, tag, entry) }
        let bytes = value.bytes
        if bytes.count == 1 {
            let b = bytes[0]
            let bit = UInt64(1) << UInt64(b & 63)
            switch b >> 6 {
            case 0: return entry.pointee.bytes.0 & bit != 0
            case 1: return entry.pointee.bytes.1 & bit != 0
            case 2: return entry.pointee.bytes.2 & bit != 0
            default: return entry.pointee.bytes.3 & bit != 0
            }
        }
        if let key = EnumSet.packed(bytes) {
            guard let keys = entry.pointee.packed else { return false }
            return EnumSet.search(keys, entry.pointee.packedCount, key)
        }
        return isAllowedFromSet(value, tag, entry)
    }

    /// `isAllowed` for multiple-value fields and values of eight bytes or more.
    @inline(never)
    func isAllowedFromSet(_ value: FIXValue, _ tag: Int, _ entry: UnsafeMutablePointer<TagInfo>) -> Bool {
        guard let allowed = enums(of: tag) else { return true }
        return FIXValidator.isAllowed(value, entry.pointee.type, allowed)
    }

    /// The form of a value of `type`: the common types inline, the rest in `hasOtherFormat`.
    @inline(__always)
    static func hasFormat(_ value: FIXValue, _ type: FIXFieldType) -> Bool {
        switch type {
        case .string, .data, .multipleValue, .other: return true
        case .char: return value.count == 1
        case .decimal: return isDecimal(value.bytes)
        case .int, .length, .seqNum, .numInGroup, .tagNum, .dayOfMonth: return isInteger(value)
        default: return hasOtherFormat(value, type)
        }
    }

    @inline(never)
    static func hasOtherFormat(_ value: FIXValue, _ type: FIXFieldType) -> Bool {
        switch type {
        case .boolean: return (try? value.bool()) != nil
        case .utcTimestamp: return FIXTimestamp.isValid(value.bytes)
        case .utcTimeOnly: return (try? value.timeOnly()) != nil
        case .utcDateOnly, .localMktDate: return FIXDate.isValid(value.bytes)
        case .monthYear: return (try? value.monthYear()) != nil
        case .string, .data, .multipleValue, .other, .char, .decimal,
             .int, .length, .seqNum, .numInGroup, .tagNum, .dayOfMonth: return hasFormat(value, type)
        }
    }

    /// What `FIXValue.int()` accepts: `-`? digits, within `Int`. Up to eighteen bytes
    /// cannot overflow, so only the form is checked; longer ones are converted.
    @inline(__always)
    static func isInteger(_ value: FIXValue) -> Bool {
        let bytes = value.bytes
        let n = bytes.count
        guard n > 0 && n <= 18, let base = bytes.baseAddress else { return (try? value.int()) != nil }
        let first = base.load(as: UInt8.self) == UInt8(ascii: "-") ? 1 : 0
        if first == n { return false }
        var i = first
        while i < n {
            if base.load(fromByteOffset: i, as: UInt8.self) &- UInt8(ascii: "0") > 9 { return false }
            i &+= 1
        }
        return true
    }

    /// `-`? digits with at most one `.`, and at least one digit: the form, without the value.
    @inline(__always)
    static func isDecimal(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let n = bytes.count
        guard n > 0, let base = bytes.baseAddress else { return false }
        let first = base.load(as: UInt8.self) == UInt8(ascii: "-") ? 1 : 0
        var points = 0
        var i = first
        while i < n {
            let digit = base.load(fromByteOffset: i, as: UInt8.self) &- UInt8(ascii: "0")
            if digit > 9 {
                if digit != UInt8(ascii: ".") &- UInt8(ascii: "0") { return false }
                points &+= 1
            }
            i &+= 1
        }
        // Every other byte is a digit.
        return points <= 1 && n &- first &- points > 0
    }

    static func isAllowed(_ value: FIXValue, _ type: FIXFieldType, _ allowed: EnumSet) -> Bool {
        guard type == .multipleValue else { return allowed.contains(value.bytes) }
        // Space-separated values: each must be allowed.
        var start = 0
        let bytes = value.bytes
        for i in 0...bytes.count where i == bytes.count || bytes[i] == 0x20 {
            if i > start && !allowed.contains(UnsafeRawBufferPointer(rebasing: bytes[start..<i])) { return false }
            start = i + 1
        }
        return true
    }

    func reject(_ reason: SessionRejectReason, _ tag: Int?, _ message: FIXMessage, _ text: String) -> FIXRejection {
        FIXRejection(reason: reason, refTagID: tag, refMsgType: message.msgType.string,
                     refSeqNum: try? message[tag: 34]?.int(), text: text)
    }
}
