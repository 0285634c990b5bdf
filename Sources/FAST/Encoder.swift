/// Encodes messages with the same compiled templates the decoder uses, keeping the same
/// dictionaries, so that a stream it writes decodes to what it was given. For tests,
/// replays and benchmarks.
///
/// It chooses the shortest form its operators allow: a value equal to what the dictionary
/// would give is left out of the stream (presence-map bit 0).
public final class FASTEncoder {
    public let templates: FASTTemplates
    private var machine: EncodingMachine

    public init(templates: FASTTemplates) {
        self.templates = templates
        machine = EncodingMachine(templates)
    }

    /// Every dictionary back to undefined (do the same to the decoder).
    public func reset() { machine.reset() }

    /// Appends the encoding of `message` to `output`. A message that does not follow its
    /// template, or a value its operator cannot carry, is an error and appends nothing.
    public func encode(_ message: FASTMessage, into output: inout [UInt8]) throws(FASTError) {
        try machine.encode(message, &output)
    }
}

struct EncodingMachine {
    typealias Slot = DecodingMachine.Slot

    let templates: FASTTemplates
    var slots: [Slot]
    var slotBytes: [[UInt8]]
    /// Field bytes of the segments being written, one buffer per nesting level, reused.
    var buffers: [[UInt8]] = []
    var entry = 0
    var depth = 0

    init(_ templates: FASTTemplates) {
        self.templates = templates
        slots = Array(repeating: Slot(), count: templates.slotCount)
        slotBytes = Array(repeating: [], count: templates.slotCount)
    }

    mutating func reset() {
        for index in slots.indices { slots[index].state = .undefined }
    }

    func error(_ code: FASTError.Code, _ field: Int32, _ reason: String) -> FASTError {
        let name = field >= 0 && Int(field) < templates.fields.count ? templates.fields[Int(field)].name : nil
        return FASTError(code, offset: entry, field: name, reason)
    }

    mutating func encode(_ message: FASTMessage, _ output: inout [UInt8]) throws(FASTError) {
        let savedSlots = slots
        let savedBytes = slotBytes
        entry = 0
        depth = 0
        do throws(FASTError) {
            try segment(templateID: message.templateID, message, &output)
            if entry != message.entries.count {
                throw error(.s1, -1, "\(message.entries.count - entry) entries left over after the template's fields")
            }
        } catch {
            slots = savedSlots
            slotBytes = savedBytes
            throw error
        }
    }

    /// A presence map, a template identifier and a template's fields.
    private mutating func segment(templateID: UInt32, _ message: FASTMessage, _ output: inout [UInt8]) throws(FASTError) {
        guard let template = templates.templates[templateID] else { throw error(.d9, -1, "no template has id \(templateID)") }
        var bits: [Bool] = []
        var body = takeBuffer()
        defer { giveBack(body) }
        let slot = templates.templateIDSlot
        if slots[slot].state == .assigned && slots[slot].number == Int128(templateID) {
            bits.append(false)
        } else {
            bits.append(true)
            Self.writeUnsigned(UInt64(templateID), &body)
            slots[slot].state = .assigned
            slots[slot].number = Int128(templateID)
        }
        // As the decoder: the identifier first, then the reset a template may ask for.
        if template.resets { reset() }
        try block(template.block, message, &bits, &body)
        Self.writePresenceMap(bits, &output)
        output += body
    }

    private mutating func takeBuffer() -> [UInt8] {
        var buffer = buffers.popLast() ?? []
        buffer.removeAll(keepingCapacity: true)
        return buffer
    }

    private mutating func giveBack(_ buffer: [UInt8]) { buffers.append(buffer) }

    private mutating func nextEntry(_ field: Int32, _ message: FASTMessage) throws(FASTError) -> FASTValue {
        guard entry < message.entries.count else { throw error(.s1, field, "the message ends before this field") }
        let current = message.entries[entry]
        guard current.field == field else {
            let found = current.field >= 0 ? templates.fields[Int(current.field)].name : "end"
            throw error(.s1, field, "the message has \(found) where the template has this field")
        }
        entry += 1
        return current.value
    }

