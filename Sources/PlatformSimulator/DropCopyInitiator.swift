import FIXCore
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL

/// Where and as whom the simulated platform connects.
public struct InitiatorConfiguration: Sendable {
    public var host = "127.0.0.1"
    public var port: Int
    public var beginString = "FIX.4.4"
    public var senderCompID: String
    public var targetCompID: String
    public var heartBtIntSeconds = 30
    /// The client side of TLS; nil for plain TCP.
    public var tls: TLSConfiguration?
    /// The name the server's certificate must carry (TLS only).
    public var serverHostname: String?

    public init(port: Int, senderCompID: String, targetCompID: String) {
        self.port = port
        self.senderCompID = senderCompID
        self.targetCompID = targetCompID
    }
}

extension InitiatorConfiguration {
    /// Mutual TLS: trust the CA in `authority`, present `certificate` and its `key` (PEM
    /// files), and expect the server to be `serverHostname`.
    public mutating func useMutualTLS(authority: String, certificate: String, key: String,
                                      serverHostname: String = "localhost") throws {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .file(authority)
        tls.certificateChain = try NIOSSLCertificate.fromPEMFile(certificate).map { .certificate($0) }
        tls.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
        self.tls = tls
        self.serverHostname = serverHostname
    }
}

/// What one connection of the simulated platform did.
public struct InitiatorReport: Sendable {
    /// ExecutionReports written to the socket.
    public var sent = 0
    /// When the Logon answer arrived and when the acceptor confirmed, through the
    /// Heartbeat answering our final TestRequest, that it had everything before it.
    public var loggedOnAt: Int64 = 0
    public var confirmedAt: Int64 = 0
    /// Session-level and business rejects received.
    public var rejects = 0
    /// Why the connection ended, if not by our own Logout.
    public var failure: String?
    /// The flow as it stood at the end: what was reported (`netPositions()`).
    public var flow: ExecutionFlow?
}

/// A drop-copy platform as a FIX initiator: logs on (resetting sequence numbers, so it
/// needs no message store), streams ExecutionReports from an `ExecutionFlow` at a given
/// rate or as fast as the socket takes them, answers TestRequests, and at the end asks
/// with a TestRequest whether everything arrived before logging out.
///
/// The acceptor answers that TestRequest only after every earlier message is durable in
/// its books, so `confirmedAt - loggedOnAt` is the time to book the whole stream.
/// The platform keeps no message store: a ResendRequest is answered with a GapFill.
public final class DropCopyInitiator: Sendable {
    public let configuration: InitiatorConfiguration
    let logger: Logger

    public init(configuration: InitiatorConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    /// Connects, logs on, sends `count` reports (nil: until `stop` is called or the
    /// connection ends) at `ratePerSecond` (nil: as fast as possible), confirms and logs out.
    public func run(flow: ExecutionFlow, count: Int?, ratePerSecond: Int?, group: EventLoopGroup,
                    control: InitiatorControl = InitiatorControl()) async throws -> InitiatorReport {
        let sslContext = try configuration.tls.map { try NIOSSLContext(configuration: $0) }
        let configuration = configuration
        let logger = logger
        let promise = group.next().makePromise(of: InitiatorReport.self)
        let bootstrap = ClientBootstrap(group: group)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let sslContext {
                        let handler = try NIOSSLClientHandler(context: sslContext, serverHostname: configuration.serverHostname)
                        try channel.pipeline.syncOperations.addHandler(handler)
                    }
                    let handler = InitiatorHandler(configuration: configuration, flow: flow, count: count,
                                                   ratePerSecond: ratePerSecond, control: control, promise: promise,
                                                   logger: logger)
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
        let channel: Channel
        do {
            channel = try await bootstrap.connect(host: configuration.host, port: configuration.port).get()
        } catch {
            promise.fail(error)
            throw error
        }
        do {
            let report = try await promise.futureResult.get()
            try? await channel.close()
            return report
        } catch {
            try? await channel.close()
            throw error
        }
    }
}

/// Watches and stops a running initiator from outside: once stopped it confirms, logs
/// out and returns.
public final class InitiatorControl: Sendable {
    private let stopped = NIOLockedValueBox(false)
    private let paused = NIOLockedValueBox(false)
    private let sentBox = NIOLockedValueBox(0)

