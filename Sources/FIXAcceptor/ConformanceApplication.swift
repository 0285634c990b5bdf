import FIXCore
import FIXDictionary
import FIXSession

/// The application QuickFIX's session acceptance suite expects behind an acceptor, so that
/// any `.def` script can be run against Counterfoil's session layer (`counterfoil
/// conformance-server`): it echoes NewOrderSingle and SecurityDefinition back, drops a
/// PossResend order it has already seen on this logon, and refuses every other
/// application message as unsupported (BusinessMessageReject, or a Reject before 4.2).
///
/// The echo carries the header fields the message had beyond the session's own, and the
/// body in tag order with each repeating group moving with its count field, as QuickFIX
/// writes a message it has parsed.
public final class ConformanceApplication: SessionApplication {
    /// For the body's group layout; nil: groups are not kept together.
    let application: FIXDataDictionary?
    private var orders: Set<[UInt8]> = []
    /// Tags the session writes itself.
    private static let sessionOwned: Set<Int> = [8, 9, 10, 34, 35, 43, 49, 52, 56, 122]

    public init(application: FIXDataDictionary?) { self.application = application }

    public func fromApp(_ message: FIXMessage, raw: UnsafeRawBufferPointer, seqNum: Int, session: Session) -> BusinessReject? {
        guard message.msgType.equals("D") || message.msgType.equals("d") else { return .unsupportedMessageType }
        if message.msgType.equals("D") {
            let possResend = (try? message[tag: 97]?.bool()) ?? false
            let id = message[tag: 11].map { Array($0.bytes) } ?? []
            if possResend && orders.contains(id) { return nil }
            orders.insert(id)
        }
        let type = message.msgType.string
        let header = session.configuration.header
        var headerFields: [(tag: Int, value: [UInt8])] = []
        var units: [(tag: Int, fields: [(Int, [UInt8])])] = []
        let layout = application?.messages[type]?.body
        var position = 0
        while position < message.count {
            let tag = message.tag(at: position)
            let value = Array(message[position].value.bytes)
            position += 1
            if Self.sessionOwned.contains(tag) { continue }
            if header.contains(tag) {
                headerFields.append((tag, value))
                continue
            }
            var unit = [(tag, value)]
            if let group = layout?.groups[tag] {
                while position < message.count, group.instance.members.contains(message.tag(at: position)) {
                    unit.append((message.tag(at: position), Array(message[position].value.bytes)))
                    position += 1
                }
            }
            units.append((tag, unit))
        }
        units.sort { $0.tag < $1.tag }
        session.sendApplication(msgType: type, header: headerFields, now: Acceptor.now()) { encoder in
            for unit in units {
                for (tag, value) in unit.fields { value.withUnsafeBytes { encoder.append(tag, bytes: $0) } }
            }
        }
        return nil
    }

    /// Orders seen are per logon: the scripts log on afresh (ResetOnLogon) each time.
    public func onLogon(_ session: Session) { orders.removeAll() }
    public func onLogout(_ session: Session) {}
}
