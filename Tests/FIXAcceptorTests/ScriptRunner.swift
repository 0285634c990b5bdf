import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs QuickFIX's session acceptance scripts (`.def` files) against an acceptor with the
/// semantics of QuickFIX's own Ruby runner (Runner.rb, ReflectorClient.rb, Comparator.rb,
/// FixParser.rb), which ../shared/tools/fixat.py also follows:
///
/// - A script is read as bytes and split on `\n`, a trailing `\r` dropped (Swift treats
///   "\r\n" as one Character, so splitting a String on "\n" would read a CRLF file as
///   one line). Blank lines and lines starting with `#` are comments.
/// - `I` lines are sent after `<TIME>`/`<TIME±N>` are filled in, and BodyLength and
///   CheckSum added when absent; `E` lines are read (up to `<SOH>9=`, the length, that
///   many bytes, then `10=…<SOH>`) and compared: the same number of fields in the same
///   tag order, values equal, except 10, 42, 52, 60 and 122, which must match their
///   pattern anywhere in the value. Like the Ruby code, a value is compared up to a
///   second `=`. The received CheckSum must also be the true one (fixat.py's addition).
/// - `iCONNECT`/`iDISCONNECT` open and close a connection; `eDISCONNECT` expects the
///   acceptor to close within ten seconds with nothing at all arriving first (a Logout
///   before the close fails the script); `eCONNECT` does nothing. `1,`/`2,` pick the
///   connection.
///
/// A script stops at its first failing line. Every `I` and `E` line run is counted, so
/// a test can prove that a script did the work it contains.
struct ScriptRunner {
    let port: Int
    /// How long to wait for an expected message (heartbeat scripts wait ~15 s).
    var readTimeoutSeconds = 20

    struct Failure: Error, CustomStringConvertible {
        let line: Int
        let why: String
        var description: String { "line \(line): \(why)" }
    }

    /// One executable line of a script.
    struct Line {
        let number: Int
        /// `I`, `E`, `i` or `e`.
        let kind: UInt8
        let connection: Int
        let body: [UInt8]
    }

    /// A script read from bytes, with what it contains.
    struct Script {
        let lines: [Line]
        var sendLines: Int { lines.count { $0.kind == UInt8(ascii: "I") } }
        var expectLines: Int { lines.count { $0.kind == UInt8(ascii: "E") } }

        init(bytes: [UInt8]) {
            var lines: [Line] = []
            for (index, raw) in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
                var line = Array(raw)
                if line.last == UInt8(ascii: "\r") { line.removeLast() }
                guard let kind = line.first, kind != UInt8(ascii: "#") else { continue }
                // `[IEie]<digit>,` picks the connection; otherwise connection 1.
                let picksConnection = line.count >= 3 && (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(line[1])
                    && line[2] == UInt8(ascii: ",") && [UInt8(ascii: "I"), UInt8(ascii: "E"), UInt8(ascii: "i"), UInt8(ascii: "e")].contains(kind)
                let connection = picksConnection ? Int(line[1] - UInt8(ascii: "0")) : 1
                let body = Array(line[(picksConnection ? 3 : 1)...])
                lines.append(Line(number: index + 1, kind: kind, connection: connection, body: body))
            }
            self.lines = lines
        }

