import FAST
@testable import FASTFeed
import FASTTestSupport
import Foundation
import NIOCore
import NIOPosix
import Testing

/// What the feed handed over.
final class Collector: FASTFeedDelegate, @unchecked Sendable {
    let templates: FASTTemplates
    private let lock = NSLock()
    private var _sequences: [UInt64] = []
    private var _seqNums: [UInt64: String] = [:]
    private var _gaps: [FeedArbiter<[UInt8]>.Gap] = []
    private var _failures: [FASTError] = []
    private var _messages = 0

    // Read from the test while the feed's loop writes: under the lock.
    var sequences: [UInt64] { lock.withLock { _sequences } }
    var seqNums: [UInt64: String] { lock.withLock { _seqNums } }
    var gaps: [FeedArbiter<[UInt8]>.Gap] { lock.withLock { _gaps } }
    var failures: [FASTError] { lock.withLock { _failures } }
    var messages: Int { lock.withLock { _messages } }

    init(templates: FASTTemplates) { self.templates = templates }

    func feed(_ feed: FASTFeed, received message: FASTMessage, sequence: UInt64?) {
        let seqNum = message.tree(templates).first { $0.0 == "MsgSeqNum" }.map { "\($0.1)" } ?? "-"
        lock.withLock {
            _messages += 1
            if let sequence {
                _sequences.append(sequence)
                _seqNums[sequence] = seqNum
            }
        }
    }

    func feed(_ feed: FASTFeed, missed gap: FeedArbiter<[UInt8]>.Gap) { lock.withLock { _gaps.append(gap) } }
    func feed(_ feed: FASTFeed, failed error: FASTError) { lock.withLock { _failures.append(error) } }
}

