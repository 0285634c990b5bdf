import Foundation
import Ledger

/// What the service reconciles by itself once a day: the latest PositionReports of each
/// FIX session (the answer to the last RequestForPositions), and every statement file
/// (native CSV or JSON) dropped into a folder that has not been reconciled before.
public final class ScheduledReconciliation: @unchecked Sendable {
    /// Seconds after midnight UTC the day's run is due.
    public let time: Int
    public let sessions: [String]
    public let statementFolder: String?
    public let tolerances: ReconTolerances
    public let scope: ReconScope
    let reconciler: Reconciler
    /// The UTC day of the last run, and digests of files that could not be read (reported once).
    private var lastDay: Int?
    private var unreadable: Set<String> = []

    public init(reconciler: Reconciler, time: Int, sessions: [String], statementFolder: String?,
                tolerances: ReconTolerances = ReconTolerances(), scope: ReconScope = .statementAccounts) {
        self.reconciler = reconciler
        self.time = time
        self.sessions = sessions
        self.statementFolder = statementFolder
        self.tolerances = tolerances
        self.scope = scope
    }

    /// One statement's outcome in a scheduled run.
    public enum Outcome: Sendable {
        case reconciled(ReconReport)
        case failed(origin: String, reason: String)
    }

    /// Runs the day's reconciliation if its time has come and it has not run today.
    public func runIfDue(now: Int64) -> [Outcome] {
        let seconds = now / 1_000_000_000
        let day = Int(seconds / 86_400)
        guard Int(seconds % 86_400) >= time, lastDay != day else { return [] }
        lastDay = day
        return runNow()
    }

    /// Reconciles what there is now.
    public func runNow() -> [Outcome] {
        var outcomes: [Outcome] = []
        for session in sessions {
            do {
                guard let statement = try Statement.latestPositionReports(ledger: reconciler.ledger, source: session) else { continue }
                outcomes.append(.reconciled(try reconciler.run(statement, provider: session, tolerances: tolerances, scope: scope,
                                                               who: "schedule")))
            } catch {
                outcomes.append(.failed(origin: "fix:\(session)", reason: "\(error)"))
            }
        }
        guard let statementFolder else { return outcomes }
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: statementFolder)) ?? [])
            .filter { $0.hasSuffix(".csv") || $0.hasSuffix(".json") }.sorted()
        for name in names {
            let path = (statementFolder as NSString).appendingPathComponent(name)
            do {
                let statement = try StatementReader.read(path: path)
                if try reconciler.hasReconciled(digest: statement.digest) { continue }
                outcomes.append(.reconciled(try reconciler.run(statement, provider: Self.provider(fileName: name),
                                                               tolerances: tolerances, scope: scope, who: "schedule")))
            } catch {
                let key = path + "|" + "\(error)"
                if unreadable.insert(key).inserted { outcomes.append(.failed(origin: path, reason: "\(error)")) }
            }
        }
        return outcomes
    }

    /// Whose statement a file is: its name without the extension and a trailing date, so
    /// that `clearer-2026-11-27.csv` and `clearer-2026-11-28.csv` are one provider's.
    public static func provider(fileName: String) -> String {
        let stem = (fileName as NSString).deletingPathExtension
        let trimmed = stem.replacing(/[-_.]?\d{4}-?\d{2}-?\d{2}$/, with: "")
        return trimmed.isEmpty ? stem : trimmed
    }
}

extension Reconciler {
    /// Whether a statement with these bytes was reconciled before.
    public func hasReconciled(digest: String) throws -> Bool {
        try ledger.environment.read { txn in try txn.get(digests, Key.of { $0.string(digest) }) { _ in true } ?? false }
    }
}

extension Statement {
    /// The PositionReports answering the last RequestForPositions of a session, nil when
    /// it has sent none.
    public static func latestPositionReports(ledger: Ledger, source: String) throws -> Statement? {
        guard let last = try ledger.reports(kind: "PositionReport", source: source).last else { return nil }
        let request = Self.requestID(in: last.message)
        return try positionReports(ledger: ledger, source: source, request: request)
    }
}
