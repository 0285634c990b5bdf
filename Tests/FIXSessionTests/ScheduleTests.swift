import FIXCore
import Foundation
@testable import FIXSession
import Testing

/// Session hours (StartTime/EndTime/StartDay/EndDay/TimeZone) and what the session does
/// with them, on a made-up clock.
@Suite struct ScheduleTests {
    static let second: Int64 = 1_000_000_000
    /// 2026-11-30 00:00:00 UTC, a Monday.
    static let monday: Int64 = 1_795_996_800 * second

    static func at(day: Int = 0, _ hour: Int, _ minute: Int = 0, _ secondOfMinute: Int = 0) -> Int64 {
        monday + Int64(day * 86_400 + hour * 3600 + minute * 60 + secondOfMinute) * second
    }

    static let utc = TimeZone(identifier: "UTC")!

    @Test("a daily window: open from StartTime to EndTime inclusive, closed outside")
    func daily() {
        let schedule = SessionSchedule(startTime: 8 * 3600, endTime: 17 * 3600, timeZone: Self.utc)
        #expect(!schedule.isActive(at: Self.at(7, 59, 59)))
        #expect(schedule.windowStart(containing: Self.at(8)) == Self.at(8))
        #expect(schedule.windowStart(containing: Self.at(12, 30)) == Self.at(8))
        #expect(schedule.isActive(at: Self.at(17)))
        #expect(!schedule.isActive(at: Self.at(17, 0, 1)))
        #expect(schedule.windowStart(containing: Self.at(day: 1, 9)) == Self.at(day: 1, 8))
    }

    @Test("a window across midnight belongs to the day it started")
    func acrossMidnight() {
        let schedule = SessionSchedule(startTime: 22 * 3600, endTime: 6 * 3600, timeZone: Self.utc)
        #expect(schedule.windowStart(containing: Self.at(23)) == Self.at(22))
        #expect(schedule.windowStart(containing: Self.at(day: 1, 5, 59)) == Self.at(22))
        #expect(!schedule.isActive(at: Self.at(12)))
    }

    @Test("StartTime equal to EndTime never closes but starts a new period at that time")
    func neverCloses() {
        let schedule = SessionSchedule(startTime: 17 * 3600, endTime: 17 * 3600, timeZone: Self.utc)
        #expect(schedule.windowStart(containing: Self.at(16, 59)) == Self.at(day: -1, 17))
        #expect(schedule.windowStart(containing: Self.at(17)) == Self.at(17))
        #expect(schedule.isCurrent(created: Self.at(day: -1, 18), now: Self.at(16)))
        #expect(!schedule.isCurrent(created: Self.at(day: -1, 18), now: Self.at(17, 0, 1)))
    }

    @Test("a weekly window from Sunday evening to Friday evening, in New York time")
    func weekly() {
        let newYork = TimeZone(identifier: "America/New_York")!
        // Sunday 17:00 to Friday 17:00 New York = 22:00 UTC in November (EST, UTC-5).
        let schedule = SessionSchedule(startTime: 17 * 3600, endTime: 17 * 3600, startDay: 7, endDay: 5, timeZone: newYork)
        #expect(schedule.windowStart(containing: Self.at(12)) == Self.at(day: -1, 22))
        #expect(schedule.windowStart(containing: Self.at(day: 4, 21, 59)) == Self.at(day: -1, 22))
        #expect(!schedule.isActive(at: Self.at(day: 4, 22, 0, 1)))
        #expect(!schedule.isActive(at: Self.at(day: 5, 12)))
        #expect(schedule.windowStart(containing: Self.at(day: 6, 22)) == Self.at(day: 6, 22))
    }

    final class Recorder: SessionApplication {
        var logons = 0
        var logouts = 0
        func fromApp(_ message: FIXMessage, raw: UnsafeRawBufferPointer, seqNum: Int, session: Session) -> BusinessReject? { nil }
        func onLogon(_ session: Session) { logons += 1 }
        func onLogout(_ session: Session) { logouts += 1 }
    }

    func session(_ schedule: SessionSchedule?, store: MemorySessionStore = MemorySessionStore(),
                 username: String? = nil) -> (Session, Recorder) {
        var configuration = SessionConfiguration(id: SessionID(beginString: "FIX.4.4", senderCompID: "COUNTERFOIL", targetCompID: "PLATFORM"))
        configuration.schedule = schedule
        configuration.username = username
        configuration.password = username.map { _ in "secret" }
        let recorder = Recorder()
        return (Session(configuration: configuration, store: store, application: recorder), recorder)
    }

