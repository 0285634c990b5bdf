@testable import FAST
import Foundation
import Testing
import TestSupport

/// Encode, then decode: the same message comes back, over every template of the sample
/// files, as one stream so that the dictionaries are exercised from message to message.
@Suite struct FASTRoundTripTests {
    static let templateFiles = ["gofast-moex-asts/test.xml", "mfast/performance_test/example.xml", "rs-fastlib/base.xml",
                                "rs-fastlib/spec.xml", "rs-fastlib/spec2.xml", "rs-fastlib/cqg-templates.xml",
                                "openfast/CME/templates.xml", "moex-hft-templates/FIX50SP2-2017-Mar.xml",
                                "moex-hft-templates/forts_templates.xml", "mfast/tests/simple12.fixed.xml"]

    /// Random messages that follow a template: constants keep their values, tails keep a
    /// length (a tail cannot shorten a value), deltas stay where 64 bits can carry them.
    struct Generator {
        let templates: FASTTemplates
        var rng: SplitMix64

        mutating func message(_ id: UInt32) -> FASTMessage {
            var message = FASTMessage(templateID: id)
            fill(templates.templates[id]!.block, &message, depth: 0)
            return message
        }

        mutating func coin() -> Bool { Bool.random(using: &rng) }

        mutating func integer(_ type: FASTType, _ op: FlatOperator) -> Int128 {
            let wide = op.kind != .delta && Int.random(in: 0..<8, using: &rng) == 0
            switch type {
            case .int32: return Int128(wide ? [Int32.min, Int32.max].randomElement(using: &rng)! : Int32.random(in: -100_000...100_000, using: &rng))
            case .uInt32: return Int128(wide ? UInt32.max : UInt32.random(in: 0...200_000, using: &rng))
            case .int64: return Int128(wide ? [Int64.min, Int64.max].randomElement(using: &rng)! : Int64.random(in: -(1 << 40)...(1 << 40), using: &rng))
            default: return Int128(wide ? UInt64.max : UInt64.random(in: 0...(1 << 40), using: &rng))
            }
        }

        mutating func text(_ kind: StringKind, length: Int? = nil) -> [UInt8] {
            let count = length ?? Int.random(in: 0...8, using: &rng)
            switch kind {
            case .ascii: return (0..<count).map { _ in UInt8.random(in: 0x21...0x7E, using: &rng) }
            case .unicode: return Array((0..<count).map { _ in ["a", "é", "Ж", "€", "z"].randomElement(using: &rng)! }.joined().utf8)
            case .bytes: return (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) }
            }
        }

        mutating func fill(_ block: Int, _ message: inout FASTMessage, depth: Int) {
            let info = templates.blocks[block]
            for index in info.start..<info.start + info.count {
                let step = templates.steps[index]
                let present = !step.optional || coin()
                let constant = step.op.kind == .constant
                switch step.opcode {
                case .integer:
                    guard present else { message.append(step.field, .absent); continue }
                    let value = constant ? step.op.initialNumber : integer(step.type, step.op)
                    message.append(step.field, DecodingMachine.integerValue(value, step.type))
                case .decimal, .splitDecimal:
                    guard present else { message.append(step.field, .absent); continue }
                    var exponent = Int32.random(in: -4...4, using: &rng)
                    var mantissa = Int64.random(in: -1_000_000_000...1_000_000_000, using: &rng)
                    if constant && step.opcode == .decimal {
                        (mantissa, exponent) = (Int64(step.op.initialNumber), step.op.initialExponent)
                    }
                    if step.opcode == .splitDecimal {
                        if constant { exponent = Int32(step.op.initialNumber) }
                        let mantissaOp = templates.mantissas[Int(step.body)]
                        if mantissaOp.kind == .constant { mantissa = Int64(mantissaOp.initialNumber) }
                    }
                    message.append(step.field, .decimal(mantissa: mantissa, exponent: exponent))
                case .string:
                    guard present else { message.append(step.field, .absent); continue }
                    let initial = Array(templates.constants[Int(step.op.initialStart)..<Int(step.op.initialStart + step.op.initialCount)])
                    let value = constant ? initial
                        : step.op.kind == .tail ? text(step.stringKind, length: max(4, initial.count)) : text(step.stringKind)
                    message.append(step.field, bytes: value)
                case .sequence:
                    guard present else { message.append(step.field, .absent); continue }
                    let count = constant ? Int(step.op.initialNumber) : depth > 2 ? 0 : Int.random(in: 0...2, using: &rng)
                    message.append(step.field, .sequence(count: count))
                    for _ in 0..<count {
                        fill(Int(step.body), &message, depth: depth + 1)
                        message.appendEnd()
                    }
                case .group:
                    guard present else { message.append(step.field, .absent); continue }
                    message.append(step.field, .group)
                    fill(Int(step.body), &message, depth: depth + 1)
                    message.appendEnd()
                case .dynamicReference:
                    // Deep down, a template that refers to no other; else any.
                    let ids = templates.templates.keys.sorted()
                    let id = depth > 2 ? ids.first { !refersDynamically(templates.templates[$0]!.block) } ?? ids[0]
                        : ids.randomElement(using: &rng)!
                    message.append(step.field, .templateRef(id: id))
                    fill(templates.templates[id]!.block, &message, depth: depth + 1)
                    message.appendEnd()
                }
            }
        }

