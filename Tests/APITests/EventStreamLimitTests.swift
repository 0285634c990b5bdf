import API
import CRM
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A raw HTTP/1.1 connection that keeps reading an event stream (used by one thread at a time).
final class RawStream: @unchecked Sendable {
    let fd: Int32
    private(set) var received = ""

    init(port: Int, path: String, token: String) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw APIError(.internalServerError, code: "test", "cannot connect") }
        let request = "GET \(path) HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer \(token)\r\n\r\n"
        _ = request.withCString { send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
    }

    /// Reads until `text` has arrived or `seconds` pass; whether it did.
    func wait(for text: String, seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while !received.contains(text) && Date() < deadline {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 100) > 0 else { continue }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { received += "<closed>"; break }
            received += String(decoding: chunk[0..<n], as: UTF8.self)
        }
        return received.contains(text)
    }

    deinit { close(fd) }
}

@Suite struct EventStreamLimitTests {
    @Test("a token may hold 4 event streams (the 5th is 429), and revoking it ends them within seconds")
    func streamsPerTokenAndRevocation() async throws {
        let books = try APIBooks(replay: false)
        defer { books.close() }
        let (token, record) = try books.store.createToken(name: "sse", role: .crmRead, who: "test")
        let app = Application(router: books.server.router(), configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { client in
            let port = try #require(client.port)
            let streams: [RawStream] = try await onThreadAPI {
                try (0..<4).map { _ in try RawStream(port: port, path: "/v1/events", token: token) }
            }
            let opened = try await onThreadAPI { streams.allSatisfy { $0.wait(for: "retry: 2000", seconds: 10) } }
            #expect(opened, "\(streams.map(\.received))")
            #expect(try await client.call(.get, "/v1/events", token).status == .tooManyRequests)
            // Another token is not held back by this one's streams.
            let other = try RawStream(port: port, path: "/v1/events", token: books.tokens[.crmRead]!)
            #expect(try await onThreadAPI { other.wait(for: "retry: 2000", seconds: 10) })

            _ = try books.store.revokeToken(id: record.id, who: "test")
            // The chunked body's last chunk: each stream ended.
            let ended = try await onThreadAPI { streams.allSatisfy { $0.wait(for: "\r\n0\r\n\r\n", seconds: 10) || $0.received.hasSuffix("<closed>") } }
            #expect(ended, "\(streams.map { $0.received.suffix(40) })")
        }
    }
}

/// Runs blocking socket work off the concurrency pool.
func onThreadAPI<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread {
            do { continuation.resume(returning: try work()) } catch { continuation.resume(throwing: error) }
        }.start()
    }
}
