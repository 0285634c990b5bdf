import ArgumentParser
import FIXAcceptor
import FIXSession
import Foundation
import Ledger
import Logging
import NIOPosix
import PlatformSimulator

/// `counterfoil load`: the acceptor and a platform in one process, one session, as fast
/// as the books take it (or at a set rate); prints throughput, read-to-durable latency
/// and resident memory.
struct LoadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load",
        abstract: "Drive one drop-copy session on loopback and measure booking speed, latency and memory.",
        discussion: """
        Starts an acceptor on a fresh ledger (in a temporary folder unless --folder) and the \
        simulated platform, which sends COUNT ExecutionReports over mutual TLS (or plain TCP \
        with --plain) and then a TestRequest; the acceptor answers it only when every earlier \
        report is durable, so the elapsed time is end to end. Latency is measured inside the \
        acceptor from reading a message off the socket to the durable commit of its booking. \
        Build with -c release for figures worth recording.
        """
    )

    @Option(help: "ExecutionReports to send.") var count = 1_000_000
    @Option(help: "Reports per second (default: as fast as the acceptor takes them).") var rate: Int?
    @Option(help: "Where the ledger and certificates go (default: a temporary folder, removed after).") var folder: String?
    @Flag(help: "Plain TCP instead of TLS.") var plain = false
    @Flag(help: "Skip the dictionary validation of inbound messages.") var noValidation = false
    @Option(help: "Seconds between progress lines.") var progressEvery = 5

    func run() async throws {
        guard count > 0 else { throw UserError("--count must be at least 1") }
        let temporary = folder == nil
        let root = folder ?? NSTemporaryDirectory() + "counterfoil-load-\(UUID().uuidString)"
        defer { if temporary { try? FileManager.default.removeItem(atPath: root) } }
        let (certificates, _) = try DevelopmentCertificates.ensure(folder: root + "/tls", clients: ["load-platform"])
        let port = try freeLoopbackPort()
        let dictionary = "FixDictionaries/FIX44-DropCopy.xml"
        guard noValidation || FileManager.default.fileExists(atPath: dictionary) else {
            throw UserError("\(dictionary) not found: run from the repository root, or pass --no-validation")
        }
        let settings = """
            [DEFAULT]
            SenderCompID=COUNTERFOIL
            SocketAcceptPort=\(port)
            SocketUseSSL=\(plain ? "N" : "Y")
            ServerCertificateFile=\(certificates.serverCertificate)
            ServerCertificateKeyFile=\(certificates.serverKey)
            CertificationAuthoritiesFile=\(certificates.authority)
            CertificateVerifyLevel=\(plain ? 0 : 1)
            \(plain ? "" : "ClientCertificateSubject=CN=load-platform")
            \(noValidation ? "UseDataDictionary=N" : "DataDictionary=\(dictionary)")
            [SESSION]
            BeginString=FIX.4.4
            TargetCompID=LOAD-PLATFORM
            """
        let sessions = try SessionSettings.load(try SettingsFile(text: settings, path: "load.cfg"))
        var logger = Logger(label: "counterfoil-load")
        logger.logLevel = .warning
        let ledger = try Ledger(folder: root + "/ledger")
        defer { ledger.close() }
        let acceptor = try Acceptor(sessions: sessions, ledger: ledger, logger: logger)
        try await acceptor.start()

        var initiator = InitiatorConfiguration(port: port, senderCompID: "LOAD-PLATFORM", targetCompID: "COUNTERFOIL")
        if !plain {
            try initiator.useMutualTLS(authority: certificates.authority, certificate: certificates.clientCertificate("load-platform"),
                                       key: certificates.clientKey("load-platform"))
        }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let control = InitiatorControl()
        let memory = MemoryWatch()
        let watcher = Task {
            var ticks = 0
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(200))
                memory.sample()
                ticks += 1
                if ticks % (progressEvery * 5) == 0 {
                    print("  \(control.sent) sent, resident: heap \(memory.last.anonymous / 1_048_576) MiB, ledger map \(memory.last.file / 1_048_576) MiB")
                }
            }
        }
        let flow = ExecutionFlow(seed: 42, prefix: "L\(UInt64(Date().timeIntervalSince1970))")
        print("counterfoil load: \(count) ExecutionReports, \(rate.map { "\($0)/s" } ?? "as fast as booked"), \(plain ? "plain TCP" : "mutual TLS"), validation \(noValidation ? "off" : "on")")
        memory.sample()
        let report = try await DropCopyInitiator(configuration: initiator, logger: logger)
            .run(flow: flow, count: count, ratePerSecond: rate, group: group, control: control)
        watcher.cancel()
        memory.sample()
        let latencies = await acceptor.latencies()
        await acceptor.shutdown()
        try? await group.shutdownGracefully()

        if let failure = report.failure { throw UserError("the load run failed: \(failure)") }
        let seconds = Double(report.confirmedAt - report.loggedOnAt) / 1e9
        let entries = try ledger.nextOffset() - 1
        func ms(_ nanoseconds: Int64) -> String { String(format: "%.2f ms", Double(nanoseconds) / 1e6) }
        print("""
            sent          \(report.sent) ExecutionReports, \(report.rejects) rejected
            booked        \(entries) journal entries (corrections book a reversal and a replacement)
            elapsed       \(String(format: "%.2f", seconds)) s, logon to the last report durable
            throughput    \(Int(Double(report.sent) / seconds)) reports/s, durable end to end
            read→durable  p50 \(ms(latencies.percentile(0.5))), p90 \(ms(latencies.percentile(0.9))), p99 \(ms(latencies.percentile(0.99))), p99.9 \(ms(latencies.percentile(0.999))), max \(ms(latencies.maximum))
            heap (anon)   \(memory.first.anonymous / 1_048_576) MiB at start, \(memory.peak.anonymous / 1_048_576) MiB peak, \(memory.last.anonymous / 1_048_576) MiB at the end
            ledger map    \(memory.last.file / 1_048_576) MiB resident at the end (file-backed LMDB pages)
            """)
    }
}

/// Resident memory from /proc/self/status, sampled: anonymous (the heap: what must stay
/// flat) apart from file-backed (LMDB's memory map, which grows with the books and which
/// the kernel may drop at any time).
final class MemoryWatch: @unchecked Sendable {
    struct Sample { var anonymous = 0, file = 0 }
    private let lock = NSLock()
    private(set) var first = Sample()
    private(set) var peak = Sample()
    private(set) var last = Sample()

    func sample() {
        // Read to the end: procfs files report no size, and `String(contentsOfFile:)` reads
        // only their first page (enough for `status` today, not by design).
        guard let handle = FileHandle(forReadingAtPath: "/proc/self/status"), let bytes = try? handle.readToEnd() else { return }
        let text = String(decoding: bytes, as: UTF8.self)
        var now = Sample()
        for line in text.split(separator: "\n") {
            let parts = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard parts.count >= 2, let kilobytes = Int(parts[1]) else { continue }
            if parts[0] == "RssAnon:" { now.anonymous = kilobytes * 1024 }
            if parts[0] == "RssFile:" { now.file = kilobytes * 1024 }
        }
        lock.withLock {
            if first.anonymous == 0 { first = now }
            peak.anonymous = max(peak.anonymous, now.anonymous)
            peak.file = max(peak.file, now.file)
            last = now
        }
    }
}

/// A port on 127.0.0.1 that nothing listens on right now.
func freeLoopbackPort() throws -> Int {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else { throw UserError("cannot open a socket") }
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0 }
    }
    guard bound else { throw UserError("cannot find a free port") }
    return Int(UInt16(bigEndian: address.sin_port))
}