    private mutating func expectEnd(_ message: FASTMessage) throws(FASTError) {
        guard entry < message.entries.count, message.entries[entry].field == -1 else {
            throw error(.s1, -1, "a sequence item, group or template reference is not closed where the template ends")
        }
        entry += 1
    }

    private mutating func block(_ index: Int, _ message: FASTMessage, _ bits: inout [Bool], _ out: inout [UInt8]) throws(FASTError) {
        depth += 1
        defer { depth -= 1 }
        if depth > 32 { throw error(.limit, -1, "nested more than 32 deep") }
        let info = templates.blocks[index]
        for stepIndex in info.start..<info.start + info.count {
            let step = templates.steps[stepIndex]
            let value = try nextEntry(step.field, message)
            switch step.opcode {
            case .integer:
                var number: Int128?
                switch value {
                case .int(let v): number = Int128(v)
                case .uint(let v): number = Int128(v)
                case .absent: number = nil
                default: throw error(.s1, step.field, "an integer field given \(value)")
                }
                try integer(number, step.type, step.optional, step.op, step.field, &bits, &out)
            case .decimal:
                let decimal = try decimalValue(value, step)
                try self.decimal(decimal, step.optional, step.op, step.field, &bits, &out)
            case .splitDecimal:
                let decimal = try decimalValue(value, step)
                try integer(decimal.map { Int128($0.1) }, .int32, step.optional, step.op, step.field, &bits, &out)
                if let decimal {
                    try integer(Int128(decimal.0), .int64, false, templates.mantissas[Int(step.body)], step.field, &bits, &out)
                }
            case .string:
                switch value {
                case .bytes(let range): try string(Array(message.bytes[range]), step, &bits, &out)
                case .absent: try string(nil, step, &bits, &out)
                default: throw error(.s1, step.field, "a string field given \(value)")
                }
            case .sequence:
                let count: Int?
                switch value {
                case .sequence(let n): count = n
                case .absent: count = nil
                default: throw error(.s1, step.field, "a sequence field given \(value)")
                }
                try integer(count.map { Int128($0) }, .uInt32, step.optional, step.op, step.field, &bits, &out)
                for _ in 0..<(count ?? 0) {
                    try nested(Int(step.body), message, &out)
                }
            case .group:
                let present: Bool
                switch value {
                case .group: present = true
                case .absent where step.optional: present = false
                default: throw error(.s1, step.field, "a group field given \(value)")
                }
                if step.optional { bits.append(present) }
                guard present else { continue }
                try nested(Int(step.body), message, &out)
            case .dynamicReference:
                guard case .templateRef(let id) = value else { throw error(.s1, step.field, "a template reference given \(value)") }
                try segment(templateID: id, message, &out)
                try expectEnd(message)
            }
        }
    }

    /// A sequence item or a group: its own presence map first if its fields need one,
    /// then its fields, then the `.end` that closes it in the message.
    private mutating func nested(_ body: Int, _ message: FASTMessage, _ out: inout [UInt8]) throws(FASTError) {
        var bits: [Bool] = []
        if templates.blocks[body].needsPresenceMap {
            var fields = takeBuffer()
            defer { giveBack(fields) }
            try block(body, message, &bits, &fields)
            Self.writePresenceMap(bits, &out)
            out += fields
        } else {
            try block(body, message, &bits, &out)
        }
        try expectEnd(message)
    }

    private func decimalValue(_ value: FASTValue, _ step: Step) throws(FASTError) -> (Int64, Int32)? {
        switch value {
        case .decimal(let mantissa, let exponent):
            guard (-63...63).contains(exponent) else { throw error(.r1, step.field, "exponent \(exponent) is outside -63...63") }
            return (mantissa, exponent)
        case .absent where step.optional: return nil
        default: throw error(.s1, step.field, "a decimal field given \(value)")
        }
    }

    // MARK: Operators (mirroring the decoder's)

