import Foundation
import XMLTree

extension FIXDataDictionary {
    /// Reads a QuickFIX-format dictionary and lists every defect found on the way, with
    /// its line. The dictionary is usable when no defect is fatal.
    public static func load(path: String) throws -> (FIXDataDictionary, [DictionaryDefect]) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DictionaryError("cannot read \(path)")
        }
        let root: XMLElement
        do {
            root = try XMLTreeBuilder.parse(data: data, path: path)
        } catch let error as XMLTreeError {
            throw DictionaryError(error.description)
        }
        var loader = Loader(path: path)
        let dictionary = loader.build(root)
        return (dictionary, loader.defects)
    }
}

private struct Loader {
    let path: String
    var defects: [DictionaryDefect] = []
    var fields: [Int: FIXFieldDefinition] = [:]
    var names: [String: Int] = [:]
    var components: [String: XMLElement] = [:]
    /// FIX 4.0 and 4.1 dictionaries type fields CHAR that those versions fill with longer
    /// text (BeginString 'FIX.4.0' among them); QuickFIX reads CHAR as STRING there.
    var charIsString = false

    init(path: String) { self.path = path }

    mutating func defect(_ line: Int, _ message: String, fatal: Bool = false) {
        defects.append(DictionaryDefect(path: path, line: line, message: message, isFatal: fatal))
    }

    mutating func build(_ root: XMLElement) -> FIXDataDictionary {
        if root.name != "fix" { defect(root.line, "the root element is <\(root.name)>, not <fix>", fatal: true) }
        let type = root.attributes["type"] ?? "FIX"
        let major = root.attributes["major"] ?? "?"
        let minor = root.attributes["minor"] ?? "?"
        let servicePack = Int(root.attributes["servicepack"] ?? "0") ?? 0
        if root.attributes["major"] == nil || root.attributes["minor"] == nil {
            defect(root.line, "<fix> has no major or minor version", fatal: true)
        }
        let version = "\(type).\(major).\(minor)" + (servicePack > 0 ? "SP\(servicePack)" : "")
        charIsString = type == "FIX" && major == "4" && (minor == "0" || minor == "1")

        for element in root.child(named: "fields")?.children(named: "field") ?? [] { addField(element) }
        for element in root.child(named: "components")?.children(named: "component") ?? [] {
            guard let name = element.attributes["name"] else {
                defect(element.line, "component without a name", fatal: true)
                continue
            }
            if components[name] != nil { defect(element.line, "component \(name) is defined twice") }
            components[name] = element
        }
        let header = root.child(named: "header").map { layout(of: $0, required: true, visiting: []) } ?? FIXLayout(order: [], required: [], groups: [:])
        let trailer = root.child(named: "trailer").map { layout(of: $0, required: true, visiting: []) } ?? FIXLayout(order: [], required: [], groups: [:])
        var messages: [String: FIXMessageDefinition] = [:]
        for element in root.child(named: "messages")?.children(named: "message") ?? [] {
            guard let msgType = element.attributes["msgtype"], !msgType.isEmpty else {
                defect(element.line, "message \(element.attributes["name"] ?? "?") has no msgtype", fatal: true)
                continue
            }
            if messages[msgType] != nil { defect(element.line, "msgtype \(msgType) is defined twice") }
            messages[msgType] = FIXMessageDefinition(msgType: msgType, name: element.attributes["name"] ?? msgType,
                                                     category: element.attributes["msgcat"] ?? "app",
                                                     body: layout(of: element, required: true, visiting: []))
        }
        return FIXDataDictionary(version: version, isTransport: type == "FIXT", fields: fields, fieldNames: names,
                                 header: header, trailer: trailer, messages: messages)
    }

