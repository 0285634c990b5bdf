import Foundation

/// A session's identity: BeginString, the two CompIDs, an optional qualifier.
public struct SessionID: Hashable, Sendable, CustomStringConvertible {
    public let beginString: String
    public let senderCompID: String
    public let targetCompID: String
    public let qualifier: String

    public init(beginString: String, senderCompID: String, targetCompID: String, qualifier: String = "") {
        self.beginString = beginString
        self.senderCompID = senderCompID
        self.targetCompID = targetCompID
        self.qualifier = qualifier
    }

    public var description: String {
        "\(beginString):\(senderCompID)->\(targetCompID)" + (qualifier.isEmpty ? "" : ":\(qualifier)")
    }
}

/// One acceptor session as a QuickFIX settings block describes it, checked.
///
/// The setting names are QuickFIX's, so a QuickFIX user keeps their blocks; QuickFIX keys
/// that mean nothing to an acceptor that stores in LMDB (FileStorePath, FileLogPath, …)
/// are accepted and ignored; anything else unknown is an error, because a misspelt key
/// would otherwise silently fall back to a default.
public struct SessionSettings: Sendable {
    public let id: SessionID
    public let acceptPort: Int
    /// The local address the port listens on (QuickFIX's SocketAcceptAddress): all
    /// interfaces unless the settings name one.
    public let acceptAddress: String
    public let heartBtIntSeconds: Int
    public let dataDictionary: String?
    public let transportDataDictionary: String?
    public let appDataDictionary: String?
    public let defaultApplVerID: String?
    /// Daily session window (seconds after midnight in `timeZone`), and weekly days (1 = Monday).
    public let startTimeSeconds: Int?
    public let endTimeSeconds: Int?
    public let startDay: Int?
    public let endDay: Int?
    public let timeZone: TimeZone
    public let resetOnLogon: Bool
    public let resetOnLogout: Bool
    public let resetOnDisconnect: Bool
    public let refreshOnLogon: Bool
    public let validateIncomingMessage: Bool
    public let validateFieldsOutOfOrder: Bool
    public let validateFieldsHaveValues: Bool
    public let validateUserDefinedFields: Bool
    public let allowUnknownMessageFields: Bool
    public let validateUnorderedGroupFields: Bool
    public let rejectInvalidMessage: Bool
    public let username: String?
    public let password: String?
    public let serverCertificateFile: String?
    public let serverCertificateKeyFile: String?
    public let certificationAuthoritiesFile: String?
    /// 0 none, 1 a client certificate is required, 2 optional (QuickFIX's CertificateVerifyLevel).
    public let certificateVerifyLevel: Int
    /// Plain TCP, only when a session says so (SocketUseSSL=N, Counterfoil's own setting).
    public let useTLS: Bool
    /// Mutual TLS: the client certificate this session must present, by subject (as
    /// `CN=…,O=…`) or by SHA-256 fingerprint (hex). Counterfoil's own settings.
    public let clientCertificateSubject: String?
    public let clientCertificateFingerprint: String?
    /// Counterfoil: a session that verifies client certificates but is bound to none takes
    /// any certificate the CA signed as this session; refused unless this says so.
    public let allowsAnyClientCertificate: Bool
    public let logonTimeoutSeconds: Int
    public let checkLatency: Bool
    public let maxLatencySeconds: Int
    public let resendRequestChunkSize: Int
    /// Counterfoil: inbound messages per second beyond which reading pauses.
    public let maxMessagesPerSecond: Int
    /// Counterfoil: what a message the ledger refuses gets besides quarantine:
    /// a BusinessMessageReject (Y, the default) or nothing more (N).
    public let rejectRefusedBookings: Bool
    /// Counterfoil: answer each TradeCaptureReport with a TradeCaptureReportAck (35=AR).
    public let tradeCaptureReportAck: Bool
    /// Counterfoil: TradeCaptureReports are booked (Y, the default: a platform's drop copy)
    /// or only kept as a statement to reconcile against (N: a clearer's or LP's trade feed).
    public let bookTradeCaptureReports: Bool
    public let allowUnknownEnumValues: Bool
    /// Counterfoil: when to send a RequestForPositions (35=AN) each day, seconds after
    /// midnight in the session's TimeZone (RequestForPositionsTime=HH:MM:SS); nil for never.
    public let requestForPositionsSeconds: Int?
    /// Counterfoil: the HeartBtInt (108) a Logon may propose, in seconds. Outside it the
    /// Logon is refused: 0 would turn off the dead-peer check, a huge one postpone it forever.
    public let heartBtIntRange: ClosedRange<Int>
    /// Counterfoil: bytes of messages held ahead of a gap before the session ends (MaxQueuedBytes).
    public let queuedBytesMax: Int
    /// Counterfoil: the most messages one ResendRequest is answered with (MaxResendRange).
    public let resendRangeMax: Int