        init(path: String) throws {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw Failure(line: 0, why: "cannot read \(path)")
            }
            self.init(bytes: Array(data))
        }
    }

    /// What a run executed.
    struct Executed: Equatable {
        var sendLines = 0
        var expectLines = 0
    }

    /// Runs the script; throws the first failure. `executed` counts the `I` and `E` lines
    /// run so far, also when the script fails.
    func run(_ script: Script, executed: inout Executed) throws {
        var connections: [Int: ScriptConnection] = [:]
        defer { for connection in connections.values { connection.close() } }
        for line in script.lines {
            let body = ScriptRunner.fixify(ScriptRunner.timeify(line.body))
            let fail = { (why: String) in Failure(line: line.number, why: why) }
            switch (line.kind, body) {
            case (UInt8(ascii: "I"), _):
                guard let connection = connections[line.connection] else {
                    throw fail("Unable to send message because connection was dropped")
                }
                executed.sendLines += 1
                if let error = connection.send(body) { throw fail("send failed: errno \(error)") }
            case (UInt8(ascii: "E"), _):
                guard let connection = connections[line.connection] else { throw fail("no connection \(line.connection) to read from") }
                executed.expectLines += 1
                let received: [UInt8]
                do {
                    received = try connection.readMessage(timeoutSeconds: readTimeoutSeconds)
                } catch {
                    throw fail(error.why + "; expected: \(ScriptRunner.printable(body))")
                }
                if let why = ScriptRunner.compare(expected: body, actual: received) {
                    throw fail("\(why); expected: \(ScriptRunner.printable(body)) received: \(ScriptRunner.printable(received))")
                }
            case (UInt8(ascii: "i"), Array("CONNECT".utf8)):
                do {
                    connections[line.connection] = try ScriptConnection(port: port)
                } catch let error as Failure {
                    throw fail(error.why)
                }
            case (UInt8(ascii: "i"), Array("DISCONNECT".utf8)):
                connections.removeValue(forKey: line.connection)?.close()
            case (UInt8(ascii: "e"), Array("CONNECT".utf8)):
                continue
            case (UInt8(ascii: "e"), Array("DISCONNECT".utf8)):
                guard let connection = connections[line.connection] else { throw fail("no connection \(line.connection) to wait on") }
                if let why = connection.waitForDisconnect(timeoutSeconds: 10) { throw fail(why) }
            default:
                throw fail("Syntax error: \(ScriptRunner.printable(body))")
            }
        }
    }

    // MARK: Messages

    static let soh: UInt8 = 1

    static func printable(_ message: [UInt8]) -> String {
        String(decoding: message.map { $0 == soh ? UInt8(ascii: "|") : $0 }, as: UTF8.self)
    }

    /// Ruby's `String#split`: trailing empty parts dropped.
    static func rubySplit(_ bytes: ArraySlice<UInt8>, _ separator: UInt8) -> [ArraySlice<UInt8>] {
        var parts = bytes.split(separator: separator, omittingEmptySubsequences: false)
        while parts.last?.isEmpty == true { parts.removeLast() }
        return parts
    }

    /// `<TIME>` and `<TIME±N>` become the UTC time (N seconds off) in whole seconds, as
    /// QuickFIX's runner writes them (some scripts' BodyLengths count on it).
    static func timeify(_ body: [UInt8]) -> [UInt8] {
        let open = Array("<TIME".utf8)
        var out: [UInt8] = []
        var i = 0
        while i < body.count {
            if body[i...].starts(with: open), let close = body[(i + open.count)...].firstIndex(of: UInt8(ascii: ">")) {
                let inside = body[(i + open.count)..<close]
                var offset: Int? = inside.isEmpty ? 0 : nil
                if let sign = inside.first, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-"),
                   let n = Int(String(decoding: inside.dropFirst(), as: UTF8.self)), !inside.dropFirst().isEmpty {
                    offset = sign == UInt8(ascii: "+") ? n : -n
                }
                if let offset {
                    out += Array(utcTime(offsetSeconds: offset).utf8)
                    i = close + 1
                    continue
                }
            }
            out.append(body[i])
            i += 1
        }
        return out
    }

    /// BodyLength inserted after BeginString when absent, CheckSum appended when absent;
    /// a body that does not start with `8=…<SOH>` is sent as it is (garbled on purpose).
    /// The same arithmetic as the reference runners, quirks included: with a CheckSum
    /// present, the length counts the body less its last SOH.
    static func fixify(_ body: [UInt8]) -> [UInt8] {
        guard body.starts(with: Array("8=".utf8)), let firstSOH = body.firstIndex(of: soh) else { return body }
        let head = Array(body[...firstSOH])
        var rest = Array(body[(firstSOH + 1)...])
        let hasLength = find(Array("\u{1}9=".utf8), in: body).map { body[($0 + 3)...].contains(soh) } ?? false
        var checksum: [UInt8]?
        // The first `<SOH>10=` from which the rest ends in SOH: that field to the end.
        if let start = find(Array("\u{1}10=".utf8), in: rest), rest.last == soh {
            checksum = Array(rest[start...])
            rest = Array(rest[..<start])
        }
        let length = hasLength ? [] : Array("9=\(rest.count)\u{1}".utf8)
        if checksum == nil {
            let sum = (head + length + rest).reduce(0) { ($0 + Int($1)) % 256 }
            checksum = Array(String(format: "10=%03d\u{1}", sum).utf8)
        }
        return head + length + rest + checksum!
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for i in 0...(haystack.count - needle.count) where haystack[i..<(i + needle.count)].elementsEqual(needle) { return i }
        return nil
    }

    static func utcTime(offsetSeconds: Int) -> String {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        var seconds = time_t(Int(spec.tv_sec) + offsetSeconds)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(format: "%04d%02d%02d-%02d:%02d:%02d", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
                      Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec))
    }

    /// Nil if `actual` matches `expected`, else Comparator.rb's reason.
    static func compare(expected: [UInt8], actual: [UInt8]) -> String? {
        let want = rubySplit(expected[...], soh)
        let got = rubySplit(actual[...], soh)
        guard want.count == got.count else { return "Number of fields do not match" }
        for (w, g) in zip(want, got) {
            let wParts = rubySplit(w, UInt8(ascii: "="))
            let gParts = rubySplit(g, UInt8(ascii: "="))
            let wTag = wParts.first.map { String(decoding: $0, as: UTF8.self) } ?? ""
            let gTag = gParts.first.map { String(decoding: $0, as: UTF8.self) } ?? ""
            guard wTag == gTag else { return "Expected field (\(wTag)) but found field (\(gTag))" }
            let wValue = wParts.count > 1 ? Array(wParts[1]) : nil
            let gValue = gParts.count > 1 ? Array(gParts[1]) : nil
            switch Int(wTag) {
            case 10:
                guard let gValue, containsDigits(gValue, 3) else { return "Field (10) does not match pattern" }
            case 42, 52, 60, 122:
                guard let gValue, containsTimestamp(gValue) else { return "Field (\(wTag)) does not match pattern" }
            default:
                guard wValue == gValue else {
                    return "Value in field (\(wTag)) should be (\(printable(wValue ?? []))) but was (\(printable(gValue ?? [])))"
                }
            }
        }
        // The reference comparator checks only the CheckSum's form; a wrong one is a failure too.
        let marker = Array("\u{1}10=".utf8)
        if actual.count >= marker.count,
           let at = (0...(actual.count - marker.count)).last(where: { actual[$0..<($0 + marker.count)].elementsEqual(marker) }) {
            let sum = actual[...at].reduce(0) { ($0 + Int($1)) % 256 }
            var value = actual[(at + marker.count)...]
            while value.last == soh { value = value.dropLast() }
            let got = String(decoding: value, as: UTF8.self)
            let want = String(format: "%03d", sum)
            if got != want { return "CheckSum (10) of received message is \(got), computed \(want)" }
        }
        return nil
    }

    static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    /// `\d{n}` found anywhere in the value (Ruby's `Regexp#===` is a search, not a match).
    static func containsDigits(_ value: [UInt8], _ n: Int) -> Bool {
        var run = 0
        for byte in value {
            run = isDigit(byte) ? run + 1 : 0
            if run >= n { return true }
        }
        return false
    }

    /// `\d{8}-\d{2}:\d{2}:\d{2}` found anywhere in the value (fields.fmt's time pattern;
    /// 52's alternative with milliseconds contains it).
    static func containsTimestamp(_ value: [UInt8]) -> Bool {
        let form = Array("DDDDDDDD-DD:DD:DD".utf8)
        guard value.count >= form.count else { return false }
        for start in 0...(value.count - form.count) {
            var matches = true
            for (k, f) in form.enumerated() {
                let byte = value[start + k]
                if f == UInt8(ascii: "D") ? !isDigit(byte) : byte != f {
                    matches = false
                    break
                }
            }
            if matches { return true }
        }
        return false
    }
}