    private mutating func integer(_ value: Int128?, _ type: FASTType, _ optional: Bool, _ op: FlatOperator, _ field: Int32,
                                  _ bits: inout [Bool], _ out: inout [UInt8]) throws(FASTError) {
        guard value != nil || optional else { throw error(.d6, field, "a mandatory field without a value") }
        let signed = type == .int32 || type == .int64
        let initial: Int128? = op.hasInitial ? op.initialNumber : nil
        let slot = Int(op.slot)
        switch op.kind {
        case .none:
            Self.writeInteger(value, signed: signed, nullable: optional, &out)
        case .constant:
            guard value == nil || value == initial else { throw error(.s1, field, "a constant field given \(value!)") }
            if optional { bits.append(value != nil) }
        case .defaultValue:
            if value == initial {
                bits.append(false)
            } else {
                bits.append(true)
                Self.writeInteger(value, signed: signed, nullable: optional, &out)
            }
        case .copy, .increment:
            // What the decoder would take from a presence-map bit of 0.
            var implied: Int128??
            switch slots[slot].state {
            case .assigned:
                guard slots[slot].kind == .number else { throw error(.d4, field, "the dictionary entry holds another type") }
                implied = .some(op.kind == .increment ? slots[slot].number + 1 : slots[slot].number)
            case .undefined: implied = initial.map { .some($0) } ?? (optional ? .some(nil) : nil)
            case .empty: implied = optional ? .some(nil) : nil
            }
            if let implied, implied == value {
                bits.append(false)
                if let value { setNumber(slot, value) }
            } else {
                bits.append(true)
                Self.writeInteger(value, signed: signed, nullable: optional, &out)
                if let value { setNumber(slot, value) } else { slots[slot].state = .empty }
            }
        case .delta:
            guard let value else {
                Self.writeInteger(nil, signed: true, nullable: true, &out)
                return
            }
            let base: Int128
            switch slots[slot].state {
            case .assigned:
                guard slots[slot].kind == .number else { throw error(.d4, field, "the dictionary entry holds another type") }
                base = slots[slot].number
            case .undefined: base = initial ?? 0
            case .empty: throw error(.d6, field, "delta on an empty previous value")
            }
            Self.writeInteger(value - base, signed: true, nullable: optional, &out)
            setNumber(slot, value)
        case .tail:
            throw error(.s2, field, "tail on an integer")
        }
    }

    private mutating func setNumber(_ slot: Int, _ value: Int128) {
        slots[slot].state = .assigned
        slots[slot].kind = .number
        slots[slot].number = value
    }

    private mutating func decimal(_ value: (Int64, Int32)?, _ optional: Bool, _ op: FlatOperator, _ field: Int32,
                                  _ bits: inout [Bool], _ out: inout [UInt8]) throws(FASTError) {
        guard value != nil || optional else { throw error(.d6, field, "a mandatory field without a value") }
        let initial: (Int64, Int32)? = op.hasInitial ? (Int64(op.initialNumber), op.initialExponent) : nil
        let slot = Int(op.slot)
        func same(_ a: (Int64, Int32)?, _ b: (Int64, Int32)?) -> Bool { a?.0 == b?.0 && a?.1 == b?.1 }
        func write(_ value: (Int64, Int32)?, _ out: inout [UInt8]) {
            guard let value else { return Self.writeInteger(nil, signed: true, nullable: true, &out) }
            Self.writeInteger(Int128(value.1), signed: true, nullable: optional, &out)
            Self.writeInteger(Int128(value.0), signed: true, nullable: false, &out)
        }
        switch op.kind {
        case .none:
            write(value, &out)
        case .constant:
            guard value == nil || same(value, initial) else { throw error(.s1, field, "a constant field given another value") }
            if optional { bits.append(value != nil) }
        case .defaultValue:
            if same(value, initial) {
                bits.append(false)
            } else {
                bits.append(true)
                write(value, &out)
            }
        case .copy:
            var implied: (Int64, Int32)??
            switch slots[slot].state {
            case .assigned:
                guard slots[slot].kind == .decimal else { throw error(.d4, field, "the dictionary entry holds another type") }
                implied = .some((Int64(slots[slot].number), slots[slot].exponent))
            case .undefined: implied = initial.map { .some($0) } ?? (optional ? .some(nil) : nil)
            case .empty: implied = optional ? .some(nil) : nil
            }
            if let implied, same(implied, value) {
                bits.append(false)
                if let value { setDecimal(slot, value) }
            } else {
                bits.append(true)
                write(value, &out)
                if let value { setDecimal(slot, value) } else { slots[slot].state = .empty }
            }
        case .delta:
            guard let value else { return Self.writeInteger(nil, signed: true, nullable: true, &out) }
            var base: (Int128, Int128) = (0, 0)
            switch slots[slot].state {
            case .assigned:
                guard slots[slot].kind == .decimal else { throw error(.d4, field, "the dictionary entry holds another type") }
                base = (slots[slot].number, Int128(slots[slot].exponent))
            case .undefined:
                if let initial { base = (Int128(initial.0), Int128(initial.1)) }
            case .empty:
                throw error(.d6, field, "delta on an empty previous value")
            }
            Self.writeInteger(Int128(value.1) - base.1, signed: true, nullable: optional, &out)
            Self.writeInteger(Int128(value.0) - base.0, signed: true, nullable: false, &out)
            setDecimal(slot, value)
        case .increment, .tail:
            throw error(.s2, field, "operator not applicable to a decimal")
        }
    }