@Suite(.serialized) struct FASTFeedTests {
    @Test("two UDP lines, each losing datagrams: arbitration delivers every number either line has, in order; the rest are gaps")
    func arbitratedLines() async throws {
        // 2,000 records: both lines' datagrams fit the kernel's receive buffers even when the
        // event loop is starved by other tests running beside this one.
        let records = Array(try moexRecords().prefix(2_000))
        let templates = try FASTTemplates(path: samples + "/gofast-moex-asts/test.xml")
        let collector = Collector(templates: templates)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let (portA, portB) = (freeUDPPort(), freeUDPPort())
        var configuration = FeedConfiguration(transport: .udp, framing: .sequence4,
                                              lineA: FeedLine(host: "127.0.0.1", port: portA), lineB: FeedLine(host: "127.0.0.1", port: portB))
        // One line may run well behind the other on a busy machine: wait long enough for it.
        configuration.window = 8_192
        configuration.gapTimeout = .seconds(3)
        let feed = FASTFeed(configuration: configuration, templates: templates, loop: group.next(), delegate: collector)
        try await feed.start()
        // Line A loses every 7th from the 3rd, line B every 11th from the 5th: both lose some.
        func dropsA(_ index: Int) -> Bool { index % 7 == 3 }
        func dropsB(_ index: Int) -> Bool { index % 11 == 5 }
        let sender = Sender()
        for (index, record) in records.enumerated() {
            if !dropsA(index) { sender.send(record.datagram, to: "127.0.0.1", port: portA) }
            if !dropsB(index) { sender.send(record.datagram, to: "127.0.0.1", port: portB) }
            // Paced, so that the kernel's receive buffers never overflow: the only losses are
            // ours. About four datagrams a millisecond: a loopback socket's default buffer
            // (about 200 of them) then outlasts 50 ms of a starved event loop, which a loaded
            // CI machine produced at ten a millisecond (a burst lost on line B, once).
            if index % 2 == 1 { try await Task.sleep(for: .milliseconds(1)) }
        }
        sender.close()
        let lost = records.indices.filter { dropsA($0) && dropsB($0) }.map { UInt64($0 + 1) }
        // Everything either line had arrives once the gap timer has given up on the rest.
        for _ in 0..<300 where collector.sequences.count + lost.count < records.count {
            try await Task.sleep(for: .milliseconds(100))
        }
        await feed.stop()
        try await group.shutdownGracefully()

        let expected = records.indices.map { UInt64($0 + 1) }.filter { !lost.contains($0) }
        #expect(collector.failures.isEmpty, "\(collector.failures.prefix(3))")
        let delivered = collector.sequences
        #expect(delivered == expected, "\(delivered.count) delivered, \(expected.count) expected; missing \(Array(Set(expected).subtracting(delivered)).sorted().prefix(10))")
        #expect(collector.gaps.map(\.first) == lost && collector.gaps.allSatisfy { $0.first == $0.last },
                "gaps \(collector.gaps.prefix(10)), lost \(lost.prefix(10))")
        // Each delivered message is the record that number stood for.
        let wrong = expected.filter { collector.seqNums[$0] != "\(records[Int($0) - 1].seqNum)" }
        #expect(wrong.isEmpty, "\(wrong.prefix(5))")
    }

    @Test("a multicast line: the group is joined on the default interface and every datagram decoded")
    func multicast() async throws {
        let records = Array(try moexRecords().prefix(300))
        let templates = try FASTTemplates(path: samples + "/gofast-moex-asts/test.xml")
        let collector = Collector(templates: templates)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let port = freeUDPPort()
        let configuration = FeedConfiguration(transport: .udp, framing: .sequence4,
                                              lineA: FeedLine(host: "239.255.42.7", port: port))
        let feed = FASTFeed(configuration: configuration, templates: templates, loop: group.next(), delegate: collector)
        try await feed.start()
        let sender = Sender(multicastInterface: nil)
        for (index, record) in records.enumerated() {
            sender.send(record.datagram, to: "239.255.42.7", port: port)
            if index % 50 == 49 { try await Task.sleep(for: .milliseconds(2)) }
        }
        sender.close()
        for _ in 0..<100 where collector.sequences.count < records.count { try await Task.sleep(for: .milliseconds(100)) }
        await feed.stop()
        try await group.shutdownGracefully()
        #expect(collector.sequences == (1...300).map { UInt64($0) }, "\(collector.sequences.count) delivered")
        #expect(collector.gaps.isEmpty && collector.failures.isEmpty)
    }

    @Test("a TCP stream in odd-sized chunks: every length-framed message decoded once, dictionaries kept")
    func tcpStream() async throws {
        let data = Array(try Data(contentsOf: URL(fileURLWithPath: samples + "/mfast/performance_test/complex30000.dat")))
        let templates = try FASTTemplates(path: samples + "/mfast/performance_test/example.xml")
        let collector = Collector(templates: templates)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    // Writes the capture in chunks of 1 to 5,000 bytes.
                    var offset = 0
                    var size = 1
                    while offset < data.count {
                        let end = min(data.count, offset + size)
                        channel.writeAndFlush(channel.allocator.buffer(bytes: data[offset..<end]), promise: nil)
                        offset = end
                        size = size * 7 % 5_003 + 1
                    }
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        var configuration = FeedConfiguration(transport: .tcp, framing: .length4,
                                              lineA: FeedLine(host: "127.0.0.1", port: server.localAddress!.port!))
        configuration.resetPerPacket = false
        let feed = FASTFeed(configuration: configuration, templates: templates, loop: group.next(), delegate: collector)
        try await feed.start()
        for _ in 0..<200 where collector.messages < 30_001 { try await Task.sleep(for: .milliseconds(50)) }
        await feed.stop()
        try await server.close()
        try await group.shutdownGracefully()
        #expect(collector.messages == 30_001 && collector.failures.isEmpty)

        var udp = FeedConfiguration(transport: .tcp, framing: .sequence4, lineA: FeedLine(host: "127.0.0.1", port: 1))
        udp.resetPerPacket = false
        let refused = FASTFeed(configuration: udp, templates: templates, loop: MultiThreadedEventLoopGroup.singleton.next(), delegate: collector)
        await #expect(throws: FeedError.self) { try await refused.start() }
    }

    @Test("a TCP stream announcing a frame beyond the limit is closed with a clear failure, not buffered for")
    func oversizedFrame() async throws {
        let templates = try FASTTemplates(path: samples + "/mfast/performance_test/example.xml")
        let collector = Collector(templates: templates)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        final class Flag: @unchecked Sendable {
            private let lock = NSLock()
            private var value = false
            func set() { lock.withLock { value = true } }
            var isSet: Bool { lock.withLock { value } }
        }
        let closed = Flag()
        let server = try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.closeFuture.whenComplete { _ in closed.set() }
                return channel.eventLoop.makeCompletedFuture {
                    // A 4-byte length of 2^31: the old reader would wait for 2 GiB.
                    channel.writeAndFlush(channel.allocator.buffer(bytes: [0x00, 0x00, 0x00, 0x80, 0x01, 0x02]), promise: nil)
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        var configuration = FeedConfiguration(transport: .tcp, framing: .length4,
                                              lineA: FeedLine(host: "127.0.0.1", port: server.localAddress!.port!))
        configuration.resetPerPacket = false
        let feed = FASTFeed(configuration: configuration, templates: templates, loop: group.next(), delegate: collector)
        try await feed.start()
        for _ in 0..<100 where !closed.isSet { try await Task.sleep(for: .milliseconds(50)) }
        await feed.stop()
        try await server.close()
        try await group.shutdownGracefully()
        #expect(closed.isSet, "the stream was kept open")
        #expect(collector.failures.contains { "\($0)".contains("frame is announced") }, "\(collector.failures)")
    }
}