/// A blocking client socket that reads whole FIX messages the way QuickFIX's test client does.
final class ScriptConnection {
    private var fd: Int32
    private var buffer: [UInt8] = []

    /// `from`: the local address to connect from (any of 127.0.0.0/8 on loopback).
    init(port: Int, from source: String? = nil, to destination: String = "127.0.0.1") throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        if let source {
            var local = sockaddr_in()
            local.sin_family = sa_family_t(AF_INET)
            local.sin_addr.s_addr = inet_addr(source)
            _ = withUnsafePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr(destination)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if result != 0 {
            let error = errno
            Glibc.close(fd)
            throw ScriptRunner.Failure(line: 0, why: "connect failed: errno \(error)")
        }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    /// Nil, or the errno of a failed send.
    @discardableResult
    func send(_ bytes: [UInt8]) -> Int32? {
        guard fd >= 0 else { return EBADF }
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            if n < 0 { return errno }
            sent += n
        }
        return nil
    }

    private enum Read { case data, closed, timedOut }

    /// Reads what is there within `deadline`.
    private func more(deadline: Date) -> Read {
        let left = deadline.timeIntervalSinceNow
        if left <= 0 { return .timedOut }
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ready = poll(&poller, 1, Int32(max(1, min(left, 3600) * 1000)))
        if ready == 0 { return .timedOut }
        if ready < 0 { return errno == EINTR ? more(deadline: deadline) : .closed }
        var chunk = [UInt8](repeating: 0, count: 65_536)
        let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if count <= 0 { return .closed }
        buffer += chunk[0..<count]
        return .data
    }

