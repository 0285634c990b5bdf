import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs QuickFIX's session acceptance scripts (`.def` files) against an acceptor, as
/// QuickFIX's own runner does: `I` lines are sent (with `<TIME±N>` filled in, and
/// BodyLength and CheckSum when absent), `E` lines are read and compared field by field
/// (CheckSum and the time fields 42/52/60/122 by form only), `iCONNECT`/`iDISCONNECT`
/// open and close a connection, `eDISCONNECT` expects the acceptor to close it (a
/// Logout before that is allowed). `1,`/`2,` pick the connection.
struct ScriptRunner {
    let port: Int
    /// How long to wait for an expected message (heartbeat scripts wait ~15 s).
    var readTimeoutSeconds = 25

    struct Failure: Error, CustomStringConvertible {
        let line: Int
        let why: String
        var description: String { "line \(line): \(why)" }
    }

    func run(script path: String) throws {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var connections: [Int: ScriptConnection] = [:]
        defer { for connection in connections.values { connection.close() } }
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = index + 1
            var line = raw.trimmingCharacters(in: CharacterSet(charactersIn: "\r"))
            guard let action = line.first, !line.hasPrefix("#"), !line.trimmingCharacters(in: .whitespaces).isEmpty else { continue }
            line.removeFirst()
            var id = 1
            if let comma = line.firstIndex(of: ","), let n = Int(line[..<comma]) {
                id = n
                line = String(line[line.index(after: comma)...])
            }
            switch (action, line) {
            case ("i", "CONNECT"):
                connections[id] = try ScriptConnection(port: port)
            case ("i", "DISCONNECT"):
                connections[id]?.close()
                connections[id] = nil
            case ("e", "DISCONNECT"):
                guard let connection = connections[id] else { throw Failure(line: number, why: "no connection \(id)") }
                while true {
                    guard let message = try connection.readMessage(timeoutSeconds: readTimeoutSeconds) else { break }
                    if fields(message).first(where: { $0.tag == "35" })?.value != "5" {
                        throw Failure(line: number, why: "expected a disconnect, received \(printable(message))")
                    }
                }
                connection.close()
                connections[id] = nil
            case ("I", _):
                guard let connection = connections[id] else { throw Failure(line: number, why: "no connection \(id)") }
                connection.send(fixify(line))
            case ("E", _):
                guard let connection = connections[id] else { throw Failure(line: number, why: "no connection \(id)") }
                guard let received = try connection.readMessage(timeoutSeconds: readTimeoutSeconds) else {
                    throw Failure(line: number, why: "expected \(printable(fixify(line))), the connection closed")
                }
                if let why = compare(expected: fixify(line), actual: received) {
                    throw Failure(line: number, why: why)
                }
            default:
                throw Failure(line: number, why: "unknown script line")
            }
        }
    }

    // MARK: Messages

    struct Field: Equatable {
        let tag: String
        let value: String
    }

    func fields(_ message: [UInt8]) -> [Field] {
        message.split(separator: 1).map { part in
            let text = String(decoding: part, as: UTF8.self)
            guard let equals = text.firstIndex(of: "=") else { return Field(tag: text, value: "") }
            return Field(tag: String(text[..<equals]), value: String(text[text.index(after: equals)...]))
        }
    }

    func printable(_ message: [UInt8]) -> String {
        String(decoding: message.map { $0 == 1 ? UInt8(ascii: "|") : $0 }, as: UTF8.self)
    }

    /// `<TIME>` and `<TIME±N>` become the UTC time (N seconds off); BodyLength after
    /// BeginString and CheckSum at the end are added when absent.
    func fixify(_ line: String) -> [UInt8] {
        var text = line
        while let open = text.range(of: "<TIME"), let close = text.range(of: ">", range: open.upperBound..<text.endIndex) {
            let offset = Int(text[open.upperBound..<close.lowerBound].replacingOccurrences(of: "+", with: "")) ?? 0
            text.replaceSubrange(open.lowerBound..<close.upperBound, with: ScriptRunner.utcTime(offsetSeconds: offset))
        }
        var parts = text.split(separator: "\u{1}", omittingEmptySubsequences: true).map(String.init)
        if !parts.contains(where: { $0.hasPrefix("9=") }), let first = parts.first, first.hasPrefix("8=") {
            let body = parts.dropFirst().filter { !$0.hasPrefix("10=") }.map { $0 + "\u{1}" }.joined()
            parts.insert("9=\(body.utf8.count)", at: 1)
        }
        var bytes = Array(parts.filter { !$0.hasPrefix("10=") || parts.last != $0 }.map { $0 + "\u{1}" }.joined().utf8)
        if let last = parts.last, last.hasPrefix("10=") {
            bytes += Array((last + "\u{1}").utf8)
        } else {
            let sum = bytes.reduce(UInt8(0)) { $0 &+ $1 }
            bytes += Array("10=\(String(format: "%03d", Int(sum)))\u{1}".utf8)
        }
        return bytes
    }

    static func utcTime(offsetSeconds: Int) -> String {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        var seconds = time_t(Int(spec.tv_sec) + offsetSeconds)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        // Whole seconds, as QuickFIX's runner writes them (some scripts' BodyLengths count on it).
        return String(format: "%04d%02d%02d-%02d:%02d:%02d", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
                      Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec))
    }

    /// Nil if `actual` matches `expected`.
    func compare(expected: [UInt8], actual: [UInt8]) -> String? {
        let want = fields(expected)
        let got = fields(actual)
        let mismatch = "expected \(printable(expected))\n   received \(printable(actual))"
        guard want.count == got.count else { return mismatch }
        for (w, g) in zip(want, got) {
            guard w.tag == g.tag else { return mismatch }
            switch w.tag {
            case "10":
                guard g.value.count == 3, g.value.allSatisfy(\.isNumber) else { return mismatch }
            case "42", "52", "60", "122":
                guard g.value.count >= 17, g.value.dropFirst(8).first == "-" else { return mismatch }
            default:
                guard w.value == g.value else { return mismatch }
            }
        }
        return nil
    }
}

