/// A decoded field value. Strings and byte vectors are ranges of `FASTMessage.bytes`.
public enum FASTValue: Equatable, Sendable {
    case absent
    case int(Int64)
    case uint(UInt64)
    case decimal(mantissa: Int64, exponent: Int32)
    case bytes(Range<Int>)
    /// A sequence of `count` items follows, each closed by `.end`.
    case sequence(count: Int)
    /// A group's fields follow, closed by `.end`.
    case group
    /// A dynamically referenced template's fields follow, closed by `.end`.
    case templateRef(id: UInt32)
    case end
}

/// One decoded value: `field` indexes `FASTTemplates.fields` (-1 for `.end`).
public struct FASTEntry: Sendable {
    public let field: Int32
    public let value: FASTValue
}

/// A decoded message, flat: entries in template order, sequences and groups bracketed.
/// Reused from message to message: decoding clears it but keeps its storage, so a steady
/// stream decodes without allocating.
public struct FASTMessage: Sendable {
    public internal(set) var templateID: UInt32 = 0
    public internal(set) var entries: [FASTEntry] = []
    public internal(set) var bytes: [UInt8] = []

    public init() {
        entries.reserveCapacity(64)
        bytes.reserveCapacity(512)
    }

    /// A message to encode: start with its template, then append its fields in template
    /// order (sequences as `.sequence(count:)` then each item's fields and `.end`; groups and
    /// dynamic template references likewise, closed by `.end`).
    public init(templateID: UInt32) {
        self.init()
        self.templateID = templateID
    }

    public mutating func append(_ field: Int32, _ value: FASTValue) {
        entries.append(FASTEntry(field: field, value: value))
    }

    /// Appends a string's or byte vector's bytes; the value to append for them.
    public mutating func append(_ field: Int32, bytes value: some Collection<UInt8>) {
        let start = bytes.count
        bytes.append(contentsOf: value)
        entries.append(FASTEntry(field: field, value: .bytes(start..<bytes.count)))
    }

    /// Closes a sequence item, a group or a template reference.
    public mutating func appendEnd() {
        entries.append(FASTEntry(field: -1, value: .end))
    }

    mutating func clear() {
        entries.removeAll(keepingCapacity: true)
        bytes.removeAll(keepingCapacity: true)
    }

    /// The bytes of a `.bytes` value.
    public func bytes(_ range: Range<Int>) -> ArraySlice<UInt8> { bytes[range] }
}

/// Decodes FAST 1.1 messages with compiled templates. The dictionaries (previous values
/// for copy, increment, delta and tail) live in the decoder and carry over from message
/// to message until `reset()` or a template with `reset="Y"`.
///
/// Not thread-safe: one decoder per stream.
public final class FASTDecoder {
    public let templates: FASTTemplates
    private var machine: DecodingMachine

    /// Report the reportable errors as errors: overlong integers, strings and presence maps
    /// (R6, R9, R7), presence-map bits no field uses (R8), and Unicode strings that are not
    /// UTF-8 once a tail or delta is applied (R2). On by default.
    public var reportsOverlong: Bool {
        get { machine.reportsOverlong }
        set { machine.reportsOverlong = newValue }
    }
    /// Sequences, groups and dynamic template references nest at most this deep.
    public var nestingMax: Int {
        get { machine.nestingMax }
        set { machine.nestingMax = newValue }
    }
    /// Items of a sequence whose items take no bytes (all constants), at most.
    public var emptyItemsMax: Int {
        get { machine.emptyItemsMax }
        set { machine.emptyItemsMax = newValue }
    }

    public init(templates: FASTTemplates) {
        self.templates = templates
        machine = DecodingMachine(templates)
    }

    /// Every dictionary back to undefined.
    public func reset() { machine.reset() }

    /// Decodes the message at the start of `buffer` into `message`; returns the bytes it
    /// took. An error names its code, the byte offset and the field.
    public func decode(_ buffer: UnsafeRawBufferPointer, into message: inout FASTMessage) throws(FASTError) -> Int {
        try machine.decode(buffer, &message)
    }
}

