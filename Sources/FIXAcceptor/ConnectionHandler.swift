import Crypto
import FIXCore
import FIXSession
import Ledger
import Logging
import NIOCore
import NIOSSL
import X509

/// One TCP (or TLS) connection: frames FIX messages out of the bytes, binds the
/// connection to its session at Logon, feeds the session, and writes what the session
/// sends only once the write that recorded it is durable.
///
/// Reading is explicit (autoRead off): the handler reads again only while fewer than
/// `pendingWritesMax` writes wait for the ledger and the inbound rate is within the
/// session's MaxMessagesPerSecond, so a fast peer is slowed by TCP, not buffered.
final class ConnectionHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Outputs of one flush, released when their write is durable (and all before it).
    final class Batch {
        let outputs: [SessionOutput]
        let references: [BookingApplication.Reference]
        var done: Bool
        var outcomes: [BookingOutcome] = []
        /// When the first of the batch's inbound messages was read, and how many there are.
        let readAt: Int64
        let messages: Int

        init(outputs: [SessionOutput], references: [BookingApplication.Reference], done: Bool, readAt: Int64, messages: Int) {
            self.outputs = outputs
            self.references = references
            self.done = done
            self.readAt = readAt
            self.messages = messages
        }
    }

    unowned let acceptor: Acceptor
    let port: Int
    let tls: Bool
    let framer: FIXFramer
    let logonTimeout: Int
    private var buffer = ByteBuffer()
    private(set) var runtime: SessionRuntime?
    private var context: ChannelHandlerContext?
    private var batches: [Batch] = []
    private var pendingWrites = 0
    private var closing = false
    private var timer: RepeatedTask?
    private var connectedAt: Int64 = 0
    private var rateWindow: Int64 = 0
    private var rateCount = 0
    private var rateResumeScheduled = false
    /// Read time of the first message not yet in a batch, and the count since.
    private var firstReadAt: Int64 = 0
    private var messagesRead = 0
    private(set) var peer: String?

    init(acceptor: Acceptor, port: Int, tls: Bool) {
        self.acceptor = acceptor
        self.port = port
        self.tls = tls
        framer = FIXFramer(messageSizeMax: acceptor.limits.messageSizeMax)
        logonTimeout = acceptor.logonTimeoutSeconds(port: port)
    }

    var logger: Logger { acceptor.logger }

    // MARK: Channel events

    func channelActive(context: ChannelHandlerContext) {
        self.context = context
        connectedAt = Acceptor.now()
        peer = context.remoteAddress?.description
        address = context.remoteAddress?.ipAddress
        if let why = admissionProblem(context) {
            logger.warning("connection refused: \(why)", metadata: ["peer": "\(peer ?? "?")"])
            context.close(promise: nil)
            return
        }
        acceptor.connections[ObjectIdentifier(self)] = self
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleRepeatedTask(initialDelay: .milliseconds(100), delay: .milliseconds(100)) { _ in
            bound.value.tick()
        }
        context.read()
    }

    /// Why a new connection is not taken, or nil: the connection limit, and the limit on
    /// connections not logged on yet from the peer's address. When too many connections
    /// in all wait to log on, the one that has waited longest is closed to make room: a
    /// platform sends its Logon as soon as it connects, so the longest wait is the least
    /// likely to be one, and idle connections cannot keep a platform out.
    private func admissionProblem(_ context: ChannelHandlerContext) -> String? {
        let limits = acceptor.limits
        let address = context.remoteAddress?.ipAddress
        var waiting: [ConnectionHandler] = []
        var fromAddress = 0
        for connection in acceptor.connections.values where connection.runtime == nil && !connection.closing {
            waiting.append(connection)
            if connection.address == address { fromAddress += 1 }
        }
        if fromAddress >= limits.preLogonConnectionsPerAddressMax { return "too many connections from \(address ?? "?") waiting to log on" }
        if waiting.count >= limits.preLogonConnectionsMax, let oldest = waiting.min(by: { $0.connectedAt < $1.connectedAt }) {
            logger.warning("closing the connection that waited longest to log on, to make room",
                           metadata: ["peer": "\(oldest.peer ?? "?")"])
            oldest.close()
        }
        if acceptor.connections.count >= limits.connectionsMax { return "too many connections" }
        return nil
    }

    /// The peer's IP address, for the per-address limit.
    private var address: String?

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { readIfAllowed() }
        context.fireChannelWritabilityChanged()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        buffer.writeBuffer(&incoming)
        frameMessages()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flush()
        readIfAllowed()
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        acceptor.connections[ObjectIdentifier(self)] = nil
        if let runtime, runtime.connection === self {
            runtime.session.disconnected(now: Acceptor.now())
            flush()
            runtime.connection = nil
            logger.info("disconnected", metadata: ["session": "\(runtime.settings.id)"])
        }
        self.context = nil
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        logger.warning("connection error", metadata: ["peer": "\(peer ?? "?")", "error": "\(error)"])
        context.close(promise: nil)
    }

    func close() {
        closing = true
        context?.close(promise: nil)
    }

    // MARK: Messages

    private func frameMessages() {
        while !closing {
            if let session = runtime?.session, rateLimited(session) { return }
            let frame = buffer.withUnsafeReadableBytes { framer.frame($0) }
            switch frame {
            case .needMoreBytes:
                if buffer.readerIndex > 64 * 1024 { buffer.discardReadBytes() }
                return
            case .skip(let length, let error):
                buffer.moveReaderIndex(forwardBy: length)
                if let runtime {
                    runtime.session.garbled(error, now: Acceptor.now())
                } else {
                    logger.info("garbled data before Logon, disconnecting", metadata: ["peer": "\(peer ?? "?")", "error": "\(error)"])
                    close()
                }
            case .message(let length):
                let now = Acceptor.now()
                if messagesRead == 0 { firstReadAt = now }
                messagesRead += 1
                buffer.withUnsafeReadableBytes { raw in
                    let message = UnsafeRawBufferPointer(rebasing: raw[0..<length])
                    if runtime == nil { bind(message, now: now) }
                    runtime?.session.receive(message, now: now)
                }
                buffer.moveReaderIndex(forwardBy: length)
                rateCount += 1
            }
        }
    }

    /// Past MaxMessagesPerSecond: leave the rest in the buffer until the next second.
    private func rateLimited(_ session: Session) -> Bool {
        let now = Acceptor.now()
        let second = now / 1_000_000_000
        if second != rateWindow {
            rateWindow = second
            rateCount = 0
        }
        guard let limit = runtime?.settings.maxMessagesPerSecond, rateCount >= limit else { return false }
        if !rateResumeScheduled, let context {
            rateResumeScheduled = true
            let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
            let wait = (second + 1) * 1_000_000_000 - now
            context.eventLoop.scheduleTask(in: .nanoseconds(wait)) {
                let handler = bound.value
                handler.rateResumeScheduled = false
                handler.frameMessages()
                handler.flush()
                handler.readIfAllowed()
            }
        }
        return true
    }

    /// The first message names the session: it must be a Logon for a configured one,
    /// not already connected, and over TLS with the right client certificate if the
    /// session is bound to one.
    private func bind(_ raw: UnsafeRawBufferPointer, now: Int64) {
        let parser = FIXParser(options: FIXParserOptions(allowsEmptyValues: true))
        guard let message = try? parser.parse(raw) else {
            logger.info("unreadable first message, disconnecting", metadata: ["peer": "\(peer ?? "?")"])
            close()
            return
        }
        guard message.msgType.equals("A") else {
            logger.info("first message is not a Logon, disconnecting", metadata: ["peer": "\(peer ?? "?")"])
            close()
            return
        }
        if let address, !acceptor.logonAttemptAllowed(from: address, now: now) {
            refuse(reason: "more than \(acceptor.limits.logonAttemptsPerMinuteMax) Logon attempts from \(address) this minute")
            return
        }
        let beginString = message.beginString.string
        let theirs = message[tag: 49]?.string ?? ""
        let ours = message[tag: 56]?.string ?? ""
        guard let runtime = acceptor.runtime(port: port, beginString: beginString, ours: ours, theirs: theirs) else {
            refuse(reason: "unknown session \(beginString):\(ours)->\(theirs) on port \(port)")
            return
        }
        if let problem = certificateProblem(runtime.settings) {
            refuse(reason: problem)
            return
        }
        if let other = runtime.connection, other !== self {
            // A connection silent past its heartbeat interval is likely half-open (the peer
            // gone without a FIN): it is closed, so that the platform's next attempt gets in.
            let silence = now - runtime.session.lastReceivedAt
            let interval = Int64(max(runtime.session.heartBtInt, 1)) * 1_000_000_000
            if silence > interval {
                logger.warning("closing a session's silent connection for a new one",
                               metadata: ["session": "\(runtime.settings.id)", "silentSeconds": "\(silence / 1_000_000_000)"])
                other.close()
            } else {
                logger.warning("second connection for a logged-on session refused",
                               metadata: ["session": "\(runtime.settings.id)", "peer": "\(peer ?? "?")"])
            }
            close()
            return
        }
        if runtime.awaitsResume {
            // After a failed write: from the durable state, once more. If the ledger still
            // cannot write, this Logon's own write fails and the connection closes unanswered.
            do {
                try runtime.store.reload()
            } catch {
                logger.error("logon refused: the ledger cannot be read", metadata: ["error": "\(error)"])
                close()
                return
            }
            acceptor.ledger.resumeSession(runtime.store.key)
            runtime.awaitsResume = false
        }
        self.runtime = runtime
        runtime.connection = self
        runtime.session.connected(now: connectedAt)
        logger.info("connection bound", metadata: ["session": "\(runtime.settings.id)", "peer": "\(peer ?? "?")"])
    }

    /// Nil if the session takes any client (or the certificate is the one it is bound to).
    private func certificateProblem(_ settings: SessionSettings) -> String? {
        guard settings.clientCertificateSubject != nil || settings.clientCertificateFingerprint != nil else { return nil }
        guard tls, let context, let certificate = try? context.pipeline.syncOperations.nioSSL_peerCertificate(),
              let der = try? certificate.toDERBytes() else {
            return "session \(settings.id) needs a client certificate"
        }
        if let expected = settings.clientCertificateFingerprint {
            let fingerprint = SHA256.hash(data: der).map { byte in
                let hex = String(byte, radix: 16)
                return hex.count == 1 ? "0" + hex : hex
            }.joined()
            if fingerprint != expected { return "client certificate fingerprint does not match session \(settings.id)" }
        }
        if let expected = settings.clientCertificateSubject {
            guard let parsed = try? Certificate(derEncoded: der) else { return "unreadable client certificate" }
            let subject = parsed.subject.description
            let commonNames = parsed.subject.flatMap { $0 }.filter { $0.type == .RDNAttributeType.commonName }.map { "\($0.value)" }
            if subject != expected && !commonNames.contains(expected) && !commonNames.map({ "CN=\($0)" }).contains(expected) {
                return "client certificate subject \(subject) does not match session \(settings.id)"
            }
        }
        return nil
    }

    /// A Logon that names no session here, or the wrong certificate: the reason is logged
    /// and the connection closed without a reply, as QuickFIX does, so that a peer that
    /// has not authenticated learns nothing about which CompID or certificate was wrong.
    private func refuse(reason: String) {
        logger.warning("logon refused", metadata: ["peer": "\(peer ?? "?")", "reason": "\(reason)"])
        close()
    }

    // MARK: Durable, then sent

    /// Takes what the session produced, commits its write, and releases the outputs in
    /// order once durable.
    func flush() {
        guard let runtime else { return }
        for event in runtime.session.takeEvents() {
            logger.info("\(event)", metadata: ["session": "\(runtime.settings.id)"])
        }
        let outputs = runtime.session.takeOutput()
        let references = runtime.booking?.takeReferences() ?? []
        let write = runtime.store.take()
        if outputs.isEmpty && write == nil { return }
        let batch = Batch(outputs: outputs, references: references, done: write == nil, readAt: firstReadAt,
                          messages: messagesRead)
        messagesRead = 0
        batches.append(batch)
        if let write, let context {
            pendingWrites += 1
            let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
            let loop = context.eventLoop
            let batchID = ObjectIdentifier(batch)
            acceptor.ledger.commit(write) { result in
                loop.execute { bound.value.committed(batchID, write: write, result: result) }
            }
        } else if let write {
            // The connection is gone: still make the session's state durable.
            acceptor.ledger.commit(write) { _ in }
            batch.done = true
        }
        release()
    }

    private func committed(_ batchID: ObjectIdentifier, write: SessionWrite, result: Result<[BookingOutcome], Error>) {
        pendingWrites -= 1
        runtime?.store.committed(write)
        guard let batch = batches.first(where: { ObjectIdentifier($0) == batchID }) else { return }
        switch result {
        case .success(let outcomes):
            batch.outcomes = outcomes
            batch.done = true
            if batch.messages > 0 {
                acceptor.readToDurable.record(Acceptor.now() - batch.readAt, times: UInt64(batch.messages))
            }
        case .failure(let error):
            // Nothing it caused may go out: the books did not take it. The durable state is
            // the truth: the session goes back to it, so that nothing written after this
            // (the disconnect's own state) moves its numbers past unbooked executions, and
            // the platform is asked again for what was lost.
            logger.error("ledger write failed, disconnecting", metadata: ["error": "\(error)"])
            batches.removeAll()
            if let runtime { storageFailed(runtime) }
            close()
            return
        }
        release()
        readIfAllowed()
    }

    private func storageFailed(_ runtime: SessionRuntime) {
        runtime.awaitsResume = true
        do {
            try runtime.store.reload()
        } catch {
            // Not even readable: nothing this process holds can be trusted for this session.
            logger.critical("the ledger cannot be read after a failed write", metadata: ["error": "\(error)"])
        }
    }

    /// Sends the outputs of finished batches, oldest first.
    private func release() {
        guard let context else {
            batches.removeAll()
            return
        }
        var wrote = false
        var decidedAfterCommit = false
        while let first = batches.first, first.done {
            batches.removeFirst()
            for output in first.outputs {
                switch output {
                case .send(let bytes):
                    guard !closing else { continue }
                    var out = context.channel.allocator.buffer(capacity: bytes.count)
                    out.writeBytes(bytes)
                    context.write(wrapOutboundOut(out), promise: nil)
                    wrote = true
                case .disconnect:
                    guard !closing else { continue }
                    closing = true
                    let channel = context.channel
                    context.writeAndFlush(wrapOutboundOut(channel.allocator.buffer(capacity: 0))).whenComplete { _ in
                        channel.close(promise: nil)
                    }
                }
            }
            if let runtime, let booking = runtime.booking, !first.references.isEmpty {
                booking.committed(first.references, outcomes: first.outcomes, session: runtime.session)
                decidedAfterCommit = true
            }
        }
        if wrote { context.flush() }
        // Acks and rejects decided after the commit go out with a write of their own.
        if decidedAfterCommit && !closing { flush() }
    }

    private func readIfAllowed() {
        guard let context, !closing, pendingWrites < acceptor.limits.pendingWritesMax, !rateResumeScheduled,
              context.channel.isWritable,
              buffer.readableBytes < acceptor.limits.bufferedBytesMax else { return }
        context.read()
    }

    private func tick() {
        let now = Acceptor.now()
        if let runtime {
            runtime.session.tick(now: now)
            runtime.booking?.requestPositionsIfDue(runtime.session, now: now)
            flush()
        } else if now - connectedAt > Int64(logonTimeout) * 1_000_000_000 && !closing {
            logger.info("no Logon within \(logonTimeout) seconds, disconnecting", metadata: ["peer": "\(peer ?? "?")"])
            close()
        }
    }
}
