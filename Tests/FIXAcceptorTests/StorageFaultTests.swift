@testable import FIXAcceptor
import Foundation
import Ledger
import Testing

extension QuickFIXPeerTests {
    /// The ledger's largest file in `folder`, in bytes.
    static func largestFile(in folder: String) -> Int {
        let files = (FileManager.default.enumerator(atPath: folder)?.allObjects as? [String]) ?? []
        return files.compactMap { (try? FileManager.default.attributesOfItem(atPath: folder + "/" + $0))?[.size] as? Int }.max() ?? 0
    }

    @Test("a full disk mid-stream (RLIMIT_FSIZE on serve): nothing is lost or doubled once it clears and QuickFIX resends")
    func diskFullMidStream() async throws {
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
                // SIGXFSZ ignored (inherited across exec), so a write past the limit fails with
                // EFBIG, as a full disk fails with ENOSPC, instead of killing the process.
                let server = Process()
                server.executableURL = URL(fileURLWithPath: "/bin/sh")
                server.arguments = ["-c", "trap '' XFSZ; exec '\(executable)' serve --config '\(config)' >>'\(log)' 2>&1"]
                try server.run()
                defer { if server.isRunning { kill(server.processIdentifier, SIGKILL); server.waitUntilExit() } }
                guard Self.waitForListener(port, seconds: 30) else { return "counterfoil serve did not start" }
                // The disk fills a little way into the stream: the ledger may grow by 256 KB more.
                let limit = Self.largestFile(in: peer.folder + "/ledger") + 256 * 1024
                guard try shell("prlimit --pid \(server.processIdentifier) --fsize=\(limit):") == 0 else { return "prlimit failed" }
                let platform = try peer.start(config: platformConfig, progress: progress)
                var failed = false
                for _ in 0..<600 where !failed {
                    failed = ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("ledger write failed")
                    if !failed { Thread.sleep(forTimeInterval: 0.1) }
                }
                guard failed else { return "the ledger never filled up" }
                // A moment of reconnects refused while it is full, then space again.
                Thread.sleep(forTimeInterval: 2)
                let pid = server.processIdentifier
                // The soft limit back up to the hard one (raising a hard limit needs a capability).
                guard try shell("prlimit --pid \(pid) --fsize=unlimited: 2>/dev/null || "
                                + "prlimit --pid \(pid) --fsize=$(prlimit --pid \(pid) --fsize --raw --noheadings --output HARD):") == 0 else {
                    return "prlimit failed"
                }
                platform.waitUntilExit()
                kill(server.processIdentifier, SIGTERM)
                server.waitUntilExit()
                if platform.terminationStatus != 0 { return "qf_platform failed after the disk cleared" }
                return nil
            } catch {
                return "\(error)"
            }
        }
        let serveLog = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(outcome == nil, "\(outcome ?? ""); counterfoil serve said:\n\(serveLog.suffix(3000))")
        let ledger = try Ledger(folder: peer.folder + "/ledger")
        defer { ledger.close() }
        for (key, quantity) in Self.expectedPositions() {
            let parts = key.split(separator: " ").map(String.init)
            #expect(try ledger.position(account: parts[0], instrument: parts[1])?.quantity == quantity, "\(key)")
        }
        #expect(try ledger.nextOffset() == 1 + UInt64(Self.total))
        #expect(try ledger.quarantined().isEmpty)
        #expect(try ledger.check().isClean)
    }
}
