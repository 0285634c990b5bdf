import ExactNumbers
import Foundation

/// A problem with a CRM request, named so that an API can answer it: a code, a message,
/// and the field when one input field is at fault.
public struct CRMError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Code: String, Sendable, Codable {
        case invalid, notFound = "not_found", conflict, forbidden, unavailable
    }

    public let code: Code
    public let message: String
    public let field: String?

    public init(_ code: Code, _ message: String, field: String? = nil) {
        self.code = code
        self.message = message
        self.field = field
    }

    public static func invalid(_ field: String, _ message: String) -> CRMError { CRMError(.invalid, message, field: field) }

    public var description: String { (field.map { "\($0): " } ?? "") + message }
}

public enum ClientKind: String, Codable, Sendable, CaseIterable {
    case person, company
}

public enum ClientStatus: String, Codable, Sendable, CaseIterable {
    case lead, active, suspended, closed
}

public struct Contact: Codable, Sendable, Hashable {
    public var email: String?
    public var phone: String?
    public var address: String?

    public init(email: String? = nil, phone: String? = nil, address: String? = nil) {
        self.email = email
        self.phone = phone
        self.address = address
    }
}

/// A client of the broker, as the CRM knows them.
public struct Client: Codable, Sendable, Hashable {
    public var id: String
    public var kind: ClientKind
    /// The full name of a person, the registered name of a company.
    public var name: String
    /// ISO 3166-1 alpha-2.
    public var countryOfResidence: String
    public var nationality: String?
    public var contact: Contact
    public var status: ClientStatus
    public var manager: String?
    public var tags: [String]
    /// A company without real operations (an EDD trigger).
    public var shellCompany: Bool
    /// Sealed (encrypted at rest); see `DataKey`. Only compliance and admin read it.
    public var dateOfBirthSealed: String?
    public var createdAt: Int64
    public var updatedAt: Int64
}

/// What the CRM sends to create or change a client; absent fields are left as they are
/// on a change and take their defaults on a create.
public struct ClientInput: Codable, Sendable, Hashable {
    public var kind: ClientKind?
    public var name: String?
    public var countryOfResidence: String?
    public var nationality: String?
    public var contact: Contact?
    public var status: ClientStatus?
    public var manager: String?
    public var tags: [String]?
    public var shellCompany: Bool?
    /// YYYY-MM-DD; stored sealed.
    public var dateOfBirth: String?

    public init(kind: ClientKind? = nil, name: String? = nil, countryOfResidence: String? = nil, nationality: String? = nil,
                contact: Contact? = nil, status: ClientStatus? = nil, manager: String? = nil, tags: [String]? = nil,
                shellCompany: Bool? = nil, dateOfBirth: String? = nil) {
        self.kind = kind
        self.name = name
        self.countryOfResidence = countryOfResidence
        self.nationality = nationality
        self.contact = contact
        self.status = status
        self.manager = manager
        self.tags = tags
        self.shellCompany = shellCompany
        self.dateOfBirth = dateOfBirth
    }
}

/// How a platform names the account an execution belongs to.
public enum IdentifierKind: String, Codable, Sendable, CaseIterable {
    /// FIX Account (1): the account the ledger books.
    case account
    /// A PartyID (448) with its source and role (447/452), as `source:role:id`.
    case party
    /// A platform login: retail platforms (MT4/MT5 bridges, cTrader) name a client's
    /// trading account by its login and send it as the execution's Account (1), so the
    /// ledger books it under that login. Resolved after Account and PartyID links.
    case login
}

/// An identifier linked to a client.
public struct AccountLink: Codable, Sendable, Hashable {
    public var kind: IdentifierKind
    public var value: String
    public var clientID: String
    public var linkedAt: Int64
    public var linkedBy: String
}

/// A call, chat, email or note about a client.
public struct Interaction: Codable, Sendable, Hashable {
    public enum Channel: String, Codable, Sendable, CaseIterable { case call, chat, email, note, meeting }

    public var id: UInt64
    public var clientID: String
    public var time: Int64
    public var channel: Channel
    public var agent: String
    public var summary: String
    public var outcome: String?
}

/// Who changed what, when, and how it looked before and after.
public struct AuditEntry: Codable, Sendable, Hashable {
    public var id: UInt64
    public var time: Int64
    public var who: String
    public var action: String
    public var target: String
    public var before: String?
    public var after: String?
}

/// Times in the API and in records: nanoseconds since the epoch ⇄ ISO 8601 UTC.
public enum ISOTime {
    /// A time's day since the epoch, second of that day and millisecond, by floor division
    /// (times before 1970 count back), which cannot overflow.
    @inlinable
    public static func parts(_ nanoseconds: Int64) -> (day: Int, second: Int, millisecond: Int) {
        var (seconds, nanos) = nanoseconds.quotientAndRemainder(dividingBy: 1_000_000_000)
        if nanos < 0 {
            seconds -= 1
            nanos += 1_000_000_000
        }
        var (days, second) = seconds.quotientAndRemainder(dividingBy: 86_400)
        if second < 0 {
            days -= 1
            second += 86_400
        }
        return (Int(days), Int(second), Int(nanos / 1_000_000))
    }

    /// `YYYY-MM-DDTHH:MM:SS.mmmZ`.
    public static func format(_ nanoseconds: Int64) -> String {
        let (days, s, millis) = parts(nanoseconds)
        let (y, m, d) = CalendarDay.civilFromDays(days)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(24)
        func digits(_ value: Int, _ width: Int) {
            var divisor = 1
            for _ in 1..<width { divisor *= 10 }
            while divisor > 0 {
                bytes.append(UInt8(ascii: "0") + UInt8(value / divisor % 10))
                divisor /= 10
            }
        }
        digits(y, 4); bytes.append(UInt8(ascii: "-")); digits(m, 2); bytes.append(UInt8(ascii: "-")); digits(d, 2)
        bytes.append(UInt8(ascii: "T"))
        digits(s / 3600, 2); bytes.append(UInt8(ascii: ":")); digits(s / 60 % 60, 2); bytes.append(UInt8(ascii: ":")); digits(s % 60, 2)
        bytes.append(UInt8(ascii: ".")); digits(millis, 3); bytes.append(UInt8(ascii: "Z"))
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM[:SS[.fff]][Z]`.
    public static func parse(_ text: String) -> Int64? {
        let parts = text.split(separator: "T", maxSplits: 1)
        guard let first = parts.first, let day = CalendarDay(String(first)) else { return nil }
        var nanos = Int64(day.daysSinceEpoch) * 86_400_000_000_000
        guard parts.count == 2 else { return nanos }
        var clock = String(parts[1])
        if clock.hasSuffix("Z") { clock.removeLast() }
        let fields = clock.split(separator: ":")
        guard fields.count >= 2, fields.count <= 3, let hour = Int(fields[0]), let minute = Int(fields[1]),
              (0..<24).contains(hour), (0..<60).contains(minute) else { return nil }
        nanos += Int64(hour * 3600 + minute * 60) * 1_000_000_000
        if fields.count == 3 {
            let secondParts = fields[2].split(separator: ".", maxSplits: 1)
            guard let second = Int(secondParts[0]), (0..<61).contains(second) else { return nil }
            nanos += Int64(second) * 1_000_000_000
            if secondParts.count == 2 {
                let digits = secondParts[1].prefix(9)
                guard let fraction = Int64(digits), digits.allSatisfy(\.isNumber) else { return nil }
                nanos += fraction * Int64(pow(10, Double(9 - digits.count)))
            }
        }
        return nanos
    }

    public static func now() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec)
    }
}
