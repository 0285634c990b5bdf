@testable import FAST
import Foundation
import Testing

let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// ../shared/fast-samples, or where COUNTERFOIL_SHARED points.
let samples: String = {
    if let shared = ProcessInfo.processInfo.environment["COUNTERFOIL_SHARED"] { return shared + "/fast-samples" }
    let sibling = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/fast-samples").path
    return FileManager.default.fileExists(atPath: sibling) ? sibling : "/work/shared/fast-samples"
}()

func bytes(hex: String) -> [UInt8] {
    let digits = Array(hex.utf8)
    return stride(from: 0, to: digits.count - 1, by: 2).map {
        UInt8(String(decoding: digits[$0..<$0 + 2], as: UTF8.self), radix: 16)!
    }
}

/// Why `node` is not `expected` (a JSON value in the vectors' format), or nil.
func mismatch(_ node: FASTNode, _ expected: Any, partial: Bool, absentOmitted: Bool, path: String) -> String? {
    // Two vectors assert a relation between sequence entries rather than values:
    // "__entry1_X_eq_entry0" and "__all_X_eq_V".
    if case .sequence(let items) = node, let rule = expected as? String, rule.hasPrefix("__") {
        let parts = rule.dropFirst(2).split(separator: "_").map(String.init)
        func value(_ item: [(String, FASTNode)], _ name: String) -> FASTNode? { item.first { $0.0 == name }?.1 }
        if parts.count == 4, parts[0] == "entry1", parts[2] == "eq", parts[3] == "entry0", items.count >= 2 {
            let (a, b) = (value(items[1], parts[1]), value(items[0], parts[1]))
            return a != nil && a == b ? nil : "\(path): entry 1 \(parts[1]) \(a.map(\.description) ?? "missing") differs from entry 0's"
        }
        if parts.count == 4, parts[0] == "all", parts[2] == "eq" {
            let wrong = items.filter { value($0, parts[1]).map { "\($0)" } != "\"\(parts[3])\"" && value($0, parts[1]).map { "\($0)" } != parts[3] }
            return wrong.isEmpty && !items.isEmpty ? nil : "\(path): not every \(parts[1]) is \(parts[3])"
        }
        return "\(path): unknown rule \(rule)"
    }
    switch (node, expected) {
    case (.absent, is NSNull):
        return nil
    case (.int(let value), let number as NSNumber):
        return "\(value)" == "\(number)" ? nil : "\(path): \(value), expected \(number)"
    case (.uint(let value), let number as NSNumber):
        return "\(value)" == "\(number)" ? nil : "\(path): \(value), expected \(number)"
    case (.string(let value), let text as String):
        return value == text ? nil : "\(path): \"\(value)\", expected \"\(text)\""
    case (.bytes(let value), let object as [String: Any]):
        let hex = value.map { String(format: "%02x", $0) }.joined()
        return hex == (object["bytes_hex"] as? String)?.lowercased() ? nil : "\(path): \(hex), expected \(object)"
    case (.decimal(let mantissa, let exponent), let object as [String: Any]):
        if let m = object["mantissa"] as? NSNumber, let e = object["exponent"] as? NSNumber {
            return "\(mantissa)" == "\(m)" && "\(exponent)" == "\(e)" ? nil : "\(path): \(mantissa)e\(exponent), expected \(m)e\(e)"
        }
        if let text = object["decimal"] as? String, let value = Decimal(string: text) {
            let ours = Decimal(sign: mantissa < 0 ? .minus : .plus, exponent: Int(exponent), significand: Decimal(mantissa.magnitude))
            return ours == value ? nil : "\(path): \(mantissa)e\(exponent), expected \(text)"
        }
        return "\(path): unreadable expectation \(object)"
    case (.sequence(let items), let array as [Any]):
        guard partial ? items.count >= array.count : items.count == array.count else {
            return "\(path): \(items.count) items, expected \(array.count)"
        }
        for (index, item) in array.enumerated() {
            if let problem = mismatchFields(items[index], item, partial: partial, absentOmitted: absentOmitted, path: "\(path)[\(index)]") {
                return problem
            }
        }
        return nil
    case (.group(let fields), _):
        return mismatchFields(fields, expected, partial: partial, absentOmitted: absentOmitted, path: path)
    case (.templateRef(let id, let name, let fields), let object as [String: Any]):
        if let expectedID = object["template_id"] as? NSNumber, "\(expectedID)" != "\(id)" { return "\(path): template \(id)" }
        if let expectedName = object["template_name"] as? String, expectedName != name { return "\(path): template \(name)" }
        var rest = object
        rest["template_id"] = nil
        rest["template_name"] = nil
        return mismatchFields(fields, rest, partial: partial, absentOmitted: absentOmitted, path: path)
    default:
        return "\(path): \(node), expected \(expected)"
    }
}