    private mutating func setDecimal(_ slot: Int, _ value: (Int64, Int32)) {
        slots[slot].state = .assigned
        slots[slot].kind = .decimal
        slots[slot].number = Int128(value.0)
        slots[slot].exponent = value.1
    }

    private mutating func string(_ value: [UInt8]?, _ step: Step, _ bits: inout [Bool], _ out: inout [UInt8]) throws(FASTError) {
        let optional = step.optional
        let op = step.op
        let kind = step.stringKind
        guard value != nil || optional else { throw error(.d6, step.field, "a mandatory field without a value") }
        let slot = Int(op.slot)
        let initial: [UInt8]? = op.hasInitial
            ? Array(templates.constants[Int(op.initialStart)..<Int(op.initialStart + op.initialCount)]) : nil
        switch op.kind {
        case .none:
            Self.writeString(value, kind, nullable: optional, &out)
        case .constant:
            guard value == nil || value == initial else { throw error(.s1, step.field, "a constant field given another value") }
            if optional { bits.append(value != nil) }
        case .defaultValue:
            if value == initial {
                bits.append(false)
            } else {
                bits.append(true)
                Self.writeString(value, kind, nullable: optional, &out)
            }
        case .copy, .tail:
            // What a presence-map bit of 0 would give the decoder.
            var implied: [UInt8]??
            switch slots[slot].state {
            case .assigned:
                guard slots[slot].kind == .bytes else { throw error(.d4, step.field, "the dictionary entry holds another type") }
                implied = .some(slotBytes[slot])
            case .undefined: implied = initial.map { .some($0) } ?? (optional ? .some(nil) : nil)
            case .empty: implied = optional ? .some(nil) : nil
            }
            if let implied, implied == value {
                bits.append(false)
                if let value { setBytes(slot, value) }
                return
            }
            bits.append(true)
            guard op.kind == .tail, let value else {
                Self.writeString(value, kind, nullable: optional, &out)
                if let value { setBytes(slot, value) } else if op.kind == .copy { slots[slot].state = .empty }
                return
            }
            var base: [UInt8] = []
            switch slots[slot].state {
            case .assigned: base = slotBytes[slot]
            case .undefined: base = initial ?? []
            case .empty: base = []
            }
            let tail: [UInt8]
            if value.count == base.count {
                let common = zip(base, value).prefix { $0 == $1 }.count
                tail = Array(value[common...])
            } else if value.count > base.count {
                tail = value
            } else {
                throw error(.s2, step.field, "a tail cannot make a value shorter than the previous one")
            }
            Self.writeString(tail, kind, nullable: optional, &out)
            setBytes(slot, value)
        case .delta:
            guard let value else { return Self.writeInteger(nil, signed: true, nullable: true, &out) }
            var base: [UInt8] = []
            switch slots[slot].state {
            case .assigned:
                guard slots[slot].kind == .bytes else { throw error(.d4, step.field, "the dictionary entry holds another type") }
                base = slotBytes[slot]
            case .undefined: base = initial ?? []
            case .empty: throw error(.d6, step.field, "delta on an empty previous value")
            }
            let prefix = zip(base, value).prefix { $0 == $1 }.count
            let suffix = zip(base.reversed(), value.reversed()).prefix { $0 == $1 }.count
            if base.count - prefix <= base.count - suffix || suffix == 0 {
                Self.writeInteger(Int128(base.count - prefix), signed: true, nullable: optional, &out)
                Self.writeString(Array(value[prefix...]), kind, nullable: false, &out)
            } else {
                let front = base.count - suffix
                Self.writeInteger(Int128(-front - 1), signed: true, nullable: optional, &out)
                Self.writeString(Array(value[..<(value.count - suffix)]), kind, nullable: false, &out)
            }
            setBytes(slot, value)
        case .increment:
            throw error(.s2, step.field, "increment on a string")
        }
    }

