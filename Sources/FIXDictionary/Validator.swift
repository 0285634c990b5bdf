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
/// message, so validating a message that passes allocates nothing.
public final class FIXValidator {
    public let application: FIXDataDictionary
    public let transport: FIXDataDictionary
    public let options: FIXValidationOptions
    /// Message layouts by MsgType packed into an integer (no String per message).
    let messagesByKey: [UInt64: FIXLayout]
    let seen: UnsafeMutablePointer<UInt32>
    let seenLimit: Int
    var stamp: UInt32 = 0
    /// Tags seen in the current group instance, stamped per instance.
    let instanceSeen: UnsafeMutablePointer<UInt32>
    var instanceStamp: UInt32 = 0
    /// Per tag below `seenLimit`: type and single-byte enum values from both
    /// dictionaries, in plain memory so that the hot path touches no reference counts.
    let info: UnsafeMutablePointer<TagInfo>

    struct TagInfo {
        var defined = false
        var type = FIXFieldType.other
        /// Enumerated: single-byte values in `bytes`; longer ones need `longerValues`.
        var hasEnums = false
        var hasLongerValues = false
        /// A repeating group's count field somewhere (FIX 4.2 types them INT, not NUMINGROUP).
        var isGroupCount = false
        var bytes: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
    }

    /// `application` for the body; `transport` (a FIXT dictionary) for the header, trailer
    /// and admin messages when they differ, as in FIX 5.0 sessions.
    public init(application: FIXDataDictionary, transport: FIXDataDictionary? = nil, options: FIXValidationOptions = FIXValidationOptions()) {
        self.application = application
        self.transport = transport ?? application
        self.options = options
        var byKey: [UInt64: FIXLayout] = [:]
        for (type, message) in self.transport.messages where self.transport !== application && message.category == "admin" {
            byKey[FIXValidator.key(type)] = message.body
        }
        for (type, message) in application.messages { byKey[FIXValidator.key(type)] = message.body }
        messagesByKey = byKey
        seenLimit = max(application.tableLimit, self.transport.tableLimit)
        seen = .allocate(capacity: seenLimit)
        seen.initialize(repeating: 0, count: seenLimit)
        instanceSeen = .allocate(capacity: seenLimit)
        instanceSeen.initialize(repeating: 0, count: seenLimit)
        info = .allocate(capacity: seenLimit)
        info.initialize(repeating: TagInfo(), count: seenLimit)
        for tag in 1..<seenLimit {
            guard let type = application.type(of: tag) ?? self.transport.type(of: tag) else { continue }
            var entry = TagInfo(defined: true, type: type)
            let set = (tag < application.tableLimit ? application.enumTable[tag] : nil)
                ?? (tag < self.transport.tableLimit ? self.transport.enumTable[tag] : nil)
            if let set {
                entry.hasEnums = true
                entry.hasLongerValues = !set.longer.isEmpty
                entry.bytes = set.singleBytes
            }
            info[tag] = entry
        }
        var counts = Set<Int>()
        func collect(_ layout: FIXLayout) {
            for (tag, group) in layout.groups {
                counts.insert(tag)
                collect(group.instance)
            }
        }
        for dictionary in [application, self.transport] {
            collect(dictionary.header)
            collect(dictionary.trailer)
            for message in dictionary.messages.values { collect(message.body) }
        }
        for tag in counts where tag < seenLimit { info[tag].isGroupCount = true }
    }