        func refersDynamically(_ block: Int) -> Bool {
            let info = templates.blocks[block]
            return templates.steps[info.start..<info.start + info.count].contains {
                $0.opcode == .dynamicReference || (($0.opcode == .sequence || $0.opcode == .group) && refersDynamically(Int($0.body)))
            }
        }
    }

    @Test("random messages over every template of the sample files survive encoding and decoding", arguments: templateFiles)
    func randomMessages(_ file: String) throws {
        let templates = try FASTTemplates(path: samples + "/" + file)
        var generator = Generator(templates: templates, rng: SplitMix64(seed: UInt64(file.utf8.count) &* 7919))
        let encoder = FASTEncoder(templates: templates)
        let decoder = FASTDecoder(templates: templates)
        var decoded = FASTMessage()
        var problems: [String] = []
        let ids = templates.templates.keys.sorted()
        for round in 0..<max(300, ids.count * 20) {
            // Runs of three messages per template, so the dictionaries carry values over;
            // both sides reset between templates, as sample files such as spec.xml give one
            // key different types in different templates (which would be error D4).
            let id = ids[(round / 3) % ids.count]
            if round % 3 == 0 {
                encoder.reset()
                decoder.reset()
            }
            let message = generator.message(id)
            var bytes: [UInt8] = []
            do {
                try encoder.encode(message, into: &bytes)
                let used = try bytes.withUnsafeBytes { buffer throws(FASTError) in try decoder.decode(buffer, into: &decoded) }
                let want = message.tree(templates).map { "\($0.0)=\($0.1)" }
                let got = decoded.tree(templates).map { "\($0.0)=\($0.1)" }
                if used != bytes.count || want != got || decoded.templateID != id {
                    problems.append("template \(id), round \(round): used \(used) of \(bytes.count)\n want \(want)\n got  \(got)")
                }
            } catch {
                problems.append("template \(id), round \(round): \(error)")
            }
            if problems.count >= 3 { break }
        }
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
    }

    @Test("both captures re-encoded: every message decodes back to itself")
    func captures() throws {
        for (file, templatesFile, framing) in [("gofast-moex-asts/data.dat", "gofast-moex-asts/test.xml", FASTFraming.sequence4),
                                               ("mfast/performance_test/complex30000.dat", "mfast/performance_test/example.xml", .length4)] {
            let templates = try FASTTemplates(path: samples + "/" + templatesFile)
            let data = try Data(contentsOf: URL(fileURLWithPath: samples + "/" + file))
            let decoder = FASTDecoder(templates: templates)
            let encoder = FASTEncoder(templates: templates)
            let second = FASTDecoder(templates: templates)
            var reader = FASTStreamReader(framing: framing)
            var message = FASTMessage()
            var again = FASTMessage()
            var count = 0
            var identical = 0
            var problems: [String] = []
            try data.withUnsafeBytes { buffer in
                while let frame = try reader.next(buffer, decoder: decoder, into: &message) {
                    count += 1
                    var bytes: [UInt8] = []
                    try encoder.encode(message, into: &bytes)
                    if Array(buffer[frame.message]) == bytes { identical += 1 }
                    _ = try bytes.withUnsafeBytes { encoded in try second.decode(encoded, into: &again) }
                    if problems.count < 3, again.tree(templates).map({ "\($0.1)" }) != message.tree(templates).map({ "\($0.1)" }) {
                        problems.append("\(file) message \(count) differs after re-encoding")
                    }
                }
            }
            #expect(problems.isEmpty, "\(problems)")
            #expect(count > 5_000)
            print("\(file): \(count) messages re-encoded, \(identical) byte for byte as captured")
        }
    }
}
