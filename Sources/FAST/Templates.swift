import Foundation
import XMLTree

/// What a field holds.
public enum FASTType: Sendable, Equatable {
    case int32, uInt32, int64, uInt64, ascii, unicode, byteVector, decimal, sequence, group, templateRef
}

/// A field of a template as the decoder's output names it.
public struct FASTField: Sendable {
    public let name: String
    /// The field's `id` attribute (its FIX tag, usually).
    public let id: String?
    public let type: FASTType
    public let isOptional: Bool
}

enum OperatorKind: UInt8, Sendable {
    case none, constant, defaultValue, copy, increment, delta, tail
}

/// A value as an initial value or a dictionary entry holds it.
enum Scalar: Equatable, Sendable {
    case number(Int128)
    case decimal(mantissa: Int64, exponent: Int32)
    case bytes([UInt8])
}

/// A field operator, compiled: which dictionary slot it uses and its initial value.
struct Operator: Sendable {
    var kind: OperatorKind
    var slot: Int
    var initial: Scalar?

    static let none = Operator(kind: .none, slot: -1, initial: nil)

    /// Whether the field takes a bit of the presence map.
    func usesBit(optional: Bool) -> Bool {
        switch kind {
        case .none, .delta: return false
        case .constant: return optional
        case .defaultValue, .copy, .increment, .tail: return true
        }
    }
}

enum StringKind: UInt8, Sendable { case ascii, unicode, bytes }

/// One field of a template as the compiler sees it (a tree); flattened into `Step`s for
/// the decoder.
indirect enum Node: Sendable {
    case integer(field: Int32, type: FASTType, optional: Bool, op: Operator)
    case string(field: Int32, kind: StringKind, optional: Bool, op: Operator)
    case decimal(field: Int32, optional: Bool, op: Operator)
    case splitDecimal(field: Int32, optional: Bool, exponent: Operator, mantissa: Operator)
    case sequence(field: Int32, optional: Bool, length: Operator, body: NodeList)
    case group(field: Int32, optional: Bool, body: NodeList)
    case dynamicReference(field: Int32)

    /// Whether the instruction reads at least one byte whatever the presence map says.
    func alwaysReads() -> Bool {
        switch self {
        case .integer(_, _, _, let op), .string(_, _, _, let op), .decimal(_, _, let op):
            return op.kind == .none || op.kind == .delta
        case .splitDecimal(_, _, let exponent, _):
            return exponent.kind == .none || exponent.kind == .delta
        case .sequence(_, _, let length, _):
            return length.kind == .none || length.kind == .delta
        case .group(_, let optional, let body):
            return !optional && body.takesBytes
        case .dynamicReference:
            return true
        }
    }

    func usesBit() -> Bool {
        switch self {
        case .integer(_, _, let optional, let op), .string(_, _, let optional, let op), .decimal(_, let optional, let op):
            return op.usesBit(optional: optional)
        case .splitDecimal(_, let optional, let exponent, let mantissa):
            return exponent.usesBit(optional: optional) || mantissa.usesBit(optional: false)
        case .sequence(_, let optional, let length, _):
            return length.usesBit(optional: optional)
        case .group(_, let optional, _):
            return optional
        case .dynamicReference:
            return false
        }
    }
}

/// A list of nodes sharing one presence map.
final class NodeList: Sendable {
    let instructions: [Node]
    /// Whether any instruction takes a presence-map bit (a sequence item or group then
    /// carries a presence map of its own).
    let needsPresenceMap: Bool

    /// Whether decoding the block always reads at least one byte.
    let takesBytes: Bool

    init(_ instructions: [Node]) {
        self.instructions = instructions
        needsPresenceMap = instructions.contains { $0.usesBit() }
        takesBytes = needsPresenceMap || instructions.contains { $0.alwaysReads() }
    }
}

/// One template, compiled.
public final class FASTTemplate: Sendable {
    public let id: UInt32
    public let name: String
    /// Reset every dictionary before decoding a message of this template (`reset="Y"`).
    public let resets: Bool
    /// Its block in `FASTTemplates.blocks`.
    let block: Int

    init(id: UInt32, name: String, resets: Bool, block: Int) {
        self.id = id
        self.name = name
        self.resets = resets
        self.block = block
    }
}

