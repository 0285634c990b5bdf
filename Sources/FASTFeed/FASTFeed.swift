import FAST
import Foundation
import NIOCore
import NIOPosix

/// One line of a feed: where its datagrams (or its TCP stream) come from.
public struct FeedLine: Sendable {
    /// UDP: the address to listen on (a multicast group is joined). TCP: the server.
    public var host: String
    public var port: Int
    /// For a multicast group: the local interface's name (e.g. "eth1", "lo"); nil: the default.
    public var interface: String?

    public init(host: String, port: Int, interface: String? = nil) {
        self.host = host
        self.port = port
        self.interface = interface
    }
}

public struct FeedConfiguration: Sendable {
    public enum Transport: Sendable { case udp, tcp }

    public var transport: Transport
    public var framing: FASTFraming
    public var lineA: FeedLine
    /// The second copy of the feed, for arbitration (UDP).
    public var lineB: FeedLine?
    /// Early messages kept while waiting for the ones before them.
    public var window = 1024
    /// How long a gap may wait to be filled by the other line before it is reported.
    public var gapTimeout: TimeAmount = .milliseconds(50)
    /// The largest frame a TCP stream may announce: a larger length (up to 4 GiB in a
    /// 4-byte header) is refused and the stream closed, rather than buffered for.
    public var frameBytesMax = 1 << 20
    /// Reset the FAST dictionaries before every datagram (as exchanges that send one
    /// message per datagram expect); TCP streams keep them.
    public var resetPerPacket = true

    public init(transport: Transport, framing: FASTFraming, lineA: FeedLine, lineB: FeedLine? = nil) {
        self.transport = transport
        self.framing = framing
        self.lineA = lineA
        self.lineB = lineB
    }
}

/// What the feed hands its owner. Called on the feed's event loop, one at a time.
public protocol FASTFeedDelegate: AnyObject, Sendable {
    /// A decoded message, in sequence order (the message is reused after the call).
    func feed(_ feed: FASTFeed, received message: FASTMessage, sequence: UInt64?)
    /// Sequence numbers that neither line delivered in time: the recovery hook (replay
    /// request, snapshot) starts here.
    func feed(_ feed: FASTFeed, missed gap: FeedArbiter<[UInt8]>.Gap)
    /// A datagram or stream that would not decode; the feed goes on with the next one.
    func feed(_ feed: FASTFeed, failed error: FASTError)
}

/// A FAST feed handler: UDP lines (unicast or multicast, arbitrated A/B by the sequence
/// number their framing carries) or a TCP stream, decoded with one set of templates.
/// Everything runs on one event loop, so the arbiter and the decoder need no locks.
public final class FASTFeed: @unchecked Sendable {
    public let configuration: FeedConfiguration
    public let templates: FASTTemplates
    let loop: EventLoop
    weak var delegate: FASTFeedDelegate?
    private var arbiter: FeedArbiter<[UInt8]>
    private let decoder: FASTDecoder
    private var message = FASTMessage()
    private var channels: [Channel] = []
    private var gapSince: NIODeadline?
    private var timer: RepeatedTask?
    private var stream = ByteBuffer()

    public init(configuration: FeedConfiguration, templates: FASTTemplates, loop: EventLoop, delegate: FASTFeedDelegate) {
        self.configuration = configuration
        self.templates = templates
        self.loop = loop
        self.delegate = delegate
        arbiter = FeedArbiter(window: configuration.window)
        decoder = FASTDecoder(templates: templates)
    }

