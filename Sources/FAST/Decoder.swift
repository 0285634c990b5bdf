import CFIXScan
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
    /// Only `decode` and the settings below touch it, and a decoder is used by one
    /// thread at a time (see above): no run-time exclusivity check per message.
    @exclusivity(unchecked) private var machine: DecodingMachine

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

    deinit { machine.deallocate() }

    /// Every dictionary back to undefined.
    public func reset() { machine.reset() }

    /// Decodes the message at the start of `buffer` into `message`; returns the bytes it
    /// took. An error names its code, the byte offset and the field.
    public func decode(_ buffer: UnsafeRawBufferPointer, into message: inout FASTMessage) throws(FASTError) -> Int {
        try machine.decode(buffer, &message)
    }
}

/// The message being decoded, in memory the decoder owns: an append is a store and a
/// count, with none of an array's copy-on-write checks. `decode` copies it into the
/// caller's `FASTMessage` once, whose arrays keep their capacity from message to message.
struct Output {
    var entries: UnsafeMutablePointer<FASTEntry>
    var entryCount = 0
    var entryCapacity = 64
    var bytes: UnsafeMutablePointer<UInt8>
    var byteCount = 0
    var byteCapacity = 512

    init() {
        entries = .allocate(capacity: entryCapacity)
        bytes = .allocate(capacity: byteCapacity)
    }

    func deallocate() {
        entries.deallocate()
        bytes.deallocate()
    }

    @inline(__always)
    mutating func clear() {
        entryCount = 0
        byteCount = 0
    }

    @inline(__always)
    mutating func append(_ field: Int32, _ value: FASTValue) {
        if entryCount == entryCapacity { growEntries() }
        (entries + entryCount).initialize(to: FASTEntry(field: field, value: value))
        entryCount &+= 1
    }

    @inline(__always)
    mutating func append(bytes source: UnsafeRawPointer, count: Int) {
        if byteCount &+ count > byteCapacity { growBytes(byteCount &+ count) }
        // Most values are short: copied without a call to memcpy.
        cf_copy_short(bytes + byteCount, source, count)
        byteCount &+= count
    }

    @inline(__always)
    mutating func append(bytes source: UnsafePointer<UInt8>, count: Int) {
        append(bytes: UnsafeRawPointer(source), count: count)
    }

    @inline(__always)
    mutating func append(byte: UInt8) {
        if byteCount == byteCapacity { growBytes(byteCount &+ 1) }
        bytes[byteCount] = byte
        byteCount &+= 1
    }

