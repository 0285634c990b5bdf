import ExactNumbers
import Foundation
import Ledger

public enum RiskLevel: String, Codable, Sendable, CaseIterable, Comparable {
    case low, medium, high

    var rank: Int { self == .low ? 0 : (self == .medium ? 1 : 2) }
    public static func < (a: RiskLevel, b: RiskLevel) -> Bool { a.rank < b.rank }
}

/// An identity document, its number sealed at rest.
public struct IdentityDocument: Codable, Sendable, Hashable {
    public enum Kind: String, Codable, Sendable, CaseIterable { case passport, nationalID = "national-id", drivingLicence = "driving-licence", companyRegistration = "company-registration" }
    public enum Method: String, Codable, Sendable, CaseIterable { case document, electronic, inPerson = "in-person", video }
    public enum Result: String, Codable, Sendable, CaseIterable { case pending, passed, failed }

    public var id: Int
    public var kind: Kind
    public var numberSealed: String
    public var issuingCountry: String
    public var expiry: String
    public var method: Method
    public var result: Result
    public var verifiedAt: Int64?
    public var verifiedBy: String?
    public var addedAt: Int64
}

/// What the CRM sends about a document; the number arrives in clear and is sealed at once.
public struct DocumentInput: Codable, Sendable {
    public var kind: IdentityDocument.Kind
    public var number: String
    public var issuingCountry: String
    public var expiry: String
    public var method: IdentityDocument.Method
    public var result: IdentityDocument.Result

    public init(kind: IdentityDocument.Kind, number: String, issuingCountry: String, expiry: String, method: IdentityDocument.Method,
                result: IdentityDocument.Result) {
        self.kind = kind
        self.number = number
        self.issuingCountry = issuingCountry
        self.expiry = expiry
        self.method = method
        self.result = result
    }
}

/// The factors customer due diligence weighs. Country risk follows from the client's
/// countries; the rest the CRM gives.
public struct DueDiligenceFactors: Codable, Sendable, Hashable {
    public var productRisk: RiskLevel
    /// Expected yearly notional, in the client's usual trading currency.
    public var expectedAnnualNotional: ExactDecimal
    public var expectedTradesPerMonth: Int
    public var politicallyExposed: Bool

    public init(productRisk: RiskLevel = .low, expectedAnnualNotional: ExactDecimal = .zero, expectedTradesPerMonth: Int = 0,
                politicallyExposed: Bool = false) {
        self.productRisk = productRisk
        self.expectedAnnualNotional = expectedAnnualNotional
        self.expectedTradesPerMonth = expectedTradesPerMonth
        self.politicallyExposed = politicallyExposed
    }
}

/// The enhanced due diligence triggers a person decides (the others are computed).
public struct EDDDeclarations: Codable, Sendable, Hashable {
    public var suspiciousFinancialHistory = false
    public var linksToSuspects = false
    public var finesOrNonCompliance = false
    public var unpaidDebts = false

    public init(suspiciousFinancialHistory: Bool = false, linksToSuspects: Bool = false, finesOrNonCompliance: Bool = false,
                unpaidDebts: Bool = false) {
        self.suspiciousFinancialHistory = suspiciousFinancialHistory
        self.linksToSuspects = linksToSuspects
        self.finesOrNonCompliance = finesOrNonCompliance
        self.unpaidDebts = unpaidDebts
    }
}

public enum EDDStatus: String, Codable, Sendable, CaseIterable {
    case notRequired = "not-required", required, inReview = "in-review", cleared, rejected
}

/// A client's KYC file: identification (CIP), due diligence (CDD) and, when a trigger
/// holds, enhanced due diligence (EDD) with its workflow.
public struct KYCFile: Codable, Sendable, Hashable {
    public struct Step: Codable, Sendable, Hashable {
        public var time: Int64
        public var who: String
        public var status: EDDStatus
        public var why: String
    }

    public var clientID: String
    public var documents: [IdentityDocument] = []
    public var factors = DueDiligenceFactors()
    public var declarations = EDDDeclarations()
    /// Set by monitoring when an alert on unusual transactions is raised.
    public var unusualTransactions = false
    /// Computed: country risk, risk level and the reasons behind it, the EDD triggers that hold.
    public var countryRisk: RiskLevel = .low
    public var riskLevel: RiskLevel = .low
    public var riskReasons: [String] = []
    public var eddTriggers: [String] = []
    public var eddStatus: EDDStatus = .notRequired
    public var eddHistory: [Step] = []
    public var updatedAt: Int64 = 0

