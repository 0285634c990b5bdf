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
        let body = ResponseBody { writer in
            var position = start
            var sent = 0
            var quietSince = ContinuousClock.now
            try await writer.write(ByteBuffer(string: "retry: 2000\n\n"))
            while limit.map({ sent < $0 }) ?? true {
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
