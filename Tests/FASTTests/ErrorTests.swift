@testable import FAST
import Foundation
import Testing
import TestSupport

/// Bad templates and bad bytes: a named error with its place, never a crash or a hang.
@Suite struct FASTErrorTests {
    static func templates(_ body: String) throws -> FASTTemplates {
        try FASTTemplates(data: Data("""
            <?xml version="1.0"?>
            <templates xmlns="http://www.fixprotocol.org/ns/fast/td/1.1">
            \(body)
            </templates>
            """.utf8), path: "t.xml")
    }

    static func staticError(_ body: String) -> String {
        do {
            _ = try templates(body)
            return "accepted"
        } catch let error as FASTTemplateError {
            return "\(error.line) \(error.element) \(error.code.rawValue)"
        } catch {
            return "\(error)"
        }
    }

    @Test("template mistakes are named with their line, element and code")
    func staticErrors() {
        #expect(Self.staticError("<template name=\"A\" id=\"1\">\n<string name=\"S\"><increment/></string></template>") == "4 increment S2")
        #expect(Self.staticError("<template name=\"A\" id=\"1\">\n<uInt32 name=\"U\"><copy value=\"-1\"/></uInt32></template>") == "4 copy S3")
        #expect(Self.staticError("<template name=\"A\" id=\"1\">\n<uInt32 name=\"U\"><constant/></uInt32></template>") == "4 constant S4")
        #expect(Self.staticError("<template name=\"A\" id=\"1\">\n<int64 name=\"I\"><default/></int64></template>") == "4 default S5")
        #expect(Self.staticError("<template name=\"A\" id=\"1\">\n<templateRef name=\"Nowhere\"/></template>") == "4 templateRef D8")
        #expect(Self.staticError("<template name=\"A\" id=\"1\"/>\n<template name=\"B\" id=\"1\"/>") == "4 template S1")
        #expect(Self.staticError("<template name=\"A\" id=\"1\"><templateRef name=\"A\"/></template>") == "3 template S1")
        do {
            _ = try FASTTemplates(data: Data("<templates><template".utf8), path: "broken.xml")
            Issue.record("broken XML accepted")
        } catch let error as FASTTemplateError {
            #expect(error.code == .s1 && error.description.contains("broken.xml"))
        } catch {
            Issue.record("\(error)")
        }
        // An optional field may default to nothing; unknown attributes are ignored.
        #expect(Self.staticError("<template name=\"A\" id=\"1\" vendor=\"x\"><int64 name=\"I\" presence=\"optional\" skip=\"y\"><default/></int64></template>") == "accepted")
    }

    static func decode(_ templates: FASTTemplates, _ hex: String, decoder: FASTDecoder? = nil) -> String {
        let decoder = decoder ?? FASTDecoder(templates: templates)
        var message = FASTMessage()
        do {
            let used = try bytes(hex: hex).withUnsafeBytes { buffer throws(FASTError) in try decoder.decode(buffer, into: &message) }
            return "ok \(used): " + message.tree(templates).map { "\($0.0)=\($0.1)" }.joined(separator: " ")
        } catch let error as FASTError {
            return "\(error.code.rawValue) @\(error.offset) \(error.field ?? "-")"
        } catch {
            return "\(error)"
        }
    }

    @Test("decoding errors carry the specification's code, the byte offset and the field")
    func dynamicErrors() throws {
        let t = try Self.templates("""
            <template name="A" id="1">
              <uInt32 name="U"/>
              <string name="S"><delta/></string>
              <uInt32 name="C"><copy/></uInt32>
            </template>
            """)
        #expect(Self.decode(t, "c081") == "truncated @2 U")
        #expect(Self.decode(t, "e0818280c181") == "ok 6: U=2 S=\"A\" C=1")
        #expect(Self.decode(t, "c0fe") == "D9 @2 -")
        #expect(Self.decode(t, "c0810082") == "R6 @4 U")
        // Remove 2 characters from an empty previous value.
        #expect(Self.decode(t, "c0818282c1") == "D7 @5 S")
        // C has no value in the stream (pmap bit 0) and nothing before it.
        #expect(Self.decode(t, "c081808080") == "D5 @5 C")
        // 2^32 does not fit a uInt32.
        #expect(Self.decode(t, "c0811000000080") == "D2 @7 U")
        // A presence-map bit no field uses (the third: only the template id and C have one).
        #expect(Self.decode(t, "f0818280c181") == "R8 @0 -")
        let lax = FASTDecoder(templates: t)
        lax.reportsOverlong = false
        #expect(Self.decode(t, "f0818280c181", decoder: lax) == "ok 6: U=2 S=\"A\" C=1")
        #expect(Self.decode(t, "4080") == "R7 @2 -")
        // The dictionary carries over: C is copied from the message before.
        let decoder = FASTDecoder(templates: t)
        #expect(Self.decode(t, "e0818280c181", decoder: decoder) == "ok 6: U=2 S=\"A\" C=1")
        #expect(Self.decode(t, "c0818381c2", decoder: decoder) == "ok 5: U=3 S=\"B\" C=1")

        // A Unicode tail that leaves the value invalid UTF-8 (a lead byte alone): R2.
        let u = try Self.templates("<template name=\"B\" id=\"2\"><string name=\"U\" charset=\"unicode\"><tail/></string></template>")
        #expect(Self.decode(u, "e08282c3a9").hasPrefix("ok 5"))
        #expect(Self.decode(u, "e08281c3") == "R2 @4 U")
    }