/// A FAST template file (FAST 1.1, with 1.2-style `define` and `type` where simple), compiled
/// once at load into the instructions the decoder runs. Unknown extra attributes are ignored.
public final class FASTTemplates: Sendable {
    public let templates: [UInt32: FASTTemplate]
    public let byName: [String: FASTTemplate]
    /// Every field the templates name; decoded entries point into this table.
    public let fields: [FASTField]
    let slotCount: Int
    /// The dictionary slot of the template identifier (copy operator, global dictionary).
    let templateIDSlot: Int
    /// The compiled program: every block's steps, contiguous.
    let steps: [Step]
    let blocks: [BlockInfo]
    /// Initial string and byte-vector values, back to back (`FlatOperator.initialStart`).
    let constants: [UInt8]
    /// Split decimals' mantissa operators, by `Step.body`.
    let mantissas: [FlatOperator]

    public convenience init(path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw FASTTemplateError(code: .s1, path: path, line: 0, element: "templates", reason: "cannot read the file")
        }
        try self.init(data: data, path: path)
    }

    public init(data: Data, path: String = "templates") throws {
        let root: XMLElement
        do {
            root = try XMLTreeBuilder.parse(data: data, path: path)
        } catch let error as XMLTreeError {
            throw FASTTemplateError(code: .s1, path: path, line: 0, element: "templates", reason: error.description)
        }
        var compiler = TemplateCompiler(path: path)
        try compiler.compile(root)
        templates = compiler.templates
        byName = compiler.byName
        fields = compiler.fields
        templateIDSlot = compiler.slot(scope: "global", key: "\u{0}template-id")
        slotCount = compiler.slots.count
        steps = compiler.program.steps
        blocks = compiler.program.blocks
        constants = compiler.program.constants
        mantissas = compiler.program.mantissas
    }
}

/// The element name without a namespace prefix.
private func local(_ name: String) -> String {
    name.split(separator: ":").last.map(String.init) ?? name
}

private struct TemplateCompiler {
    let path: String
    var templates: [UInt32: FASTTemplate] = [:]
    var byName: [String: FASTTemplate] = [:]
    var fields: [FASTField] = []
    var slots: [String: Int] = [:]
    var elements: [String: XMLElement] = [:]
    /// Template names being compiled, to catch a static reference cycle.
    var compiling: Set<String> = []
    var program = Program()
    var compiled: [String: [Node]] = [:]
    /// FAST 1.2 `define`s: named field shapes usable through `type`.
    var defines: [String: XMLElement] = [:]

    init(path: String) { self.path = path }

    func fail(_ element: XMLElement, _ code: FASTError.Code, _ reason: String) -> FASTTemplateError {
        FASTTemplateError(code: code, path: path, line: element.line, element: local(element.name), reason: reason)
    }

    mutating func slot(scope: String, key: String) -> Int {
        let name = scope + "\u{1}" + key
        if let existing = slots[name] { return existing }
        slots[name] = slots.count
        return slots.count - 1
    }

    mutating func compile(_ root: XMLElement) throws {
        var templateElements: [XMLElement] = []
        switch local(root.name) {
        case "templates":
            for child in root.children {
                switch local(child.name) {
                case "template": templateElements.append(child)
                case "define": if let name = child.attributes["name"] { defines[name] = child }
                default: continue
                }
            }
        case "template":
            templateElements = [root]
        default:
            throw fail(root, .s1, "the root element is not <templates>")
        }
        for element in templateElements {
            guard let name = element.attributes["name"], !name.isEmpty else { throw fail(element, .s1, "a template needs a name") }
            if elements[name] != nil { throw fail(element, .s1, "template '\(name)' is defined twice") }
            elements[name] = element
        }
        for element in templateElements {
            let name = element.attributes["name"]!
            let body = try instructions(ofTemplate: name, element)
            let resets = ["y", "yes", "true", "1"].contains((element.attributes["reset"] ?? "").lowercased())
            guard let idText = element.attributes["id"] else {
                // A template without an id serves only as a static reference.
                continue
            }
            guard let id = UInt32(idText) else { throw fail(element, .s1, "id '\(idText)' is not an unsigned 32-bit integer") }
            if let other = templates[id] { throw fail(element, .s1, "id \(id) is also template '\(other.name)'") }
            let template = FASTTemplate(id: id, name: name, resets: resets, block: program.add(NodeList(body)))
            templates[id] = template
            byName[name] = template
        }
    }

    mutating func instructions(ofTemplate name: String, _ element: XMLElement) throws -> [Node] {
        if let done = compiled[name] { return done }
        if compiling.contains(name) { throw fail(element, .s1, "template '\(name)' refers to itself through static references") }
        compiling.insert(name)
        defer { compiling.remove(name) }
        let dictionary = element.attributes["dictionary"] ?? "global"
        let typeName = element.child(named: "typeRef")?.attributes["name"]
            ?? element.children.first { local($0.name) == "typeRef" }?.attributes["name"] ?? name
        let context = Context(template: name, type: typeName, dictionary: dictionary)
        let body = try instructions(element.children, context)
        compiled[name] = body
        return body
    }

