import Crypto
import Foundation
import Ledger

/// What an API token may do.
public enum Role: String, Codable, Sendable, CaseIterable {
    /// Read clients, histories, KYC files, alerts, interactions.
    case crmRead = "crm-read"
    /// The CRM pushing data: crm-read, plus clients, account links, interactions and KYC
    /// records (documents, factors). No decisions, no books.
    case crmWrite = "crm-write"
    /// Operations: read everything, link accounts, work reconciliation breaks.
    case ops
    /// Compliance: read everything incl. personal data, decide EDD, work alerts.
    case compliance
    /// Everything, tokens and the audit trail included.
    case admin
}

/// An API token as stored: its SHA-256 only, never the token itself.
public struct TokenRecord: Codable, Sendable, Hashable {
    public var id: String
    public var name: String
    public var role: Role
    public var createdAt: Int64
    public var createdBy: String
    public var revokedAt: Int64?
}

extension CRMStore {
    static func tokenHash(_ token: String) -> String {
        let hex = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(64)
        for byte in SHA256.hash(data: Data(token.utf8)) {
            text.append(hex[Int(byte >> 4)])
            text.append(hex[Int(byte & 0xF)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// Creates a token; the returned string is shown once and never stored.
    public func createToken(name: String, role: Role, who: String, now: Int64 = ISOTime.now()) throws -> (token: String, record: TokenRecord) {
        guard !name.isEmpty, name.count <= 100 else { throw CRMError.invalid("name", "a name of 1 to 100 characters is required") }
        var random = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &random) }
        let token = "cf_" + Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        let hash = Self.tokenHash(token)
        let record = TokenRecord(id: String(hash.prefix(12)), name: name, role: role, createdAt: now, createdBy: who, revokedAt: nil)
        try ledger.write { [self] write in
            try Records.put(write.transaction, tokens, Array(hash.utf8), record)
            try self.record(write.transaction, who: who, action: "token.create", target: record.id, before: nil, after: Records.json(record), now: now)
        }
        return (token, record)
    }

    /// The live token's record, nil for an unknown or revoked one. Every call reads the
    /// stored record (a revocation, from any process, counts at once); the decoded record
    /// is reused while the stored bytes are the same.
    public func authenticate(_ token: String) throws -> TokenRecord? {
        let hash = Self.tokenHash(token)
        let record = try ledger.environment.read { txn in
            try txn.get(tokens, Array(hash.utf8)) { bytes -> TokenRecord in
                if let cached = tokenCache.withLock({ $0[hash] }), cached.bytes.elementsEqual(bytes) { return cached.record }
                let record = try Records.decode(TokenRecord.self, bytes)
                tokenCache.withLock { cache in
                    if cache.count > 10_000 { cache.removeAll() }
                    cache[hash] = (Array(bytes), record)
                }
                return record
            }
        }
        guard let record, record.revokedAt == nil else { return nil }
        return record
    }

    public func allTokens() throws -> [TokenRecord] {
        try ledger.environment.read { try Records.scan($0, tokens, prefix: [], as: TokenRecord.self) }.sorted { $0.createdAt < $1.createdAt }
    }

    public func revokeToken(id: String, who: String, now: Int64 = ISOTime.now()) throws -> TokenRecord {
        try ledger.write { [self] write in
            let txn = write.transaction
            var found: ([UInt8], TokenRecord)?
            try txn.reader.scan(tokens, from: []) { key, value in
                let record = try Records.decode(TokenRecord.self, value)
                if record.id == id { found = (Array(key), record) }
                return found == nil
            }
            guard let (key, stored) = found else { throw CRMError(.notFound, "no token \(id)") }
            var record = stored
            guard record.revokedAt == nil else { return record }
            let before = Records.json(record)
            record.revokedAt = now
            try Records.put(txn, tokens, key, record)
            try self.record(txn, who: who, action: "token.revoke", target: id, before: before, after: Records.json(record), now: now)
            return record
        }
    }
}