/// The decoder's state and loop, as a value: the hot path touches no class properties
/// (no exclusivity checks) and no references (no reference counting).
struct DecodingMachine {
    enum State: UInt8 { case undefined, empty, assigned }
    enum Kind: UInt8 { case number, decimal, bytes }

    /// A dictionary entry; a string's bytes are in `slotBytes`.
    struct Slot {
        var state = State.undefined
        var kind = Kind.number
        var number: Int128 = 0
        var exponent: Int32 = 0
    }

    struct PresenceMap {
        var start = 0
        var count = 0
        var bit = 0
    }

    struct TemplateEntry {
        var block: Int
        var resets: Bool
    }

    let steps: [Step]
    let blocks: [BlockInfo]
    let constants: [UInt8]
    let mantissas: [FlatOperator]
    let fields: [FASTField]
    let templateIDSlot: Int
    /// Templates by id: an array when the ids are small, else a dictionary.
    let templatesByID: [TemplateEntry?]
    let templatesByLargeID: [UInt32: TemplateEntry]

    var reportsOverlong = true
    var nestingMax = 32
    var emptyItemsMax = 65_536

    var slots: [Slot]
    var slotBytes: [[UInt8]]
    var base = UnsafeRawBufferPointer(start: nil, count: 0)
    var position = 0
    var field: Int32 = -1
    var depth = 0

    init(_ templates: FASTTemplates) {
        steps = templates.steps
        blocks = templates.blocks
        constants = templates.constants
        mantissas = templates.mantissas
        fields = templates.fields
        templateIDSlot = templates.templateIDSlot
        slots = Array(repeating: Slot(), count: templates.slotCount)
        slotBytes = Array(repeating: [], count: templates.slotCount)
        let largest = templates.templates.keys.max() ?? 0
        if largest < 1 << 16 {
            var table = [TemplateEntry?](repeating: nil, count: Int(largest) + 1)
            for (id, template) in templates.templates { table[Int(id)] = TemplateEntry(block: template.block, resets: template.resets) }
            templatesByID = table
            templatesByLargeID = [:]
        } else {
            templatesByID = []
            templatesByLargeID = templates.templates.mapValues { TemplateEntry(block: $0.block, resets: $0.resets) }
        }
    }

    mutating func reset() {
        for index in slots.indices { slots[index].state = .undefined }
    }

    func template(_ id: UInt32) -> TemplateEntry? {
        if Int(id) < templatesByID.count { return templatesByID[Int(id)] }
        return templatesByLargeID[id]
    }

    mutating func decode(_ buffer: UnsafeRawBufferPointer, _ message: inout FASTMessage) throws(FASTError) -> Int {
        message.clear()
        base = buffer
        position = 0
        field = -1
        depth = 0
        defer { base = UnsafeRawBufferPointer(start: nil, count: 0) }
        var pmap = try readPresenceMap()
        let id = try templateID(&pmap)
        guard let template = template(id) else { throw error(.d9, "no template has id \(id)") }
        if template.resets { reset() }
        message.templateID = id
        try run(template.block, &pmap, &message)
        try checkAllBitsUsed(pmap)
        return position
    }

    // MARK: Structure

