import Foundation
import XMLTree

/// One listed person or entity, with the names it is known by.
public struct SanctionsEntry: Codable, Sendable, Hashable {
    /// "OFAC SDN" or "UN".
    public var list: String
    public var id: String
    public var name: String
    public var aliases: [String]
    /// individual, entity, vessel, aircraft…
    public var type: String
}

/// A client's name that matched a listed name.
public struct ScreeningHit: Codable, Sendable, Hashable {
    public var list: String
    public var entryID: String
    public var listedName: String
    /// Similarity from 0 to 1 (Jaro–Winkler over normalised names).
    public var score: Double
}

/// Sanctions lists in memory, prepared for fuzzy matching: names normalised (case,
/// accents, transliteration, punctuation, token order) once, at load.
public struct ScreeningLists: Sendable {
    struct Prepared: Sendable {
        let entry: Int
        let name: String
        let tokens: [String]
        let sorted: String
    }

    public let entries: [SanctionsEntry]
    let names: [Prepared]

    public init(entries: [SanctionsEntry]) {
        self.entries = entries
        var names: [Prepared] = []
        for (index, entry) in entries.enumerated() {
            for name in [entry.name] + entry.aliases {
                let tokens = Self.normalize(name)
                if !tokens.isEmpty { names.append(Prepared(entry: index, name: name, tokens: tokens, sorted: tokens.sorted().joined(separator: " "))) }
            }
        }
        self.names = names
    }

    public static let empty = ScreeningLists(entries: [])

    /// Hits at or above `threshold`, best first, one per listed entry.
    public func screen(name: String, threshold: Double) -> [ScreeningHit] {
        let tokens = Self.normalize(name)
        guard !tokens.isEmpty else { return [] }
        let sorted = tokens.sorted().joined(separator: " ")
        var best: [Int: (Double, String)] = [:]
        for candidate in names {
            let score = Self.similarity(tokens, sorted, candidate.tokens, candidate.sorted)
            if score >= threshold, score > (best[candidate.entry]?.0 ?? 0) { best[candidate.entry] = (score, candidate.name) }
        }
        return best.map { index, match in
            ScreeningHit(list: entries[index].list, entryID: entries[index].id, listedName: match.1, score: (match.0 * 1000).rounded() / 1000)
        }.sorted { $0.score > $1.score || ($0.score == $1.score && $0.entryID < $1.entryID) }
    }

    // MARK: Matching

    /// Words that say nothing about who someone is.
    static let noise: Set<String> = ["mr", "mrs", "ms", "dr", "the", "of", "and", "al", "el", "bin", "ibn"]

    /// Lower case, transliterated to Latin, accents and punctuation gone, split into words.
    public static func normalize(_ name: String) -> [String] {
        var text = name.applyingTransform(.toLatin, reverse: false) ?? name
        text = text.folding(options: [.diacriticInsensitive, .caseInsensitive, .widthInsensitive], locale: Locale(identifier: "en_US_POSIX"))
        let cleaned = String(text.lowercased().unicodeScalars.map { CharacterSet.alphanumerics.contains($0) ? Character($0) : " " })
        return cleaned.split(separator: " ").map(String.init).filter { !noise.contains($0) }
    }

    /// The better of two views: the names as sorted words (token order ignored), and each
    /// word matched to its best counterpart both ways (extra or missing middle names cost
    /// only their share).
    static func similarity(_ a: [String], _ aSorted: String, _ b: [String], _ bSorted: String) -> Double {
        let whole = jaroWinkler(aSorted, bSorted)
        func meanBest(_ x: [String], _ y: [String]) -> Double {
            x.reduce(0.0) { sum, word in sum + (y.map { jaroWinkler(word, $0) }.max() ?? 0) } / Double(x.count)
        }
        let tokens = (meanBest(a, b) + meanBest(b, a)) / 2
        return max(whole, tokens)
    }

    /// Jaro–Winkler similarity (prefix scale 0.1, up to four characters).
    public static func jaroWinkler(_ s1: String, _ s2: String) -> Double {
        let a = Array(s1.unicodeScalars), b = Array(s2.unicodeScalars)
        if a.isEmpty && b.isEmpty { return 1 }
        if a.isEmpty || b.isEmpty { return 0 }
        let window = max(0, max(a.count, b.count) / 2 - 1)
        var aMatched = [Bool](repeating: false, count: a.count)
        var bMatched = [Bool](repeating: false, count: b.count)
        var matches = 0
        for i in 0..<a.count {
            let low = max(0, i - window), high = min(b.count - 1, i + window)
            guard low <= high else { continue }
            for j in low...high where !bMatched[j] && a[i] == b[j] {
                aMatched[i] = true
                bMatched[j] = true
                matches += 1
                break
            }
        }
        guard matches > 0 else { return 0 }
        var transpositions = 0
        var j = 0
        for i in 0..<a.count where aMatched[i] {
            while !bMatched[j] { j += 1 }
            if a[i] != b[j] { transpositions += 1 }
            j += 1
        }
        let m = Double(matches)
        let jaro = (m / Double(a.count) + m / Double(b.count) + (m - Double(transpositions / 2)) / m) / 3
        var prefix = 0
        while prefix < min(4, min(a.count, b.count)) && a[prefix] == b[prefix] { prefix += 1 }
        return jaro + Double(prefix) * 0.1 * (1 - jaro)
    }

    // MARK: Loading