    struct Context {
        let template: String
        let type: String
        let dictionary: String

        func with(dictionary: String?) -> Context {
            Context(template: template, type: type, dictionary: dictionary ?? self.dictionary)
        }
    }

    mutating func instructions(_ children: [XMLElement], _ context: Context) throws -> [Node] {
        var result: [Node] = []
        for child in children {
            switch local(child.name) {
            case "typeRef", "length":
                continue
            case "templateRef":
                if let name = child.attributes["name"] {
                    guard let target = elements[name] else { throw fail(child, .d8, "no template named '\(name)'") }
                    result += try instructions(ofTemplate: name, target)
                } else {
                    result.append(.dynamicReference(field: addField(child, name: "templateRef", type: .templateRef, optional: false)))
                }
            default:
                if let instruction = try field(child, context) { result.append(instruction) }
            }
        }
        return result
    }

    mutating func addField(_ element: XMLElement, name: String, type: FASTType, optional: Bool) -> Int32 {
        fields.append(FASTField(name: name, id: element.attributes["id"], type: type, isOptional: optional))
        return Int32(fields.count - 1)
    }

    mutating func field(_ element: XMLElement, _ context: Context) throws -> Node? {
        var element = element
        var kind = local(element.name)
        // FAST 1.2: <field name=...><type name="int32"/></field>, or a type naming a define.
        if kind == "field", let inner = element.children.first(where: { !["type", "length"].contains(local($0.name)) }) ?? element.child(named: "type") {
            if local(inner.name) == "type", let typeName = inner.attributes["name"] {
                if let defined = defines[typeName], let shape = defined.children.first {
                    kind = local(shape.name)
                    element = merged(element, shape)
                } else {
                    kind = typeName
                    element = merged(element, inner)
                }
            } else {
                kind = local(inner.name)
                element = merged(element, inner)
            }
        }
        let name = element.attributes["name"] ?? ""
        let optional = (element.attributes["presence"] ?? "mandatory") == "optional"
        let context = context.with(dictionary: element.attributes["dictionary"])
        switch kind {
        case "int32", "uInt32", "int64", "uInt64":
            let type: FASTType = kind == "int32" ? .int32 : kind == "uInt32" ? .uInt32 : kind == "int64" ? .int64 : .uInt64
            let op = try operatorOf(element, name: name, context, type: type, optional: optional)
            return .integer(field: addField(element, name: name, type: type, optional: optional), type: type, optional: optional, op: op)
        case "string", "byteVector":
            let stringKind: StringKind = kind == "byteVector" ? .bytes : element.attributes["charset"] == "unicode" ? .unicode : .ascii
            let type: FASTType = stringKind == .bytes ? .byteVector : stringKind == .unicode ? .unicode : .ascii
            let op = try operatorOf(element, name: name, context, type: type, optional: optional)
            return .string(field: addField(element, name: name, type: type, optional: optional), kind: stringKind, optional: optional, op: op)
        case "decimal":
            let exponentElement = element.children.first { local($0.name) == "exponent" }
            let mantissaElement = element.children.first { local($0.name) == "mantissa" }
            if exponentElement != nil || mantissaElement != nil {
                let exponent = try exponentElement.map { try operatorOf($0, name: name + "\u{2}exponent", context, type: .int32, optional: optional) } ?? .none
                let mantissa = try mantissaElement.map { try operatorOf($0, name: name + "\u{2}mantissa", context, type: .int64, optional: false) } ?? .none
                return .splitDecimal(field: addField(element, name: name, type: .decimal, optional: optional), optional: optional,
                                     exponent: exponent, mantissa: mantissa)
            }
            let op = try operatorOf(element, name: name, context, type: .decimal, optional: optional)
            return .decimal(field: addField(element, name: name, type: .decimal, optional: optional), optional: optional, op: op)
        case "sequence":
            let lengthElement = element.children.first { local($0.name) == "length" }
            let lengthName = lengthElement?.attributes["name"] ?? name + "\u{2}length"
            let length = try lengthElement.map { try operatorOf($0, name: lengthName, context, type: .uInt32, optional: optional) } ?? .none
            let field = addField(element, name: name, type: .sequence, optional: optional)
            let body = try instructions(element.children, context)
            return .sequence(field: field, optional: optional, length: length, body: NodeList(body))
        case "group":
            let field = addField(element, name: name, type: .group, optional: optional)
            let body = try instructions(element.children, context)
            return .group(field: field, optional: optional, body: NodeList(body))
        default:
            // Anything else (a vendor's extra element) is not a field.
            return nil
        }
    }