    /// Up to and including `token`, reading as needed.
    private func until(_ token: [UInt8], deadline: Date) throws(ScriptRunner.Failure) -> [UInt8]? {
        while true {
            if let at = ScriptRunner.find(token, in: buffer) {
                let out = Array(buffer[..<(at + token.count)])
                buffer.removeFirst(at + token.count)
                return out
            }
            switch more(deadline: deadline) {
            case .data: continue
            case .closed: return nil
            case .timedOut: throw ScriptRunner.Failure(line: 0, why: "timed out waiting for a message")
            }
        }
    }

    /// The next message, read as FixParser.rb reads: to `<SOH>9=`, the length, that many
    /// bytes, then to the next SOH.
    func readMessage(timeoutSeconds: Int) throws(ScriptRunner.Failure) -> [UInt8] {
        let deadline = Date().addingTimeInterval(TimeInterval(timeoutSeconds))
        if buffer.isEmpty {
            switch more(deadline: deadline) {
            case .data: break
            case .closed: throw ScriptRunner.Failure(line: 0, why: "Was disconnected, expected data")
            case .timedOut: throw ScriptRunner.Failure(line: 0, why: "timed out waiting for a message")
            }
        }
        let broken = ScriptRunner.Failure(line: 0, why: "Was disconnected in the middle of a message")
        guard var message = try until([ScriptRunner.soh] + Array("9=".utf8), deadline: deadline),
              let length = try until([ScriptRunner.soh], deadline: deadline) else { throw broken }
        message += length
        guard length.count > 1, length.dropLast().allSatisfy(ScriptRunner.isDigit),
              let n = Int(String(decoding: length.dropLast(), as: UTF8.self)) else {
            throw ScriptRunner.Failure(line: 0, why: "received BodyLength is not a number: \(ScriptRunner.printable(length))")
        }
        while buffer.count < n {
            switch more(deadline: deadline) {
            case .data: continue
            case .closed: throw broken
            case .timedOut: throw ScriptRunner.Failure(line: 0, why: "timed out waiting for a message")
            }
        }
        message += buffer[..<n]
        buffer.removeFirst(n)
        guard let trailer = try until([ScriptRunner.soh], deadline: deadline) else { throw broken }
        return message + trailer
    }

    /// Nil if the peer closes within `timeoutSeconds` with nothing arriving first; else
    /// why not (ReflectorClient.rb's `waitForDisconnect`).
    func waitForDisconnect(timeoutSeconds: Int) -> String? {
        if !buffer.isEmpty { return "Expected disconnection, got data" }
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        if poll(&poller, 1, Int32(timeoutSeconds * 1000)) <= 0 { return "Connection hangs after ten seconds." }
        var chunk = [UInt8](repeating: 0, count: 65_536)
        let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        return count > 0 ? "Expected disconnection, got data" : nil
    }

    func close() {
        if fd >= 0 {
            Glibc.close(fd)
            fd = -1
        }
    }
}