    /// Opens the lines (binds, joins, connects). Throws if one cannot be opened.
    public func start() async throws {
        switch configuration.transport {
        case .udp:
            guard configuration.framing == .sequence4 || configuration.framing == .cme else {
                throw FeedError("UDP feeds are arbitrated by the sequence number their framing carries: use moex or cme framing")
            }
            var lines: [(FeedLine, FeedArbiter<[UInt8]>.Line)] = [(configuration.lineA, .a)]
            if let lineB = configuration.lineB { lines.append((lineB, .b)) }
            for (line, name) in lines { channels.append(try await openUDP(line, name)) }
        case .tcp:
            // A message is decoded only once it has wholly arrived, so that a decode never
            // stops half way with the dictionaries half updated: the framing must say how long.
            guard configuration.framing == .length4 || configuration.framing == .blockSize else {
                throw FeedError("TCP feeds need a framing that gives each message's length: length or block")
            }
            let bootstrap = ClientBootstrap(group: loop).channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(StreamHandler(feed: self))
                }
            }
            channels.append(try await bootstrap.connect(host: configuration.lineA.host, port: configuration.lineA.port).get())
        }
        timer = loop.scheduleRepeatedTask(initialDelay: configuration.gapTimeout, delay: configuration.gapTimeout) { [weak self] _ in
            self?.checkGap()
        }
    }

    public func stop() async {
        timer?.cancel()
        for channel in channels { try? await channel.close() }
        channels.removeAll()
        try? await loop.submit { self.flushGaps() }.get()
    }

    /// The ports the lines listen on (useful when configured with port 0).
    public var boundPorts: [Int] { channels.compactMap { $0.localAddress?.port } }

    private func openUDP(_ line: FeedLine, _ name: FeedArbiter<[UInt8]>.Line) async throws -> Channel {
        let address = try SocketAddress(ipAddress: line.host, port: line.port)
        let multicast = Self.isMulticast(address)
        let bootstrap = DatagramBootstrap(group: loop)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelOption(.socketOption(.so_rcvbuf), value: 8 << 20)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(DatagramHandler(feed: self, line: name))
                }
            }
        let channel = try await bootstrap.bind(host: multicast ? "0.0.0.0" : line.host, port: line.port).get()
        if multicast {
            guard let multicastChannel = channel as? MulticastChannel else { throw FeedError("\(line.host): no multicast support") }
            var device: NIONetworkDevice?
            if let interface = line.interface {
                device = try System.enumerateDevices().first { $0.name == interface && $0.address?.protocol == .inet }
                guard device != nil else { throw FeedError("no IPv4 interface named \(interface)") }
            }
            try await multicastChannel.joinGroup(address, device: device).get()
        }
        return channel
    }

    static func isMulticast(_ address: SocketAddress) -> Bool {
        guard case .v4(let v4) = address else { return false }
        let first = UInt32(bigEndian: v4.address.sin_addr.s_addr) >> 24
        return (224...239).contains(first)
    }

    // MARK: On the loop

    func datagram(_ bytes: [UInt8], line: FeedArbiter<[UInt8]>.Line) {
        let headerSize = configuration.framing == .cme ? 5 : 4
        guard bytes.count > headerSize else {
            delegate?.feed(self, failed: FASTError(.truncated, offset: 0, field: nil, "a \(bytes.count)-byte datagram"))
            return
        }
        let sequence = UInt64(UInt32(bytes[0]) | UInt32(bytes[1]) << 8 | UInt32(bytes[2]) << 16 | UInt32(bytes[3]) << 24)
        handle(arbiter.receive(sequence, line: line, payload: bytes))
        if arbiter.missing == nil {
            gapSince = nil
        } else if gapSince == nil {
            gapSince = .now()
        }
    }

    private func handle(_ events: [FeedArbiter<[UInt8]>.Event]) {
        for event in events {
            switch event {
            case .gap(let gap):
                delegate?.feed(self, missed: gap)
            case .deliver(let sequence, _, let payload):
                if configuration.resetPerPacket { decoder.reset() }
                payload.withUnsafeBytes { buffer in
                    var reader = FASTStreamReader(framing: configuration.framing)
                    do throws(FASTError) {
                        guard try reader.next(buffer, decoder: decoder, into: &message) != nil else { return }
                        delegate?.feed(self, received: message, sequence: sequence)
                        // More messages in the same datagram follow without a preamble.
                        var offset = reader.offset
                        while offset < buffer.count {
                            offset += try decoder.decode(UnsafeRawBufferPointer(rebasing: buffer[offset...]), into: &message)
                            delegate?.feed(self, received: message, sequence: sequence)
                        }
                    } catch {
                        delegate?.feed(self, failed: error)
                    }
                }
            }
        }
    }

    private func checkGap() {
        guard let since = gapSince, NIODeadline.now() - since >= configuration.gapTimeout else { return }
        flushGaps()
    }

    private func flushGaps() {
        handle(arbiter.flush())
        gapSince = nil
    }

    /// Takes a TCP stream's bytes; false when the stream must be closed (a frame beyond
    /// `frameBytesMax`: nothing after it can be framed).
    func streamBytes(_ buffer: inout ByteBuffer) -> Bool {
        stream.writeBuffer(&buffer)
        let announced = stream.withUnsafeReadableBytes { FASTStreamReader.frameSize(configuration.framing, $0) }
        if let announced, announced > configuration.frameBytesMax {
            delegate?.feed(self, failed: FASTError(.limit, offset: 0, field: nil,
                                                   "a \(announced)-byte frame is announced; the most a stream may send is \(configuration.frameBytesMax)"))
            stream.clear()
            return false
        }
        while true {
            let outcome: Int? = stream.withUnsafeReadableBytes { bytes in
                // Decode only a frame that has wholly arrived.
                guard let size = FASTStreamReader.frameSize(configuration.framing, bytes), size <= bytes.count else { return nil }
                var reader = FASTStreamReader(framing: configuration.framing)
                do throws(FASTError) {
                    if let frame = try reader.next(UnsafeRawBufferPointer(rebasing: bytes[0..<size]), decoder: decoder, into: &message) {
                        delegate?.feed(self, received: message, sequence: frame.sequenceNumber.map(UInt64.init))
                    }
                } catch {
                    delegate?.feed(self, failed: error)
                }
                return size
            }
            guard let outcome else { break }
            stream.moveReaderIndex(forwardBy: outcome)
            let next = stream.withUnsafeReadableBytes { FASTStreamReader.frameSize(configuration.framing, $0) }
            if let next, next > configuration.frameBytesMax {
                delegate?.feed(self, failed: FASTError(.limit, offset: 0, field: nil,
                                                       "a \(next)-byte frame is announced; the most a stream may send is \(configuration.frameBytesMax)"))
                stream.clear()
                return false
            }
        }
        stream.discardReadBytes()
        return true
    }
}

public struct FeedError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

final class DatagramHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let feed: FASTFeed
    let line: FeedArbiter<[UInt8]>.Line

    init(feed: FASTFeed, line: FeedArbiter<[UInt8]>.Line) {
        self.feed = feed
        self.line = line
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        feed.datagram(Array(envelope.data.readableBytesView), line: line)
    }
}

final class StreamHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    let feed: FASTFeed

    init(feed: FASTFeed) { self.feed = feed }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        if !feed.streamBytes(&buffer) { context.close(promise: nil) }
    }
}