    /// OFAC's SDN list in its CSV form: `sdn.csv` (ent_num, SDN_Name, SDN_Type, Program, …;
    /// `-0-` for empty) and optionally `alt.csv` (ent_num, alt_num, alt_type, alt_name, …).
    public static func ofac(sdn: String, alt: String?) throws -> [SanctionsEntry] {
        var entries: [String: SanctionsEntry] = [:]
        var order: [String] = []
        try forEachCSVRow(sdn) { line, fields in
            guard fields.count >= 3, !fields[0].isEmpty, let name = value(fields[1]) else {
                throw CRMError.invalid("\(sdn):\(line)", "expected ent_num,SDN_Name,SDN_Type,…")
            }
            entries[fields[0]] = SanctionsEntry(list: "OFAC SDN", id: fields[0], name: name, aliases: [],
                                                type: value(fields[2]) ?? "entity")
            order.append(fields[0])
        }
        if let alt {
            try forEachCSVRow(alt) { line, fields in
                guard fields.count >= 4, let name = value(fields[3]) else {
                    throw CRMError.invalid("\(alt):\(line)", "expected ent_num,alt_num,alt_type,alt_name,…")
                }
                entries[fields[0]]?.aliases.append(name)
            }
        }
        return order.compactMap { entries[$0] }
    }

    /// The UN Security Council consolidated list (XML): INDIVIDUALS and ENTITIES with their
    /// names (FIRST_NAME … FOURTH_NAME) and aliases (ALIAS_NAME).
    public static func un(xml path: String) throws -> [SanctionsEntry] {
        guard let data = FileManager.default.contents(atPath: path) else { throw CRMError.invalid(path, "cannot read the file") }
        let root: XMLElement
        do {
            root = try XMLTreeBuilder.parse(data: data, path: path)
        } catch {
            throw CRMError.invalid(path, "\(error)")
        }
        var entries: [SanctionsEntry] = []
        for (group, item, aliasElement, type) in [("INDIVIDUALS", "INDIVIDUAL", "INDIVIDUAL_ALIAS", "individual"),
                                                  ("ENTITIES", "ENTITY", "ENTITY_ALIAS", "entity")] {
            for element in root.child(named: group)?.children(named: item) ?? [] {
                let name = ["FIRST_NAME", "SECOND_NAME", "THIRD_NAME", "FOURTH_NAME"].compactMap { element.text(of: $0) }.joined(separator: " ")
                guard let id = element.text(of: "DATAID") ?? element.text(of: "REFERENCE_NUMBER"), !name.isEmpty else {
                    throw CRMError.invalid("\(path):\(element.line)", "an \(item) needs DATAID and a FIRST_NAME")
                }
                let aliases = element.children(named: aliasElement).compactMap { $0.text(of: "ALIAS_NAME") }
                entries.append(SanctionsEntry(list: "UN", id: id, name: name, aliases: aliases, type: type))
            }
        }
        return entries
    }

    static func value(_ field: String) -> String? {
        let trimmed = field.trimmingCharacters(in: .whitespaces)
        return trimmed.isEmpty || trimmed == "-0-" ? nil : trimmed
    }

    /// Lines of a CSV file split into fields, quotes honoured.
    static func forEachCSVRow(_ path: String, _ body: (Int, [String]) throws -> Void) throws {
        guard let data = FileManager.default.contents(atPath: path) else { throw CRMError.invalid(path, "cannot read the file") }
        let text = String(decoding: data, as: UTF8.self)
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: CharacterSet(charactersIn: "\r\u{1A}"))
            if line.trimmingCharacters(in: .whitespaces).isEmpty { continue }
            var fields: [String] = []
            var current = ""
            var quoted = false
            var iterator = line.makeIterator()
            while let character = iterator.next() {
                if quoted {
                    if character == "\"" {
                        quoted = false
                    } else {
                        current.append(character)
                    }
                } else if character == "\"" {
                    if current.last == "\"" { current.append("\"") }
                    quoted = true
                } else if character == "," {
                    fields.append(current)
                    current = ""
                } else {
                    current.append(character)
                }
            }
            guard !quoted else { throw CRMError.invalid("\(path):\(index + 1)", "a quoted value is not closed") }
            fields.append(current)
            try body(index + 1, fields)
        }
    }
}

/// The lists in force, swapped whole when they are reloaded.
/// Where the sanctions lists come from: the files the settings name, read again on each
/// reload (lists change daily; the service reloads them without a restart).
public struct SanctionsSources: Sendable, Hashable {
    public var sdn: String?
    public var alt: String?
    public var un: String?

    public init(sdn: String? = nil, alt: String? = nil, un: String? = nil) {
        self.sdn = sdn
        self.alt = alt
        self.un = un
    }

    public var isEmpty: Bool { sdn == nil && un == nil }

    /// Reads every named file; a bad one is a `CRMError` naming its path and line.
    public func load() throws -> ScreeningLists {
        var entries: [SanctionsEntry] = []
        if let sdn { entries += try ScreeningLists.ofac(sdn: sdn, alt: alt) }
        if let un { entries += try ScreeningLists.un(xml: un) }
        return ScreeningLists(entries: entries)
    }
}

final class ScreeningListsBox: @unchecked Sendable {
    private let lock = NSLock()
    private var lists = ScreeningLists.empty

    var current: ScreeningLists {
        lock.lock()
        defer { lock.unlock() }
        return lists
    }

    func replace(_ new: ScreeningLists) {
        lock.lock()
        lists = new
        lock.unlock()
    }
}