    private mutating func run(_ blockIndex: Int, _ pmap: inout PresenceMap, _ message: inout FASTMessage) throws(FASTError) {
        depth += 1
        defer { depth -= 1 }
        if depth > nestingMax { throw error(.limit, "nested more than \(nestingMax) deep") }
        let block = blocks[blockIndex]
        for index in block.start..<block.start + block.count {
            let step = steps[index]
            field = step.field
            switch step.opcode {
            case .integer:
                let value = try integer(step.type, optional: step.optional, op: step.op, &pmap)
                message.entries.append(FASTEntry(field: step.field, value: Self.integerValue(value, step.type)))
            case .decimal:
                let value = try decimal(optional: step.optional, op: step.op, &pmap)
                message.entries.append(FASTEntry(field: step.field, value: value.map { .decimal(mantissa: $0.0, exponent: $0.1) } ?? .absent))
            case .splitDecimal:
                guard let exponent = try integer(.int32, optional: step.optional, op: step.op, &pmap) else {
                    message.entries.append(FASTEntry(field: step.field, value: .absent))
                    continue
                }
                guard (-63...63).contains(exponent) else { throw error(.r1, "exponent \(exponent) is outside -63...63") }
                let mantissa = try integer(.int64, optional: false, op: mantissas[Int(step.body)], &pmap) ?? 0
                message.entries.append(FASTEntry(field: step.field, value: .decimal(mantissa: Int64(mantissa), exponent: Int32(exponent))))
            case .string:
                let range = try string(step.stringKind, optional: step.optional, op: step.op, &pmap, &message)
                message.entries.append(FASTEntry(field: step.field, value: range.map { .bytes($0) } ?? .absent))
            case .sequence:
                guard let length = try integer(.uInt32, optional: step.optional, op: step.op, &pmap) else {
                    message.entries.append(FASTEntry(field: step.field, value: .absent))
                    continue
                }
                let body = blocks[Int(step.body)]
                // Every item takes at least a byte unless none of its fields can: a length
                // beyond what is left of the message is not a real one.
                if body.takesBytes {
                    guard length <= base.count - position else {
                        throw error(.truncated, "\(length) sequence items cannot fit in the \(base.count - position) bytes left")
                    }
                } else if length > emptyItemsMax {
                    throw error(.limit, "sequence of \(length) items of constants, more than \(emptyItemsMax)")
                }
                message.entries.append(FASTEntry(field: step.field, value: .sequence(count: Int(length))))
                for _ in 0..<Int(length) {
                    var itemMap = body.needsPresenceMap ? try readPresenceMap() : PresenceMap()
                    try run(Int(step.body), &itemMap, &message)
                    try checkAllBitsUsed(itemMap)
                    message.entries.append(FASTEntry(field: -1, value: .end))
                }
            case .group:
                if step.optional && !next(&pmap) {
                    message.entries.append(FASTEntry(field: step.field, value: .absent))
                    continue
                }
                message.entries.append(FASTEntry(field: step.field, value: .group))
                var groupMap = blocks[Int(step.body)].needsPresenceMap ? try readPresenceMap() : PresenceMap()
                try run(Int(step.body), &groupMap, &message)
                try checkAllBitsUsed(groupMap)
                message.entries.append(FASTEntry(field: -1, value: .end))
            case .dynamicReference:
                var innerMap = try readPresenceMap()
                let id = try templateID(&innerMap)
                guard let template = template(id) else { throw error(.d9, "no template has id \(id)") }
                message.entries.append(FASTEntry(field: step.field, value: .templateRef(id: id)))
                try run(template.block, &innerMap, &message)
                try checkAllBitsUsed(innerMap)
                message.entries.append(FASTEntry(field: -1, value: .end))
            }
        }
    }

    /// The template identifier: present if the presence map's bit says so, else the
    /// previous one (the copy rule, in the global dictionary).
    private mutating func templateID(_ pmap: inout PresenceMap) throws(FASTError) -> UInt32 {
        if next(&pmap) {
            let id = try readInteger(signed: false, nullable: false, type: .uInt32)!
            slots[templateIDSlot].state = .assigned
            slots[templateIDSlot].number = id
            return UInt32(id)
        }
        guard slots[templateIDSlot].state == .assigned else { throw error(.d5, "no template identifier and none before it") }
        return UInt32(slots[templateIDSlot].number)
    }

    static func integerValue(_ value: Int128?, _ type: FASTType) -> FASTValue {
        guard let value else { return .absent }
        return type == .int32 || type == .int64 ? .int(Int64(value)) : .uint(UInt64(value))
    }

    // MARK: Operators

