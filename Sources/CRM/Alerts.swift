import ExactNumbers
import Foundation
import Ledger

/// Something compliance must look at about a client: a sanctions hit, or a monitoring
/// rule that booked trades broke.
public struct Alert: Codable, Sendable, Hashable {
    public enum Status: String, Codable, Sendable, CaseIterable { case open, investigating, closed }
    public enum Rule: String, Codable, Sendable, CaseIterable {
        case sanctions
        /// A trade's notional far above the client's expected activity.
        case size
        /// More trades in an hour than the velocity limit.
        case velocity
        /// A day's notional many times the client's own daily average.
        case baseline
        /// Trading on a suspended, closed, lead or unverified client.
        case accountStatus = "account-status"
    }

    public struct Step: Codable, Sendable, Hashable {
        public var time: Int64
        public var who: String
        public var status: Status
        public var note: String
    }

    public var id: UInt64
    public var clientID: String
    public var rule: Rule
    public var detail: String
    /// The trades it is about (journal offsets).
    public var trades: [UInt64]
    /// For sanctions: the hit.
    public var hit: ScreeningHit?
    public var time: Int64
    public var status: Status
    public var closeReason: String?
    public var history: [Step]
}

/// One event of the stream a CRM follows: a booked journal entry or an alert.
public struct CRMEvent: Codable, Sendable, Hashable {
    public var sequence: UInt64
    public var kind: String
    public var alertID: UInt64
    public var time: Int64
}

extension CRMStore {
    /// Stores an alert and its event in `txn`.
    func raise(_ txn: WriteTransaction, clientID: String, rule: Alert.Rule, detail: String, trades: [UInt64] = [],
               hit: ScreeningHit? = nil, now: Int64) throws -> Alert {
        let id = try txn.reader.lastID(alerts) + 1
        let alert = Alert(id: id, clientID: clientID, rule: rule, detail: detail, trades: trades, hit: hit, time: now, status: .open,
                          closeReason: nil, history: [Alert.Step(time: now, who: "system", status: .open, note: detail)])
        try Records.put(txn, alerts, Key.offset(id), alert)
        try txn.put(clientAlerts, Key.of { $0.string(clientID); $0.u64(id) }, [])
        let sequence = try txn.reader.lastID(events) + 1
        try Records.put(txn, events, Key.offset(sequence), CRMEvent(sequence: sequence, kind: "alert", alertID: id, time: now))
        if rule != .sanctions && rule != .accountStatus {
            // Unusual transactions are an EDD trigger.
            if var file = try Records.get(txn.reader, kyc, Self.clientKey(clientID), as: KYCFile.self), !file.unusualTransactions,
               let client = try Records.get(txn.reader, clients, Self.clientKey(clientID), as: Client.self) {
                file.unusualTransactions = true
                file.recompute(client: client, settings: settings, now: now, who: "monitoring")
                try Records.put(txn, kyc, Self.clientKey(clientID), file)
            }
        }
        return alert
    }

    func openAlerts(_ txn: ReadTransaction, clientID: String) throws -> [Alert] {
        var result: [Alert] = []
        let prefix = Self.clientKey(clientID)
        try txn.scan(clientAlerts, from: prefix) { key, _ in
            guard key.starts(with: prefix) else { return false }
            var r = ByteReader(key)
            _ = try r.string()
            if let alert = try Records.get(txn, alerts, Key.offset(try r.u64()), as: Alert.self), alert.status != .closed { result.append(alert) }
            return true
        }
        return result
    }

    /// Sanctions hits become alerts, one per listed entry while it is open.
    func raiseScreeningAlerts(_ txn: WriteTransaction, client: Client, hits: [ScreeningHit], now: Int64) throws {
        guard !hits.isEmpty else { return }
        let open = try openAlerts(txn.reader, clientID: client.id)
        for hit in hits where !open.contains(where: { $0.rule == .sanctions && $0.hit?.entryID == hit.entryID && $0.hit?.list == hit.list }) {
            _ = try raise(txn, clientID: client.id, rule: .sanctions,
                          detail: "name '\(client.name)' matches \(hit.list) entry \(hit.entryID) '\(hit.listedName)' (score \(hit.score))",
                          hit: hit, now: now)
        }
    }