    public init() {}

    /// Holds the stream (the session stays logged on, answering what it is asked) until `resume`.
    public func pause() { paused.withLockedValue { $0 = true } }
    public func resume() { paused.withLockedValue { $0 = false } }
    public var isPaused: Bool { paused.withLockedValue { $0 } }

    public func stop() { stopped.withLockedValue { $0 = true } }
    public var isStopped: Bool { stopped.withLockedValue { $0 } }
    /// ExecutionReports written so far, over every run with this control.
    public var sent: Int { sentBox.withLockedValue { $0 } }
    func add(sent count: Int) { sentBox.withLockedValue { $0 += count } }
}

final class InitiatorHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let configuration: InitiatorConfiguration
    var flow: ExecutionFlow
    let count: Int?
    let ratePerSecond: Int?
    let control: InitiatorControl
    let promise: EventLoopPromise<InitiatorReport>
    let logger: Logger
    let encoder: FIXEncoder
    let framer = FIXFramer()
    let parser = FIXParser(options: FIXParserOptions(allowsEmptyValues: true))
    var report = InitiatorReport()
    var buffer = ByteBuffer()
    var nextSeqNum = 1
    var loggedOn = false
    var confirming = false
    var finished = false
    var completed = false
    var startedAt: Int64 = 0
    var lastSent: Int64 = 0
    var pump: RepeatedTask?
    let probeID: String

    init(configuration: InitiatorConfiguration, flow: ExecutionFlow, count: Int?, ratePerSecond: Int?,
         control: InitiatorControl, promise: EventLoopPromise<InitiatorReport>, logger: Logger) {
        self.configuration = configuration
        self.flow = flow
        self.count = count
        self.ratePerSecond = ratePerSecond
        self.control = control
        self.promise = promise
        self.logger = logger
        encoder = FIXEncoder(beginString: configuration.beginString)
        probeID = "CONFIRM-\(flow.prefix)"
    }