    public init(clientID: String) { self.clientID = clientID }

    /// Whether identity is verified: a passed, unexpired document.
    public func isVerified(today: CalendarDay) -> Bool {
        documents.contains { $0.result == .passed && (CalendarDay($0.expiry).map { $0 >= today } ?? false) }
    }

    /// Recomputes country risk, the risk level and the EDD triggers from the client and
    /// the factors; a trigger that newly holds makes EDD required (recorded as a step).
    mutating func recompute(client: Client, settings: CRMSettings, now: Int64, who: String) {
        let countries = [client.countryOfResidence] + (client.nationality.map { [$0] } ?? [])
        let sanctioned = countries.contains { settings.sanctionedCountries.contains($0) }
        countryRisk = sanctioned || countries.contains { settings.highRiskCountries.contains($0) } ? .high : .low
        var score = 0
        var reasons: [String] = []
        if countryRisk == .high { score += 2; reasons.append("country risk high (\(countries.joined(separator: ", ")))") }
        if factors.productRisk == .high { score += 2; reasons.append("product risk high") }
        if factors.productRisk == .medium { score += 1; reasons.append("product risk medium") }
        if factors.politicallyExposed { score += 2; reasons.append("politically exposed person") }
        if factors.expectedAnnualNotional >= ExactDecimal(10_000_000) { score += 1; reasons.append("expected activity over 10,000,000 a year") }
        if factors.expectedTradesPerMonth > 1000 { score += 1; reasons.append("expected over 1,000 trades a month") }
        riskLevel = score >= 4 ? .high : (score >= 2 ? .medium : .low)
        riskReasons = reasons
        var triggers: [String] = []
        if sanctioned { triggers.append("sanctioned country") }
        if client.kind == .company && client.shellCompany { triggers.append("shell company") }
        if unusualTransactions { triggers.append("unusual transaction patterns") }
        if declarations.suspiciousFinancialHistory { triggers.append("suspicious financial history") }
        if declarations.linksToSuspects { triggers.append("links to persons or businesses suspected of illicit activity") }
        if declarations.finesOrNonCompliance { triggers.append("history of fines or non-compliance") }
        if declarations.unpaidDebts { triggers.append("unpaid debts or mortgages") }
        let newTriggers = triggers.filter { !eddTriggers.contains($0) }
        eddTriggers = triggers
        if !newTriggers.isEmpty && eddStatus != .inReview {
            eddStatus = .required
            eddHistory.append(Step(time: now, who: who, status: .required, why: "trigger: " + newTriggers.joined(separator: "; ")))
        }
        updatedAt = now
    }

    /// The EDD workflow: required → in review → cleared or rejected (and a cleared or
    /// rejected file may be reviewed again).
    mutating func move(to status: EDDStatus, who: String, why: String, now: Int64) throws {
        let allowed: [EDDStatus: Set<EDDStatus>] = [
            .notRequired: [.inReview], .required: [.inReview], .inReview: [.cleared, .rejected],
            .cleared: [.inReview], .rejected: [.inReview],
        ]
        guard allowed[eddStatus, default: []].contains(status) else {
            throw CRMError(.conflict, "EDD cannot go from \(eddStatus.rawValue) to \(status.rawValue)", field: "status")
        }
        guard !why.trimmingCharacters(in: .whitespaces).isEmpty else { throw CRMError.invalid("why", "say why") }
        eddStatus = status
        eddHistory.append(Step(time: now, who: who, status: status, why: why))
        updatedAt = now
    }
}

extension CRMStore {
    public func kycFile(_ clientID: String) throws -> KYCFile {
        try ledger.environment.read { txn in
            guard let client = try Records.get(txn, clients, Self.clientKey(clientID), as: Client.self) else {
                throw CRMError(.notFound, "no client \(clientID)")
            }
            if let file = try Records.get(txn, kyc, Self.clientKey(clientID), as: KYCFile.self) { return file }
            var file = KYCFile(clientID: clientID)
            file.recompute(client: client, settings: settings, now: client.updatedAt, who: "system")
            return file
        }
    }