    deinit {
        seen.deallocate()
        instanceSeen.deallocate()
        info.deallocate()
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

    /// Nil if the message passes every enabled check, else the first failure.
    public func validate(_ message: FIXMessage) -> FIXRejection? {
        guard options.validateIncomingMessage else { return nil }
        let msgTypeKey = FIXValidator.key(message.msgType)
        guard let body = messagesByKey[msgTypeKey] else {
            return reject(.invalidMsgType, nil, message, "MsgType \(message.msgType.printable) is not in the dictionary")
        }
        stamp &+= 1
        if stamp == 0 {
            seen.update(repeating: 0, count: seenLimit)
            stamp = 1
        }
        let header = transport.header
        let trailer = transport.trailer
        let count = message.count
        // Plain bitmaps in the loop: class references there would be retained and
        // released on every field.
        let headerMembers = header.members
        let trailerMembers = trailer.members
        let bodyMembers = body.members
        let checksOrder = options.validateFieldsOutOfOrder
        // 0 header, 1 body, 2 trailer
        var part = 0
        var position = 0
        while position < count {
            let tag = message.tag(at: position)
            let inHeader = headerMembers.contains(tag)
            let inTrailer = trailerMembers.contains(tag)
            if part == 0 && !inHeader { part = 1 }
            if part == 1 && inTrailer { part = 2 }
            if checksOrder {
                if inHeader && part != 0 { return reject(.tagSpecifiedOutOfRequiredOrder, tag, message, "\(fieldName(tag)) (\(tag)) belongs in the header") }
                if part == 2 && !inTrailer { return reject(.tagSpecifiedOutOfRequiredOrder, tag, message, "\(fieldName(tag)) (\(tag)) after the trailer began") }
            }
            let members = part == 0 ? headerMembers : (part == 1 ? bodyMembers : trailerMembers)
            let value = message[position].value
            if let reason = checkField(tag, value, members: members, isBody: part == 1) {
                return misplacedHeaderField(message, header: headerMembers, trailer: trailerMembers)
                    ?? rejection(for: reason, tag, value, message)
            }
            if tag < seenLimit {
                if seen[tag] == stamp { return reject(.tagAppearsMoreThanOnce, tag, message, "\(fieldName(tag)) (\(tag)) appears more than once") }
                seen[tag] = stamp
                if info[tag].isGroupCount, let group = (part == 0 ? header : (part == 1 ? body : trailer)).groups[tag] {
                    switch walkGroup(group, at: position, message) {
                    case .failure(let failure):
                        return misplacedHeaderField(message, header: headerMembers, trailer: trailerMembers) ?? failure
                    case .end(let next): position = next
                    }
                    continue
                }
            }
            position += 1
        }
        if let tag = missing(header.required) {
            return reject(.requiredTagMissing, tag, message, "\(fieldName(tag)) (\(tag)) is required in the header")
        }
        if let tag = missing(body.required) {
            let name = application.messages[message.msgType.string]?.name ?? transport.messages[message.msgType.string]?.name ?? "the message"
            return reject(.requiredTagMissing, tag, message, "\(fieldName(tag)) (\(tag)) is required in \(name)")
        }
        if let tag = missing(trailer.required) {
            return reject(.requiredTagMissing, tag, message, "\(fieldName(tag)) (\(tag)) is required in the trailer")
        }
        return nil
    }

    /// Structure before content, as QuickFIX reports it: a header field after the first
    /// body field, named. Looked for only once a message has failed, so valid messages
    /// do not pay for a second pass.
    func misplacedHeaderField(_ message: FIXMessage, header: TagSet, trailer: TagSet) -> FIXRejection? {
        guard options.validateFieldsOutOfOrder else { return nil }
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
    func missing(_ tags: [Int]) -> Int? {
        for tag in tags where tag >= seenLimit || seen[tag] != stamp { return tag }
        return nil
    }

    enum GroupWalk {
        case end(Int)
        case failure(FIXRejection)
    }

    /// Checks the instances of `group` whose count field is at `countPosition`; returns
    /// the position after the group.
    func walkGroup(_ group: FIXGroupLayout, at countPosition: Int, _ message: FIXMessage) -> GroupWalk {
        let declared = (try? message[countPosition].value.int()) ?? 0
        var position = countPosition + 1
        var instances = 0
        let count = message.count
        let layout = group.instance
        let members = layout.members
        while position < count && message.tag(at: position) == group.delimiter {
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
                if tag == group.delimiter && tag < seenLimit && instanceSeen[tag] == mark { break }
                guard members.contains(tag) else { break }
                if tag < seenLimit && instanceSeen[tag] == mark {
                    // A tag twice in one instance starts nothing new: QuickFIX counts it as a miscount.
                    return .failure(reject(.incorrectNumInGroupCount, group.countTag, message,
                                           "\(fieldName(tag)) (\(tag)) repeats inside one instance of \(fieldName(group.countTag))"))
                }
                if options.validateUnorderedGroupFields, let order = layout.order.firstIndex(of: tag) {
                    if order < lastOrder {
                        return .failure(reject(.repeatingGroupFieldsOutOfOrder, tag, message,
                                               "\(fieldName(tag)) (\(tag)) is out of order in \(fieldName(group.countTag))"))
                    }
                    lastOrder = order
                }
                if tag < seenLimit { instanceSeen[tag] = mark }
                let value = message[position].value
                if let reason = checkField(tag, value, members: members, isBody: false) {
                    return .failure(rejection(for: reason, tag, value, message))
                }
                if tag < seenLimit && info[tag].isGroupCount, let nested = layout.groups[tag] {
                    switch walkGroup(nested, at: position, message) {
                    case .failure(let failure): return .failure(failure)
                    case .end(let next): position = next
                    }
                    continue
                }
                position += 1
            }
            for tag in layout.required where tag >= seenLimit || instanceSeen[tag] != mark {
                return .failure(reject(.requiredTagMissing, tag, message,
                                       "\(fieldName(tag)) (\(tag)) is required in each \(fieldName(group.countTag)) entry"))
            }
        }
        if instances != declared {
            return .failure(reject(.incorrectNumInGroupCount, group.countTag, message,
                                   "\(fieldName(group.countTag)) (\(group.countTag)) says \(declared) but \(instances) entries follow"))
        }
        return .end(position)
    }

    /// Value, type, enum and membership checks of one field: the reason it fails, or nil.
    /// A small result on purpose: the hot path returns nil, and only a failure pays for
    /// building the Reject's text (`rejection(for:)`).
    @inline(__always)
    func checkField(_ tag: Int, _ value: FIXValue, members: TagSet, isBody: Bool) -> SessionRejectReason? {
        if value.isEmpty {
            return options.validateFieldsHaveValues ? .tagSpecifiedWithoutValue : nil
        }
        guard tag < seenLimit, info[tag].defined else {
            if tag >= 5000 && !options.validateUserDefinedFields { return nil }
            return .invalidTagNumber
        }
        let entry = info + tag
        if !FIXValidator.hasFormat(value, entry.pointee.type) { return .incorrectDataFormat }
        if entry.pointee.hasEnums && !options.allowUnknownEnumValues && !isAllowed(value, tag, entry) { return .valueIsIncorrect }
        if isBody && !members.contains(tag) && !options.allowUnknownMessageFields
            && !(tag >= 5000 && !options.validateUserDefinedFields) {
            return .tagNotDefinedForMessageType
        }
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
    /// table, longer ones (and multiple-value fields) from the dictionary's set.
    func isAllowed(_ value: FIXValue, _ tag: Int, _ entry: UnsafeMutablePointer<TagInfo>) -> Bool {
        if value.count == 1 && entry.pointee.type != .multipleValue {
            let b = value.bytes[0]
            let bit = UInt64(1) << UInt64(b & 63)
            switch b >> 6 {
            case 0: return entry.pointee.bytes.0 & bit != 0
            case 1: return entry.pointee.bytes.1 & bit != 0
            case 2: return entry.pointee.bytes.2 & bit != 0
            default: return entry.pointee.bytes.3 & bit != 0
            }
        }
        guard let allowed = enums(of: tag) else { return true }
        return FIXValidator.isAllowed(value, entry.pointee.type, allowed)
    }

    static func hasFormat(_ value: FIXValue, _ type: FIXFieldType) -> Bool {
        switch type {
        case .int, .length, .seqNum, .numInGroup, .tagNum, .dayOfMonth: return (try? value.int()) != nil
        case .decimal: return isDecimal(value.bytes)
        case .char: return value.count == 1
        case .boolean: return (try? value.bool()) != nil
        case .utcTimestamp: return FIXTimestamp.isValid(value.bytes)
        case .utcTimeOnly: return (try? value.timeOnly()) != nil
        case .utcDateOnly, .localMktDate: return FIXDate.isValid(value.bytes)
        case .monthYear: return (try? value.monthYear()) != nil
        case .string, .data, .multipleValue, .other: return true
        }
    }

    /// `-`? digits with at most one `.`, and at least one digit: the form, without the value.
    static func isDecimal(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var i = 0
        if bytes.count > 0 && bytes[0] == UInt8(ascii: "-") { i = 1 }
        var digits = 0
        var points = 0
        while i < bytes.count {
            let c = bytes[i]
            if c == UInt8(ascii: ".") {
                points += 1
            } else if c &- UInt8(ascii: "0") <= 9 {
                digits += 1
            } else {
                return false
            }
            i += 1
        }
        return digits > 0 && points <= 1
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