    static func now() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec)
    }

    func channelActive(context: ChannelHandlerContext) {
        var out = context.channel.allocator.buffer(capacity: 256)
        writeAdmin("A", into: &out) { encoder in
            encoder.append(98, 0)
            encoder.append(108, self.configuration.heartBtIntSeconds)
            encoder.append(141, true)
        }
        context.writeAndFlush(wrapOutboundOut(out), promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        pump?.cancel()
        finish(failure: finished ? nil : "connection closed by the acceptor")
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        finish(failure: "\(error)")
        context.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        buffer.writeBuffer(&incoming)
        while true {
            let frame = buffer.withUnsafeReadableBytes { framer.frame($0) }
            switch frame {
            case .needMoreBytes:
                buffer.discardReadBytes()
                return
            case .skip(let length, _):
                buffer.moveReaderIndex(forwardBy: length)
            case .message(let length):
                buffer.withUnsafeReadableBytes { raw in
                    guard let message = try? parser.parse(UnsafeRawBufferPointer(rebasing: raw[0..<length])) else { return }
                    handle(message, context: context)
                }
                buffer.moveReaderIndex(forwardBy: length)
            }
        }
    }

    private func handle(_ message: FIXMessage, context: ChannelHandlerContext) {
        let type = message.msgType
        if type.equals("A") {
            guard !loggedOn else { return }
            loggedOn = true
            report.loggedOnAt = Self.now()
            startedAt = report.loggedOnAt
            lastSent = startedAt
            logger.info("demo platform logged on", metadata: ["session": "\(configuration.senderCompID)->\(configuration.targetCompID)"])
            let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
            let contextBound = NIOLoopBound(context, eventLoop: context.eventLoop)
            // Every millisecond: at a set rate, what is due (small bursts, as a busy
            // platform's stream looks); flat out, a chunk whenever the socket takes more.
            pump = context.eventLoop.scheduleRepeatedTask(initialDelay: .zero, delay: .milliseconds(1)) { _ in
                bound.value.send(context: contextBound.value)
            }
        } else if type.equals("1") {
            let id = message[tag: 112].map { Array($0.bytes) } ?? []
            var out = context.channel.allocator.buffer(capacity: 128)
            writeAdmin("0", into: &out) { encoder in
                id.withUnsafeBytes { encoder.append(112, bytes: $0) }
            }
            context.writeAndFlush(wrapOutboundOut(out), promise: nil)
        } else if type.equals("0") {
            if confirming, message[tag: 112]?.string == probeID {
                report.confirmedAt = Self.now()
                var out = context.channel.allocator.buffer(capacity: 128)
                writeAdmin("5", into: &out) { _ in }
                finished = true
                context.writeAndFlush(wrapOutboundOut(out), promise: nil)
            }
        } else if type.equals("2") {
            // No store: fill whatever was asked for with a GapFill up to what comes next.
            let begin = (try? message[tag: 7]?.int()) ?? nextSeqNum
            var out = context.channel.allocator.buffer(capacity: 128)
            writeAdmin("4", seqNum: begin, into: &out) { encoder in
                encoder.append(123, true)
                encoder.append(36, self.nextSeqNum)
            }
            context.writeAndFlush(wrapOutboundOut(out), promise: nil)
        } else if type.equals("5") {
            finish(failure: finished ? nil : "logged out by the acceptor: \(message[tag: 58]?.string ?? "no reason given")")
            context.close(promise: nil)
        } else if type.equals("AN") {
            answerPositionRequest(message, context: context)
        } else if type.equals("3") || type.equals("j") {
            report.rejects += 1
            if report.rejects <= 5 {
                logger.warning("reject from the acceptor", metadata: ["text": "\(message[tag: 58]?.string ?? "")"])
            }
        }
    }

    /// Answers a RequestForPositions as a platform does: a RequestForPositionsAck with the
    /// number of reports, then a PositionReport (end-of-day quantity) per open position.
    private func answerPositionRequest(_ request: FIXMessage, context: ChannelHandlerContext) {
        let requestID = request[tag: 710]?.string ?? ""
        let positions = flow.reportedPositions()
        let now = Self.now()
        let businessDate = FIXDate(daysSinceEpoch: Int(now / 86_400_000_000_000))
        var out = context.channel.allocator.buffer(capacity: 256 * (positions.count + 1))
        writeAdmin("AO", into: &out) { encoder in
            encoder.append(721, "\(requestID)-ACK")
            encoder.append(710, requestID)
            encoder.append(727, positions.count)
            encoder.append(728, positions.isEmpty ? 2 : 0)  // PosReqResult: valid / no positions found
            encoder.append(729, 0)  // PosReqStatus: completed
            encoder.append(1, request[tag: 1]?.string ?? "ALL")
            encoder.append(581, 1)
        }
        for (index, position) in positions.enumerated() {
            writeAdmin("AP", into: &out) { encoder in
                encoder.append(721, "\(requestID)-\(index + 1)")
                encoder.append(710, requestID)
                encoder.append(727, positions.count)
                encoder.append(728, 0)
                encoder.append(715, businessDate)
                encoder.append(1, position.account)
                encoder.append(581, 1)
                encoder.append(55, position.instrument)
                encoder.append(15, position.currency)
                encoder.append(730, position.price)
                encoder.append(731, 1)  // SettlPriceType: final
                encoder.append(734, position.price)
                encoder.append(702, 1)
                encoder.append(703, "FIN")
                encoder.append(704, Int(max(position.quantity, 0)))
                encoder.append(705, Int(max(-position.quantity, 0)))
                encoder.append(753, 1)
                encoder.append(707, "FMTM")
                encoder.append(708, 0)
            }
        }
        context.writeAndFlush(wrapOutboundOut(out), promise: nil)
    }

    /// Writes the reports that are due (all that fit while the socket is writable when
    /// there is no rate), and a Heartbeat when quiet.
    private func send(context: ChannelHandlerContext) {
        guard loggedOn, !confirming else { return }
        let now = Self.now()
        var due: Int
        if let ratePerSecond {
            due = Int((now - startedAt) * Int64(ratePerSecond) / 1_000_000_000) - report.sent
        } else {
            due = context.channel.isWritable ? 1024 : 0
        }
        if let count { due = min(due, count - report.sent) }
        if control.isPaused {
            due = 0
            startedAt = now - Int64(report.sent) * 1_000_000_000 / Int64(max(ratePerSecond ?? 1, 1))
        }
        if due > 0 {
            var out = context.channel.allocator.buffer(capacity: min(due, 4096) * 320)
            let transactTime = FIXTimestamp(nanosecondsSinceEpoch: now, fractionDigits: 3)
            let tradeDate = FIXDate(daysSinceEpoch: Int(now / 86_400_000_000_000))
            var written = 0
            while written < due {
                encoder.start(msgType: "8")
                header(seqNum: nextSeqNum, sendingTime: transactTime)
                flow.appendNextReport(to: encoder, transactTime: transactTime, tradeDate: tradeDate)
                out.writeBytes(encoder.finish())
                nextSeqNum += 1
                written += 1
                if out.readableBytes > 1 << 20 {
                    context.write(wrapOutboundOut(out), promise: nil)
                    out = context.channel.allocator.buffer(capacity: 1 << 20)
                }
            }
            report.sent += written
            control.add(sent: written)
            context.writeAndFlush(wrapOutboundOut(out), promise: nil)
            lastSent = now
        } else if now - lastSent > Int64(configuration.heartBtIntSeconds) * 1_000_000_000 {
            var out = context.channel.allocator.buffer(capacity: 128)
            writeAdmin("0", into: &out) { _ in }
            context.writeAndFlush(wrapOutboundOut(out), promise: nil)
            lastSent = now
        }
        if (count.map { report.sent >= $0 } ?? false) || control.isStopped {
            confirming = true
            var out = context.channel.allocator.buffer(capacity: 128)
            writeAdmin("1", into: &out) { encoder in encoder.append(112, self.probeID) }
            context.writeAndFlush(wrapOutboundOut(out), promise: nil)
        }
    }

    private func header(seqNum: Int, sendingTime: FIXTimestamp) {
        encoder.append(34, seqNum)
        encoder.append(49, configuration.senderCompID)
        encoder.append(52, sendingTime)
        encoder.append(56, configuration.targetCompID)
    }

    /// Writes one message of `type` (admin or, for position reports, application) with
    /// the next sequence number, or as a PossDup GapFill at `seqNum`.
    private func writeAdmin(_ type: String, seqNum: Int? = nil, into out: inout ByteBuffer, body: (FIXEncoder) -> Void) {
        encoder.start(msgType: type)
        let number = seqNum ?? nextSeqNum
        header(seqNum: number, sendingTime: FIXTimestamp(nanosecondsSinceEpoch: Self.now(), fractionDigits: 3))
        if seqNum != nil {
            encoder.append(43, true)
            encoder.append(122, FIXTimestamp(nanosecondsSinceEpoch: Self.now(), fractionDigits: 3))
        }
        body(encoder)
        out.writeBytes(encoder.finish())
        if seqNum == nil { nextSeqNum += 1 }
    }

    private func finish(failure: String?) {
        pump?.cancel()
        guard !completed else { return }
        completed = true
        report.failure = failure
        report.flow = flow
        promise.succeed(report)
    }
}
