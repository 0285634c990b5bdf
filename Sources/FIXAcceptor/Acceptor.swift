import FIXCore
import FIXDictionary
import FIXSession
import Foundation
import Ledger
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle

/// Limits that keep a hostile or slow peer from growing memory without bound.
public struct AcceptorLimits: Sendable {
    /// The largest FIX message accepted, in bytes.
    public var messageSizeMax = 64 * 1024
    /// Open connections at once, logged on or not.
    public var connectionsMax = 256
    /// Connections that have not logged on yet, in all and from one address: the rest of
    /// `connectionsMax` is kept for sessions, so idle connections cannot starve a platform.
    public var preLogonConnectionsMax = 64
    public var preLogonConnectionsPerAddressMax = 8
    /// Bytes written to a connection and not yet taken by its peer beyond which the
    /// acceptor stops reading from it (a peer that asks and never reads is not buffered for).
    public var outboundBytesMax = 1024 * 1024
    /// Logons one IP address may attempt in a minute (a platform reconnecting every second
    /// makes 60); more are closed unanswered until the minute is over.
    public var logonAttemptsPerMinuteMax = 120
    /// Writes a connection may have waiting for the ledger before it stops reading.
    public var pendingWritesMax = 4
    /// Bytes a connection may hold unframed before it stops reading.
    public var bufferedBytesMax = 4 * 1024 * 1024

    public init() {}

    /// Defaults, overridden by the [DEFAULT] block's MaxMessageSize and MaxConnections.
    public init(settings file: SettingsFile) throws {
        self.init()
        func integer(_ key: String, _ range: ClosedRange<Int>) throws -> Int? {
            guard let value = file.defaults.values[key] else { return nil }
            guard let number = Int(value), range.contains(number) else {
                throw SettingsError(file: file.path, line: file.defaults.lines[key] ?? 0, section: "DEFAULT", key: key,
                                    why: "'\(value)' is not a whole number from \(range.lowerBound) to \(range.upperBound)")
            }
            return number
        }
        if let size = try integer("MaxMessageSize", 256...16 * 1024 * 1024) { messageSizeMax = size }
        if let count = try integer("MaxConnections", 1...65_535) { connectionsMax = count }
        if let count = try integer("MaxPreLogonConnections", 1...65_535) { preLogonConnectionsMax = count }
        if let count = try integer("MaxPreLogonConnectionsPerAddress", 1...65_535) { preLogonConnectionsPerAddressMax = count }
        if let bytes = try integer("MaxOutboundBytes", 65_536...1 << 30) { outboundBytesMax = bytes }
        if let count = try integer("MaxLogonAttemptsPerMinute", 1...1_000_000) { logonAttemptsPerMinuteMax = count }
    }
}

/// The FIX acceptor: listens on the sessions' ports (TLS unless a session says
/// otherwise), binds each connection to its session at Logon, runs the session state
/// machine and commits every inbound message's effects (sequence number, audit,
/// bookings) before anything it caused is sent.
///
/// All sessions and connections live on one event loop: the state machines need no
/// locks, and the ledger's writer thread, not the network, is the bottleneck.
public final class Acceptor: @unchecked Sendable {
    public let ledger: Ledger
    public let limits: AcceptorLimits
    let logger: Logger
    let group: MultiThreadedEventLoopGroup
    let loop: EventLoop
    let sessionSettings: [SessionSettings]
    /// By port, BeginString, our CompID and theirs. Touched on `loop` only.
    var runtimes: [RuntimeKey: SessionRuntime] = [:]
    var connections: [ObjectIdentifier: ConnectionHandler] = [:]
    /// Logon attempts by address in the current minute (`logonMinute`). Touched on `loop` only.
    var logonAttempts: [String: Int] = [:]
    var logonMinute: Int64 = 0

