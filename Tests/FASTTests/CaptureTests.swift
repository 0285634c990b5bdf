@testable import FAST
import Foundation
import Testing

/// Whole capture files, decoded message after message with one decoder.
@Suite struct FASTCaptureTests {
    static func value(_ fields: [(String, FASTNode)], _ name: String) -> FASTNode? { fields.first { $0.0 == name }?.1 }

    @Test("MOEX ASTS trades (goFAST data.dat): 5,020 messages, each preamble equals its MsgSeqNum, the file used exactly")
    func moexTrades() throws {
        let templates = try FASTTemplates(path: samples + "/gofast-moex-asts/test.xml")
        let data = try Data(contentsOf: URL(fileURLWithPath: samples + "/gofast-moex-asts/data.dat"))
        #expect(data.count == 517_567)
        let decoder = FASTDecoder(templates: templates)
        var reader = FASTStreamReader(framing: .sequence4)
        var message = FASTMessage()
        var count = 0
        var entries = 0
        var mismatched: [String] = []
        var first: [(String, FASTNode)] = []
        var last: [(String, FASTNode)] = []
        try data.withUnsafeBytes { buffer in
            while let frame = try reader.next(buffer, decoder: decoder, into: &message) {
                count += 1
                let tree = message.tree(templates)
                if count == 1 { first = tree }
                last = tree
                if case .sequence(let items)? = Self.value(tree, "GroupMDEntries") { entries += items.count }
                if Self.value(tree, "MsgSeqNum") != .uint(UInt64(frame.sequenceNumber ?? 0)), mismatched.count < 5 {
                    mismatched.append("frame at \(frame.offset): preamble \(frame.sequenceNumber ?? 0), \(Self.value(tree, "MsgSeqNum") ?? .absent)")
                }
            }
        }
        #expect(reader.offset == data.count)
        #expect(count == 5_020 && entries == 6_737)
        #expect(mismatched.isEmpty, "\(mismatched)")
        #expect(Self.value(first, "MsgSeqNum") == .uint(91_650) && Self.value(last, "MsgSeqNum") == .uint(104_185))
        guard case .sequence(let trades)? = Self.value(first, "GroupMDEntries") else { Issue.record("no entries"); return }
        #expect(trades.count == 2)
        #expect(trades.map { Self.value($0, "Symbol") } == [.string("AFLT"), .string("AFLT")])
        #expect(trades.map { Self.value($0, "MDEntryPx") } == [.decimal(mantissa: 7478, exponent: -2), .decimal(mantissa: 7478, exponent: -2)])
        #expect(trades.map { Self.value($0, "MDEntrySize") } == [.decimal(mantissa: 9, exponent: 0), .decimal(mantissa: 3, exponent: 0)])
        #expect(trades.map { Self.value($0, "TradeValue") } == [.decimal(mantissa: 67_302, exponent: -1), .decimal(mantissa: 22_434, exponent: -1)])
    }

    @Test("mFAST complex30000.dat: 30,001 length-framed messages; reset=\"Y\" resets before each MarketData")
    func mfastComplex() throws {
        let templates = try FASTTemplates(path: samples + "/mfast/performance_test/example.xml")
        let data = try Data(contentsOf: URL(fileURLWithPath: samples + "/mfast/performance_test/complex30000.dat"))
        let decoder = FASTDecoder(templates: templates)
        var reader = FASTStreamReader(framing: .length4)
        var message = FASTMessage()
        var byTemplate: [UInt32: Int] = [:]
        var trees: [[(String, FASTNode)]] = []
        var lastID: UInt32 = 0
        try data.withUnsafeBytes { buffer in
            while try reader.next(buffer, decoder: decoder, into: &message) != nil {
                byTemplate[message.templateID, default: 0] += 1
                lastID = message.templateID
                if trees.count < 4 { trees.append(message.tree(templates)) }
            }
        }
        #expect(reader.offset == data.count)
        #expect(byTemplate == [1: 29_700, 2: 300, 99: 1] && lastID == 99)
        #expect(Self.value(trees[0], "MsgSeqNum") == .uint(1))
        guard case .sequence(let second)? = Self.value(trees[1], "MDEntries"), case .sequence(let third)? = Self.value(trees[2], "MDEntries") else {
            Issue.record("no MDEntries"); return
        }
        #expect(Self.value(trees[1], "TradeDate") == .uint(20_100_209))
        #expect(Self.value(second[0], "SecurityID") == .uint(1))
        #expect(Self.value(second[0], "MDEntryPx") == .decimal(mantissa: 26, exponent: 0))
        #expect(Self.value(second[0], "MDEntrySize") == .int(11))
        #expect(Self.value(second[0], "NumberOfOrders") == .uint(2) && Self.value(second[1], "NumberOfOrders") == .uint(3))
        #expect(Self.value(third[0], "SecurityID") == .uint(2) && Self.value(third[0], "MDEntryPx") == .decimal(mantissa: 27, exponent: 0))
        #expect(Self.value(third[0], "MDEntrySize") == .int(12))
    }
}