    /// `outer`'s attributes over `inner`'s, with `inner`'s children (its operator).
    func merged(_ outer: XMLElement, _ inner: XMLElement) -> XMLElement {
        var attributes = inner.attributes
        for (key, value) in outer.attributes { attributes[key] = value }
        return XMLElement(name: inner.name, attributes: attributes, line: outer.line, children: inner.children + outer.children.filter { $0 !== inner })
    }

    mutating func operatorOf(_ element: XMLElement, name: String, _ context: Context, type: FASTType, optional: Bool) throws -> Operator {
        let names: [String: OperatorKind] = ["constant": .constant, "default": .defaultValue, "copy": .copy,
                                             "increment": .increment, "delta": .delta, "tail": .tail]
        guard let opElement = element.children.first(where: { names[local($0.name)] != nil }) else { return .none }
        let kind = names[local(opElement.name)]!
        switch (kind, type) {
        case (.increment, .ascii), (.increment, .unicode), (.increment, .byteVector), (.increment, .decimal):
            throw fail(opElement, .s2, "increment applies to integers only (field '\(name)')")
        case (.tail, .int32), (.tail, .uInt32), (.tail, .int64), (.tail, .uInt64), (.tail, .decimal):
            throw fail(opElement, .s2, "tail applies to strings and byte vectors only (field '\(name)')")
        default:
            break
        }
        var initial: Scalar?
        if let value = opElement.attributes["value"] {
            guard let parsed = Self.scalar(value, type) else {
                throw fail(opElement, .s3, "initial value '\(value)' is not a valid \(type) (field '\(name)')")
            }
            initial = parsed
        }
        if kind == .constant && initial == nil { throw fail(opElement, .s4, "constant without a value (field '\(name)')") }
        if kind == .defaultValue && initial == nil && !optional {
            throw fail(opElement, .s5, "mandatory field '\(name)' with a default operator needs a value")
        }
        var slot = -1
        if kind != .constant && kind != .defaultValue {
            let dictionary = opElement.attributes["dictionary"] ?? context.dictionary
            let scope: String
            switch dictionary {
            case "global": scope = "global"
            case "template": scope = "template:" + context.template
            case "type": scope = "type:" + context.type
            default: scope = "named:" + dictionary
            }
            slot = self.slot(scope: scope, key: opElement.attributes["key"] ?? name)
        }
        return Operator(kind: kind, slot: slot, initial: initial)
    }

    /// An initial value in the field's type, or nil if it does not convert.
    static func scalar(_ text: String, _ type: FASTType) -> Scalar? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        switch type {
        case .int32: return Int32(trimmed).map { .number(Int128($0)) }
        case .uInt32: return UInt32(trimmed).map { .number(Int128($0)) }
        case .int64: return Int64(trimmed).map { .number(Int128($0)) }
        case .uInt64: return UInt64(trimmed).map { .number(Int128($0)) }
        case .ascii: return .bytes(Array(text.utf8))
        case .unicode: return .bytes(Array(text.utf8))
        case .byteVector:
            let digits = Array(trimmed.filter { !$0.isWhitespace }.utf8)
            guard digits.count % 2 == 0 else { return nil }
            var bytes: [UInt8] = []
            var index = 0
            while index < digits.count {
                guard let byte = UInt8(String(decoding: digits[index..<index + 2], as: UTF8.self), radix: 16) else { return nil }
                bytes.append(byte)
                index += 2
            }
            return .bytes(bytes)
        case .decimal:
            return decimal(trimmed)
        case .sequence, .group, .templateRef:
            return nil
        }
    }

    /// "-12.50" → mantissa -125, exponent -1 (no trailing zeros in the mantissa, as FAST
    /// normalises initial values); "1e3" and "0" too.
    static func decimal(_ text: String) -> Scalar? {
        var mantissaText = text
        var exponent: Int = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            guard let value = Int(text[text.index(after: e)...]) else { return nil }
            exponent = value
            mantissaText = String(text[..<e])
        }
        var negative = false
        if mantissaText.hasPrefix("-") {
            negative = true
            mantissaText.removeFirst()
        } else if mantissaText.hasPrefix("+") {
            mantissaText.removeFirst()
        }
        let parts = mantissaText.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2, !mantissaText.isEmpty else { return nil }
        let whole = String(parts[0])
        let fraction = parts.count == 2 ? String(parts[1]) : ""
        let digits = whole + fraction
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber) else { return nil }
        exponent -= fraction.count
        var trimmed = Substring(digits.drop { $0 == "0" })
        if trimmed.isEmpty { return .decimal(mantissa: 0, exponent: 0) }
        while trimmed.hasSuffix("0") {
            trimmed.removeLast()
            exponent += 1
        }
        guard var mantissa = Int64(trimmed), (-63...63).contains(exponent) else { return nil }
        if negative { mantissa = -mantissa }
        return .decimal(mantissa: mantissa, exponent: Int32(exponent))
    }
}