    /// Counts a Logon attempt from `address`; false if the address is over its share this minute.
    func logonAttemptAllowed(from address: String, now: Int64) -> Bool {
        let minute = now / 60_000_000_000
        if minute != logonMinute {
            logonMinute = minute
            logonAttempts.removeAll(keepingCapacity: true)
        }
        let count = (logonAttempts[address] ?? 0) + 1
        logonAttempts[address] = count
        return count <= limits.logonAttemptsPerMinuteMax
    }
    private var serverChannels: [Channel] = []
    /// Per inbound message, the time from reading it off the socket to the durable commit
    /// of what it caused. Touched on `loop` only.
    var readToDurable = LatencyHistogram()
    private let tlsContexts: [Int: NIOSSLContext]
    public private(set) var boundPorts: [Int] = []

    struct RuntimeKey: Hashable {
        let port: Int
        let beginString: String
        let ours: String
        let theirs: String
    }

    /// What runs behind every session: Counterfoil's booking, or the echo QuickFIX's
    /// acceptance suite expects (`counterfoil conformance-server`).
    public enum Application: Sendable {
        case booking
        case conformance
    }

    public init(sessions: [SessionSettings], ledger: Ledger, limits: AcceptorLimits = AcceptorLimits(), logger: Logger,
                application kind: Application = .booking) throws {
        self.ledger = ledger
        self.limits = limits
        self.logger = logger
        sessionSettings = sessions
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        loop = group.next()
        var contexts: [Int: NIOSSLContext] = [:]
        var byPort: [Int: SessionSettings] = [:]
        for settings in sessions {
            if let first = byPort[settings.acceptPort] {
                guard first.useTLS == settings.useTLS, first.serverCertificateFile == settings.serverCertificateFile,
                      first.certificateVerifyLevel == settings.certificateVerifyLevel else {
                    throw AcceptorError("sessions \(first.id) and \(settings.id) share port \(settings.acceptPort) but not its TLS settings")
                }
                guard first.acceptAddress == settings.acceptAddress else {
                    throw AcceptorError("sessions \(first.id) and \(settings.id) share port \(settings.acceptPort) but not its SocketAcceptAddress")
                }
                continue
            }
            byPort[settings.acceptPort] = settings
            if settings.useTLS { contexts[settings.acceptPort] = try Acceptor.tlsContext(settings) }
        }
        tlsContexts = contexts
        let clock = Acceptor.now
        for settings in sessions {
            let validator = try Acceptor.validator(settings)
            let store = try LedgerSessionStore(ledger: ledger, key: settings.id.description)
            let booking: BookingApplication?
            let application: SessionApplication
            switch kind {
            case .conformance:
                application = ConformanceApplication(application: validator?.application)
                booking = nil
            case .booking:
                let app = BookingApplication(store: store, settings: settings, clock: clock)
                booking = app
                application = app
            }
            let configuration = SessionConfiguration(settings: settings, validator: validator)
            let session = Session(configuration: configuration, store: store, application: application)
            session.logonTimeoutSeconds = settings.logonTimeoutSeconds
            let key = RuntimeKey(port: settings.acceptPort, beginString: settings.id.beginString,
                                 ours: settings.id.senderCompID, theirs: settings.id.targetCompID)
            runtimes[key] = SessionRuntime(settings: settings, session: session, store: store, application: application, booking: booking)
        }
    }