    mutating func addField(_ element: XMLElement) {
        guard let numberText = element.attributes["number"], let number = Int(numberText), number > 0 else {
            defect(element.line, "field \(element.attributes["name"] ?? "?") has no valid number", fatal: true)
            return
        }
        guard let name = element.attributes["name"], !name.isEmpty else {
            defect(element.line, "field \(number) has no name", fatal: true)
            return
        }
        let typeName = element.attributes["type"] ?? "STRING"
        var type = FIXFieldType(typeName)
        if type == .char && charIsString { type = .string }
        if fields[number] != nil { defect(element.line, "tag \(number) is defined twice (\(fields[number]!.name) and \(name))") }
        if names[name] != nil { defect(element.line, "field name \(name) is defined twice") }
        var values: [String: String] = [:]
        for value in element.children(named: "value") {
            guard let text = value.attributes["enum"] else {
                defect(value.line, "a value of \(name) has no enum")
                continue
            }
            if let problem = Loader.misfit(text, type) { defect(value.line, "enum '\(text)' of \(name) (\(typeName)) \(problem)") }
            values[text] = value.attributes["description"] ?? ""
        }
        if fields[number] == nil { fields[number] = FIXFieldDefinition(tag: number, name: name, typeName: typeName, type: type, values: values, line: element.line) }
        if names[name] == nil { names[name] = number }
    }

    /// Why an enum value does not fit its field's type, or nil.
    static func misfit(_ value: String, _ type: FIXFieldType) -> String? {
        switch type {
        case .char: return value.utf8.count == 1 ? nil : "is not a single character"
        case .boolean: return value == "Y" || value == "N" ? nil : "is not Y or N"
        case .int, .length, .seqNum, .numInGroup, .tagNum, .dayOfMonth: return Int(value) == nil ? "is not an integer" : nil
        case .decimal:
            let ok = !value.isEmpty && value.allSatisfy { $0.isNumber || $0 == "." || $0 == "-" } && value.filter { $0 == "." }.count <= 1
            return ok ? nil : "is not a number"
        default: return value.isEmpty ? "is empty" : nil
        }
    }

    /// The layout of an element's children: fields, components flattened, groups nested.
    mutating func layout(of element: XMLElement, required: Bool, visiting: Set<String>) -> FIXLayout {
        var order: [Int] = []
        var requiredTags: [Int] = []
        var groups: [Int: FIXGroupLayout] = [:]
        collect(element, required: required, visiting: visiting, order: &order, requiredTags: &requiredTags, groups: &groups)
        return FIXLayout(order: order, required: requiredTags, groups: groups)
    }

    mutating func collect(_ element: XMLElement, required: Bool, visiting: Set<String>,
                          order: inout [Int], requiredTags: inout [Int], groups: inout [Int: FIXGroupLayout]) {
        for child in element.children {
            let name = child.attributes["name"] ?? ""
            let isRequired = required && child.attributes["required"]?.uppercased() == "Y"
            switch child.name {
            case "field":
                guard let tag = names[name] else {
                    defect(child.line, "field \(name) is used but not defined in <fields>", fatal: true)
                    continue
                }
                order.append(tag)
                if isRequired { requiredTags.append(tag) }
            case "component":
                guard let component = components[name] else {
                    defect(child.line, "component \(name) is used but not defined in <components>", fatal: true)
                    continue
                }
                if visiting.contains(name) {
                    defect(child.line, "component \(name) contains itself", fatal: true)
                    continue
                }
                collect(component, required: isRequired, visiting: visiting.union([name]),
                        order: &order, requiredTags: &requiredTags, groups: &groups)
            case "group":
                guard let countTag = names[name] else {
                    defect(child.line, "group \(name) is used but its NumInGroup field is not defined in <fields>", fatal: true)
                    continue
                }
                let instance = layout(of: child, required: true, visiting: visiting)
                guard let delimiter = instance.order.first else {
                    defect(child.line, "group \(name) has no fields", fatal: true)
                    continue
                }
                order.append(countTag)
                if isRequired { requiredTags.append(countTag) }
                groups[countTag] = FIXGroupLayout(countTag: countTag, delimiter: delimiter, instance: instance)
            default:
                continue
            }
        }
    }
}
