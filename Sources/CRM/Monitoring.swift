import ExactNumbers
import Foundation
import Ledger

/// Ongoing monitoring: rules over the trades the ledger books, run in journal order from
/// where the last run stopped (kept in the same commit as the alerts it raises).
///
/// - size: a trade's notional above a month of the client's expected yearly notional;
/// - velocity: more trades in an hour than `velocityTradesPerHour`;
/// - baseline: a day's notional `baselineMultiple` times the client's average day, once
///   the client has `baselineDaysMinimum` days of history;
/// - account-status: a trade for a client who is not active or not verified.
///
/// Velocity and baseline keep their windows in memory: after a restart they fill again.
public final class MonitoringEngine: @unchecked Sendable {
    let store: CRMStore
    private let lock = NSLock()
    /// Per client: recent trade times (velocity), and notional per day (baseline).
    private var recent: [String: [Int64]] = [:]
    private var daily: [String: [Int: ExactDecimal]] = [:]
    private var clientByAccount: [String: String?] = [:]

    public init(store: CRMStore) { self.store = store }

    static let offsetKey = Array("monitor-offset".utf8)

    /// Runs the rules over what was booked since the last run; returns the alerts raised.
    @discardableResult
    public func process(limit: Int = 10_000, now: Int64 = ISOTime.now()) throws -> [Alert] {
        lock.lock()
        defer { lock.unlock() }
        clientByAccount.removeAll(keepingCapacity: true)  // links change; re-read them each run
        let start = try store.ledger.environment.read { txn in
            try txn.get(store.meta, Self.offsetKey) { var r = ByteReader($0); return try r.u64() } ?? UInt64(0)
        }
        var entries: [JournalEntry] = []
        try store.ledger.forEachEntry(from: start + 1) { entry in
            entries.append(entry)
            return entries.count < limit
        }
        guard let last = entries.last else { return [] }
        var planned: [(clientID: String, rule: Alert.Rule, detail: String, trades: [UInt64])] = []
        let settings = store.settings
        // A client's record and KYC file, read once per run (a run sees many of their trades).
        var profiles: [String: (client: Client, file: KYCFile)] = [:]
        for entry in entries where entry.kind == .trade || entry.kind == .replacement {
            guard let clientID = try client(of: entry.account) else { continue }
            if profiles[clientID] == nil {
                guard let client = try store.client(clientID) else { continue }
                profiles[clientID] = (client, try store.kycFile(clientID))
            }
            let (client, file) = profiles[clientID]!
            let notional = (entry.quantity * entry.price).magnitude
            let today = CalendarDay(daysSinceEpoch: Int(now / 86_400_000_000_000))
            if client.status != .active || !file.isVerified(today: today) {
                let why = client.status != .active ? "client is \(client.status.rawValue)" : "identity not verified"
                planned.append((clientID, .accountStatus, "trade \(entry.executionID) on account \(entry.account): \(why)", [entry.offset]))
            }
            let monthly = file.factors.expectedAnnualNotional.divided(by: 12, scale: 2)
            if !monthly.isZero && notional > monthly {
                planned.append((clientID, .size, "trade \(entry.executionID) notional \(notional.normalized) \(entry.currency) "
                                + "is above a month of expected activity (\(monthly.normalized))", [entry.offset]))
            }
            var times = recent[clientID, default: []].filter { entry.transactTime - $0 < 3_600_000_000_000 }
            times.append(entry.transactTime)
            recent[clientID] = times
            if times.count == settings.velocityTradesPerHour + 1 {
                planned.append((clientID, .velocity, "\(times.count) trades within an hour (limit \(settings.velocityTradesPerHour))", [entry.offset]))
            }
            let day = Int(entry.transactTime / 86_400_000_000_000)
            var days = daily[clientID, default: [:]]
            let before = days[day, default: .zero]
            days[day] = before + notional
            daily[clientID] = days
            let history = days.filter { $0.key < day }
            if history.count >= settings.baselineDaysMinimum {
                let average = history.values.reduce(ExactDecimal.zero, +).divided(by: ExactDecimal(history.count), scale: 2)
                let limit = average * ExactDecimal(settings.baselineMultiple)
                if before <= limit && days[day]! > limit {
                    planned.append((clientID, .baseline, "day's notional \(days[day]!.normalized) is over \(settings.baselineMultiple)× "
                                    + "the client's average day (\(average.normalized))", [entry.offset]))
                }
            }
        }
        return try store.ledger.write { [store] write in
            let txn = write.transaction
            var raised: [Alert] = []
            for item in planned {
                if item.rule == .accountStatus,
                   try store.openAlerts(txn.reader, clientID: item.clientID).contains(where: { $0.rule == .accountStatus }) { continue }
                raised.append(try store.raise(txn, clientID: item.clientID, rule: item.rule, detail: item.detail, trades: item.trades, now: now))
            }
            try txn.put(store.meta, Self.offsetKey, Key.offset(last.offset))
            return raised
        }
    }

    private func client(of account: String) throws -> String? {
        if let known = clientByAccount[account] { return known }
        let found = try store.client(ofLedgerAccount: account)
        clientByAccount[account] = found
        return found
    }
}
