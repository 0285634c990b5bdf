import API
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

/// Any token, even crm-read, could stop the whole service (acceptor included) with one
/// long query value or id: it reached a record's 65,535-byte field and trapped. Every
/// value now has a bound before it reaches a store.
@Suite struct InputBoundsTests {
    @Test("a 70 KB cursor, a long client id or query value, or a large body: a 4xx naming it, and the server carries on")
    func longValues() async throws {
        let books = try APIBooks(replay: false)
        defer { books.close() }
        let app = Application(router: books.server.router())
        let reader = books.tokens[.crmRead]
        let writer = books.tokens[.crmWrite]
        try await app.test(.router) { client in
            let huge = String(repeating: "A", count: 70_000)
            #expect(try await client.call(.get, "/v1/clients?cursor=\(huge)", reader).status == .uriTooLong)
            #expect(try await client.call(.get, "/v1/clients/\(huge)", reader).status == .uriTooLong)

            let long = String(repeating: "B", count: 300)
            let cursor = try await client.call(.get, "/v1/clients?cursor=\(long)", reader)
            #expect(cursor.status == .badRequest)
            #expect((try decode(cursor)["error"] as? [String: Any])?["field"] as? String == "cursor")
            #expect(try await client.call(.get, "/v1/clients/\(long)", reader).status == .badRequest)
            #expect(try await client.call(.get, "/v1/clients/\(long)/trades", reader).status == .badRequest)
            #expect(try await client.call(.get, "/v1/audit?target=\(long)", books.tokens[.admin]).status == .badRequest)

            let body: [String: Any] = ["name": String(repeating: "C", count: 70_000), "countryOfResidence": "GB"]
            #expect(try await client.call(.post, "/v1/clients", writer, body: body).status == .contentTooLarge)

            // Still serving, and values within the bounds work.
            #expect(try await client.call(.get, "/v1/clients?cursor=\(String(repeating: "D", count: 200))", reader).status == .ok)
            #expect(try await client.call(.get, "/healthz", nil).status == .ok)
        }
    }
}