    /// The bytes of a value decoded into this message.
    func bytes(_ range: Range<Int>) -> UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(start: bytes + range.lowerBound, count: range.count)
    }

    /// Drops the bytes from `start` on (a tail or delta just read, once applied).
    mutating func removeBytes(from start: Int) {
        byteCount = start
    }

    mutating func growEntries() {
        let grown = UnsafeMutablePointer<FASTEntry>.allocate(capacity: entryCapacity * 2)
        grown.moveInitialize(from: entries, count: entryCount)
        entries.deallocate()
        entries = grown
        entryCapacity *= 2
    }

    mutating func growBytes(_ needed: Int) {
        var capacity = byteCapacity * 2
        while capacity < needed { capacity *= 2 }
        let grown = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
        grown.moveInitialize(from: bytes, count: byteCount)
        bytes.deallocate()
        bytes = grown
        byteCapacity = capacity
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

    /// The templates' steps and blocks, copied into plain memory: read in place, with
    /// no bounds check or copy of a 64-byte step per field.
    let steps: UnsafeMutablePointer<Step>
    let stepCount: Int
    /// Per step: how many plain steps (`isPlain`) start there, up to the end of its block.
    let plainRuns: UnsafeMutablePointer<Int32>
    let blocks: UnsafeMutablePointer<BlockInfo>
    let blockCount: Int
    let constants: [UInt8]
    /// `constants` in plain memory, for `decodePlain`.
    let constantBytes: UnsafeMutablePointer<UInt8>
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
    /// The message being decoded (see `Output`).
    var out = Output()
    var base = UnsafeRawBufferPointer(start: nil, count: 0)
    var position = 0
    var field: Int32 = -1
    var depth = 0

    init(_ templates: FASTTemplates) {
        stepCount = templates.steps.count
        steps = .allocate(capacity: max(stepCount, 1))
        steps.initialize(from: templates.steps, count: stepCount)
        blockCount = templates.blocks.count
        blocks = .allocate(capacity: max(blockCount, 1))
        blocks.initialize(from: templates.blocks, count: blockCount)
        plainRuns = .allocate(capacity: max(stepCount, 1))
        plainRuns.initialize(repeating: 0, count: max(stepCount, 1))
        for block in templates.blocks {
            var run: Int32 = 0
            for index in stride(from: block.start + block.count - 1, through: block.start, by: -1) {
                run = DecodingMachine.isPlain(templates.steps[index]) ? run + 1 : 0
                plainRuns[index] = run
            }
        }
        constants = templates.constants
        constantBytes = .allocate(capacity: max(templates.constants.count, 1))
        constantBytes.initialize(from: templates.constants, count: templates.constants.count)
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

    /// Frees the memory the machine owns; the decoder's last act.
    func deallocate() {
        out.deallocate()
        steps.deinitialize(count: stepCount)
        steps.deallocate()
        blocks.deinitialize(count: blockCount)
        blocks.deallocate()
        plainRuns.deallocate()
        constantBytes.deallocate()
    }

    func template(_ id: UInt32) -> TemplateEntry? {
        if Int(id) < templatesByID.count { return templatesByID[Int(id)] }
        return templatesByLargeID[id]
    }

    mutating func decode(_ buffer: UnsafeRawBufferPointer, _ message: inout FASTMessage) throws(FASTError) -> Int {
        out.clear()
        base = buffer
        position = 0
        field = -1
        depth = 0
        defer {
            base = UnsafeRawBufferPointer(start: nil, count: 0)
            // What was decoded, in two copies (also what was decoded before an error).
            // One replacement each, which keeps the arrays' storage.
            message.entries.replaceSubrange(message.entries.indices, with: UnsafeBufferPointer(start: out.entries, count: out.entryCount))
            message.bytes.replaceSubrange(message.bytes.indices, with: UnsafeBufferPointer(start: out.bytes, count: out.byteCount))
        }
        var pmap = try readPresenceMap()
        let id = try templateID(&pmap)
        guard let template = template(id) else { throw error(.d9, "no template has id \(id)") }
        if template.resets { reset() }
        message.templateID = id
        try run(template.block, &pmap)
        try checkAllBitsUsed(pmap)
        return position
    }

    // MARK: Structure

    private mutating func run(_ blockIndex: Int, _ pmap: inout PresenceMap) throws(FASTError) {
        depth += 1
        defer { depth -= 1 }
        if depth > nestingMax { throw error(.limit, "nested more than \(nestingMax) deep") }
        let block = blocks[blockIndex]
        var index = block.start
        let end = block.start + block.count
        while index < end {
            // Fields without an operator, most of most feeds, a stretch at a time.
            let plain = Int(plainRuns[index])
            if plain > 0 {
                try decodePlain(index, plain)
                index += plain
                continue
            }
            let step = steps[index]
            index += 1
            field = step.field
            switch step.opcode {
            case .integer:
                let value = try integer(step.type, optional: step.optional, op: step.op, &pmap)
                out.append(step.field, Self.integerValue(value, step.type))
            case .decimal:
                let value = try decimal(optional: step.optional, op: step.op, &pmap)
                out.append(step.field, value.map { .decimal(mantissa: $0.0, exponent: $0.1) } ?? .absent)
            case .splitDecimal:
                guard let exponent = try integer(.int32, optional: step.optional, op: step.op, &pmap) else {
                    out.append(step.field, .absent)
                    continue
                }
                guard (-63...63).contains(exponent) else { throw error(.r1, "exponent \(exponent) is outside -63...63") }
                let mantissa = try integer(.int64, optional: false, op: mantissas[Int(step.body)], &pmap) ?? 0
                out.append(step.field, .decimal(mantissa: Int64(mantissa), exponent: Int32(exponent)))
            case .string:
                let range = try string(step.stringKind, optional: step.optional, op: step.op, &pmap)
                out.append(step.field, range.map { .bytes($0) } ?? .absent)
            case .sequence:
                guard let length = try integer(.uInt32, optional: step.optional, op: step.op, &pmap) else {
                    out.append(step.field, .absent)
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
                out.append(step.field, .sequence(count: Int(length)))
                for _ in 0..<Int(length) {
                    var itemMap = body.needsPresenceMap ? try readPresenceMap() : PresenceMap()
                    try run(Int(step.body), &itemMap)
                    try checkAllBitsUsed(itemMap)
                    out.append(-1, .end)
                }
            case .group:
                if step.optional && !next(&pmap) {
                    out.append(step.field, .absent)
                    continue
                }
                out.append(step.field, .group)
                var groupMap = blocks[Int(step.body)].needsPresenceMap ? try readPresenceMap() : PresenceMap()
                try run(Int(step.body), &groupMap)
                try checkAllBitsUsed(groupMap)
                out.append(-1, .end)
            case .dynamicReference:
                var innerMap = try readPresenceMap()
                let id = try templateID(&innerMap)
                guard let template = template(id) else { throw error(.d9, "no template has id \(id)") }
                out.append(step.field, .templateRef(id: id))
                try run(template.block, &innerMap)
                try checkAllBitsUsed(innerMap)
                out.append(-1, .end)
            }
        }
    }

    /// Whether a step is an operator-free integer, decimal or ASCII string, or a mandatory
    /// constant (`decodePlain`).
    static func isPlain(_ step: Step) -> Bool {
        switch (step.opcode, step.op.kind) {
        case (.integer, .none), (.decimal, .none): return true
        case (.string, .none): return step.stringKind == .ascii
        // A mandatory constant takes no bytes and no presence-map bit.
        case (.integer, .constant), (.decimal, .constant), (.string, .constant): return !step.optional
        default: return false
        }
    }

    /// Decodes `count` plain steps from `first` on, straight off the wire. The position and
    /// the output are kept in locals (stores into the output would otherwise reload them
    /// from the machine per field); integers and decimals of up to nine bytes a part and
    /// ASCII strings that start with a non-zero byte are read here, and anything else
    /// (longer integers, the message's end, special strings, every error) by the general
    /// readers from the field's start, which also name what is wrong.
    @inline(never)
    private mutating func decodePlain(_ first: Int, _ count: Int) throws(FASTError) {
        guard let bytes = base.baseAddress else {
            field = steps[first].field
            throw error(.truncated, "the message ends in the middle of a field")
        }
        let end = base.count
        let checksOverlong = reportsOverlong
        var p = position
        var output = out
        defer {
            position = p
            out = output
        }
        for index in first..<(first &+ count) {
            let here = steps + index
            let fieldIndex = here.pointee.field
            let optional = here.pointee.optional
            if here.pointee.op.kind == .constant {
                let op = here.pointee.op
                switch here.pointee.opcode {
                case .integer:
                    output.append(fieldIndex, Self.integerValue(op.hasInitial ? op.initialNumber : nil, here.pointee.type))
                case .decimal:
                    output.append(fieldIndex, op.hasInitial ? .decimal(mantissa: Int64(op.initialNumber), exponent: op.initialExponent) : .absent)
                default:
                    if op.hasInitial {
                        let start = output.byteCount
                        output.append(bytes: UnsafeRawPointer(constantBytes + Int(op.initialStart)), count: Int(op.initialCount))
                        output.append(fieldIndex, .bytes(start..<output.byteCount))
                    } else {
                        output.append(fieldIndex, .absent)
                    }
                }
                continue
            }
            // NULL (a single 0x80) is the same for an optional integer, decimal and
            // ASCII string, and many optional fields of a feed are absent.
            if optional && p < end && bytes.load(fromByteOffset: p, as: UInt8.self) == 0x80 {
                p &+= 1
                output.append(fieldIndex, .absent)
                continue
            }
            switch here.pointee.opcode {
            case .integer:
                let type = here.pointee.type
                let signed = type == .int32 || type == .int64
                if let (raw, size) = DecodingMachine.stopBit(bytes, p, end) {
                    let read = DecodingMachine.plainValue(raw, size, bytes, p, signed: signed, nullable: optional,
                                                          type: type, checksOverlong: checksOverlong)
                    if read.ok {
                        p &+= size
                        output.append(fieldIndex, read.null ? .absent : signed ? .int(read.value) : .uint(UInt64(read.value)))
                        continue
                    }
                }
            case .decimal:
                if let (raw, size) = DecodingMachine.stopBit(bytes, p, end) {
                    let exponent = DecodingMachine.plainValue(raw, size, bytes, p, signed: true, nullable: optional,
                                                              type: .int32, checksOverlong: checksOverlong)
                    if exponent.ok && exponent.value >= -63 && exponent.value <= 63 {
                        if exponent.null {
                            p &+= size
                            output.append(fieldIndex, .absent)
                            continue
                        }
                        if let (mantissaRaw, mantissaSize) = DecodingMachine.stopBit(bytes, p &+ size, end) {
                            let mantissa = DecodingMachine.plainValue(mantissaRaw, mantissaSize, bytes, p &+ size, signed: true,
                                                                      nullable: false, type: .int64, checksOverlong: checksOverlong)
                            if mantissa.ok {
                                p &+= size &+ mantissaSize
                                output.append(fieldIndex, .decimal(mantissa: mantissa.value, exponent: Int32(truncatingIfNeeded: exponent.value)))
                                continue
                            }
                        }
                    }
                }
            default:
                // An ASCII string that starts with a non-zero byte (not null, empty or
                // NUL, whose rules `readString` knows): its bytes up to the stop bit.
                if p < end && bytes.load(fromByteOffset: p, as: UInt8.self) & 0x7F != 0 {
                    var q = p
                    while q < end && bytes.load(fromByteOffset: q, as: UInt8.self) & 0x80 == 0 { q &+= 1 }
                    if q < end {
                        let start = output.byteCount
                        output.append(bytes: bytes + p, count: q &- p)
                        output.append(byte: bytes.load(fromByteOffset: q, as: UInt8.self) & 0x7F)
                        output.append(fieldIndex, .bytes(start..<output.byteCount))
                        p = q &+ 1
                        continue
                    }
                }
            }
            // The general readers, from the field's start. They may grow the output
            // (freeing its old memory), so the locals are taken back even when they throw:
            // the `defer` above must not put stale pointers back into the machine.
            position = p
            out = output
            field = fieldIndex
            do {
                defer {
                    p = position
                    output = out
                }
                try decodeStep(here.pointee)
            }
        }
    }

    /// One plain step by the general readers.
    @inline(never)
    private mutating func decodeStep(_ step: Step) throws(FASTError) {
        switch step.opcode {
        case .integer:
            let value = try readInteger(signed: step.type == .int32 || step.type == .int64, nullable: step.optional, type: step.type)
            out.append(step.field, Self.integerValue(value, step.type))
        case .decimal:
            let value = try readDecimal(nullable: step.optional)
            out.append(step.field, value.map { .decimal(mantissa: $0.0, exponent: $0.1) } ?? .absent)
        default:
            let range = try readString(.ascii, nullable: step.optional)
            out.append(step.field, range.map { .bytes($0) } ?? .absent)
        }
    }

    /// A stop-bit integer of at most nine bytes at `start`: its 7-bit groups and its size,
    /// or nil if it is longer or runs past `end`.
    @inline(__always)
    static func stopBit(_ bytes: UnsafeRawPointer, _ start: Int, _ end: Int) -> (UInt64, Int)? {
        let limit = min(end, start &+ 9)
        var raw: UInt64 = 0
        var p = start
        while p < limit {
            let current = bytes.load(fromByteOffset: p, as: UInt8.self)
            raw = raw &<< 7 | UInt64(current & 0x7F)
            p &+= 1
            if current & 0x80 != 0 { return (raw, p &- start) }
        }
        return nil
    }

    /// An integer read by `stopBit` as `readInteger` takes it: sign-extended, NULL (for a
    /// nullable one) or the value, and whether it is clean: not overlong (when checked)
    /// and in range. Not clean: the general reader reads it again and says why.
    @inline(__always)
    static func plainValue(_ raw: UInt64, _ size: Int, _ bytes: UnsafeRawPointer, _ start: Int, signed: Bool, nullable: Bool,
                           type: FASTType, checksOverlong: Bool) -> (ok: Bool, null: Bool, value: Int64) {
        var value: Int64
        if signed {
            let unused = UInt64(64 &- 7 &* size)
            value = Int64(bitPattern: raw &<< unused) &>> unused
        } else {
            value = Int64(bitPattern: raw)
        }
        if size > 1 && checksOverlong {
            let first = bytes.load(fromByteOffset: start, as: UInt8.self)
            let second = bytes.load(fromByteOffset: start &+ 1, as: UInt8.self)
            let overlong = signed
                ? (first == 0x00 && second & 0x40 == 0) || (first == 0x7F && second & 0x40 != 0)
                : first == 0x00
            if overlong { return (false, false, 0) }
        }
        if nullable {
            if value == 0 { return (true, true, 0) }
            if value > 0 { value &-= 1 }
        }
        switch type {
        case .int32 where value < Int64(Int32.min) || value > Int64(Int32.max),
             .uInt32 where value < 0 || value > Int64(UInt32.max):
            return (false, false, 0)
        default:
            return (true, false, value)
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
    private mutating func emitInitial(_ op: FlatOperator) -> Range<Int>? {
        guard op.hasInitial else { return nil }
        let start = out.byteCount
        constants.withUnsafeBufferPointer { out.append(bytes: $0.baseAddress! + Int(op.initialStart), count: Int(op.initialCount)) }
        return start..<out.byteCount
    }

    private mutating func string(_ kind: StringKind, optional: Bool, op: FlatOperator, _ pmap: inout PresenceMap) throws(FASTError) -> Range<Int>? {
        switch op.kind {
        case .none:
            return try readString(kind, nullable: optional)
        case .constant:
            return !optional || next(&pmap) ? emitInitial(op) : nil
        case .defaultValue:
            return next(&pmap) ? try readString(kind, nullable: optional) : emitInitial(op)
        case .copy:
            if next(&pmap) {
                let range = try readString(kind, nullable: optional)
                if let range {
                    setBytes(Int(op.slot), out.bytes(range))
                } else {
                    slots[Int(op.slot)].state = .empty
                }
                return range
            }
            return try previousString(op, optional: optional)
        case .tail:
            if next(&pmap) {
                // A NULL tail means absent and leaves the dictionary as it was.
                guard let range = try readString(kind, nullable: optional) else { return nil }
                try prepareBase(op, emptyIsError: false)
                let tailCount = range.count
                if tailCount >= slotBytes[Int(op.slot)].count {
                    slotBytes[Int(op.slot)].removeAll(keepingCapacity: true)
                } else {
                    slotBytes[Int(op.slot)].removeLast(tailCount)
                }
                slotBytes[Int(op.slot)].append(contentsOf: out.bytes(range))
                out.removeBytes(from: range.lowerBound)
                if kind == .unicode { try checkUTF8(Int(op.slot), "tail") }
                return emitSlot(Int(op.slot))
            }
            return try previousString(op, optional: optional)
        case .delta:
            guard let subtraction = try readInteger(signed: true, nullable: optional, type: .int32) else { return nil }
            let delta = try readString(kind, nullable: false)!
            try prepareBase(op, emptyIsError: true)
            let count = slotBytes[Int(op.slot)].count
            if subtraction >= 0 {
                guard subtraction <= count else {
                    throw error(.d7, "subtraction length \(subtraction) exceeds the previous value's \(count)")
                }
                slotBytes[Int(op.slot)].removeLast(Int(subtraction))
                slotBytes[Int(op.slot)].append(contentsOf: out.bytes(delta))
            } else {
                let front = Int(-subtraction - 1)
                guard front <= count else {
                    throw error(.d7, "subtraction length \(front) exceeds the previous value's \(count)")
                }
                slotBytes[Int(op.slot)].removeFirst(front)
                slotBytes[Int(op.slot)].insert(contentsOf: out.bytes(delta), at: 0)
            }
            out.removeBytes(from: delta.lowerBound)
            if kind == .unicode { try checkUTF8(Int(op.slot), "delta") }
            return emitSlot(Int(op.slot))
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

    private mutating func emitSlot(_ slot: Int) -> Range<Int> {
        let start = out.byteCount
        slotBytes[slot].withUnsafeBufferPointer { if let base = $0.baseAddress { out.append(bytes: base, count: $0.count) } }
        return start..<out.byteCount
    }

    private mutating func previousString(_ op: FlatOperator, optional: Bool) throws(FASTError) -> Range<Int>? {
        switch slots[Int(op.slot)].state {
        case .assigned:
            guard slots[Int(op.slot)].kind == .bytes else { throw error(.d4, "the dictionary entry holds another type") }
            return emitSlot(Int(op.slot))
        case .undefined:
            guard op.hasInitial else {
                if optional { return nil }
                throw error(.d5, "mandatory field absent, with no previous or initial value")
            }
            setBytes(Int(op.slot), constants[Int(op.initialStart)..<Int(op.initialStart + op.initialCount)])
            return emitSlot(Int(op.slot))
        case .empty:
            if optional { return nil }
            throw error(.d6, "mandatory field absent, its previous value is empty")
        }
    }

    private mutating func setBytes(_ slot: Int, _ bytes: some Collection<UInt8>) {
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
        guard reportsOverlong && pmap.bit < pmap.count * 7 else { return }
        // A byte at a time: in the byte of the first unused bit, that bit and the ones
        // after it; in later bytes, all seven.
        var byte = pmap.bit / 7
        var unused = UInt8(0x7F) >> UInt8(pmap.bit % 7)
        while byte < pmap.count {
            if base[pmap.start + byte] & unused != 0 {
                var bit = byte * 7
                while base[pmap.start + bit / 7] & (0x40 >> UInt8(bit % 7)) == 0 || bit < pmap.bit { bit += 1 }
                throw FASTError(.r8, offset: pmap.start, field: nil, "presence map bit \(bit) is set, but its fields use \(pmap.bit)")
            }
            byte += 1
            unused = 0x7F
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

    /// A stop-bit integer; nil when nullable and null. Up to nine bytes (63 bits, every
    /// value but the largest uInt64s) are read into 64 bits (`stopBit`, `plainValue`);
    /// longer ones, a message that ends inside one, and any that breaks a rule go to
    /// `readIntegerSlowly`, which names the error.
    @inline(__always)
    private mutating func readInteger(signed: Bool, nullable: Bool, type: FASTType) throws(FASTError) -> Int128? {
        if let bytes = base.baseAddress, let (raw, size) = DecodingMachine.stopBit(bytes, position, base.count) {
            let read = DecodingMachine.plainValue(raw, size, bytes, position, signed: signed, nullable: nullable,
                                                  type: type, checksOverlong: reportsOverlong)
            if read.ok {
                position &+= size
                return read.null ? nil : Int128(read.value)
            }
        }
        return try readIntegerSlowly(signed: signed, nullable: nullable, type: type)
    }

    /// `readInteger` for ten-byte integers, integers cut off by the message's end, and
    /// integers that are overlong or out of range (with the error that names them).
    @inline(never)
    private mutating func readIntegerSlowly(signed: Bool, nullable: Bool, type: FASTType) throws(FASTError) -> Int128? {
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

    /// A string or byte vector, appended to the output's bytes; nil when nullable and null.
    private mutating func readString(_ kind: StringKind, nullable: Bool) throws(FASTError) -> Range<Int>? {
        let output = out.byteCount
        if kind != .ascii {
            guard let length = try readInteger(signed: false, nullable: nullable, type: .uInt32) else { return nil }
            guard position + Int(length) <= base.count else { throw error(.truncated, "the message ends inside a \(length)-byte value") }
            out.append(bytes: base.baseAddress! + position, count: Int(length))
            position += Int(length)
            return output..<out.byteCount
        }
        guard let bytes = base.baseAddress else { throw error(.truncated, "the message ends in the middle of a field") }
        let start = position
        let end = base.count
        var p = start
        while p < end && bytes.load(fromByteOffset: p, as: UInt8.self) & 0x80 == 0 { p &+= 1 }
        guard p < end else {
            position = end
            throw error(.truncated, "the message ends in the middle of a field")
        }
        position = p &+ 1
        let count = position &- start
        if bytes.load(fromByteOffset: start, as: UInt8.self) & 0x7F == 0 {
            // Leading zero: null, empty or NUL, by the byte count; anything longer is overlong.
            let zeros = count == 1 || (count >= 2 && base[start + 1] & 0x7F == 0 && (count == 2 || base[start + 2] & 0x7F == 0))
            switch (nullable, count) {
            case (true, 1): return nil
            case (true, 2) where zeros, (false, 1): return output..<output
            case (true, 3) where zeros, (false, 2) where zeros:
                out.append(byte: 0)
                return output..<out.byteCount
            default:
                if reportsOverlong { throw error(.r9, "string encoded with more bytes than it needs") }
            }
        }
        out.append(bytes: bytes + start, count: count &- 1)
        out.append(byte: bytes.load(fromByteOffset: p, as: UInt8.self) & 0x7F)
        return output..<out.byteCount
    }
}
