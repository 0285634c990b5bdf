import TestSupport
import FIXCore
@testable import FIXDictionary
import Foundation
import Testing

/// Counterfoil's validator against QuickFIX's own DataDictionary (Debian's libquickfix-dev,
/// QuickFIX 1.15), over real drop-copy messages and thousands of mutated ones. Each message
/// gets the same verdict and reason from both, or the difference is one of the deliberate
/// ones listed in `Difference`, where QuickFIX checks less than the FIX standard asks.
@Suite(.serialized) struct QuickFIXAgreementTests {
    enum Difference: String, CaseIterable {
        /// QuickFIX 1.15 checks only the NumInGroup count of repeating groups: a bad enum,
        /// a bad format, an empty value or reordered fields inside a group pass. Counterfoil
        /// checks group fields like any other.
        case insideGroup = "QuickFIX does not validate fields inside repeating groups"
        /// QuickFIX reads `required="Y"` and compares with "true"; the stock files say "Y",
        /// so it enforces no required header field. Counterfoil does (373=1).
        case requiredHeader = "QuickFIX does not enforce required header fields"
        /// QuickFIX treats LocalMktDate (TradeDate 75, SettlDate 64, …) as free text;
        /// FIX defines it as YYYYMMDD, and Counterfoil checks it (373=6).
        case localMktDate = "QuickFIX does not check LocalMktDate values"
        /// QuickFIX accepts a NumInGroup of 0 followed by entries; Counterfoil counts them (373=16).
        case zeroCount = "QuickFIX accepts NumInGroup=0 with entries after it"
        /// QuickFIX visits fields in tag-number order, Counterfoil in wire order: with several
        /// faulty fields of one kind, both give the same reason and name a different tag.
        case tagOrder = "same reason; QuickFIX names the lowest faulty tag, Counterfoil the first on the wire"
        /// QuickFIX's parser gives up (InvalidMessage, no reason code) where Counterfoil names
        /// the fault: both refuse the message.
        case unreadableToQuickFIX = "QuickFIX cannot read it; Counterfoil rejects it with a reason"
        /// A fault inside a group meets another fault: QuickFIX, which skips group contents,
        /// reports the other one.
        case firstOfSeveral = "both reject, naming a different first fault"
    }

    struct Mutation {
        let fields: [(Int, String)]
        /// Tags of fields inside a repeating group that the mutation touched.
        let touchedGroupField: Bool
        let removedHeaderField: Bool
    }

    static let groupCountTags: Set<Int> = [453, 552, 702, 753]
    static let groupMemberTags: Set<Int> = [448, 447, 452, 54, 37, 1, 15, 703, 704, 705, 707, 708]
    static let headerTags: Set<Int> = [49, 56, 34, 52]

    func fields(of line: [UInt8]) -> [(Int, String)] {
        line.split(separator: 1).map { field in
            let text = String(decoding: field, as: UTF8.self)
            let equals = text.firstIndex(of: "=")!
            return (Int(text[..<equals])!, String(text[text.index(after: equals)...]))
        }
    }

    func wire(_ fields: [(Int, String)]) -> [UInt8] {
        // 8 and 9 are rebuilt, 10 recomputed.
        var body: [UInt8] = []
        for (tag, value) in fields where tag != 8 && tag != 9 && tag != 10 { body += Array("\(tag)=\(value)\u{1}".utf8) }
        var message = Array("8=FIX.4.4\u{1}9=\(body.count)\u{1}".utf8) + body
        let sum = message.reduce(0) { ($0 + Int($1)) % 256 }
        message += Array(String(format: "10=%03d\u{1}", sum).utf8)
        return message
    }

    /// Where the fields of repeating groups lie in a flat field list (positions).
    func groupPositions(_ fields: [(Int, String)]) -> Set<Int> {
        var inside: Set<Int> = []
        var i = 0
        while i < fields.count {
            if Self.groupCountTags.contains(fields[i].0) {
                var j = i + 1
                while j < fields.count && (Self.groupMemberTags.contains(fields[j].0) || Self.groupCountTags.contains(fields[j].0)) {
                    inside.insert(j)
                    j += 1
                }
                i = j
            } else {
                i += 1
            }
        }
        return inside
    }

