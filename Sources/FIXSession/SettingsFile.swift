import Foundation

/// A settings problem, named by file, line, section and key, with what to do.
public struct SettingsError: Error, CustomStringConvertible, Sendable {
    public let file: String
    public let line: Int
    public let section: String
    public let key: String?
    public let why: String

    public init(file: String, line: Int, section: String, key: String?, why: String) {
        self.file = file
        self.line = line
        self.section = section
        self.key = key
        self.why = why
    }

    public var description: String {
        "\(file):\(line): [\(section)]" + (key.map { " \($0)" } ?? "") + ": \(why)"
    }
}

/// A QuickFIX-format settings file: a `[DEFAULT]` block and `[SESSION]` blocks of
/// `Key=Value` lines, `#` comments. Session blocks inherit the defaults. Counterfoil's
/// own sections (`[RECON]`, `[STATEMENT]`, `[API]`) stand alone and inherit nothing.
public struct SettingsFile: Sendable {
    public struct Block: Sendable {
        /// The line of the block's header (0 for DEFAULT).
        public let line: Int
        /// The block's own settings and the defaults it inherits, by key.
        public let values: [String: String]
        /// The line each key was set on (a default's line when inherited).
        public let lines: [String: Int]
    }

    public let path: String
    public let defaults: Block
    public let sessions: [Block]
    /// Counterfoil's own sections by name (upper case), in file order.
    public let sections: [String: [Block]]

    /// The sections Counterfoil reads besides [DEFAULT] and [SESSION].
    public static let ownSections: Set<String> = ["RECON", "STATEMENT", "API"]

    public init(path: String) throws {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw SettingsError(file: path, line: 0, section: "", key: nil, why: "cannot read the settings file")
        }
        try self.init(text: text, path: path)
    }

    public init(text: String, path: String = "settings") throws {
        self.path = path
        var defaults: [String: String] = [:]
        var defaultLines: [String: Int] = [:]
        var blocks: [(line: Int, values: [String: String], lines: [String: Int])] = []
        var own: [(name: String, line: Int, values: [String: String], lines: [String: Int])] = []
        var section: String?
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = index + 1
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") {
                guard line.hasSuffix("]") else {
                    throw SettingsError(file: path, line: number, section: section ?? "", key: nil, why: "a section header must end with ']'")
                }
                let name = line.dropFirst().dropLast().trimmingCharacters(in: .whitespaces).uppercased()
                switch name {
                case "DEFAULT":
                    if section != nil || !blocks.isEmpty {
                        throw SettingsError(file: path, line: number, section: "DEFAULT", key: nil,
                                            why: "[DEFAULT] must come first and only once")
                    }
                case "SESSION":
                    blocks.append((number, [:], [:]))
                case _ where Self.ownSections.contains(name):
                    own.append((name, number, [:], [:]))
                default:
                    throw SettingsError(file: path, line: number, section: name, key: nil,
                                        why: "unknown section (expected DEFAULT, SESSION, \(Self.ownSections.sorted().joined(separator: ", ")))")
                }
                section = name
                continue
            }
            guard let current = section else {
                throw SettingsError(file: path, line: number, section: "", key: nil, why: "a setting before any [DEFAULT] or [SESSION] header")
            }
            guard let equals = line.firstIndex(of: "=") else {
                throw SettingsError(file: path, line: number, section: current, key: nil, why: "expected Key=Value")
            }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces)
            let value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            guard !key.isEmpty else {
                throw SettingsError(file: path, line: number, section: current, key: nil, why: "a setting without a key")
            }
            if current == "DEFAULT" {
                if defaults[key] != nil {
                    throw SettingsError(file: path, line: number, section: current, key: key, why: "set twice (first on line \(defaultLines[key]!))")
                }
                defaults[key] = value
                defaultLines[key] = number
            } else if current != "SESSION" {
                if let first = own[own.count - 1].lines[key] {
                    throw SettingsError(file: path, line: number, section: current, key: key, why: "set twice in this section (first on line \(first))")
                }
                own[own.count - 1].values[key] = value
                own[own.count - 1].lines[key] = number
            } else {
                if blocks[blocks.count - 1].values[key] != nil {
                    throw SettingsError(file: path, line: number, section: current, key: key,
                                        why: "set twice in this session (first on line \(blocks[blocks.count - 1].lines[key]!))")
                }
                blocks[blocks.count - 1].values[key] = value
                blocks[blocks.count - 1].lines[key] = number
            }
        }
        self.defaults = Block(line: 0, values: defaults, lines: defaultLines)
        sessions = blocks.map { block in
            Block(line: block.line, values: defaults.merging(block.values) { _, own in own },
                  lines: defaultLines.merging(block.lines) { _, own in own })
        }
        sections = Dictionary(grouping: own, by: \.name).mapValues { list in
            list.map { Block(line: $0.line, values: $0.values, lines: $0.lines) }
        }
    }
}
