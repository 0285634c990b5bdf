import CRM
import ExactNumbers
import Foundation
import Hummingbird
import Ledger
import Reconciliation

/// What the API answers: every decimal a string (no JSON reader turns it into a float),
/// every time ISO 8601 UTC.
struct ClientView: ResponseEncodable {
    let id: String
    let kind: ClientKind
    let name: String
    let countryOfResidence: String
    let nationality: String?
    let contact: Contact
    let status: ClientStatus
    let manager: String?
    let tags: [String]
    let shellCompany: Bool
    /// Compliance and admin only.
    let dateOfBirth: String?
    let createdAt: String
    let updatedAt: String

    init(_ client: Client, dateOfBirth: String?) {
        id = client.id
        kind = client.kind
        name = client.name
        countryOfResidence = client.countryOfResidence
        nationality = client.nationality
        contact = client.contact
        status = client.status
        manager = client.manager
        tags = client.tags
        shellCompany = client.shellCompany
        self.dateOfBirth = dateOfBirth
        createdAt = ISOTime.format(client.createdAt)
        updatedAt = ISOTime.format(client.updatedAt)
    }
}

struct Page<Item: Encodable & Sendable>: ResponseEncodable {
    let items: [Item]
    let nextCursor: String?
}

struct TradeView: Encodable, Sendable {
    let offset: UInt64
    let kind: String
    let source: String
    let executionID: String
    /// For a reversal or replacement: the journal offset of the trade it reverses or replaces.
    let reference: UInt64?
    let account: String
    let instrument: String
    let side: String
    let quantity: String
    let price: String
    let currency: String
    let tradeDate: String
    let valueDate: String
    let transactTime: String
    let commission: String
    let fees: String
    let bookedAt: String

    init(_ entry: JournalEntry) {
        offset = entry.offset
        kind = entry.kind.description
        source = entry.source
        executionID = entry.executionID
        reference = entry.reference == 0 ? nil : entry.reference
        account = entry.account
        instrument = entry.instrument
        side = entry.side.description
        quantity = entry.quantity.normalized.description
        price = entry.price.normalized.description
        currency = entry.currency
        tradeDate = entry.tradeDate.description
        valueDate = entry.valueDate.description
        transactTime = ISOTime.format(entry.transactTime)
        commission = entry.commission.normalized.description
        fees = entry.fees.normalized.description
        bookedAt = ISOTime.format(entry.bookedAt)
    }
}

struct PositionView: Encodable, Sendable {
    let account: String
    let instrument: String
    let quantity: String
    let averageCost: String
    let realizedPnL: String
    let mark: String?
    let unrealizedPnL: String?
    let currency: String

    init(_ position: Position, mark: ExactDecimal?) {
        account = position.account
        instrument = position.instrument
        quantity = position.quantity.normalized.description
        averageCost = position.averageCost.normalized.description
        realizedPnL = position.realizedPnL.normalized.description
        self.mark = mark?.normalized.description
        unrealizedPnL = mark.map { position.unrealizedPnL(mark: $0).normalized.description }
        currency = position.currency
    }
}

struct Items<Item: Encodable & Sendable>: ResponseEncodable {
    let items: [Item]
}

struct CashView: Encodable, Sendable {
    let account: String
    let currency: String
    let amount: String
}

struct PnLView: ResponseEncodable {
    struct Total: Encodable, Sendable {
        let currency: String
        let realized: String
        let unrealized: String
        /// Positions without a mark: their unrealized P&L is unknown and not in the total.
        let unmarkedPositions: Int
    }

    let positions: [PositionView]
    let totals: [Total]
}

struct FeesView: ResponseEncodable {
    struct Total: Encodable, Sendable {
        let currency: String
        let commission: String
        let fees: String
    }

    let items: [Total]
}

struct ObligationView: Encodable, Sendable {
    let account: String
    let asset: String
    let valueDate: String
    let amount: String
    let status: String
}

struct DocumentView: Encodable, Sendable {
    let id: Int
    let kind: IdentityDocument.Kind
    /// In clear for compliance and admin; others see the last two characters.
    let number: String
    let issuingCountry: String
    let expiry: String
    let method: IdentityDocument.Method
    let result: IdentityDocument.Result
    let verifiedAt: String?
    let verifiedBy: String?
}

struct KYCView: ResponseEncodable {
    struct Step: Encodable, Sendable {
        let time: String
        let who: String
        let status: EDDStatus
        let why: String
    }

