import CLMDB
import ExactNumbers
import Foundation
import Ledger
import Synchronization

/// Settings of the CRM link that change what it decides.
public struct CRMSettings: Sendable {
    /// Residence or nationality here requires enhanced due diligence (ISO alpha-2).
    public var sanctionedCountries: Set<String> = ["CU", "IR", "KP", "SY"]
    /// Countries whose residents are a higher risk (CDD country factor "high").
    public var highRiskCountries: Set<String> = ["AF", "BY", "MM", "RU", "VE", "YE"]
    /// Screening: names at or above this Jaro–Winkler similarity are hits.
    public var screeningThreshold = 0.92
    /// Monitoring rules.
    public var velocityTradesPerHour = 50
    public var baselineMultiple = 5
    public var baselineDaysMinimum = 5

    public init() {}
}

/// The CRM's records in the ledger's LMDB environment: clients, the identifiers that link
/// platforms' accounts to them, interactions, KYC files, alerts, API tokens and the audit
/// trail. Writes go through the ledger's writer, each change with its audit entry in the
/// same commit.
public final class CRMStore: Sendable {
    public let ledger: Ledger
    public let settings: CRMSettings
    public let dataKey: DataKey?
    let clients: MDB_dbi
    let links: MDB_dbi
    let clientLinks: MDB_dbi
    let interactions: MDB_dbi
    let audit: MDB_dbi
    let tokens: MDB_dbi
    let kyc: MDB_dbi
    let alerts: MDB_dbi
    let clientAlerts: MDB_dbi
    let events: MDB_dbi
    let meta: MDB_dbi
    /// Sanctions lists in memory, swapped whole on reload.
    let lists = ScreeningListsBox()
    /// Decoded token records by hash, with the stored bytes they were decoded from.
    let tokenCache = Mutex<[String: (bytes: [UInt8], record: TokenRecord)]>([:])

    public init(ledger: Ledger, settings: CRMSettings = CRMSettings(), dataKey: DataKey? = nil) throws {
        self.ledger = ledger
        self.settings = settings
        self.dataKey = dataKey
        let env = ledger.environment
        clients = try env.database("crm-clients")
        links = try env.database("crm-links")
        clientLinks = try env.database("crm-client-links")
        interactions = try env.database("crm-interactions")
        audit = try env.database("crm-audit")
        tokens = try env.database("crm-tokens")
        kyc = try env.database("crm-kyc")
        alerts = try env.database("crm-alerts")
        clientAlerts = try env.database("crm-client-alerts")
        events = try env.database("crm-events")
        meta = try env.database("crm-meta")
    }

    static func clientKey(_ id: String) -> [UInt8] { Key.of { $0.string(id) } }
    static func linkKey(_ kind: IdentifierKind, _ value: String) -> [UInt8] { Key.of { $0.string(kind.rawValue); $0.string(value) } }

    /// Appends an audit entry in `txn`.
    func record(_ txn: WriteTransaction, who: String, action: String, target: String, before: String?, after: String?, now: Int64) throws {
        let id = try txn.reader.lastID(audit) + 1
        try Records.put(txn, audit, Key.offset(id), AuditEntry(id: id, time: now, who: who, action: action, target: target,
                                                                before: before, after: after))
    }

    // MARK: Clients

    static var countryCode: Regex<Substring> { /^[A-Z]{2}$/ }

    func validate(_ input: ClientInput, creating: Bool) throws {
        if creating || input.name != nil {
            guard let name = input.name?.trimmingCharacters(in: .whitespaces), !name.isEmpty, name.count <= 200 else {
                throw CRMError.invalid("name", "a name of 1 to 200 characters is required")
            }
        }
        if creating && input.countryOfResidence == nil { throw CRMError.invalid("countryOfResidence", "required (ISO 3166 alpha-2, e.g. GB)") }
        if let country = input.countryOfResidence, country.wholeMatch(of: Self.countryCode) == nil {
            throw CRMError.invalid("countryOfResidence", "'\(country)' is not an ISO 3166 alpha-2 code (two capital letters)")
        }
        if let country = input.nationality, country.wholeMatch(of: Self.countryCode) == nil {
            throw CRMError.invalid("nationality", "'\(country)' is not an ISO 3166 alpha-2 code (two capital letters)")
        }
        if let email = input.contact?.email, !email.isEmpty, email.wholeMatch(of: /^[^@\s]+@[^@\s]+\.[^@\s]+$/) == nil {
            throw CRMError.invalid("contact.email", "'\(email)' is not an email address")
        }
        if let tags = input.tags, tags.contains(where: { $0.isEmpty || $0.count > 50 }) {
            throw CRMError.invalid("tags", "tags are 1 to 50 characters")
        }
        if let birth = input.dateOfBirth {
            guard CalendarDay(birth) != nil else { throw CRMError.invalid("dateOfBirth", "'\(birth)' is not a date (YYYY-MM-DD)") }
            guard dataKey != nil else {
                throw CRMError(.unavailable, "no data key is configured, so a date of birth cannot be stored", field: "dateOfBirth")
            }
        }
    }