    func mutate(_ original: [(Int, String)], _ rng: inout SplitMix64) -> Mutation {
        var f = original
        let inGroup = groupPositions(f)
        let bodyStart = 3
        let bodyEnd = f.count - 1  // before 10
        guard bodyEnd > bodyStart + 1 else { return Mutation(fields: f, touchedGroupField: false, removedHeaderField: false) }
        let at = Int.random(in: bodyStart..<bodyEnd, using: &rng)
        switch Int.random(in: 0..<11, using: &rng) {
        case 0:
            return Mutation(fields: f, touchedGroupField: false, removedHeaderField: false)
        case 1:
            let removed = f.remove(at: at)
            return Mutation(fields: f, touchedGroupField: inGroup.contains(at) || Self.groupCountTags.contains(removed.0),
                            removedHeaderField: Self.headerTags.contains(removed.0))
        case 2:
            f.insert(f[at], at: at + 1)
            return Mutation(fields: f, touchedGroupField: inGroup.contains(at) || Self.groupCountTags.contains(f[at].0), removedHeaderField: false)
        case 3:
            guard at + 1 < bodyEnd else { return Mutation(fields: f, touchedGroupField: false, removedHeaderField: false) }
            f.swapAt(at, at + 1)
            return Mutation(fields: f, touchedGroupField: inGroup.contains(at) || inGroup.contains(at + 1)
                                || Self.groupCountTags.contains(f[at].0) || Self.groupCountTags.contains(f[at + 1].0),
                            removedHeaderField: false)
        case 4:
            let enums = [54, 150, 39, 447, 13, 487, 724, 581]
            guard let index = f.indices.filter({ enums.contains(f[$0].0) }).randomElement(using: &rng) else { break }
            f[index].1 = "Z"
            return Mutation(fields: f, touchedGroupField: inGroup.contains(index), removedHeaderField: false)
        case 5:
            guard let index = f.indices.filter({ Self.groupCountTags.contains(f[$0].0) }).randomElement(using: &rng) else { break }
            f[index].1 = String(Int(f[index].1)! + (Bool.random(using: &rng) ? 1 : -1))
            // A nested group's count is itself a field inside a group.
            return Mutation(fields: f, touchedGroupField: inGroup.contains(index), removedHeaderField: false)
        case 6:
            let typed = [38, 32, 31, 14, 151, 6, 60, 75, 34, 108, 704]
            guard let index = f.indices.filter({ typed.contains(f[$0].0) }).randomElement(using: &rng) else { break }
            f[index].1 = "1O/x"
            return Mutation(fields: f, touchedGroupField: inGroup.contains(index), removedHeaderField: false)
        case 7:
            f.insert((7777, "x"), at: at)
            return Mutation(fields: f, touchedGroupField: inGroup.contains(at), removedHeaderField: false)
        case 8:
            f.insert((262, "REQ"), at: at)
            return Mutation(fields: f, touchedGroupField: inGroup.contains(at), removedHeaderField: false)
        case 9:
            guard let index = f.firstIndex(where: { $0.0 == 49 || $0.0 == 56 }) else { break }
            let moved = f.remove(at: index)
            f.insert(moved, at: min(f.count - 1, index + Int.random(in: 4...8, using: &rng)))
            return Mutation(fields: f, touchedGroupField: false, removedHeaderField: false)
        default:
            f.insert((58, ""), at: at)
            return Mutation(fields: f, touchedGroupField: inGroup.contains(at), removedHeaderField: false)
        }
        return Mutation(fields: f, touchedGroupField: false, removedHeaderField: false)
    }

