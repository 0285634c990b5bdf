/// A decoded message as a tree with field names: for printing, tests and tools. The
/// decoder's flat `FASTMessage` is what a hot path reads; this allocates.
public indirect enum FASTNode: Equatable, Sendable, CustomStringConvertible {
    case absent
    case int(Int64)
    case uint(UInt64)
    case decimal(mantissa: Int64, exponent: Int32)
    case string(String)
    case bytes([UInt8])
    case sequence([[(String, FASTNode)]])
    case group([(String, FASTNode)])
    case templateRef(id: UInt32, name: String, [(String, FASTNode)])

    public static func == (a: FASTNode, b: FASTNode) -> Bool { a.description == b.description }

    public var description: String {
        func fields(_ list: [(String, FASTNode)]) -> String {
            "{" + list.map { "\($0.0)=\($0.1)" }.joined(separator: " ") + "}"
        }
        switch self {
        case .absent: return "-"
        case .int(let value): return "\(value)"
        case .uint(let value): return "\(value)"
        case .decimal(let mantissa, let exponent): return "\(mantissa)e\(exponent)"
        case .string(let value): return "\"\(value)\""
        case .bytes(let value): return "0x" + value.map { String($0 >> 4, radix: 16) + String($0 & 15, radix: 16) }.joined()
        case .sequence(let items): return "[" + items.map(fields).joined(separator: ", ") + "]"
        case .group(let list): return fields(list)
        case .templateRef(let id, let name, let list): return "\(name)#\(id)" + fields(list)
        }
    }
}

extension FASTMessage {
    /// The message as named fields, in template order.
    public func tree(_ templates: FASTTemplates) -> [(String, FASTNode)] {
        var index = 0
        return fields(templates, &index)
    }

    private func fields(_ templates: FASTTemplates, _ index: inout Int) -> [(String, FASTNode)] {
        var result: [(String, FASTNode)] = []
        while index < entries.count {
            let entry = entries[index]
            index += 1
            if case .end = entry.value { break }
            let field = templates.fields[Int(entry.field)]
            let node: FASTNode
            switch entry.value {
            case .absent: node = .absent
            case .int(let value): node = .int(value)
            case .uint(let value): node = .uint(value)
            case .decimal(let mantissa, let exponent): node = .decimal(mantissa: mantissa, exponent: exponent)
            case .bytes(let range):
                node = field.type == .byteVector ? .bytes(Array(bytes[range])) : .string(String(decoding: bytes[range], as: UTF8.self))
            case .sequence(let count):
                var items: [[(String, FASTNode)]] = []
                for _ in 0..<count { items.append(fields(templates, &index)) }
                node = .sequence(items)
            case .group:
                node = .group(fields(templates, &index))
            case .templateRef(let id):
                node = .templateRef(id: id, name: templates.templates[id]?.name ?? "?", fields(templates, &index))
            case .end:
                continue
            }
            result.append((field.name, node))
        }
        return result
    }
}