    /// Creates a client; screens the name against the sanctions lists.
    public func createClient(_ input: ClientInput, who: String, now: Int64 = ISOTime.now()) throws -> Client {
        try validate(input, creating: true)
        let sealedBirth = try input.dateOfBirth.map { try dataKey!.seal($0) }
        let hits = lists.current.screen(name: input.name!, threshold: settings.screeningThreshold)
        return try ledger.write { [self] write in
            let txn = write.transaction
            let number = (try txn.get(meta, Array("next-client".utf8)) { var r = ByteReader($0); return try r.u64() } ?? UInt64(1))
            try txn.put(meta, Array("next-client".utf8), Key.offset(number + 1))
            let client = Client(id: String(format: "C%06d", number), kind: input.kind ?? .person,
                                name: input.name!.trimmingCharacters(in: .whitespaces), countryOfResidence: input.countryOfResidence!,
                                nationality: input.nationality, contact: input.contact ?? Contact(), status: input.status ?? .lead,
                                manager: input.manager, tags: input.tags ?? [], shellCompany: input.shellCompany ?? false,
                                dateOfBirthSealed: sealedBirth, createdAt: now, updatedAt: now)
            try Records.put(txn, clients, Self.clientKey(client.id), client)
            try record(txn, who: who, action: "client.create", target: client.id, before: nil, after: Records.json(client), now: now)
            try raiseScreeningAlerts(txn, client: client, hits: hits, now: now)
            return client
        }
    }

    /// Changes the fields `input` gives; screens again when the name changes.
    public func updateClient(_ id: String, _ input: ClientInput, who: String, now: Int64 = ISOTime.now()) throws -> Client {
        try validate(input, creating: false)
        let sealedBirth = try input.dateOfBirth.map { try dataKey!.seal($0) }
        let hits = input.name.map { lists.current.screen(name: $0, threshold: settings.screeningThreshold) }
        return try ledger.write { [self] write in
            let txn = write.transaction
            guard var client = try Records.get(txn.reader, clients, Self.clientKey(id), as: Client.self) else {
                throw CRMError(.notFound, "no client \(id)")
            }
            let before = Records.json(client)
            if let v = input.kind { client.kind = v }
            if let v = input.name { client.name = v.trimmingCharacters(in: .whitespaces) }
            if let v = input.countryOfResidence { client.countryOfResidence = v }
            if let v = input.nationality { client.nationality = v }
            if let v = input.contact { client.contact = v }
            if let v = input.status { client.status = v }
            if let v = input.manager { client.manager = v }
            if let v = input.tags { client.tags = v }
            if let v = input.shellCompany { client.shellCompany = v }
            if let sealedBirth { client.dateOfBirthSealed = sealedBirth }
            client.updatedAt = now
            try Records.put(txn, clients, Self.clientKey(id), client)
            try record(txn, who: who, action: "client.update", target: id, before: before, after: Records.json(client), now: now)
            if let hits { try raiseScreeningAlerts(txn, client: client, hits: hits, now: now) }
            // A change of country or company standing changes the due diligence.
            if var file = try Records.get(txn.reader, kyc, Self.clientKey(id), as: KYCFile.self) {
                let beforeFile = Records.json(file)
                file.recompute(client: client, settings: settings, now: now, who: who)
                if Records.json(file) != beforeFile {
                    try Records.put(txn, kyc, Self.clientKey(id), file)
                    try record(txn, who: who, action: "kyc.recompute", target: id, before: beforeFile, after: Records.json(file), now: now)
                }
            }
            return client
        }
    }

