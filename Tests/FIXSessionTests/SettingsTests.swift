@testable import FIXSession
import Foundation
import Testing

let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
let spec = packageRoot.appendingPathComponent(".cache/quickfix-spec").path

/// The sessions the standard acceptance scripts assume, as a QuickFIX user writes them.
let acceptanceSettings = """
# Counterfoil as the acceptance scripts' acceptor
[DEFAULT]
ConnectionType=acceptor
SenderCompID=ISLD
SocketAcceptPort=5001
ResetOnLogon=Y
SocketUseSSL=N
FileStorePath=store
StartTime=00:00:00
EndTime=00:00:00

[SESSION]
BeginString=FIX.4.2
TargetCompID=TW42
DataDictionary=\(spec)/FIX42.xml

[SESSION]
BeginString=FIXT.1.1
TargetCompID=TW50
TransportDataDictionary=\(spec)/FIXT11.xml
AppDataDictionary=\(spec)/FIX50SP2.xml
DefaultApplVerID=FIX.5.0SP2
HeartBtInt=20
TimeZone=Europe/London
"""

@Suite struct SettingsTests {
    @Test("QuickFIX-style blocks load, sessions inherit the defaults, ignored QuickFIX keys pass")
    func acceptanceSessions() throws {
        let sessions = try SessionSettings.load(try SettingsFile(text: acceptanceSettings, path: "acceptor.cfg"))
        #expect(sessions.map(\.id.description) == ["FIX.4.2:ISLD->TW42", "FIXT.1.1:ISLD->TW50"])
        #expect(sessions.allSatisfy { $0.acceptPort == 5001 && $0.resetOnLogon && !$0.useTLS })
        #expect(sessions[0].heartBtIntSeconds == 30 && sessions[1].heartBtIntSeconds == 20)
        #expect(sessions[1].timeZone.identifier == "Europe/London" && sessions[1].defaultApplVerID == "FIX.5.0SP2")
        #expect(sessions[0].startTimeSeconds == 0 && sessions[0].validateFieldsOutOfOrder)
    }

    /// `{n}` stands for the line of the first extra setting, `{h}` for its block's header.
    @Test("a wrong setting is named with its line, section and key, and why", arguments: [
        ("HeartBtInt=abc", "acceptor.cfg:{n}: [SESSION] HeartBtInt: 'abc' is not a whole number from 1 to 3600"),
        ("HeartBtInt=30\nHeartBtInt=31", "acceptor.cfg:{n+1}: [SESSION] HeartBtInt: set twice in this session (first on line {n})"),
        ("HeartBeatInt=30", "acceptor.cfg:{n}: [SESSION] HeartBeatInt: unknown setting (a QuickFIX acceptor key or a Counterfoil one was expected)"),
        ("TimeZone=Mars/Olympus", "acceptor.cfg:{n}: [SESSION] TimeZone: 'Mars/Olympus' is not a time zone (e.g. Europe/London)"),
        ("ResetOnLogout=maybe", "acceptor.cfg:{n}: [SESSION] ResetOnLogout: 'maybe' is not Y or N"),
        ("StartDay=Funday\nEndDay=Fri", "acceptor.cfg:{n}: [SESSION] StartDay: 'Funday' is not a day of the week"),
        ("[SESSIONS]", "acceptor.cfg:{n}: [SESSIONS]: unknown section (expected DEFAULT, SESSION, API, RECON, STATEMENT)"),
        ("SocketUseSSL=Y", "acceptor.cfg:{h}: [SESSION]: TLS needs ServerCertificateFile and ServerCertificateKeyFile (or SocketUseSSL=N for plain TCP)"),
    ])
    func mistakes(extra: String, message: String) throws {
        // A third session whose last lines are the mistake.
        let block = "\n[SESSION]\nBeginString=FIX.4.4\nTargetCompID=TW44\n"
        let header = acceptanceSettings.split(separator: "\n", omittingEmptySubsequences: false).count + 1
        let first = header + 3
        let expected = message.replacingOccurrences(of: "{n+1}", with: String(first + 1))
            .replacingOccurrences(of: "{n}", with: String(first)).replacingOccurrences(of: "{h}", with: String(header))
        do {
            _ = try SessionSettings.load(try SettingsFile(text: acceptanceSettings + block + extra, path: "acceptor.cfg"))
            Issue.record("accepted: \(extra)")
        } catch let error as SettingsError {
            #expect(error.description == expected)
        }
    }

    @Test("missing identities, duplicate sessions and incomplete FIXT sessions are refused")
    func structure() throws {
        func refusal(_ text: String) -> String {
            do {
                _ = try SessionSettings.load(try SettingsFile(text: text, path: "s.cfg"))
                return "accepted"
            } catch {
                return "\(error)"
            }
        }
        #expect(refusal("[SESSION]\nBeginString=FIX.4.4\nSenderCompID=A\nSocketAcceptPort=1\nSocketUseSSL=N")
                == "s.cfg:1: [SESSION]: TargetCompID is required")
        let one = "[SESSION]\nBeginString=FIX.4.4\nSenderCompID=A\nTargetCompID=B\nSocketAcceptPort=1\nSocketUseSSL=N\n"
        #expect(refusal(one + one) == "s.cfg:7: [SESSION]: session FIX.4.4:A->B is defined twice (first at line 1)")
        #expect(refusal("[SESSION]\nBeginString=FIXT.1.1\nSenderCompID=A\nTargetCompID=B\nSocketAcceptPort=1\nSocketUseSSL=N")
                == "s.cfg:1: [SESSION]: a FIXT.1.1 session needs TransportDataDictionary")
        #expect(refusal("[DEFAULT]\nSocketAcceptPort=1") == "s.cfg:0: [SESSION]: no [SESSION] blocks: nothing to accept")
        #expect(refusal("BeginString=FIX.4.4") == "s.cfg:1: []: a setting before any [DEFAULT] or [SESSION] header")
        #expect(refusal(one.replacingOccurrences(of: "FIX.4.4", with: "FIX.9.9")) == "s.cfg:2: [SESSION] BeginString: 'FIX.9.9' is not FIX.4.0 to FIX.4.4 or FIXT.1.1")
    }

    @Test("session hours are in TimeZone, else the machine's zone with UseLocalTime=Y, else UTC")
    func scheduleZone() throws {
        let one = "[SESSION]\nBeginString=FIX.4.4\nSenderCompID=A\nTargetCompID=B\nSocketAcceptPort=1\nSocketUseSSL=N\nStartTime=08:00:00\nEndTime=17:00:00\n"
        func zone(_ extra: String) throws -> TimeZone {
            try #require(SessionSettings.load(try SettingsFile(text: one + extra, path: "s.cfg")).first).timeZone
        }
        #expect(try zone("") == TimeZone(identifier: "UTC")!)
        #expect(try zone("UseLocalTime=Y") == TimeZone.current)
        #expect(try zone("UseLocalTime=Y\nTimeZone=Asia/Tokyo").identifier == "Asia/Tokyo")
        #expect(throws: SettingsError.self) { try zone("UseLocalTime=maybe") }
    }
}