    private mutating func setBytes(_ slot: Int, _ value: [UInt8]) {
        slots[slot].state = .assigned
        slots[slot].kind = .bytes
        slotBytes[slot] = value
    }

    // MARK: Primitives

    static func writePresenceMap(_ bits: [Bool], _ out: inout [UInt8]) {
        var count = bits.count
        while count > 0 && !bits[count - 1] { count -= 1 }
        let bytes = max(1, (count + 6) / 7)
        for index in 0..<bytes {
            var byte: UInt8 = 0
            for bit in 0..<7 where index * 7 + bit < count && bits[index * 7 + bit] {
                byte |= 0x40 >> UInt8(bit)
            }
            out.append(index == bytes - 1 ? byte | 0x80 : byte)
        }
    }

    static func writeUnsigned(_ value: UInt64, _ out: inout [UInt8]) {
        var groups = 1
        while groups < 10 && value >> (7 * UInt64(groups)) != 0 { groups += 1 }
        for index in (0..<groups).reversed() {
            let byte = UInt8((value >> (7 * UInt64(index))) & 0x7F)
            out.append(index == 0 ? byte | 0x80 : byte)
        }
    }

    /// A stop-bit integer (nil: NULL, when nullable).
    static func writeInteger(_ value: Int128?, signed: Bool, nullable: Bool, _ out: inout [UInt8]) {
        guard var value else { return out.append(0x80) }
        if nullable && value >= 0 { value += 1 }
        if !signed {
            // A nullable uInt64 may need 65 bits: write from the Int128.
            var groups = 1
            while groups < 10 && value >> (7 * groups) != 0 { groups += 1 }
            for index in (0..<groups).reversed() {
                let byte = UInt8(truncatingIfNeeded: (value >> (7 * index)) & 0x7F)
                out.append(index == 0 ? byte | 0x80 : byte)
            }
            return
        }
        // Signed: enough 7-bit groups that the top group's bit 6 is the sign.
        var groups = 1
        while groups < 10 {
            let top = value >> (7 * groups - 1)
            if top == 0 || top == -1 { break }
            groups += 1
        }
        for index in (0..<groups).reversed() {
            let byte = UInt8(truncatingIfNeeded: (value >> (7 * index)) & 0x7F)
            out.append(index == 0 ? byte | 0x80 : byte)
        }
    }

    static func writeString(_ value: [UInt8]?, _ kind: StringKind, nullable: Bool, _ out: inout [UInt8]) {
        if kind != .ascii {
            guard let value else { return out.append(0x80) }
            writeInteger(Int128(value.count), signed: false, nullable: nullable, &out)
            out += value
            return
        }
        guard let value else { return out.append(0x80) }
        if value.isEmpty {
            out += nullable ? [0x00, 0x80] : [0x80]
            return
        }
        if value == [0] {
            out += nullable ? [0x00, 0x00, 0x80] : [0x00, 0x80]
            return
        }
        out += value.dropLast().map { $0 & 0x7F }
        out.append(value[value.count - 1] & 0x7F | 0x80)
    }
}
