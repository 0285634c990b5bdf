import CRM
import Foundation
import Hummingbird
import Ledger

/// Server-sent events of what a CRM follows: every journal entry booked (trades, the
/// reversals and replacements of corrections and busts, adjustments) and every alert
/// raised. Each event's id is `J.A` — the journal offset and the alert sequence it has
/// reached — so a client that reconnects with Last-Event-ID misses nothing and sees
/// nothing twice. Without one, the stream starts at what is booked next.
struct EventStream {
    let store: CRMStore
    /// The bearer token the stream was opened with: checked every second, so that
    /// revoking it ends the stream.
    let bearer: String
    /// The token's open streams; this one counts among them while it runs.
    let streams: StreamCounts
    let tokenID: String

    struct Position: Sendable {
        var journal: UInt64
        var alerts: UInt64

        init(journal: UInt64, alerts: UInt64) {
            self.journal = journal
            self.alerts = alerts
        }

        init?(_ text: String) {
            let parts = text.split(separator: ".")
            guard parts.count == 2, let journal = UInt64(parts[0]), let alerts = UInt64(parts[1]) else { return nil }
            self.init(journal: journal, alerts: alerts)
        }

        var id: String { "\(journal).\(alerts)" }
    }

    func response(lastEventID: String?, query: String?, limit: Int? = nil) throws -> Response {
        let start: Position
        if let text = lastEventID ?? query {
            guard let position = Position(text) else {
                throw APIError.invalid("Last-Event-ID", "'\(text)' is not an event id from this stream (JOURNAL.ALERTS)")
            }
            start = position
        } else {
            start = Position(journal: try store.ledger.nextOffset() - 1, alerts: try store.events(after: 0, limit: .max).last?.sequence ?? 0)
        }
        let store = self.store
        let bearer = self.bearer
        let streams = self.streams
        let tokenID = self.tokenID
        guard streams.open(tokenID) else {
            throw APIError(.tooManyRequests, code: "too_many_streams",
                           "this token has \(streams.perTokenMax) event streams open already; close one first")
        }
        let body = ResponseBody { writer in
            defer { streams.close(tokenID) }
            var position = start
            var checkedToken = ContinuousClock.now
            var sent = 0
            var quietSince = ContinuousClock.now
            try await writer.write(ByteBuffer(string: "retry: 2000\n\n"))
            while limit.map({ sent < $0 }) ?? true {
                if ContinuousClock.now - checkedToken > .seconds(1) {
                    // A revoked token's streams end within a second.
                    guard try store.authenticate(bearer) != nil else { break }
                    checkedToken = ContinuousClock.now
                }
                var wrote = false
                var entries: [JournalEntry] = []
                try store.ledger.forEachEntry(from: position.journal + 1) { entry in
                    entries.append(entry)
                    return entries.count < 500
                }
                for entry in entries {
                    position.journal = entry.offset
                    let data = String(decoding: try JSONEncoder().encode(TradeView(entry)), as: UTF8.self)
                    try await writer.write(ByteBuffer(string: "id: \(position.id)\nevent: \(entry.kind.description)\ndata: \(data)\n\n"))
                    sent += 1
                    wrote = true
                    if let limit, sent >= limit { break }
                }
                if let limit, sent >= limit { break }
                for event in try store.events(after: position.alerts, limit: 500) {
                    position.alerts = event.sequence
                    guard let alert = try store.alert(event.alertID) else { continue }
                    let data = String(decoding: try JSONEncoder().encode(AlertView(alert)), as: UTF8.self)
                    try await writer.write(ByteBuffer(string: "id: \(position.id)\nevent: alert\ndata: \(data)\n\n"))
                    sent += 1
                    wrote = true
                    if let limit, sent >= limit { break }
                }
                if wrote {
                    quietSince = ContinuousClock.now
                } else {
                    if ContinuousClock.now - quietSince > .seconds(15) {
                        try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
                        quietSince = ContinuousClock.now
                    }
                    try await Task.sleep(for: .milliseconds(200))
                }
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"], body: body)
    }
}

/// Open event streams by token: at most `perTokenMax` each.
final class StreamCounts: @unchecked Sendable {
    let perTokenMax: Int
    private let lock = NSLock()
    private var counts: [String: Int] = [:]

    init(perTokenMax: Int) { self.perTokenMax = perTokenMax }

    /// Counts a stream for `token`; false if it has its share open already.
    func open(_ token: String) -> Bool {
        lock.withLock {
            let count = counts[token, default: 0]
            guard count < perTokenMax else { return false }
            counts[token] = count + 1
            return true
        }
    }

    func close(_ token: String) {
        lock.withLock {
            let count = counts[token, default: 1] - 1
            counts[token] = count > 0 ? count : nil
        }
    }
}