    func logon(_ session: Session, seq: Int, at time: Int64, _ extra: [(Int, String)] = []) -> [String] {
        session.connected(now: time)
        SessionTests.message("A", seq: seq, at: time, [(98, "0"), (108, "30")] + extra).withUnsafeBytes { session.receive($0, now: time) }
        return SessionTests.sent(session.takeOutput())
    }

    static let hours = SessionSchedule(startTime: 8 * 3600, endTime: 17 * 3600, timeZone: utc)

    @Test("a Logon outside the session's hours is refused without a reply, and the log says why")
    func logonOutsideHours() {
        let (session, recorder) = session(Self.hours)
        let sent = logon(session, seq: 1, at: Self.at(18))
        #expect(sent.isEmpty, "a refused Logon is answered: \(sent)")
        #expect(session.takeEvents().contains { $0.contains("Logon refused: Logon attempt not within session time") })
        #expect(!session.isLoggedOn && recorder.logons == 0)
    }

    @Test("the first Logon of a new period starts sequence numbers again at 1")
    func newPeriodResets() {
        let store = MemorySessionStore()
        store.reset(time: Self.at(day: -1, 9))
        store.setNextSenderSeqNum(40)
        store.setNextTargetSeqNum(55)
        let (session, _) = session(Self.hours, store: store)
        let sent = logon(session, seq: 1, at: Self.at(8, 0, 5))
        #expect(session.isLoggedOn)
        #expect(sent.first?.contains("|35=A|34=1|") == true, "\(sent)")
        #expect(store.nextTargetSeqNum == 2 && store.creationTime == Self.at(8, 0, 5))

        // Later the same day the numbers carry on.
        session.disconnected(now: Self.at(9))
        let again = logon(session, seq: 2, at: Self.at(10))
        #expect(again.first?.contains("|35=A|34=2|") == true, "\(again)")
    }

    @Test("at the end of the session's hours a logged-on session is logged out")
    func endOfHours() {
        let (session, recorder) = session(Self.hours)
        _ = logon(session, seq: 1, at: Self.at(16, 59))
        session.tick(now: Self.at(16, 59, 20))
        #expect(SessionTests.sent(session.takeOutput()).isEmpty)
        session.tick(now: Self.at(17, 0, 1))
        let sent = SessionTests.sent(session.takeOutput())
        #expect(sent.count == 1 && sent[0].contains("|58=End of session time|"))
        SessionTests.message("5", seq: 2, at: Self.at(17, 0, 2)).withUnsafeBytes { session.receive($0, now: Self.at(17, 0, 2)) }
        #expect(recorder.logouts == 1 && !session.isLoggedOn)
    }

    @Test("Username and Password (553/554) must match the settings")
    func credentials() {
        let (refused, _) = session(nil, username: "platform")
        let wrong = logon(refused, seq: 1, at: Self.at(9), [(553, "platform"), (554, "guess")])
        // The peer is told nothing; the log says why.
        #expect(wrong.isEmpty && !refused.isLoggedOn)
        #expect(refused.takeEvents().contains { $0.contains("Logon refused: invalid Username or Password") })
        let (accepted, _) = session(nil, username: "platform")
        let right = logon(accepted, seq: 1, at: Self.at(9), [(553, "platform"), (554, "secret")])
        #expect(right.first?.contains("|35=A|") == true && accepted.isLoggedOn)
    }

    @Test("SequenceReset in Reset mode moves the expected number, even backwards it is refused")
    func sequenceResetReset() {
        let (session, _) = session(nil)
        _ = logon(session, seq: 1, at: Self.at(9))
        let store = session.store as! MemorySessionStore
        SessionTests.message("4", seq: 2, at: Self.at(9), [(36, "100")]).withUnsafeBytes { session.receive($0, now: Self.at(9)) }
        #expect(store.nextTargetSeqNum == 100)
        SessionTests.message("4", seq: 100, at: Self.at(9), [(36, "50")]).withUnsafeBytes { session.receive($0, now: Self.at(9)) }
        let sent = SessionTests.sent(session.takeOutput())
        #expect(store.nextTargetSeqNum == 100)
        #expect(sent.contains { $0.contains("|35=3|") && $0.contains("|373=5|") }, "\(sent)")
    }
}