    let clientID: String
    let documents: [DocumentView]
    let verified: Bool
    let factors: Factors
    let declarations: EDDDeclarations
    let countryRisk: RiskLevel
    let riskLevel: RiskLevel
    let riskReasons: [String]
    let eddTriggers: [String]
    let eddStatus: EDDStatus
    let eddHistory: [Step]

    struct Factors: Codable, Sendable {
        var productRisk: RiskLevel
        var expectedAnnualNotional: String
        var expectedTradesPerMonth: Int
        var politicallyExposed: Bool
    }
}

struct AlertView: Encodable, Sendable, ResponseEncodable {
    struct Step: Encodable, Sendable {
        let time: String
        let who: String
        let status: Alert.Status
        let note: String
    }

    let id: UInt64
    let clientID: String
    let rule: Alert.Rule
    let detail: String
    let trades: [UInt64]
    let hit: ScreeningHit?
    let time: String
    let status: Alert.Status
    let closeReason: String?
    let history: [Step]

    init(_ alert: Alert) {
        id = alert.id
        clientID = alert.clientID
        rule = alert.rule
        detail = alert.detail
        trades = alert.trades
        hit = alert.hit
        time = ISOTime.format(alert.time)
        status = alert.status
        closeReason = alert.closeReason
        history = alert.history.map { Step(time: ISOTime.format($0.time), who: $0.who, status: $0.status, note: $0.note) }
    }
}

struct InteractionView: Encodable, Sendable, ResponseEncodable {
    let id: UInt64
    let clientID: String
    let time: String
    let channel: Interaction.Channel
    let agent: String
    let summary: String
    let outcome: String?

    init(_ item: Interaction) {
        id = item.id
        clientID = item.clientID
        time = ISOTime.format(item.time)
        channel = item.channel
        agent = item.agent
        summary = item.summary
        outcome = item.outcome
    }
}

struct LinkView: Encodable, Sendable, ResponseEncodable {
    let kind: IdentifierKind
    let value: String
    let clientID: String
    let linkedAt: String
    let linkedBy: String

    init(_ link: AccountLink) {
        kind = link.kind
        value = link.value
        clientID = link.clientID
        linkedAt = ISOTime.format(link.linkedAt)
        linkedBy = link.linkedBy
    }
}

struct TokenView: Encodable, Sendable, ResponseEncodable {
    let id: String
    let name: String
    let role: Role
    let createdAt: String
    let createdBy: String
    let revokedAt: String?
    /// Only when created: shown once, never stored.
    let token: String?

    init(_ record: TokenRecord, token: String? = nil) {
        id = record.id
        name = record.name
        role = record.role
        createdAt = ISOTime.format(record.createdAt)
        createdBy = record.createdBy
        revokedAt = record.revokedAt.map(ISOTime.format)
        self.token = token
    }
}

struct AuditView: Encodable, Sendable {
    let id: UInt64
    let time: String
    let who: String
    let action: String
    let target: String
    let before: String?
    let after: String?
}

struct BreakView: Encodable, Sendable, ResponseEncodable {
    struct Event: Encodable, Sendable {
        let time: String
        let who: String
        let action: String
        let note: String
    }

    let id: UInt64
    let provider: String
    let status: ReconBreak.Status
    let type: BreakType
    let kind: ReconKind
    let account: String
    let subject: String
    let ours: String?
    let theirs: String?
    let oppositeSign: Bool
    let note: String
    let firstRun: UInt64
    let lastRun: UInt64
    let daysOpen: Int
    let resolution: ReconBreak.Resolution?
    let adjustmentOffset: UInt64?
    let explanation: String?
    let history: [Event]

    init(_ record: ReconBreak, now: Int64) {
        id = record.id
        provider = record.provider
        status = record.status
        type = record.finding.type
        kind = record.finding.kind
        account = record.finding.account
        subject = record.finding.subject
        ours = record.finding.ours
        theirs = record.finding.theirs
        oppositeSign = record.finding.oppositeSign
        note = record.finding.note
        firstRun = record.firstRun
        lastRun = record.lastRun
        daysOpen = record.daysOpen(now: now)
        resolution = record.resolution
        adjustmentOffset = record.adjustmentOffset
        explanation = record.explanation
        history = record.history.map { Event(time: ISOTime.format($0.time), who: $0.who, action: $0.action, note: $0.note) }
    }
}

struct RunView: Encodable, Sendable {
    let id: UInt64
    let provider: String
    let origin: String
    let time: String
    let who: String
    let kinds: [ReconKind]
    let rows: Int
    let breaks: Int
    let new: Int
    let accepted: Int
    let cleared: Int
    let duplicateOf: UInt64?
}

struct Health: ResponseEncodable {
    let status: String
    let journalOffset: UInt64
}
