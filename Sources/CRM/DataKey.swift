import Crypto
import Foundation

/// The key that seals personal data at rest (identity document numbers, dates of birth):
/// AES-256-GCM, from a file (32 raw bytes or their base64) or the environment variable
/// `COUNTERFOIL_DATA_KEY` (base64). Sealed values are base64 of nonce, ciphertext and tag.
public struct DataKey: Sendable {
    let bytes: [UInt8]
    var key: SymmetricKey { SymmetricKey(data: bytes) }

    public init(bytes: [UInt8]) throws {
        guard bytes.count == 32 else { throw CRMError(.invalid, "a data key is 32 bytes (256 bits), not \(bytes.count)") }
        self.bytes = bytes
    }

    /// From `path`, else from `COUNTERFOIL_DATA_KEY`; nil when neither gives one.
    public static func load(path: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> DataKey? {
        if let path {
            guard let data = FileManager.default.contents(atPath: path) else { throw CRMError(.invalid, "cannot read the data key file \(path)") }
            if data.count == 32 { return try DataKey(bytes: [UInt8](data)) }
            let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard let decoded = Data(base64Encoded: text) else { throw CRMError(.invalid, "\(path) holds neither 32 bytes nor their base64") }
            return try DataKey(bytes: [UInt8](decoded))
        }
        if let text = environment["COUNTERFOIL_DATA_KEY"] {
            guard let decoded = Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
                throw CRMError(.invalid, "COUNTERFOIL_DATA_KEY is not base64")
            }
            return try DataKey(bytes: [UInt8](decoded))
        }
        return nil
    }

    /// A new random key, as base64 (what `counterfoil demo` writes for itself).
    public static func generate() -> String {
        SymmetricKey(size: .bits256).withUnsafeBytes { Data($0).base64EncodedString() }
    }

    public func seal(_ plaintext: String) throws -> String {
        let box = try AES.GCM.seal(Data(plaintext.utf8), using: key)
        guard let combined = box.combined else { throw CRMError(.unavailable, "sealing failed") }
        return combined.base64EncodedString()
    }

    public func open(_ sealed: String) throws -> String {
        guard let data = Data(base64Encoded: sealed) else { throw CRMError(.unavailable, "a sealed value is damaged") }
        do {
            let box = try AES.GCM.SealedBox(combined: data)
            return String(decoding: try AES.GCM.open(box, using: key), as: UTF8.self)
        } catch {
            throw CRMError(.unavailable, "a sealed value cannot be opened with this data key")
        }
    }
}