    /// Loads new sanctions lists and screens every client against them.
    @discardableResult
    public func reloadLists(_ lists: ScreeningLists, now: Int64 = ISOTime.now()) throws -> [Alert] {
        self.lists.replace(lists)
        var all: [Client] = []
        var cursor: String?
        while true {
            let page = try clients(after: cursor, limit: 1000)
            all += page
            guard let last = page.last, page.count == 1000 else { break }
            cursor = last.id
        }
        let threshold = settings.screeningThreshold
        let hits = all.map { ($0, lists.screen(name: $0.name, threshold: threshold)) }.filter { !$0.1.isEmpty }
        guard !hits.isEmpty else { return [] }
        return try ledger.write { [self] write in
            let before = try write.transaction.reader.lastID(alerts)
            for (client, found) in hits { try raiseScreeningAlerts(write.transaction, client: client, hits: found, now: now) }
            var raised: [Alert] = []
            try write.transaction.reader.scan(alerts, from: Key.offset(before + 1)) { _, value in
                raised.append(try Records.decode(Alert.self, value))
                return true
            }
            return raised
        }
    }

    public var screeningLists: ScreeningLists { lists.current }

    // MARK: Alerts

    public func alert(_ id: UInt64) throws -> Alert? {
        try ledger.environment.read { try Records.get($0, alerts, Key.offset(id), as: Alert.self) }
    }

    /// Alerts newest first, of one client or all, optionally of some statuses.
    public func alerts(clientID: String? = nil, status: Set<Alert.Status>? = nil, limit: Int = 100) throws -> [Alert] {
        var result: [Alert] = []
        try ledger.environment.read { txn in
            if let clientID {
                let prefix = Self.clientKey(clientID)
                try txn.scan(clientAlerts, from: prefix) { key, _ in
                    guard key.starts(with: prefix) else { return false }
                    var r = ByteReader(key)
                    _ = try r.string()
                    if let alert = try Records.get(txn, alerts, Key.offset(try r.u64()), as: Alert.self) { result.append(alert) }
                    return true
                }
                result.reverse()
            } else {
                try txn.scan(alerts, from: Key.offset(.max), reverse: true) { _, value in
                    result.append(try Records.decode(Alert.self, value))
                    return true
                }
            }
        }
        return Array(result.filter { status?.contains($0.status) ?? true }.prefix(limit))
    }

    /// The alert lifecycle: open → investigating → closed (with a reason).
    public func moveAlert(_ id: UInt64, to status: Alert.Status, note: String, who: String, now: Int64 = ISOTime.now()) throws -> Alert {
        guard !note.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw CRMError.invalid(status == .closed ? "reason" : "note", "say why")
        }
        return try ledger.write { [self] write in
            let txn = write.transaction
            guard var alert = try Records.get(txn.reader, alerts, Key.offset(id), as: Alert.self) else { throw CRMError(.notFound, "no alert \(id)") }
            let allowed: [Alert.Status: Set<Alert.Status>] = [.open: [.investigating, .closed], .investigating: [.closed, .open], .closed: []]
            guard allowed[alert.status, default: []].contains(status) else {
                throw CRMError(.conflict, "an alert cannot go from \(alert.status.rawValue) to \(status.rawValue)", field: "status")
            }
            let before = Records.json(alert)
            alert.status = status
            if status == .closed { alert.closeReason = note }
            alert.history.append(Alert.Step(time: now, who: who, status: status, note: note))
            try Records.put(txn, alerts, Key.offset(id), alert)
            try record(txn, who: who, action: "alert.\(status.rawValue)", target: alert.clientID, before: before, after: Records.json(alert), now: now)
            return alert
        }
    }

    /// Alert events after `sequence`, oldest first.
    public func events(after sequence: UInt64, limit: Int = 1000) throws -> [CRMEvent] {
        var result: [CRMEvent] = []
        try ledger.environment.read { txn in
            try txn.scan(events, from: Key.offset(sequence + 1)) { _, value in
                result.append(try Records.decode(CRMEvent.self, value))
                return result.count < limit
            }
        }
        return result
    }
}
