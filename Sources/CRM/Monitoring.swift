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
/// Velocity and baseline keep their windows (the last hour's trade times, the last
/// `baselineWindowDays` days' notional) in memory; a client's windows are filled from the
/// books the first time a run meets the client, so a restart loses nothing.
public final class MonitoringEngine: @unchecked Sendable {
    let store: CRMStore
    private let lock = NSLock()
    /// Per client: recent trade times (velocity), and notional per day (baseline).
    private var recent: [String: [Int64]] = [:]
    private var daily: [String: [Int: ExactDecimal]] = [:]
    /// Clients whose windows were filled from the books in this process.
    private var seeded: Set<String> = []
    private var clientByAccount: [String: String?] = [:]

    /// How many days before a trade's day its baseline averages over.
    public static let baselineWindowDays = 30
    static let nanosecondsPerDay: Int64 = 86_400_000_000_000

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
            if seeded.insert(clientID).inserted { try seedWindows(clientID, through: start, at: entry.transactTime) }
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
            let day = Int(entry.transactTime / Self.nanosecondsPerDay)
            var days = daily[clientID, default: [:]].filter { $0.key > day - Self.baselineWindowDays }
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

    /// Fills a client's windows from the trades booked up to `offset` (the ones earlier runs
    /// saw) within the baseline window before `time`, newest first through each account.
    private func seedWindows(_ clientID: String, through offset: UInt64, at time: Int64) throws {
        let hourAgo = time - 3_600_000_000_000
        let firstDay = Int(time / Self.nanosecondsPerDay) - Self.baselineWindowDays + 1
        var times: [Int64] = []
        var days: [Int: ExactDecimal] = [:]
        let accounts = try store.ledger.environment.read { try store.accounts(of: clientID, in: $0) }
        try store.ledger.readBooks { books in
            for account in accounts {
                try store.ledger.forEachEntryRecord(account: account, before: offset + 1, in: books) { record in
                    let entry = try EntrySummary(record)
                    let day = Int(entry.transactTime / Self.nanosecondsPerDay)
                    guard day >= firstDay else { return false }
                    guard entry.kind == .trade || entry.kind == .replacement else { return true }
                    if entry.transactTime > hourAgo && entry.transactTime <= time { times.append(entry.transactTime) }
                    days[day, default: .zero] += (entry.quantity * entry.price).magnitude
                    return true
                }
            }
        }
        recent[clientID] = times.sorted()
        daily[clientID] = days
    }

    private func client(of account: String) throws -> String? {
        if let known = clientByAccount[account] { return known }
        let found = try store.client(ofLedgerAccount: account)
        clientByAccount[account] = found
        return found
    }
}