    private mutating func integer(_ type: FASTType, optional: Bool, op: FlatOperator, _ pmap: inout PresenceMap) throws(FASTError) -> Int128? {
        let signed = type == .int32 || type == .int64
        let initial: Int128? = op.hasInitial ? op.initialNumber : nil
        switch op.kind {
        case .none:
            return try readInteger(signed: signed, nullable: optional, type: type)
        case .constant:
            return !optional || next(&pmap) ? initial : nil
        case .defaultValue:
            return next(&pmap) ? try readInteger(signed: signed, nullable: optional, type: type) : initial
        case .copy, .increment:
            if next(&pmap) {
                let value = try readInteger(signed: signed, nullable: optional, type: type)
                store(Int(op.slot), value)
                return value
            }
            switch slots[Int(op.slot)].state {
            case .assigned:
                guard slots[Int(op.slot)].kind == .number else { throw error(.d4, "the dictionary entry holds another type") }
                guard op.kind == .increment else { return slots[Int(op.slot)].number }
                let value = slots[Int(op.slot)].number + 1
                try check(value, type)
                slots[Int(op.slot)].number = value
                return value
            case .undefined:
                if let initial {
                    store(Int(op.slot), initial)
                    return initial
                }
                if optional { return nil }
                throw error(.d5, "mandatory field absent, with no previous or initial value")
            case .empty:
                if optional { return nil }
                throw error(.d6, "mandatory field absent, its previous value is empty")
            }
        case .delta:
            guard let delta = try readInteger(signed: true, nullable: optional, type: .int64) else { return nil }
            let base: Int128
            switch slots[Int(op.slot)].state {
            case .assigned:
                guard slots[Int(op.slot)].kind == .number else { throw error(.d4, "the dictionary entry holds another type") }
                base = slots[Int(op.slot)].number
            case .undefined: base = initial ?? 0
            case .empty: throw error(.d6, "delta on an empty previous value")
            }
            let value = base + delta
            try check(value, type)
            store(Int(op.slot), value)
            return value
        case .tail:
            throw error(.s2, "tail on an integer")
        }
    }

    private mutating func store(_ slot: Int, _ value: Int128?) {
        if let value {
            slots[slot].state = .assigned
            slots[slot].kind = .number
            slots[slot].number = value
        } else {
            slots[slot].state = .empty
        }
    }

    private mutating func decimal(optional: Bool, op: FlatOperator, _ pmap: inout PresenceMap) throws(FASTError) -> (Int64, Int32)? {
        let initial: (Int64, Int32)? = op.hasInitial ? (Int64(op.initialNumber), op.initialExponent) : nil
        switch op.kind {
        case .none:
            return try readDecimal(nullable: optional)
        case .constant:
            return !optional || next(&pmap) ? initial : nil
        case .defaultValue:
            return next(&pmap) ? try readDecimal(nullable: optional) : initial
        case .copy:
            if next(&pmap) {
                let value = try readDecimal(nullable: optional)
                storeDecimal(Int(op.slot), value)
                return value
            }
            switch slots[Int(op.slot)].state {
            case .assigned:
                guard slots[Int(op.slot)].kind == .decimal else { throw error(.d4, "the dictionary entry holds another type") }
                return (Int64(slots[Int(op.slot)].number), slots[Int(op.slot)].exponent)
            case .undefined:
                if let initial {
                    storeDecimal(Int(op.slot), initial)
                    return initial
                }
                if optional { return nil }
                throw error(.d5, "mandatory field absent, with no previous or initial value")
            case .empty:
                if optional { return nil }
                throw error(.d6, "mandatory field absent, its previous value is empty")
            }
        case .delta:
            guard let exponentDelta = try readInteger(signed: true, nullable: optional, type: .int64) else { return nil }
            let mantissaDelta = try readInteger(signed: true, nullable: false, type: .int64)!
            var base: (Int128, Int128) = (0, 0)
            switch slots[Int(op.slot)].state {
            case .assigned:
                guard slots[Int(op.slot)].kind == .decimal else { throw error(.d4, "the dictionary entry holds another type") }
                base = (slots[Int(op.slot)].number, Int128(slots[Int(op.slot)].exponent))
            case .undefined:
                if let initial { base = (Int128(initial.0), Int128(initial.1)) }
            case .empty:
                throw error(.d6, "delta on an empty previous value")
            }
            let exponent = base.1 + exponentDelta
            let mantissa = base.0 + mantissaDelta
            guard (-63...63).contains(exponent) else { throw error(.r1, "exponent \(exponent) is outside -63...63") }
            try check(mantissa, .int64)
            let value = (Int64(mantissa), Int32(exponent))
            storeDecimal(Int(op.slot), value)
            return value
        case .increment, .tail:
            throw error(.s2, "operator not applicable to a decimal")
        }
    }