    public func client(_ id: String) throws -> Client? {
        try ledger.environment.read { try Records.get($0, clients, Self.clientKey(id), as: Client.self) }
    }

    /// Clients in id order after `cursor`, optionally only one status or tag.
    public func clients(after cursor: String? = nil, limit: Int = 100, status: ClientStatus? = nil, tag: String? = nil) throws -> [Client] {
        var result: [Client] = []
        try ledger.environment.read { txn in
            try txn.scan(clients, from: cursor.map { Self.clientKey($0) + [0] } ?? []) { _, value in
                let client = try Records.decode(Client.self, value)
                if (status == nil || client.status == status) && (tag == nil || client.tags.contains(tag!)) { result.append(client) }
                return result.count < limit
            }
        }
        return result
    }

    /// The date of birth, opened with the data key.
    public func dateOfBirth(of client: Client) throws -> String? {
        guard let sealed = client.dateOfBirthSealed else { return nil }
        guard let dataKey else { throw CRMError(.unavailable, "no data key is configured to open personal data") }
        return try dataKey.open(sealed)
    }

    // MARK: Account links

    /// Links a platform identifier to a client. An identifier links to one client only.
    public func link(_ kind: IdentifierKind, _ value: String, to clientID: String, who: String, now: Int64 = ISOTime.now()) throws -> AccountLink {
        guard !value.isEmpty, value.utf8.count <= 200 else { throw CRMError.invalid("value", "an identifier of 1 to 200 bytes is required") }
        return try ledger.write { [self] write in
            let txn = write.transaction
            guard try Records.get(txn.reader, clients, Self.clientKey(clientID), as: Client.self) != nil else {
                throw CRMError(.notFound, "no client \(clientID)")
            }
            if let existing = try Records.get(txn.reader, links, Self.linkKey(kind, value), as: AccountLink.self) {
                if existing.clientID == clientID { return existing }
                throw CRMError(.conflict, "\(kind.rawValue) '\(value)' is linked to client \(existing.clientID); unlink it first", field: "value")
            }
            let link = AccountLink(kind: kind, value: value, clientID: clientID, linkedAt: now, linkedBy: who)
            try Records.put(txn, links, Self.linkKey(kind, value), link)
            try txn.put(clientLinks, Key.of { $0.string(clientID); $0.string(kind.rawValue); $0.string(value) }, [])
            try record(txn, who: who, action: "link.create", target: clientID, before: nil, after: Records.json(link), now: now)
            return link
        }
    }

    public func unlink(_ kind: IdentifierKind, _ value: String, who: String, now: Int64 = ISOTime.now()) throws {
        try ledger.write { [self] write in
            let txn = write.transaction
            guard let existing = try Records.get(txn.reader, links, Self.linkKey(kind, value), as: AccountLink.self) else {
                throw CRMError(.notFound, "\(kind.rawValue) '\(value)' is not linked")
            }
            _ = try txn.delete(links, Self.linkKey(kind, value))
            _ = try txn.delete(clientLinks, Key.of { $0.string(existing.clientID); $0.string(kind.rawValue); $0.string(value) })
            try record(txn, who: who, action: "link.delete", target: existing.clientID, before: Records.json(existing), after: nil, now: now)
        }
    }

    /// The client an identifier is linked to.
    public func client(linkedTo kind: IdentifierKind, _ value: String) throws -> String? {
        try ledger.environment.read { try Records.get($0, links, Self.linkKey(kind, value), as: AccountLink.self)?.clientID }
    }

    public func links(of clientID: String) throws -> [AccountLink] {
        try ledger.environment.read { txn in
            var result: [AccountLink] = []
            let prefix = Self.clientKey(clientID)
            try txn.scan(clientLinks, from: prefix) { key, _ in
                guard key.starts(with: prefix) else { return false }
                var r = ByteReader(key)
                _ = try r.string()
                guard let kind = IdentifierKind(rawValue: try r.string()) else { return true }
                if let link = try Records.get(txn, links, Self.linkKey(kind, try r.string()), as: AccountLink.self) { result.append(link) }
                return true
            }
            return result
        }
    }

