import Foundation
#if canImport(Glibc)
import Glibc
#endif

let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
/// QuickFIX's stock dictionaries, fetched by scripts/fetch-dictionaries.sh.
let spec = packageRoot.appendingPathComponent(".cache/quickfix-spec").path
/// The acceptance scripts are read where the team keeps them (../shared next to the
/// repository), never copied in; COUNTERFOIL_SHARED names another place.
let sharedFolder: String = {
    if let path = ProcessInfo.processInfo.environment["COUNTERFOIL_SHARED"] { return path }
    let sibling = packageRoot.deletingLastPathComponent().appendingPathComponent("shared").path
    return FileManager.default.fileExists(atPath: sibling) ? sibling : "/work/shared"
}()
let acceptanceFolder = sharedFolder + "/fix-acceptance/server"
/// The executable `swift build --build-tests` makes beside the tests.
let counterfoilBinary = packageRoot.appendingPathComponent(".build/debug/counterfoil").path

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

/// `counterfoil conformance-server` as a child process, as any party would run it.
final class ConformanceServer {
    let process = Process()
    let folder: String
    let port: Int
    private let output = Pipe()

    /// Starts the server on `settings` (a settings file's text, `PORT` replaced by a free
    /// port) and waits until it says it listens.
    init(settings: String) throws {
        folder = temporaryFolder("conformance")
        port = freePort()
        let path = folder + "/conformance.cfg"
        try settings.replacingOccurrences(of: "PORT", with: "\(port)").write(toFile: path, atomically: true, encoding: .utf8)
        process.executableURL = URL(fileURLWithPath: counterfoilBinary)
        var arguments = ["conformance-server", "--config", path]
        if ProcessInfo.processInfo.environment["COUNTERFOIL_TEST_LOG"] != nil { arguments += ["--log-level", "debug"] }
        process.arguments = arguments
        process.standardOutput = output
        try process.run()
        // Its first line is "listening on PORT".
        let fd = output.fileHandleForReading.fileDescriptor
        var said: [UInt8] = []
        let deadline = Date().addingTimeInterval(60)
        while !said.contains(UInt8(ascii: "\n")) {
            guard process.isRunning, deadline.timeIntervalSinceNow > 0 else {
                stop()
                throw ScriptRunner.Failure(line: 0, why: "conformance-server did not start: \(String(decoding: said, as: UTF8.self))")
            }
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 200) > 0 else { continue }
            var chunk = [UInt8](repeating: 0, count: 256)
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n > 0 { said += chunk[0..<n] }
        }
        guard String(decoding: said, as: UTF8.self).hasPrefix("listening on \(port)") else {
            stop()
            throw ScriptRunner.Failure(line: 0, why: "conformance-server said: \(String(decoding: said, as: UTF8.self))")
        }
    }

    /// SIGTERM, as an operator would stop it; the exit status says whether it shut down cleanly.
    @discardableResult
    func stop() -> Int32 {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: folder)
        return process.terminationStatus
    }
}

/// The result of running a set of scripts.
struct ScriptResults {
    var ran = 0
    var failures: [String] = []
    /// Scripts that did not execute every `I` and `E` line they contain.
    var incomplete: [String] = []
}

/// Runs every script in `paths` against `port`, one after another, and checks each ran
/// all of its lines.
func runScripts(_ paths: [String], port: Int) -> ScriptResults {
    var results = ScriptResults()
    for path in paths {
        let name = URL(fileURLWithPath: path).deletingLastPathComponent().lastPathComponent + "/" + URL(fileURLWithPath: path).lastPathComponent
        var executed = ScriptRunner.Executed()
        do {
            let script = try ScriptRunner.Script(path: path)
            defer {
                if executed.sendLines == 0 || executed.sendLines != script.sendLines || executed.expectLines != script.expectLines {
                    results.incomplete.append("\(name): ran \(executed.sendLines) of \(script.sendLines) I lines, "
                                              + "\(executed.expectLines) of \(script.expectLines) E lines")
                }
            }
            results.ran += 1
            try ScriptRunner(port: port).run(script, executed: &executed)
        } catch {
            results.failures.append("\(name): \(error)")
        }
        // The acceptor notices each script's closing disconnect before the next logs on.
        Thread.sleep(forTimeInterval: 0.05)
    }
    return results
}