    static let known: Set<String> = [
        "BeginString", "SenderCompID", "TargetCompID", "SessionQualifier", "HeartBtInt", "DataDictionary",
        "TransportDataDictionary", "AppDataDictionary", "DefaultApplVerID", "StartTime", "EndTime", "StartDay",
        "EndDay", "TimeZone", "UseLocalTime", "ResetOnLogon", "ResetOnLogout", "ResetOnDisconnect", "RefreshOnLogon",
        "SocketAcceptPort", "ConnectionType", "UseDataDictionary", "ValidateIncomingMessage", "ValidateFieldsOutOfOrder",
        "ValidateFieldsHaveValues", "ValidateUserDefinedFields", "AllowUnknownMsgFields", "ValidateUnorderedGroupFields",
        "RejectInvalidMessage", "Username", "Password", "ServerCertificateFile", "ServerCertificateKeyFile",
        "CertificationAuthoritiesFile", "CertificateVerifyLevel", "SocketUseSSL", "LogonTimeout", "CheckLatency",
        "MaxLatency", "ResendRequestChunkSize", "ClientCertificateSubject", "ClientCertificateFingerprint",
        "MaxMessagesPerSecond", "RejectRefusedBookings", "TradeCaptureReportAck", "AllowUnknownEnumValues",
        "LedgerPath", "MaxMessageSize", "MaxConnections", "RequestForPositionsTime", "BookTradeCaptureReports",
        "HeartBtIntMin", "HeartBtIntMax", "MaxQueuedBytes", "MaxPreLogonConnections", "MaxPreLogonConnectionsPerAddress",
        "MaxOutboundBytes", "SocketAcceptAddress", "MaxLogonAttemptsPerMinute", "AllowAnyClientCertificate", "MaxResendRange",
    ]
    /// QuickFIX settings with no meaning here (stores and logs are in LMDB; no initiator).
    static let ignored: Set<String> = [
        "FileStorePath", "FileLogPath", "FileLogBackupPath", "PersistMessages", "ReconnectInterval", "SocketConnectHost",
        "SocketConnectPort", "SocketNodelay", "SocketReuseAddress", "ScreenLogShowIncoming", "ScreenLogShowOutgoing",
        "ScreenLogShowEvents", "LogoutTimeout", "SendRedundantResendRequests",
        "MillisecondsInTimeStamp", "TimeStampPrecision",
    ]

    /// Every session of a settings file, or the first problem with its place and reason.
    public static func load(_ file: SettingsFile) throws -> [SessionSettings] {
        var sessions: [SessionSettings] = []
        var seen: [SessionID: Int] = [:]
        for block in file.sessions {
            let session = try SessionSettings(block, path: file.path)
            if let first = seen[session.id] {
                throw SettingsError(file: file.path, line: block.line, section: "SESSION", key: nil,
                                    why: "session \(session.id) is defined twice (first at line \(first))")
            }
            seen[session.id] = block.line
            sessions.append(session)
        }
        if sessions.isEmpty {
            throw SettingsError(file: file.path, line: 0, section: "SESSION", key: nil, why: "no [SESSION] blocks: nothing to accept")
        }
        return sessions
    }

