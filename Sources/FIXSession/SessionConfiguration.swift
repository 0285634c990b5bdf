import FIXDictionary

/// What a running session needs from its settings: identity, timers, checks, dictionaries.
public struct SessionConfiguration: @unchecked Sendable {
    public var id: SessionID
    /// The HeartBtInt we accept when the counterparty proposes none (0 = use theirs).
    public var heartBtIntSeconds: Int
    /// FIXT sessions: the DefaultApplVerID code we answer with (7 = FIX.5.0, 8 = SP1, 9 = SP2).
    public var defaultApplVerID: String?
    public var resetOnLogon = false
    public var resetOnLogout = false
    public var resetOnDisconnect = false
    /// SendingTime must be within this many seconds of our clock (CheckLatency/MaxLatency).
    public var checkLatency = true
    public var maxLatencySeconds = 120
    /// Our ResendRequests ask for at most this many messages at a time (0: all).
    public var resendRequestChunkSize = 0
    /// Out-of-order messages held while a gap is filled; more ends the session.
    public var queuedMessagesMax = 10_000
    /// And at most this many bytes of them (MaxQueuedBytes).
    public var queuedBytesMax = 16 * 1024 * 1024
    /// The most messages one ResendRequest is answered with (MaxResendRange).
    public var resendRangeMax = 10_000
    /// The HeartBtInt (108) a Logon may propose, in seconds.
    public var heartBtIntRange: ClosedRange<Int> = 1...3600
    /// The highest MsgSeqNum (34), NewSeqNo (36) or NextExpectedMsgSeqNum (789) taken
    /// from a peer: QuickFIX's sequence numbers are 32-bit, and a number near Int.max
    /// would overflow the next one.
    public static let seqNumMax = Int(Int32.max)
    public var username: String?
    public var password: String?
    /// The checks QuickFIX's DataDictionary runs; nil validator: no dictionary checks.
    public var validator: FIXValidator?
    /// When the session is open; nil: always, with no reset but the ones asked for.
    public var schedule: SessionSchedule?
    /// The header's tags: resent messages and replies put them before the body.
    public var header: Set<Int> = SessionConfiguration.standardHeaderTags

    public init(id: SessionID, heartBtIntSeconds: Int = 30, validator: FIXValidator? = nil, defaultApplVerID: String? = nil) {
        self.id = id
        self.heartBtIntSeconds = heartBtIntSeconds
        self.validator = validator
        self.defaultApplVerID = defaultApplVerID.map(SessionConfiguration.applVerIDCode)
        if let validator {
            var tags = Set<Int>()
            for tag in validator.transport.header.order { tags.insert(tag) }
            if !tags.isEmpty { header = tags }
        }
    }

    /// From checked settings, with the dictionaries already loaded.
    public init(settings: SessionSettings, validator: FIXValidator?) {
        self.init(id: settings.id, heartBtIntSeconds: settings.heartBtIntSeconds, validator: validator,
                  defaultApplVerID: settings.defaultApplVerID)
        resetOnLogon = settings.resetOnLogon
        resetOnLogout = settings.resetOnLogout
        resetOnDisconnect = settings.resetOnDisconnect
        checkLatency = settings.checkLatency
        maxLatencySeconds = settings.maxLatencySeconds
        resendRequestChunkSize = settings.resendRequestChunkSize
        username = settings.username
        password = settings.password
        schedule = SessionSchedule(settings: settings)
        heartBtIntRange = settings.heartBtIntRange
        queuedBytesMax = settings.queuedBytesMax
        resendRangeMax = settings.resendRangeMax
    }

    /// The header fields of FIX 4.0 to FIXT 1.1, for sessions without a dictionary.
    public static let standardHeaderTags: Set<Int> = [
        8, 9, 35, 49, 56, 115, 128, 90, 91, 34, 50, 142, 57, 143, 116, 144, 129, 145, 43, 97, 52, 122,
        212, 213, 347, 369, 627, 628, 629, 630, 1128, 1129, 1156,
    ]

    /// `FIX.5.0SP2` → `9`; a code stays as it is.
    public static func applVerIDCode(_ value: String) -> String {
        switch value {
        case "FIX.2.7": return "0"
        case "FIX.3.0": return "1"
        case "FIX.4.0": return "2"
        case "FIX.4.1": return "3"
        case "FIX.4.2": return "4"
        case "FIX.4.3": return "5"
        case "FIX.4.4": return "6"
        case "FIX.5.0": return "7"
        case "FIX.5.0SP1": return "8"
        case "FIX.5.0SP2": return "9"
        default: return value
        }
    }
}
