import Foundation
import Testing

/// The standard session acceptance scripts (QuickFIX's `.def` files for FIX 4.2 and
/// FIXT 1.1 with FIX 5.0, 5.0 SP1 and 5.0 SP2), run against `counterfoil
/// conformance-server` as a child process, judged as QuickFIX's own runner judges them.
@Suite struct AcceptanceTests {
    static func settings(folder: String) -> String {
        let common = """
        [DEFAULT]
        ConnectionType=acceptor
        SenderCompID=ISLD
        SocketAcceptPort=PORT
        ResetOnLogon=Y
        SocketUseSSL=N

        [SESSION]

        """
        switch folder {
        case "fix42": return common + "BeginString=FIX.4.2\nTargetCompID=TW42\nDataDictionary=\(spec)/FIX42.xml\n"
        case "fix50": return common + "BeginString=FIXT.1.1\nTargetCompID=TW50\nTransportDataDictionary=\(spec)/FIXT11.xml\nAppDataDictionary=\(spec)/FIX50.xml\nDefaultApplVerID=FIX.5.0\n"
        case "fix50sp1": return common + "BeginString=FIXT.1.1\nTargetCompID=TW50SP1\nTransportDataDictionary=\(spec)/FIXT11.xml\nAppDataDictionary=\(spec)/FIX50SP1.xml\nDefaultApplVerID=FIX.5.0SP1\n"
        default: return common + "BeginString=FIXT.1.1\nTargetCompID=TW50SP2\nTransportDataDictionary=\(spec)/FIXT11.xml\nAppDataDictionary=\(spec)/FIX50SP2.xml\nDefaultApplVerID=FIX.5.0SP2\n"
        }
    }

    @Test("every standard session acceptance script passes, executing every line it contains",
          arguments: [("fix42", 58), ("fix50", 60), ("fix50sp1", 60), ("fix50sp2", 60)])
    func acceptanceScripts(folder: String, scriptCount: Int) async throws {
        let server = try ConformanceServer(settings: Self.settings(folder: folder))
        let only = ProcessInfo.processInfo.environment["COUNTERFOIL_SCRIPT"]
        let scripts = try FileManager.default.contentsOfDirectory(atPath: "\(acceptanceFolder)/\(folder)")
            .filter { $0.hasSuffix(".def") && (only == nil || $0.contains(only!)) }.sorted()
            .map { "\(acceptanceFolder)/\(folder)/\($0)" }
        if only == nil { #expect(scripts.count == scriptCount) }
        let port = server.port
        let results = await onThread { runScripts(scripts, port: port) }
        #expect(server.stop() == 0, "conformance-server did not shut down cleanly")
        #expect(results.ran == scripts.count)
        #expect(results.failures.isEmpty, "\(results.failures.count) of \(scripts.count) scripts failed:\n\(results.failures.joined(separator: "\n"))")
        #expect(results.incomplete.isEmpty, "\(results.incomplete.joined(separator: "\n"))")
    }
}