    @Test("random, truncated and corrupted input never crashes or hangs the decoder")
    func hostileInput() throws {
        var rng = SplitMix64(seed: 66)
        var files = ["gofast-moex-asts/test.xml", "mfast/performance_test/example.xml", "rs-fastlib/base.xml",
                     "rs-fastlib/spec2.xml", "rs-fastlib/cqg-templates.xml", "openfast/CME/templates.xml",
                     "moex-hft-templates/FIX50SP2-2017-Mar.xml", "moex-hft-templates/forts_templates.xml"]
        files = files.filter { FileManager.default.fileExists(atPath: samples + "/" + $0) }
        #expect(files.count == 8)
        var message = FASTMessage()
        var outcomes = [0, 0]
        for file in files {
            let templates = try FASTTemplates(path: samples + "/" + file)
            let decoder = FASTDecoder(templates: templates)
            let ids = Array(templates.templates.keys)
            for round in 0..<4_000 {
                // Random bytes, half of them behind a valid pmap and template id.
                var input = (0..<Int.random(in: 0...48, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                if round % 2 == 0, let id = ids.randomElement(using: &rng) {
                    var prefix: [UInt8] = [0xC0]
                    var digits: [UInt8] = []
                    var value = id
                    repeat { digits.insert(UInt8(value & 0x7F), at: 0); value >>= 7 } while value > 0
                    digits[digits.count - 1] |= 0x80
                    prefix += digits
                    input = prefix + input
                }
                if round % 3 == 0 { decoder.reset() }
                let ok: Bool = input.withUnsafeBytes { buffer in (try? decoder.decode(buffer, into: &message)) != nil }
                outcomes[ok ? 0 : 1] += 1
            }
        }
        // Every prefix of a real capture's first messages is an error, not a crash.
        let templates = try FASTTemplates(path: samples + "/gofast-moex-asts/test.xml")
        let data = Array(try Data(contentsOf: URL(fileURLWithPath: samples + "/gofast-moex-asts/data.dat")).prefix(134))
        let record = Array(data[4...])
        for length in 0..<record.count {
            let decoder = FASTDecoder(templates: templates)
            let result: FASTError? = Array(record[0..<length]).withUnsafeBytes { buffer in
                do throws(FASTError) { _ = try decoder.decode(buffer, into: &message); return nil } catch { return error }
            }
            #expect(result?.code == .truncated, "prefix \(length): \(String(describing: result))")
        }
        #expect(outcomes[1] > 0 && outcomes[0] + outcomes[1] == files.count * 4_000)
    }

    @Test("a deeply self-referring dynamic template reference is refused, not a stack overflow")
    func nesting() throws {
        let t = try Self.templates("""
            <template name="Loop" id="1"><uInt32 name="U" presence="optional"/><templateRef/></template>
            """)
        // Each level: pmap c0, template id 81, U null 80; a thousand levels.
        let hex = String(repeating: "c08180", count: 1_000)
        #expect(Self.decode(t, hex).hasPrefix("limit"))
        let empty = try Self.templates("""
            <template name="E" id="2"><sequence name="Q"><length name="N"/><string name="K"><constant value="k"/></string></sequence></template>
            """)
        // Items of constants take no bytes: three is fine, a million is not a real message.
        #expect(Self.decode(empty, "c08283") == "ok 3: Q=[{K=\"k\"}, {K=\"k\"}, {K=\"k\"}]")
        #expect(Self.decode(empty, "c0823d04c0").hasPrefix("limit"))
    }
}