    /// The ledger accounts linked to a client: its FIX Accounts (1), its PartyIDs as the
    /// ledger books executions that name no Account (`source:role:id`), and its platform
    /// logins (sent as Account). Read from the link index's keys alone: a client's history
    /// asks this on every page.
    public func accounts(of clientID: String) throws -> [String] {
        try ledger.environment.read { try accounts(of: clientID, in: $0) }
    }

    func accounts(of clientID: String, in txn: ReadTransaction) throws -> [String] {
        var result: [String] = []
        let prefix = Self.clientKey(clientID)
        try txn.scan(clientLinks, from: prefix) { key, _ in
            guard key.starts(with: prefix) else { return false }
            var r = ByteReader(UnsafeRawBufferPointer(rebasing: key[prefix.count...]))
            _ = try r.stringBytes()  // the kind: every kind names a ledger account
            let account = try r.string()
            if !result.contains(account) { result.append(account) }
            return true
        }
        return result.sorted()
    }

    /// Whether a client exists, without decoding it.
    public func exists(_ clientID: String) throws -> Bool {
        try ledger.environment.read { try exists(clientID, in: $0) }
    }

    func exists(_ clientID: String, in txn: ReadTransaction) throws -> Bool {
        try txn.get(clients, Self.clientKey(clientID)) { _ in true } ?? false
    }

    /// The client a ledger account belongs to: an Account link, else a PartyID link, else
    /// a platform login link.
    public func client(ofLedgerAccount account: String) throws -> String? {
        try client(linkedTo: .account, account) ?? client(linkedTo: .party, account) ?? client(linkedTo: .login, account)
    }

    /// Accounts with bookings that no client is linked to: booked, waiting for ops to link them.
    public func unlinkedAccounts() throws -> [String] {
        var seen: Set<String> = []
        var result: [String] = []
        try ledger.forEachBalance { account, _, _ in
            guard seen.insert(account).inserted else { return }
            if try client(ofLedgerAccount: account) == nil { result.append(account) }
        }
        return result.sorted()
    }

    // MARK: Interactions

    public func addInteraction(clientID: String, channel: Interaction.Channel, agent: String, summary: String, outcome: String?,
                               time: Int64? = nil, who: String, now: Int64 = ISOTime.now()) throws -> Interaction {
        guard !agent.isEmpty else { throw CRMError.invalid("agent", "required") }
        guard !summary.isEmpty, summary.count <= 10_000 else { throw CRMError.invalid("summary", "a summary of 1 to 10,000 characters is required") }
        return try ledger.write { [self] write in
            let txn = write.transaction
            guard try Records.get(txn.reader, clients, Self.clientKey(clientID), as: Client.self) != nil else {
                throw CRMError(.notFound, "no client \(clientID)")
            }
            let id = (try txn.get(meta, Array("next-interaction".utf8)) { var r = ByteReader($0); return try r.u64() } ?? UInt64(1))
            try txn.put(meta, Array("next-interaction".utf8), Key.offset(id + 1))
            let item = Interaction(id: id, clientID: clientID, time: time ?? now, channel: channel, agent: agent, summary: summary, outcome: outcome)
            try Records.put(txn, interactions, Key.of { $0.string(clientID); $0.u64(id) }, item)
            try record(txn, who: who, action: "interaction.create", target: clientID, before: nil, after: Records.json(item), now: now)
            return item
        }
    }

    /// A client's interactions, newest first.
    public func interactions(of clientID: String, limit: Int = 100) throws -> [Interaction] {
        try ledger.environment.read { txn in
            try Records.scan(txn, interactions, prefix: Self.clientKey(clientID), as: Interaction.self)
        }.sorted { $0.time > $1.time || ($0.time == $1.time && $0.id > $1.id) }.prefix(limit).map { $0 }
    }

    // MARK: Audit

    /// Audit entries, newest first, before `cursor`.
    public func auditTrail(before cursor: UInt64 = .max, limit: Int = 100, target: String? = nil) throws -> [AuditEntry] {
        var result: [AuditEntry] = []
        try ledger.environment.read { txn in
            try txn.scan(audit, from: Key.offset(cursor == .max ? .max : cursor - 1), reverse: true) { _, value in
                let entry = try Records.decode(AuditEntry.self, value)
                if target == nil || entry.target == target { result.append(entry) }
                return result.count < limit
            }
        }
        return result
    }
}