/// A blocking client socket that reads whole FIX messages.
final class ScriptConnection {
    private var fd: Int32
    private var buffer: [UInt8] = []

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if result != 0 {
            Glibc.close(fd)
            throw ScriptRunner.Failure(line: 0, why: "cannot connect to port \(port): errno \(errno)")
        }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    func send(_ bytes: [UInt8]) {
        guard fd >= 0 else { return }
        // The acceptor may already have closed (scripts send a Logout after being logged out).
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// The next message, or nil when the peer closed the connection.
    func readMessage(timeoutSeconds: Int) throws -> [UInt8]? {
        let deadline = Date().addingTimeInterval(TimeInterval(timeoutSeconds))
        while true {
            if let message = takeMessage() { return message }
            let left = deadline.timeIntervalSinceNow
            if left <= 0 { throw ScriptRunner.Failure(line: 0, why: "nothing received within \(timeoutSeconds) s") }
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, Int32(min(left, 1) * 1000))
            if ready <= 0 { continue }
            var chunk = [UInt8](repeating: 0, count: 65_536)
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { return takeMessage() }
            buffer += chunk[0..<count]
        }
    }

    /// A complete `...10=nnn<SOH>` message from the front of the buffer.
    private func takeMessage() -> [UInt8]? {
        var i = 0
        while i + 7 <= buffer.count {
            if buffer[i] == 1 && buffer[i + 1] == UInt8(ascii: "1") && buffer[i + 2] == UInt8(ascii: "0") && buffer[i + 3] == UInt8(ascii: "=") {
                if let end = buffer[(i + 4)...].firstIndex(of: 1) {
                    let message = Array(buffer[0...end])
                    buffer.removeFirst(end + 1)
                    return message
                }
                return nil
            }
            i += 1
        }
        return nil
    }

    func close() {
        if fd >= 0 {
            Glibc.close(fd)
            fd = -1
        }
    }
}
