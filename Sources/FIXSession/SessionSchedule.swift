import Foundation

/// When a session is open, as QuickFIX's StartTime/EndTime (daily) and StartDay/EndDay
/// (weekly) in a TimeZone say. A window that starts later in the day (or week) than it
/// ends runs across midnight (or the weekend); start equal to end is a window that never
/// closes but begins anew at that time, as QuickFIX has it.
///
/// The session is active from the start to the end of a window, both included. Sequence
/// numbers start again at 1 in each window: the state from an earlier window is stale.
public struct SessionSchedule: Sendable, Equatable {
    /// Seconds after local midnight.
    public let startTime: Int
    public let endTime: Int
    /// 1 = Monday … 7 = Sunday; nil for a daily schedule.
    public let startDay: Int?
    public let endDay: Int?
    public let timeZone: TimeZone

    public init(startTime: Int, endTime: Int, startDay: Int? = nil, endDay: Int? = nil, timeZone: TimeZone) {
        self.startTime = startTime
        self.endTime = endTime
        self.startDay = startDay
        self.endDay = endDay
        self.timeZone = timeZone
    }

    /// The schedule the settings give, nil if they give none (always open, never reset).
    public init?(settings: SessionSettings) {
        guard let start = settings.startTimeSeconds, let end = settings.endTimeSeconds else { return nil }
        self.init(startTime: start, endTime: end, startDay: settings.startDay, endDay: settings.endDay,
                  timeZone: settings.timeZone)
    }

    private static let day: Int64 = 86_400
    private static let week: Int64 = 7 * 86_400

    /// The instant (ns since the epoch) the window containing `time` began, or nil if
    /// `time` is outside every window.
    public func windowStart(containing time: Int64) -> Int64? {
        let seconds = time / 1_000_000_000
        let offset = Int64(timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(seconds))))
        let local = seconds + offset
        let cycle: Int64
        let position: Int64
        let start: Int64
        let end: Int64
        if let startDay, let endDay {
            cycle = Self.week
            // 1970-01-01 was a Thursday (day 4 counting Monday as 1).
            let weekday = ((floorDivide(local, Self.day) + 3) % 7 + 7) % 7
            position = weekday * Self.day + positiveRemainder(local, Self.day)
            start = Int64(startDay - 1) * Self.day + Int64(startTime)
            end = Int64(endDay - 1) * Self.day + Int64(endTime)
        } else {
            cycle = Self.day
            position = positiveRemainder(local, Self.day)
            start = Int64(startTime)
            end = Int64(endTime)
        }
        let back: Int64
        if start == end {
            back = position >= start ? position - start : position + cycle - start
        } else if start < end {
            guard position >= start && position <= end else { return nil }
            back = position - start
        } else if position >= start {
            back = position - start
        } else if position <= end {
            back = position + cycle - start
        } else {
            return nil
        }
        return (seconds - back) * 1_000_000_000
    }

    public func isActive(at time: Int64) -> Bool { windowStart(containing: time) != nil }

    /// Whether state created at `created` belongs to the window open at `now`.
    public func isCurrent(created: Int64, now: Int64) -> Bool {
        guard let start = windowStart(containing: now) else { return false }
        return created >= start
    }

    private func floorDivide(_ a: Int64, _ b: Int64) -> Int64 { a >= 0 ? a / b : -((-a + b - 1) / b) }
    private func positiveRemainder(_ a: Int64, _ b: Int64) -> Int64 { ((a % b) + b) % b }
}