    @Test("Counterfoil and QuickFIX agree on drop-copy messages and thousands of mutations, but for listed differences")
    func agreement() throws {
        let source = packageRoot.appendingPathComponent("Tests/QuickFIXAgreement/qf_validate.cpp").path
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("qf-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let helper = folder + "/qf_validate"
        try #require(run("/usr/bin/g++", ["-std=gnu++11", "-O1", "-w", source, "-lquickfix", "-lpthread", "-o", helper]) == 0,
                     "building the QuickFIX helper failed (needs g++ and libquickfix-dev: scripts/setup-debian.sh)")

        let lines = try Data(contentsOf: packageRoot.appendingPathComponent("Fixtures/dropcopy-fix44.log"))
            .split(separator: UInt8(ascii: "\n")).map { Array($0) }
        var rng = SplitMix64(seed: 1_15)
        var corpus: [Mutation] = []
        for round in 0..<4 {
            for line in lines.prefix(1500) {
                let original = fields(of: line)
                corpus.append(round == 0 && corpus.count < 300 ? Mutation(fields: original, touchedGroupField: false, removedHeaderField: false)
                              : mutate(original, &rng))
            }
        }
        let input = folder + "/corpus"
        var data = Data()
        for mutation in corpus {
            data.append(contentsOf: wire(mutation.fields))
            data.append(UInt8(ascii: "\n"))
        }
        try data.write(to: URL(fileURLWithPath: input))
        let output = folder + "/verdicts"
        try #require(run("/bin/sh", ["-c", "\"\(helper)\" \"\(stockFolder)/FIX44.xml\" < \"\(input)\" > \"\(output)\""]) == 0)
        let theirs = try String(contentsOfFile: output, encoding: .utf8).split(separator: "\n").map(String.init)
        try #require(theirs.count == corpus.count)

        let validator = FIXValidator(application: try stock("FIX44"))
        let parser = FIXParser(options: FIXParserOptions(allowsEmptyValues: true))
        var agreed = 0
        var differences: [Difference: Int] = [:]
        var unexplained: [String] = []
        for (index, mutation) in corpus.enumerated() {
            let bytes = wire(mutation.fields)
            let ours: String = bytes.withUnsafeBytes { buffer in
                guard let message = try? parser.parse(buffer) else { return "PARSE" }
                guard let rejection = validator.validate(message) else { return "OK" }
                return "\(rejection.reason.rawValue) \(rejection.refTagID ?? 0)"
            }
            let their = theirs[index]
            if ours == their { agreed += 1; continue }
            let difference: Difference?
            if mutation.touchedGroupField && their == "OK" {
                difference = .insideGroup
            } else if their == "OK" && (ours == "6 75" || ours == "6 64" || ours == "6 715") {
                difference = .localMktDate
            } else if mutation.removedHeaderField && ours.hasPrefix("1 ") {
                difference = .requiredHeader
            } else if their == "OK" && ours.hasPrefix("16 "),
                      mutation.fields.contains(where: { Self.groupCountTags.contains($0.0) && $0.1 == "0" }) {
                difference = .zeroCount
            } else if ours != "OK" && their != "OK" && their != "PARSE" && ours != "PARSE"
                        && ours.split(separator: " ").first == their.split(separator: " ").first {
                difference = .tagOrder
            } else if their == "PARSE" && ours != "OK" {
                difference = .unreadableToQuickFIX
            } else if ours != "OK" && their != "OK" && mutation.touchedGroupField {
                difference = .firstOfSeveral
            } else {
                difference = nil
            }
            if let difference {
                differences[difference, default: 0] += 1
            } else {
                unexplained.append("ours \(ours), QuickFIX \(their): \(String(decoding: bytes.map { $0 == 1 ? UInt8(ascii: "|") : $0 }, as: UTF8.self))")
            }
        }
        print("QuickFIX agreement: \(corpus.count) messages, \(agreed) agreed, differences \(differences.map { "\($0.key): \($0.value)" })")
        #expect(agreed > corpus.count * 3 / 4)
        #expect(unexplained.isEmpty, "\(unexplained.count) unexplained, e.g.\n\(unexplained.prefix(8).joined(separator: "\n"))")
    }

    func run(_ executable: String, _ arguments: [String]) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }
}
