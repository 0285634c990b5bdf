/// The kinds of difference a reconciliation finds.
public enum BreakType: String, Sendable, Hashable, Codable, CaseIterable, Comparable {
    /// They have it, we do not.
    case missingOurs = "missing-ours"
    /// We have it, they do not.
    case missingTheirs = "missing-theirs"
    case quantity
    /// A trade's price, or a position's average cost.
    case price
    case valueDate = "value-date"
    /// The statement lists the same thing twice.
    case duplicate
    /// An account or instrument code that maps to nothing in our books.
    case mapping

    public static func < (a: BreakType, b: BreakType) -> Bool { a.rawValue < b.rawValue }
}

/// One difference between our books and a statement, before it is stored as a break.
public struct Finding: Sendable, Hashable, Codable {
    public var kind: ReconKind
    public var type: BreakType
    public var account: String
    /// The instrument (positions), currency (cash) or trade id (trades).
    public var subject: String
    /// Our value and theirs as exact decimal text; nil on the side that has nothing.
    public var ours: String?
    public var theirs: String?
    /// The currency a position's value is in, for adjustments.
    public var currency: String?
    /// The statement line, when the finding comes from one.
    public var line: Int?
    /// Ours and theirs have opposite signs (one side booked the other's direction).
    public var oppositeSign: Bool
    public var note: String

    public init(kind: ReconKind, type: BreakType, account: String, subject: String, ours: String? = nil,
                theirs: String? = nil, currency: String? = nil, line: Int? = nil, oppositeSign: Bool = false, note: String = "") {
        self.kind = kind
        self.type = type
        self.account = account
        self.subject = subject
        self.ours = ours
        self.theirs = theirs
        self.currency = currency
        self.line = line
        self.oppositeSign = oppositeSign
        self.note = note
    }

    /// What makes two runs' findings "the same break": a break found again is the same
    /// break, whatever its values are now.
    public var identity: String { "\(kind.rawValue)|\(type.rawValue)|\(account)|\(subject)" }
}