// MARK: The flat program the decoder runs

/// An operator as the decoder reads it: plain values, no references to count.
struct FlatOperator: Sendable {
    var initialNumber: Int128
    var slot: Int32
    var initialExponent: Int32
    /// Where an initial string or byte vector sits in `FASTTemplates.constants`.
    var initialStart: Int32
    var initialCount: Int32
    var kind: OperatorKind
    var hasInitial: Bool

    static let none = FlatOperator(initialNumber: 0, slot: -1, initialExponent: 0, initialStart: 0, initialCount: 0,
                                   kind: .none, hasInitial: false)
}

enum Opcode: UInt8, Sendable {
    case integer, string, decimal, splitDecimal, sequence, group, dynamicReference
}

/// One step of a block: 64 bytes, copied freely.
struct Step: Sendable {
    /// The field's operator (a split decimal's exponent, a sequence's length).
    var op: FlatOperator
    var field: Int32
    /// A sequence's or group's block; a split decimal's mantissa operator in `mantissas`.
    var body: Int32
    var opcode: Opcode
    var type: FASTType
    var stringKind: StringKind
    var optional: Bool
}

/// A run of steps sharing one presence map.
struct BlockInfo: Sendable {
    var start: Int
    var count: Int
    var needsPresenceMap: Bool
    /// Decoding the block always reads at least one byte.
    var takesBytes: Bool
}

struct Program {
    var steps: [Step] = []
    var blocks: [BlockInfo] = []
    var constants: [UInt8] = []
    var mantissas: [FlatOperator] = []

    mutating func flat(_ op: Operator) -> FlatOperator {
        var result = FlatOperator.none
        result.kind = op.kind
        result.slot = Int32(op.slot)
        switch op.initial {
        case .number(let value)?:
            result.hasInitial = true
            result.initialNumber = value
        case .decimal(let mantissa, let exponent)?:
            result.hasInitial = true
            result.initialNumber = Int128(mantissa)
            result.initialExponent = exponent
        case .bytes(let bytes)?:
            result.hasInitial = true
            result.initialStart = Int32(constants.count)
            result.initialCount = Int32(bytes.count)
            constants += bytes
        case nil:
            break
        }
        return result
    }

    /// Adds `list` (and, first, the blocks it nests) as one block; its index.
    mutating func add(_ list: NodeList) -> Int {
        var local: [Step] = []
        for node in list.instructions {
            var step = Step(op: .none, field: -1, body: -1, opcode: .integer, type: .int32, stringKind: .ascii, optional: false)
            switch node {
            case .integer(let field, let type, let optional, let op):
                step.opcode = .integer; step.field = field; step.type = type; step.optional = optional; step.op = flat(op)
            case .string(let field, let kind, let optional, let op):
                step.opcode = .string; step.field = field; step.stringKind = kind; step.optional = optional; step.op = flat(op)
                step.type = kind == .bytes ? .byteVector : kind == .unicode ? .unicode : .ascii
            case .decimal(let field, let optional, let op):
                step.opcode = .decimal; step.field = field; step.type = .decimal; step.optional = optional; step.op = flat(op)
            case .splitDecimal(let field, let optional, let exponent, let mantissa):
                step.opcode = .splitDecimal; step.field = field; step.type = .decimal; step.optional = optional
                step.op = flat(exponent); mantissas.append(flat(mantissa)); step.body = Int32(mantissas.count - 1)
            case .sequence(let field, let optional, let length, let body):
                step.opcode = .sequence; step.field = field; step.type = .sequence; step.optional = optional
                step.op = flat(length); step.body = Int32(add(body))
            case .group(let field, let optional, let body):
                step.opcode = .group; step.field = field; step.type = .group; step.optional = optional; step.body = Int32(add(body))
            case .dynamicReference(let field):
                step.opcode = .dynamicReference; step.field = field; step.type = .templateRef
            }
            local.append(step)
        }
        blocks.append(BlockInfo(start: steps.count, count: local.count, needsPresenceMap: list.needsPresenceMap,
                                takesBytes: list.takesBytes))
        steps += local
        return blocks.count - 1
    }
}