    init(_ block: SettingsFile.Block, path: String) throws {
        func fail(_ key: String?, _ why: String) -> SettingsError {
            SettingsError(file: path, line: key.flatMap { block.lines[$0] } ?? block.line, section: "SESSION", key: key, why: why)
        }
        for key in block.values.keys where !Self.known.contains(key) && !Self.ignored.contains(key) {
            throw fail(key, "unknown setting (a QuickFIX acceptor key or a Counterfoil one was expected)")
        }
        func required(_ key: String) throws -> String {
            guard let value = block.values[key], !value.isEmpty else { throw fail(nil, "\(key) is required") }
            return value
        }
        func flag(_ key: String, _ fallback: Bool) throws -> Bool {
            guard let value = block.values[key] else { return fallback }
            switch value.uppercased() {
            case "Y": return true
            case "N": return false
            default: throw fail(key, "'\(value)' is not Y or N")
            }
        }
        func integer(_ key: String, _ range: ClosedRange<Int>) throws -> Int? {
            guard let value = block.values[key] else { return nil }
            guard let number = Int(value), range.contains(number) else {
                throw fail(key, "'\(value)' is not a whole number from \(range.lowerBound) to \(range.upperBound)")
            }
            return number
        }
        func time(_ key: String) throws -> Int? {
            guard let value = block.values[key] else { return nil }
            let parts = value.split(separator: ":").map { Int($0) }
            guard parts.count == 3, let h = parts[0], let m = parts[1], let s = parts[2],
                  (0..<24).contains(h), (0..<60).contains(m), (0..<60).contains(s) else {
                throw fail(key, "'\(value)' is not a time HH:MM:SS")
            }
            return h * 3600 + m * 60 + s
        }
        func day(_ key: String) throws -> Int? {
            guard let value = block.values[key] else { return nil }
            let days = ["mo", "tu", "we", "th", "fr", "sa", "su"]
            guard value.count >= 2, let index = days.firstIndex(of: String(value.lowercased().prefix(2))) else {
                throw fail(key, "'\(value)' is not a day of the week")
            }
            return index + 1
        }
        func readable(_ key: String) throws -> String? {
            guard let value = block.values[key] else { return nil }
            guard FileManager.default.isReadableFile(atPath: value) else { throw fail(key, "cannot read '\(value)'") }
            return value
        }

        if let type = block.values["ConnectionType"], type.lowercased() != "acceptor" {
            throw fail("ConnectionType", "'\(type)': Counterfoil is an acceptor")
        }
        let beginString = try required("BeginString")
        guard ["FIX.4.0", "FIX.4.1", "FIX.4.2", "FIX.4.3", "FIX.4.4", "FIXT.1.1"].contains(beginString) else {
            throw fail("BeginString", "'\(beginString)' is not FIX.4.0 to FIX.4.4 or FIXT.1.1")
        }
        id = SessionID(beginString: beginString, senderCompID: try required("SenderCompID"),
                       targetCompID: try required("TargetCompID"), qualifier: block.values["SessionQualifier"] ?? "")
        guard let port = try integer("SocketAcceptPort", 1...65_535) else { throw fail(nil, "SocketAcceptPort is required") }
        acceptPort = port
        acceptAddress = block.values["SocketAcceptAddress"] ?? "0.0.0.0"
        heartBtIntSeconds = try integer("HeartBtInt", 1...3600) ?? 30
        dataDictionary = try readable("DataDictionary")
        transportDataDictionary = try readable("TransportDataDictionary")
        appDataDictionary = try readable("AppDataDictionary")
        defaultApplVerID = block.values["DefaultApplVerID"]
        let usesDictionary = try flag("UseDataDictionary", true)
        if beginString == "FIXT.1.1" && usesDictionary {
            if transportDataDictionary == nil { throw fail(nil, "a FIXT.1.1 session needs TransportDataDictionary") }
            if appDataDictionary == nil { throw fail(nil, "a FIXT.1.1 session needs AppDataDictionary") }
            if defaultApplVerID == nil { throw fail(nil, "a FIXT.1.1 session needs DefaultApplVerID") }
        }
        startTimeSeconds = try time("StartTime")
        endTimeSeconds = try time("EndTime")
        if (startTimeSeconds == nil) != (endTimeSeconds == nil) {
            throw fail(startTimeSeconds == nil ? "EndTime" : "StartTime", "StartTime and EndTime go together")
        }
        startDay = try day("StartDay")
        endDay = try day("EndDay")
        if (startDay == nil) != (endDay == nil) {
            throw fail(startDay == nil ? "EndDay" : "StartDay", "StartDay and EndDay go together")
        }
        if let name = block.values["TimeZone"] {
            guard let zone = TimeZone(identifier: name) else { throw fail("TimeZone", "'\(name)' is not a time zone (e.g. Europe/London)") }
            timeZone = zone
        } else if try flag("UseLocalTime", false) {
            // QuickFIX's UseLocalTime: session hours in the machine's own zone.
            timeZone = TimeZone.current
        } else {
            timeZone = TimeZone(identifier: "UTC")!
        }
        resetOnLogon = try flag("ResetOnLogon", false)
        resetOnLogout = try flag("ResetOnLogout", false)
        resetOnDisconnect = try flag("ResetOnDisconnect", false)
        refreshOnLogon = try flag("RefreshOnLogon", false)
        validateIncomingMessage = try flag("ValidateIncomingMessage", true)
        validateFieldsOutOfOrder = try flag("ValidateFieldsOutOfOrder", true)
        validateFieldsHaveValues = try flag("ValidateFieldsHaveValues", true)
        validateUserDefinedFields = try flag("ValidateUserDefinedFields", true)
        allowUnknownMessageFields = try flag("AllowUnknownMsgFields", false)
        validateUnorderedGroupFields = try flag("ValidateUnorderedGroupFields", true)
        rejectInvalidMessage = try flag("RejectInvalidMessage", true)
        username = block.values["Username"]
        password = block.values["Password"]
        useTLS = try flag("SocketUseSSL", true)
        serverCertificateFile = try readable("ServerCertificateFile")
        serverCertificateKeyFile = try readable("ServerCertificateKeyFile")
        certificationAuthoritiesFile = try readable("CertificationAuthoritiesFile")
        certificateVerifyLevel = try integer("CertificateVerifyLevel", 0...2) ?? 0
        if useTLS && (serverCertificateFile == nil || serverCertificateKeyFile == nil) {
            throw fail(nil, "TLS needs ServerCertificateFile and ServerCertificateKeyFile (or SocketUseSSL=N for plain TCP)")
        }
        clientCertificateSubject = block.values["ClientCertificateSubject"]
        clientCertificateFingerprint = block.values["ClientCertificateFingerprint"]?.lowercased().replacingOccurrences(of: ":", with: "")
        if (clientCertificateSubject != nil || clientCertificateFingerprint != nil) && (certificateVerifyLevel != 1 || !useTLS) {
            throw fail(clientCertificateSubject != nil ? "ClientCertificateSubject" : "ClientCertificateFingerprint",
                       "binding a session to a client certificate needs TLS with CertificateVerifyLevel=1")
        }
        allowsAnyClientCertificate = try flag("AllowAnyClientCertificate", false)
        if useTLS && certificateVerifyLevel >= 1 && clientCertificateSubject == nil && clientCertificateFingerprint == nil
            && !allowsAnyClientCertificate {
            throw fail("CertificateVerifyLevel", "any client certificate the CA signed would log on as \(id): bind the session "
                       + "with ClientCertificateSubject or ClientCertificateFingerprint, or set AllowAnyClientCertificate=Y")
        }
        logonTimeoutSeconds = try integer("LogonTimeout", 1...3600) ?? 10
        checkLatency = try flag("CheckLatency", true)
        maxLatencySeconds = try integer("MaxLatency", 1...86_400) ?? 120
        resendRequestChunkSize = try integer("ResendRequestChunkSize", 0...1_000_000) ?? 0
        maxMessagesPerSecond = try integer("MaxMessagesPerSecond", 1...10_000_000) ?? 1_000_000
        rejectRefusedBookings = try flag("RejectRefusedBookings", true)
        tradeCaptureReportAck = try flag("TradeCaptureReportAck", false)
        bookTradeCaptureReports = try flag("BookTradeCaptureReports", true)
        allowUnknownEnumValues = try flag("AllowUnknownEnumValues", false)
        requestForPositionsSeconds = try time("RequestForPositionsTime")
        let heartBtIntMin = try integer("HeartBtIntMin", 1...3600) ?? 1
        let heartBtIntMax = try integer("HeartBtIntMax", 1...86_400) ?? 3600
        guard heartBtIntMin <= heartBtIntMax else { throw fail("HeartBtIntMin", "is more than HeartBtIntMax (\(heartBtIntMax))") }
        heartBtIntRange = heartBtIntMin...heartBtIntMax
        queuedBytesMax = try integer("MaxQueuedBytes", 65_536...1 << 32) ?? 16 * 1024 * 1024
        resendRangeMax = try integer("MaxResendRange", 1...10_000_000) ?? 10_000
        if certificateVerifyLevel > 0 && certificationAuthoritiesFile == nil {
            throw fail("CertificateVerifyLevel", "verifying client certificates needs CertificationAuthoritiesFile")
        }
    }
}
