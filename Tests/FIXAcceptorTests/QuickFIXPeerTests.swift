@testable import FIXAcceptor
import ExactNumbers
import FIXSession
import Foundation
import Ledger
import Logging
import Testing

/// QuickFIX C++ as the trading platform: mutual TLS with certificates made by `openssl`,
/// a kill in mid-stream, a reconnect with a gap, and books that come out exact.
@Suite(.serialized) struct QuickFIXPeerTests {
    static let total = 3000

    /// What report k of qf_platform.cpp books: account QF(k mod 4), VOD.L for even k and
    /// BARC.L for odd, a sale when k is a multiple of 3, quantity (k mod 7 + 1) × 100.
    static func expectedPositions() -> [String: ExactDecimal] {
        var positions: [String: ExactDecimal] = [:]
        for k in 1...total {
            let key = "QF\(k % 4) \(k % 2 == 0 ? "VOD.L" : "BARC.L")"
            let quantity = ExactDecimal((k % 7 + 1) * 100)
            positions[key, default: .zero] += k % 3 == 0 ? -quantity : quantity
        }
        return positions
    }

    struct Peer {
        let folder: String
        let program: String

        /// Builds qf_platform and a CA that signs the acceptor's certificate and two clients':
        /// the platform's and an intruder's with the same CA but another subject.
        static func make() throws -> Peer {
            let folder = temporaryFolder("qf-peer")
            let program = folder + "/qf_platform"
            let source = packageRoot.appendingPathComponent("Tests/QuickFIXPeer/qf_platform.cpp").path
            try #require(try shell("g++ -std=gnu++11 -DHAVE_SSL=1 -O1 -w '\(source)' -lquickfix -lssl -lcrypto -lpthread -o '\(program)'") == 0,
                         "building qf_platform failed (needs g++ and libquickfix-dev: scripts/setup-debian.sh)")
            let certificates = """
                set -e
                cd '\(folder)'
                openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj '/CN=Counterfoil Test CA' 2>/dev/null
                printf 'basicConstraints=CA:FALSE\\nsubjectAltName=DNS:localhost,IP:127.0.0.1\\n' > server.ext
                printf 'basicConstraints=CA:FALSE\\nextendedKeyUsage=clientAuth\\n' > client.ext
                for name in server:localhost platform:qf-platform intruder:someone-else; do
                    file=${name%%:*}; cn=${name#*:}
                    openssl req -newkey rsa:2048 -nodes -keyout $file.key -out $file.csr -subj "/O=Test/CN=$cn" 2>/dev/null
                    ext=client.ext; [ $file = server ] && ext=server.ext
                    openssl x509 -req -in $file.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile $ext -out $file.pem 2>/dev/null
                done
                """
            try #require(try shell(certificates) == 0, "openssl could not make the test certificates")
            return Peer(folder: folder, program: program)
        }

        func acceptorSettings(port: Int) -> String {
            """
            [DEFAULT]
            SenderCompID=COUNTERFOIL
            SocketAcceptPort=\(port)
            SocketUseSSL=Y
            ServerCertificateFile=\(folder)/server.pem
            ServerCertificateKeyFile=\(folder)/server.key
            CertificationAuthoritiesFile=\(folder)/ca.pem
            CertificateVerifyLevel=1
            DataDictionary=\(packageRoot.path)/FixDictionaries/FIX44-DropCopy.xml

            [SESSION]
            BeginString=FIX.4.4
            TargetCompID=QFPLATFORM
            ClientCertificateSubject=CN=qf-platform
            """
        }

        /// QuickFIX's own settings for the initiator presenting `certificate`.
        func initiatorSettings(port: Int, certificate: String, store: String) throws -> String {
            let path = "\(folder)/\(certificate)-\(store).cfg"
            try """
            [DEFAULT]
            ConnectionType=initiator
            SocketConnectHost=127.0.0.1
            SocketConnectPort=\(port)
            HeartBtInt=30
            ReconnectInterval=1
            StartTime=00:00:00
            EndTime=00:00:00
            UseDataDictionary=N
            FileStorePath=\(folder)/\(store)
            ClientCertificateFile=\(folder)/\(certificate).pem
            ClientCertificateKeyFile=\(folder)/\(certificate).key
            CertificationAuthoritiesFile=\(folder)/ca.pem

            [SESSION]
            BeginString=FIX.4.4
            SenderCompID=QFPLATFORM
            TargetCompID=COUNTERFOIL

            """.write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }

        func start(config: String, progress: String, presend: Int = 0, logonWait: Int = 30, pauseAt: Int? = nil) throws -> Process {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: program)
            process.arguments = [config, "\(QuickFIXPeerTests.total)", progress] + (presend > 0 ? ["\(presend)"] : [])
            process.environment = ["QF_LOGON_WAIT": "\(logonWait)"].merging(pauseAt.map { ["QF_PAUSE_AT": "\($0)"] } ?? [:]) { a, _ in a }
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            return process
        }
    }

    @Test("QuickFIX over mutual TLS: killed mid-stream, back with a gap, every report booked exactly once")
    func killedAndResumed() async throws {
        let peer = try Peer.make()
        defer { try? FileManager.default.removeItem(atPath: peer.folder) }
        let port = freePort()
        let sessions = try SessionSettings.load(try SettingsFile(text: peer.acceptorSettings(port: port), path: "tls.cfg"))
        let ledger = try Ledger(folder: peer.folder + "/ledger")
        defer { ledger.close() }
        var logger = Logger(label: "qf-peer")
        logger.logLevel = ProcessInfo.processInfo.environment["COUNTERFOIL_TEST_LOG"] == nil ? .critical : .info
        let acceptor = try Acceptor(sessions: sessions, ledger: ledger, logger: logger)
        try await acceptor.start()
        let key = "FIX.4.4:COUNTERFOIL->QFPLATFORM"

        // An intruder with a certificate from the same CA but another subject is refused.
        let intruderConfig = try peer.initiatorSettings(port: port, certificate: "intruder", store: "intruder-store")
        let intruder = try peer.start(config: intruderConfig, progress: peer.folder + "/intruder-progress", logonWait: 3)
        await onThread { intruder.waitUntilExit() }
        #expect(intruder.terminationStatus == 1, "the intruder logged on")
        #expect(try ledger.nextOffset() == 1)

        // The platform streams reports and is killed (SIGKILL) part of the way through.
        let config = try peer.initiatorSettings(port: port, certificate: "platform", store: "store")
        let progress = peer.folder + "/progress"
        // It stops after 1,200 reports (QF_PAUSE_AT) and is killed there, however the machine is loaded.
        let first = try peer.start(config: config, progress: progress, pauseAt: 1_200)
        let reached: Int = await onThread {
            for _ in 0..<3000 {
                let done = Int((try? String(contentsOfFile: progress, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 0
                if done >= 1_200 || !first.isRunning { return done }
                Thread.sleep(forTimeInterval: 0.01)
            }
            return 0
        }
        kill(first.processIdentifier, SIGKILL)
        await onThread { first.waitUntilExit() }
        #expect(reached >= 1000 && reached < Self.total, "killed after \(reached) reports")
        let bookedAtKill = try ledger.nextOffset() - 1
        // On a busy machine the acceptor may take a moment to see the killed connection go;
        // a Logon before that is refused as a second logon and retried later.
        for _ in 0..<200 where await acceptor.status().contains(where: { $0.loggedOn }) {
            try await Task.sleep(for: .milliseconds(50))
        }

        // It comes back with 40 reports stored but never sent: a gap the acceptor must ask for.
        let second = try peer.start(config: config, progress: progress, presend: 40)
        await onThread { second.waitUntilExit() }
        #expect(second.terminationStatus == 0, "qf_platform's second run failed")
        try await Task.sleep(for: .milliseconds(200))
        await acceptor.shutdown()

        for (key, quantity) in Self.expectedPositions() {
            let parts = key.split(separator: " ").map(String.init)
            let position = try ledger.position(account: parts[0], instrument: parts[1])
            #expect(position?.quantity == quantity, "\(key)")
        }
        #expect(try ledger.nextOffset() == 1 + UInt64(Self.total), "booked at the kill: \(bookedAtKill)")
        let audit = try ledger.audit(key, limit: 100_000)
        let resendRequests = audit.filter { !$0.inbound && String(decoding: $0.message, as: UTF8.self).contains("\u{1}35=2\u{1}") }
        let possDups = audit.filter { $0.inbound && String(decoding: $0.message, as: UTF8.self).contains("\u{1}43=Y\u{1}") }
        #expect(!resendRequests.isEmpty, "the acceptor never asked for the gap")
        #expect(possDups.count >= 40, "QuickFIX resent \(possDups.count) reports")
        let snapshot = try #require(try ledger.sessionSnapshot(key))
        #expect(!snapshot.loggedOn)
    }
}

extension QuickFIXPeerTests {
    /// The `counterfoil` executable `swift build --build-tests` made beside the tests.
    static func counterfoilExecutable() throws -> String {
        let build = packageRoot.appendingPathComponent(".build").path
        for candidate in ["debug", "release", "x86_64-unknown-linux-gnu/debug", "aarch64-unknown-linux-gnu/debug"] {
            let path = build + "/" + candidate + "/counterfoil"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        throw ScriptRunner.Failure(line: 0, why: "no counterfoil executable under .build: run swift build --build-tests first")
    }

    static func serve(_ executable: String, config: String, log: String) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["serve", "--config", config]
        if !FileManager.default.fileExists(atPath: log) {
            _ = FileManager.default.createFile(atPath: log, contents: nil)
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        handle.seekToEndOfFile()
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        return process
    }

    /// Waits until something accepts connections on `port`.
    static func waitForListener(_ port: Int, seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let connection = try? ScriptConnection(port: port) {
                connection.close()
                return true
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return false
    }

    @Test("the acceptor killed (SIGKILL) mid-stream and restarted: QuickFIX resends, the books are exact")
    func acceptorKilledAndRestarted() async throws {
        let executable = try Self.counterfoilExecutable()
        let peer = try Peer.make()
        defer { try? FileManager.default.removeItem(atPath: peer.folder) }
        let port = freePort()
        let config = peer.folder + "/counterfoil.cfg"
        try (peer.acceptorSettings(port: port).replacingOccurrences(of: "[DEFAULT]\n", with: "[DEFAULT]\nLedgerPath=\(peer.folder)/ledger\n"))
            .write(toFile: config, atomically: true, encoding: .utf8)
        let log = peer.folder + "/serve.log"
        let platformConfig = try peer.initiatorSettings(port: port, certificate: "platform", store: "store")
        let progress = peer.folder + "/progress"

        let outcome: String? = await onThread {
            do {
                var server = try Self.serve(executable, config: config, log: log)
                guard Self.waitForListener(port, seconds: 30) else { return "counterfoil serve did not start" }
                let platform = try peer.start(config: platformConfig, progress: progress)
                var killedAt = 0
                for _ in 0..<3000 {
                    let done = Int((try? String(contentsOfFile: progress, encoding: .utf8))?
                        .trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 0
                    if done >= 1000 { killedAt = done; break }
                    Thread.sleep(forTimeInterval: 0.01)
                }
                kill(server.processIdentifier, SIGKILL)
                server.waitUntilExit()
                guard killedAt > 0 else { return "the platform never got going" }
                Thread.sleep(forTimeInterval: 0.3)
                server = try Self.serve(executable, config: config, log: log)
                platform.waitUntilExit()
                kill(server.processIdentifier, SIGTERM)
                server.waitUntilExit()
                if platform.terminationStatus != 0 { return "qf_platform failed after the restart" }
                return nil
            } catch {
                return "\(error)"
            }
        }
        let serveLog = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(outcome == nil, "\(outcome ?? ""); counterfoil serve said:\n\(serveLog.suffix(3000))")
        // The restarted acceptor found a gap and had it filled.
        #expect(serveLog.contains("MsgSeqNum too high"), "\(serveLog.suffix(3000))")
        let ledger = try Ledger(folder: peer.folder + "/ledger")
        defer { ledger.close() }
        for (key, quantity) in Self.expectedPositions() {
            let parts = key.split(separator: " ").map(String.init)
            #expect(try ledger.position(account: parts[0], instrument: parts[1])?.quantity == quantity, "\(key)")
        }
        #expect(try ledger.nextOffset() == 1 + UInt64(Self.total))
        #expect(try ledger.check().isClean)
    }
}

/// Runs a shell command line; its exit status.
func shell(_ command: String) throws -> Int32 {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = ["-c", command]
    try process.run()
    process.waitUntilExit()
    return process.terminationStatus
}