    private mutating func storeDecimal(_ slot: Int, _ value: (Int64, Int32)?) {
        if let value {
            slots[slot].state = .assigned
            slots[slot].kind = .decimal
            slots[slot].number = Int128(value.0)
            slots[slot].exponent = value.1
        } else {
            slots[slot].state = .empty
        }
    }

    /// The operator's initial bytes appended to the message; nil if it has none.
    private func emitInitial(_ op: FlatOperator, _ message: inout FASTMessage) -> Range<Int>? {
        guard op.hasInitial else { return nil }
        let start = message.bytes.count
        message.bytes.append(contentsOf: constants[Int(op.initialStart)..<Int(op.initialStart + op.initialCount)])
        return start..<message.bytes.count
    }

    private mutating func string(_ kind: StringKind, optional: Bool, op: FlatOperator, _ pmap: inout PresenceMap,
                                 _ message: inout FASTMessage) throws(FASTError) -> Range<Int>? {
        switch op.kind {
        case .none:
            return try readString(kind, nullable: optional, &message)
        case .constant:
            return !optional || next(&pmap) ? emitInitial(op, &message) : nil
        case .defaultValue:
            return next(&pmap) ? try readString(kind, nullable: optional, &message) : emitInitial(op, &message)
        case .copy:
            if next(&pmap) {
                let range = try readString(kind, nullable: optional, &message)
                if let range {
                    setBytes(Int(op.slot), message.bytes[range])
                } else {
                    slots[Int(op.slot)].state = .empty
                }
                return range
            }
            return try previousString(op, optional: optional, &message)
        case .tail:
            if next(&pmap) {
                // A NULL tail means absent and leaves the dictionary as it was.
                guard let range = try readString(kind, nullable: optional, &message) else { return nil }
                try prepareBase(op, emptyIsError: false)
                let tailCount = range.count
                if tailCount >= slotBytes[Int(op.slot)].count {
                    slotBytes[Int(op.slot)].removeAll(keepingCapacity: true)
                } else {
                    slotBytes[Int(op.slot)].removeLast(tailCount)
                }
                slotBytes[Int(op.slot)].append(contentsOf: message.bytes[range])
                message.bytes.removeSubrange(range)
                if kind == .unicode { try checkUTF8(Int(op.slot), "tail") }
                return emitSlot(Int(op.slot), &message)
            }
            return try previousString(op, optional: optional, &message)
        case .delta:
            guard let subtraction = try readInteger(signed: true, nullable: optional, type: .int32) else { return nil }
            let delta = try readString(kind, nullable: false, &message)!
            try prepareBase(op, emptyIsError: true)
            let count = slotBytes[Int(op.slot)].count
            if subtraction >= 0 {
                guard subtraction <= count else {
                    throw error(.d7, "subtraction length \(subtraction) exceeds the previous value's \(count)")
                }
                slotBytes[Int(op.slot)].removeLast(Int(subtraction))
                slotBytes[Int(op.slot)].append(contentsOf: message.bytes[delta])
            } else {
                let front = Int(-subtraction - 1)
                guard front <= count else {
                    throw error(.d7, "subtraction length \(front) exceeds the previous value's \(count)")
                }
                slotBytes[Int(op.slot)].removeFirst(front)
                slotBytes[Int(op.slot)].insert(contentsOf: message.bytes[delta], at: 0)
            }
            message.bytes.removeSubrange(delta)
            if kind == .unicode { try checkUTF8(Int(op.slot), "delta") }
            return emitSlot(Int(op.slot), &message)
        case .increment:
            throw error(.s2, "increment on a string")
        }
    }