    /// Wall-clock nanoseconds since the epoch.
    static func now() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec)
    }

    static func validator(_ settings: SessionSettings) throws -> FIXValidator? {
        var options = FIXValidationOptions()
        options.validateIncomingMessage = settings.validateIncomingMessage
        options.validateFieldsOutOfOrder = settings.validateFieldsOutOfOrder
        options.validateFieldsHaveValues = settings.validateFieldsHaveValues
        options.validateUserDefinedFields = settings.validateUserDefinedFields
        options.allowUnknownMessageFields = settings.allowUnknownMessageFields
        options.validateUnorderedGroupFields = settings.validateUnorderedGroupFields
        options.allowUnknownEnumValues = settings.allowUnknownEnumValues
        func load(_ path: String) throws -> FIXDataDictionary {
            let (dictionary, defects) = try FIXDataDictionary.load(path: path)
            if let defect = defects.first {
                throw AcceptorError("session \(settings.id): dictionary \(path) has defects, first: \(defect)")
            }
            return dictionary
        }
        if let transport = settings.transportDataDictionary, let application = settings.appDataDictionary {
            return FIXValidator(application: try load(application), transport: try load(transport), options: options)
        }
        if let path = settings.dataDictionary {
            return FIXValidator(application: try load(path), options: options)
        }
        return nil
    }

    static func tlsContext(_ settings: SessionSettings) throws -> NIOSSLContext {
        guard let certificateFile = settings.serverCertificateFile, let keyFile = settings.serverCertificateKeyFile else {
            throw AcceptorError("session \(settings.id): TLS needs ServerCertificateFile and ServerCertificateKeyFile")
        }
        let chain = try NIOSSLCertificate.fromPEMFile(certificateFile).map { NIOSSLCertificateSource.certificate($0) }
        let key = try NIOSSLPrivateKey(file: keyFile, format: .pem)
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        if let authorities = settings.certificationAuthoritiesFile {
            configuration.trustRoots = .file(authorities)
        }
        switch settings.certificateVerifyLevel {
        case 1: configuration.certificateVerification = .noHostnameVerification
        case 2: configuration.certificateVerification = .optionalVerification
        default: configuration.certificateVerification = .none
        }
        return try NIOSSLContext(configuration: configuration)
    }

    /// Binds every session's port. Throws if one cannot be bound.
    /// How long a connection on `port` may go without a Logon: the longest LogonTimeout
    /// of the sessions there (the session is not known until the Logon names it).
    func logonTimeoutSeconds(port: Int) -> Int {
        sessionSettings.filter { $0.acceptPort == port }.map(\.logonTimeoutSeconds).max() ?? 10
    }

    public func start() async throws {
        for settings in sessionSettings where settings.allowsAnyClientCertificate && settings.useTLS && settings.certificateVerifyLevel >= 1
            && settings.clientCertificateSubject == nil && settings.clientCertificateFingerprint == nil {
            logger.warning("session \(settings.id) takes any client certificate its CA signed (AllowAnyClientCertificate=Y)")
        }
        let ports = Set(sessionSettings.map(\.acceptPort)).sorted()
        for port in ports {
            let tls = tlsContexts[port]
            let bootstrap = ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 256)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                // A peer that vanished without a FIN is found by the kernel too.
                .childChannelOption(.socketOption(.so_keepalive), value: 1)
                .childChannelOption(.writeBufferWaterMark, value: .init(low: limits.outboundBytesMax / 2, high: limits.outboundBytesMax))
                .childChannelOption(.autoRead, value: false)
                .childChannelInitializer { [self] channel in
                    channel.eventLoop.makeCompletedFuture {
                        if let tls { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls)) }
                        try channel.pipeline.syncOperations.addHandler(ConnectionHandler(acceptor: self, port: port, tls: tls != nil))
                    }
                }
            let host = sessionSettings.first { $0.acceptPort == port }?.acceptAddress ?? "0.0.0.0"
            let channel = try await bootstrap.bind(host: host, port: port).get()
            serverChannels.append(channel)
            boundPorts.append(channel.localAddress?.port ?? port)
            logger.info("listening", metadata: ["address": "\(host)", "port": "\(port)", "tls": "\(tls != nil)"])
        }
    }

    /// Logs every session out, waits briefly for the Logouts to be answered, then closes
    /// everything. The books are flushed: each connection's last write is committed
    /// before its channel closes.
    public func shutdown() async {
        let loop = self.loop
        try? await loop.submit { [self] in
            for runtime in runtimes.values {
                runtime.session.logout(reason: "Counterfoil is shutting down", now: Acceptor.now())
                runtime.connection?.flush()
            }
        }.get()
        for _ in 0..<30 {
            let open = (try? await loop.submit { [self] in connections.count }.get()) ?? 0
            if open == 0 { break }
            try? await Task.sleep(for: .milliseconds(100))
        }
        for channel in serverChannels { try? await channel.close() }
        try? await loop.submit { [self] in
            for connection in connections.values { connection.close() }
        }.get()
        for _ in 0..<30 {
            let open = (try? await loop.submit { [self] in connections.count }.get()) ?? 0
            if open == 0 { break }
            try? await Task.sleep(for: .milliseconds(100))
        }
        try? await group.shutdownGracefully()
    }

    /// Each session's state as the acceptor sees it now.
    /// The read-to-durable latencies since the last reset (and resets them if asked).
    public func latencies(reset: Bool = false) async -> LatencyHistogram {
        (try? await loop.submit {
            let histogram = self.readToDurable
            if reset { self.readToDurable.reset() }
            return histogram
        }.get()) ?? LatencyHistogram()
    }

    public func status() async -> [SessionStatus] {
        (try? await loop.submit { [self] in
            runtimes.values.map { runtime in
                SessionStatus(id: runtime.settings.id, port: runtime.settings.acceptPort, loggedOn: runtime.session.isLoggedOn,
                              nextSenderSeqNum: runtime.store.nextSenderSeqNum, nextTargetSeqNum: runtime.store.nextTargetSeqNum,
                              peer: runtime.connection?.peer)
            }.sorted { $0.id.description < $1.id.description }
        }.get()) ?? []
    }

    /// Sends a RequestForPositions on the session `id` (as `SessionID.description`
    /// writes it) for `account`, or all accounts; returns its PosReqID.
    public func requestPositions(session id: String, account: String? = nil) async throws -> String {
        let outcome: Result<String, AcceptorError> = try await loop.submit { [self] in
            guard let runtime = runtimes.values.first(where: { $0.settings.id.description == id }) else {
                return .failure(AcceptorError("no session \(id)"))
            }
            guard let booking = runtime.booking else { return .failure(AcceptorError("session \(id) does not book")) }
            guard let requestID = booking.requestPositions(runtime.session, account: account, now: Acceptor.now()) else {
                return .failure(AcceptorError("session \(id) is not logged on"))
            }
            runtime.connection?.flush()
            return .success(requestID)
        }.get()
        return try outcome.get()
    }

    func runtime(port: Int, beginString: String, ours: String, theirs: String) -> SessionRuntime? {
        runtimes[RuntimeKey(port: port, beginString: beginString, ours: ours, theirs: theirs)]
    }
}

