@testable import FIXAcceptor
import FIXCore
import FIXDictionary
import FIXSession
import Foundation
import Ledger
import Logging
import Testing

let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
let spec = packageRoot.appendingPathComponent(".cache/quickfix-spec").path
/// The acceptance scripts are read where the team keeps them (../shared next to the
/// repository), never copied in; COUNTERFOIL_SHARED names another place.
let sharedFolder: String = {
    if let path = ProcessInfo.processInfo.environment["COUNTERFOIL_SHARED"] { return path }
    let sibling = packageRoot.deletingLastPathComponent().appendingPathComponent("shared").path
    return FileManager.default.fileExists(atPath: sibling) ? sibling : "/work/shared"
}()
let acceptanceFolder = sharedFolder + "/fix-acceptance/server"

/// The application QuickFIX's acceptance scripts expect behind the acceptor: it echoes
/// NewOrderSingle and SecurityDefinition back, drops a PossResend order it has seen,
/// and refuses every other application message as unsupported. The echo carries the
/// body in tag order, as QuickFIX writes a message it has parsed.
final class EchoApplication: SessionApplication {
    let validator: FIXValidator?
    private var orders: Set<String> = []

    init(validator: FIXValidator?) { self.validator = validator }

    func fromApp(_ message: FIXMessage, raw: UnsafeRawBufferPointer, seqNum: Int, session: Session) -> BusinessReject? {
        let type = message.msgType.string
        guard type == "D" || type == "d" else { return .unsupportedMessageType }
        if type == "D" {
            let possResend = (try? message[tag: 97]?.bool()) ?? false
            let id = message[tag: 11]?.string ?? ""
            if possResend && orders.contains(id) { return nil }
            orders.insert(id)
        }
        let header = session.configuration.header
        let own: Set<Int> = [8, 9, 10, 34, 35, 43, 49, 52, 56, 122]
        var headerFields: [(tag: Int, value: [UInt8])] = []
        // Body fields in tag order; a repeating group moves with its count field.
        var units: [(tag: Int, fields: [(Int, [UInt8])])] = []
        let layout = validator?.application.messages[type]?.body
        var position = 0
        while position < message.count {
            let tag = message.tag(at: position)
            let value = Array(message[position].value.bytes)
            position += 1
            if own.contains(tag) { continue }
            if header.contains(tag) {
                headerFields.append((tag, value))
                continue
            }
            var unit = [(tag, value)]
            if let group = layout?.groups[tag] {
                while position < message.count, group.instance.members.contains(message.tag(at: position)) {
                    unit.append((message.tag(at: position), Array(message[position].value.bytes)))
                    position += 1
                }
            }
            units.append((tag, unit))
        }
        units.sort { $0.tag < $1.tag }
        session.sendApplication(msgType: type, header: headerFields, now: AcceptanceTests.now()) { encoder in
            for unit in units {
                for (tag, value) in unit.fields { value.withUnsafeBytes { encoder.append(tag, bytes: $0) } }
            }
        }
        return nil
    }

    /// Orders seen are per logon: the scripts log on afresh (ResetOnLogon) each time.
    func onLogon(_ session: Session) { orders.removeAll() }
    func onLogout(_ session: Session) {}
}

/// A TCP port nobody is listening on.
func freePort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
    return Int(UInt16(bigEndian: address.sin_port))
}

func temporaryFolder(_ name: String) -> String {
    let path = NSTemporaryDirectory() + "counterfoil-\(name)-\(UUID().uuidString)"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// Runs blocking work on a thread of its own, off the concurrency pool.
func onThread<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        Thread { continuation.resume(returning: work()) }.start()
    }
}

@Suite struct AcceptanceTests {
    static func now() -> Int64 { Acceptor.now() }

    static func settings(folder: String, port: Int) -> String {
        let common = """
        [DEFAULT]
        ConnectionType=acceptor
        SenderCompID=ISLD
        SocketAcceptPort=\(port)
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

    @Test("every standard session acceptance script passes against the acceptor",
          arguments: ["fix42", "fix50", "fix50sp1", "fix50sp2"])
    func acceptanceScripts(folder: String) async throws {
        let port = freePort()
        let sessions = try SessionSettings.load(try SettingsFile(text: Self.settings(folder: folder, port: port), path: "\(folder).cfg"))
        let ledgerFolder = temporaryFolder("acceptance-\(folder)")
        defer { try? FileManager.default.removeItem(atPath: ledgerFolder) }
        let ledger = try Ledger(folder: ledgerFolder)
        defer { ledger.close() }
        var logger = Logger(label: "acceptance-\(folder)")
        logger.logLevel = ProcessInfo.processInfo.environment["COUNTERFOIL_TEST_LOG"] == nil ? .critical : .debug
        let acceptor = try Acceptor(sessions: sessions, ledger: ledger, logger: logger) { settings in
            EchoApplication(validator: try? Acceptor.validator(settings))
        }
        try await acceptor.start()
        let scripts = try FileManager.default.contentsOfDirectory(atPath: "\(acceptanceFolder)/\(folder)")
            .filter { $0.hasSuffix(".def") }.sorted()
        #expect(scripts.count >= 58)
        let only = ProcessInfo.processInfo.environment["COUNTERFOIL_SCRIPT"]
        let failures: [String] = await onThread {
            var failures: [String] = []
            for script in scripts where only == nil || script.contains(only!) {
                do {
                    try ScriptRunner(port: port).run(script: "\(acceptanceFolder)/\(folder)/\(script)")
                } catch {
                    failures.append("\(folder)/\(script): \(error)")
                }
                // The acceptor notices each script's closing disconnect before the next logs on.
                Thread.sleep(forTimeInterval: 0.05)
            }
            return failures
        }
        await acceptor.shutdown()
        #expect(failures.isEmpty, "\(failures.count) of \(scripts.count) scripts failed:\n\(failures.joined(separator: "\n"))")
    }
}