    /// Puts in the slot the value a delta or tail builds on: the previous value, or the
    /// initial one (or nothing) when there is none yet.
    private mutating func prepareBase(_ op: FlatOperator, emptyIsError: Bool) throws(FASTError) {
        switch slots[Int(op.slot)].state {
        case .assigned:
            guard slots[Int(op.slot)].kind == .bytes else { throw error(.d4, "the dictionary entry holds another type") }
        case .undefined:
            slotBytes[Int(op.slot)].removeAll(keepingCapacity: true)
            if op.hasInitial { slotBytes[Int(op.slot)].append(contentsOf: constants[Int(op.initialStart)..<Int(op.initialStart + op.initialCount)]) }
        case .empty:
            if emptyIsError { throw error(.d6, "delta on an empty previous value") }
            slotBytes[Int(op.slot)].removeAll(keepingCapacity: true)
        }
        slots[Int(op.slot)].state = .assigned
        slots[Int(op.slot)].kind = .bytes
    }

    private func emitSlot(_ slot: Int, _ message: inout FASTMessage) -> Range<Int> {
        let start = message.bytes.count
        message.bytes.append(contentsOf: slotBytes[slot])
        return start..<message.bytes.count
    }

    private mutating func previousString(_ op: FlatOperator, optional: Bool, _ message: inout FASTMessage) throws(FASTError) -> Range<Int>? {
        switch slots[Int(op.slot)].state {
        case .assigned:
            guard slots[Int(op.slot)].kind == .bytes else { throw error(.d4, "the dictionary entry holds another type") }
            return emitSlot(Int(op.slot), &message)
        case .undefined:
            guard op.hasInitial else {
                if optional { return nil }
                throw error(.d5, "mandatory field absent, with no previous or initial value")
            }
            setBytes(Int(op.slot), constants[Int(op.initialStart)..<Int(op.initialStart + op.initialCount)])
            return emitSlot(Int(op.slot), &message)
        case .empty:
            if optional { return nil }
            throw error(.d6, "mandatory field absent, its previous value is empty")
        }
    }

    private mutating func setBytes(_ slot: Int, _ bytes: ArraySlice<UInt8>) {
        slots[slot].state = .assigned
        slots[slot].kind = .bytes
        slotBytes[slot].removeAll(keepingCapacity: true)
        slotBytes[slot].append(contentsOf: bytes)
    }

    // MARK: Primitives

    private func error(_ code: FASTError.Code, _ reason: String) -> FASTError {
        let name = field >= 0 && Int(field) < fields.count ? fields[Int(field)].name : nil
        return FASTError(code, offset: position, field: name, reason)
    }

    @inline(__always)
    private mutating func byte() throws(FASTError) -> UInt8 {
        guard position < base.count else { throw error(.truncated, "the message ends in the middle of a field") }
        defer { position += 1 }
        return base[position]
    }

    @inline(__always)
    private func next(_ pmap: inout PresenceMap) -> Bool {
        let bit = pmap.bit
        pmap.bit += 1
        guard bit < pmap.count * 7 else { return false }
        return base[pmap.start + bit / 7] & (0x40 >> UInt8(bit % 7)) != 0
    }

    /// R8: a presence map's bits past the last one its fields read must be clear.
    private func checkAllBitsUsed(_ pmap: PresenceMap) throws(FASTError) {
        guard reportsOverlong else { return }
        var bit = pmap.bit
        while bit < pmap.count * 7 {
            if base[pmap.start + bit / 7] & (0x40 >> UInt8(bit % 7)) != 0 {
                throw FASTError(.r8, offset: pmap.start, field: nil, "presence map bit \(bit) is set, but its fields use \(pmap.bit)")
            }
            bit += 1
        }
    }

    /// R2: a Unicode string built by a tail or delta must still be UTF-8.
    private func checkUTF8(_ slot: Int, _ operation: String) throws(FASTError) {
        guard reportsOverlong else { return }
        let valid = slotBytes[slot].withUnsafeBufferPointer { String(validating: $0, as: UTF8.self) != nil }
        if !valid { throw error(.r2, "the value after the \(operation) is not valid UTF-8") }
    }

    private mutating func readPresenceMap() throws(FASTError) -> PresenceMap {
        let start = position
        while try byte() & 0x80 == 0 {}
        let count = position - start
        if reportsOverlong && count > 1 && base[position - 1] == 0x80 {
            throw error(.r7, "presence map with trailing empty bytes")
        }
        return PresenceMap(start: start, count: count, bit: 0)
    }