/// A session with its store and application, and the connection bound to it, if any.
final class SessionRuntime {
    let settings: SessionSettings
    let session: Session
    let store: LedgerSessionStore
    /// Held here: the session keeps its application weakly.
    let application: SessionApplication
    let booking: BookingApplication?
    weak var connection: ConnectionHandler?
    /// A write of this session failed: its store holds the durable state again, and the
    /// ledger takes its writes once the next connection has told it so (`resumeSession`).
    var awaitsResume = false

    init(settings: SessionSettings, session: Session, store: LedgerSessionStore, application: SessionApplication,
         booking: BookingApplication?) {
        self.settings = settings
        self.session = session
        self.store = store
        self.application = application
        self.booking = booking
    }
}

public struct SessionStatus: Sendable {
    public let id: SessionID
    public let port: Int
    public let loggedOn: Bool
    public let nextSenderSeqNum: Int
    public let nextTargetSeqNum: Int
    public let peer: String?
}

public struct AcceptorError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// The acceptor as a swift-service-lifecycle service: runs until shutdown is asked,
/// then logs sessions out and lets the books flush.
public struct AcceptorService: Service {
    public let acceptor: Acceptor

    public init(acceptor: Acceptor) { self.acceptor = acceptor }

    public func run() async throws {
        try await acceptor.start()
        try? await gracefulShutdown()
        acceptor.logger.info("shutting down: logging sessions out")
        await acceptor.shutdown()
    }
}