    /// Changes a client's KYC file in one audited write and recomputes what follows from it.
    func changeKYC(_ clientID: String, who: String, action: String, now: Int64, _ change: @escaping (inout KYCFile) throws -> Void) throws -> KYCFile {
        let settings = self.settings
        return try ledger.write { [self] write in
            let txn = write.transaction
            guard let client = try Records.get(txn.reader, clients, Self.clientKey(clientID), as: Client.self) else {
                throw CRMError(.notFound, "no client \(clientID)")
            }
            let stored = try Records.get(txn.reader, kyc, Self.clientKey(clientID), as: KYCFile.self)
            var file = stored ?? KYCFile(clientID: clientID)
            if stored == nil { file.recompute(client: client, settings: settings, now: now, who: "system") }
            let before = Records.json(file)
            try change(&file)
            file.recompute(client: client, settings: settings, now: now, who: who)
            try Records.put(txn, kyc, Self.clientKey(clientID), file)
            try record(txn, who: who, action: action, target: clientID, before: stored == nil ? nil : before, after: Records.json(file), now: now)
            return file
        }
    }

    /// Adds an identity document (CIP); the number is sealed before it is stored.
    public func addDocument(_ clientID: String, _ input: DocumentInput, who: String, now: Int64 = ISOTime.now()) throws -> KYCFile {
        guard let dataKey else { throw CRMError(.unavailable, "no data key is configured, so a document number cannot be stored", field: "number") }
        guard !input.number.isEmpty, input.number.count <= 64 else { throw CRMError.invalid("number", "a document number of 1 to 64 characters is required") }
        guard input.issuingCountry.wholeMatch(of: Self.countryCode) != nil else {
            throw CRMError.invalid("issuingCountry", "'\(input.issuingCountry)' is not an ISO 3166 alpha-2 code")
        }
        guard CalendarDay(input.expiry) != nil else { throw CRMError.invalid("expiry", "'\(input.expiry)' is not a date (YYYY-MM-DD)") }
        let sealed = try dataKey.seal(input.number)
        return try changeKYC(clientID, who: who, action: "kyc.document", now: now) { file in
            let document = IdentityDocument(id: (file.documents.map(\.id).max() ?? 0) + 1, kind: input.kind, numberSealed: sealed,
                                            issuingCountry: input.issuingCountry, expiry: input.expiry, method: input.method,
                                            result: input.result, verifiedAt: input.result == .pending ? nil : now,
                                            verifiedBy: input.result == .pending ? nil : who, addedAt: now)
            file.documents.append(document)
        }
    }

    /// The number of a document, opened (compliance and admin only).
    public func documentNumber(_ document: IdentityDocument) throws -> String {
        guard let dataKey else { throw CRMError(.unavailable, "no data key is configured to open personal data") }
        return try dataKey.open(document.numberSealed)
    }

    public func setFactors(_ clientID: String, _ factors: DueDiligenceFactors, who: String, now: Int64 = ISOTime.now()) throws -> KYCFile {
        guard !factors.expectedAnnualNotional.isNegative else { throw CRMError.invalid("expectedAnnualNotional", "cannot be negative") }
        guard factors.expectedTradesPerMonth >= 0 else { throw CRMError.invalid("expectedTradesPerMonth", "cannot be negative") }
        return try changeKYC(clientID, who: who, action: "kyc.factors", now: now) { $0.factors = factors }
    }

    public func setDeclarations(_ clientID: String, _ declarations: EDDDeclarations, who: String, now: Int64 = ISOTime.now()) throws -> KYCFile {
        try changeKYC(clientID, who: who, action: "kyc.declarations", now: now) { $0.declarations = declarations }
    }

    /// A step of the EDD workflow (a compliance decision).
    public func moveEDD(_ clientID: String, to status: EDDStatus, why: String, who: String, now: Int64 = ISOTime.now()) throws -> KYCFile {
        try changeKYC(clientID, who: who, action: "kyc.edd", now: now) { try $0.move(to: status, who: who, why: why, now: now) }
    }
}