    private func check(_ value: Int128, _ type: FASTType) throws(FASTError) {
        let ok: Bool
        switch type {
        case .int32: ok = value >= Int128(Int32.min) && value <= Int128(Int32.max)
        case .uInt32: ok = value >= 0 && value <= Int128(UInt32.max)
        case .int64: ok = value >= Int128(Int64.min) && value <= Int128(Int64.max)
        case .uInt64: ok = value >= 0 && value <= Int128(UInt64.max)
        default: ok = true
        }
        if !ok { throw error(.d2, "\(value) is outside the range of \(type)") }
    }

    /// A stop-bit integer; nil when nullable and null.
    private mutating func readInteger(signed: Bool, nullable: Bool, type: FASTType) throws(FASTError) -> Int128? {
        // Fast path: one byte, the most common integer of all (lengths, small numbers, NULL).
        if position < base.count, base[position] & 0x80 != 0 {
            let byte = base[position]
            position += 1
            var value = Int64(byte & 0x7F)
            if signed && byte & 0x40 != 0 { value -= 0x80 }
            if nullable {
                if value == 0 { return nil }
                if value > 0 { value -= 1 }
            }
            // -64...127 fits every integer type (a negative value only comes from a signed one).
            return Int128(value)
        }
        let start = position
        var current = try byte()
        var value: Int128 = signed && current & 0x40 != 0 ? -1 : 0
        while true {
            value = (value << 7) | Int128(current & 0x7F)
            if current & 0x80 != 0 { break }
            if position - start >= 10 { throw error(.d2, "integer longer than ten bytes") }
            current = try byte()
        }
        if reportsOverlong && position - start > 1 {
            let first = base[start]
            let second = base[start + 1]
            let overlong = signed
                ? (first == 0x00 && second & 0x40 == 0) || (first == 0x7F && second & 0x40 != 0)
                : first == 0x00
            if overlong { throw error(.r6, "integer encoded with more bytes than it needs") }
        }
        if nullable {
            if value == 0 { return nil }
            if value > 0 { value -= 1 }
        }
        try check(value, type)
        return value
    }

    private mutating func readDecimal(nullable: Bool) throws(FASTError) -> (Int64, Int32)? {
        guard let exponent = try readInteger(signed: true, nullable: nullable, type: .int32) else { return nil }
        guard (-63...63).contains(exponent) else { throw error(.r1, "exponent \(exponent) is outside -63...63") }
        let mantissa = try readInteger(signed: true, nullable: false, type: .int64)!
        return (Int64(mantissa), Int32(exponent))
    }

    /// A string or byte vector, appended to `message.bytes`; nil when nullable and null.
    private mutating func readString(_ kind: StringKind, nullable: Bool, _ message: inout FASTMessage) throws(FASTError) -> Range<Int>? {
        let output = message.bytes.count
        if kind != .ascii {
            guard let length = try readInteger(signed: false, nullable: nullable, type: .uInt32) else { return nil }
            guard position + Int(length) <= base.count else { throw error(.truncated, "the message ends inside a \(length)-byte value") }
            message.bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: base[position..<position + Int(length)]))
            position += Int(length)
            return output..<message.bytes.count
        }
        let start = position
        while try byte() & 0x80 == 0 {}
        let count = position - start
        if base[start] & 0x7F == 0 {
            // Leading zero: null, empty or NUL, by the byte count; anything longer is overlong.
            let zeros = count == 1 || (count >= 2 && base[start + 1] & 0x7F == 0 && (count == 2 || base[start + 2] & 0x7F == 0))
            switch (nullable, count) {
            case (true, 1): return nil
            case (true, 2) where zeros, (false, 1): return output..<output
            case (true, 3) where zeros, (false, 2) where zeros:
                message.bytes.append(0)
                return output..<message.bytes.count
            default:
                if reportsOverlong { throw error(.r9, "string encoded with more bytes than it needs") }
            }
        }
        message.bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: base[start..<position - 1]))
        message.bytes.append(base[position - 1] & 0x7F)
        return output..<message.bytes.count
    }
}