func mismatchFields(_ fields: [(String, FASTNode)], _ expected: Any, partial: Bool, absentOmitted: Bool, path: String) -> String? {
    guard let object = expected as? [String: Any] else { return "\(path): expected \(expected), got fields" }
    let ours = Dictionary(fields, uniquingKeysWith: { first, _ in first })
    for (name, value) in object {
        guard let node = ours[name] else { return "\(path).\(name): missing" }
        if let problem = mismatch(node, value, partial: partial, absentOmitted: absentOmitted, path: "\(path).\(name)") { return problem }
    }
    if !partial {
        for (name, node) in fields where object[name] == nil {
            if absentOmitted && node == .absent { continue }
            return "\(path).\(name): \(node), not expected"
        }
    }
    return nil
}

@Suite struct FASTVectorTests {
    /// Decodes every case of a vector file with a fresh decoder per case; a list of problems.
    static func run(_ file: String) throws -> (messages: Int, problems: [String]) {
        let data = try Data(contentsOf: URL(fileURLWithPath: samples + "/vectors/" + file))
        let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let cases = try #require(root["cases"] as? [[String: Any]])
        var problems: [String] = []
        var messages = 0
        var loaded: [String: FASTTemplates] = [:]
        for testCase in cases {
            let id = testCase["id"] as? String ?? "?"
            let templatesPath = try #require(testCase["templates"] as? String)
            let templates: FASTTemplates
            do {
                templates = try loaded[templatesPath] ?? FASTTemplates(path: samples + "/" + templatesPath)
                loaded[templatesPath] = templates
            } catch {
                problems.append("\(id): templates: \(error)")
                continue
            }
            let decoder = FASTDecoder(templates: templates)
            var message = FASTMessage()
            for (index, expectation) in (testCase["messages"] as? [[String: Any]] ?? []).enumerated() {
                messages += 1
                var input = bytes(hex: expectation["hex"] as? String ?? "")
                if expectation["preamble"] != nil { input.removeFirst(4) }
                do {
                    let used = try input.withUnsafeBytes { buffer throws(FASTError) in try decoder.decode(buffer, into: &message) }
                    if used != input.count { problems.append("\(id)#\(index): used \(used) of \(input.count) bytes") }
                    if let expectedID = expectation["template_id"] as? NSNumber, "\(message.templateID)" != "\(expectedID)" {
                        problems.append("\(id)#\(index): template \(message.templateID), expected \(expectedID)")
                    }
                    if let expected = expectation["expected"] {
                        if let problem = mismatchFields(message.tree(templates), expected,
                                                        partial: expectation["expected_partial"] as? Bool ?? false,
                                                        absentOmitted: expectation["expected_absent_fields_omitted"] as? Bool ?? false,
                                                        path: "\(id)#\(index)") {
                            problems.append(problem)
                        }
                    }
                } catch {
                    problems.append("\(id)#\(index): \(error)")
                }
            }
        }
        return (messages, problems)
    }

    @Test("FAST 1.1 Appendix 3: every example decodes to the specified values", arguments: ["spec-appendix3.json"])
    func appendix3(_ file: String) throws {
        let (messages, problems) = try Self.run(file)
        #expect(messages == 44)
        #expect(problems.isEmpty, "\(problems.count) problems:\n\(problems.prefix(20).joined(separator: "\n"))")
    }

    @Test("operators, types, sequences, groups and template references from four implementations' tests")
    func operators() throws {
        let (messages, problems) = try Self.run("operators.json")
        #expect(messages == 74)
        #expect(problems.isEmpty, "\(problems.count) problems:\n\(problems.prefix(20).joined(separator: "\n"))")
    }

    @Test("real messages: CME, CQG and MOEX with their production templates")
    func realMessages() throws {
        let (messages, problems) = try Self.run("real-messages.json")
        #expect(messages == 14)
        #expect(problems.isEmpty, "\(problems.count) problems:\n\(problems.prefix(20).joined(separator: "\n"))")
    }

    @Test("goFAST's non-conformant group vector decodes as FAST 1.1 says (the group's own presence map), not as goFAST expects")
    func nonconformantGroup() throws {
        let templates = try FASTTemplates(path: samples + "/gofast-moex-asts/test.xml")
        var message = FASTMessage()
        let input = bytes(hex: "e086818283")
        // Read as FAST 1.1 says, the group's presence map (0x82) has a bit set that no field
        // uses: a reportable error (R8), which a strict decoder (the default) reports...
        #expect(throws: FASTError(.r8, offset: 3, field: nil, "presence map bit 5 is set, but its fields use 1")) {
            try input.withUnsafeBytes { buffer throws(FASTError) in try FASTDecoder(templates: templates).decode(buffer, into: &message) }
        }
        // ...and a lenient one decodes past.
        let decoder = FASTDecoder(templates: templates)
        decoder.reportsOverlong = false
        let used = try input.withUnsafeBytes { buffer throws(FASTError) in try decoder.decode(buffer, into: &message) }
        #expect(used == 5)
        // OuterGroup holds an optional group, so it reads its own presence map (0x82): InnerGroup
        // is absent and 0x83 is OuterTestData. goFAST expects OuterTestData 2 and InnerGroup {3}.
        #expect(message.tree(templates).map { "\($0.0)=\($0.1)" } == ["TestData=1", "OuterGroup={OuterTestData=3 InnerGroup=-}"])
    }
}
