import Foundation

/// A fresh folder under the temporary directory, removed by `cleanup()`.
public struct TemporaryFolder: Sendable {
    public let path: String

    public init(_ name: String = "ledger") {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("cf-\(name)-\(UUID().uuidString)").path
    }

    /// A path inside the folder (created on first use).
    public func file(_ name: String) -> String {
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return (path as NSString).appendingPathComponent(name)
    }

    public func cleanup() { try? FileManager.default.removeItem(atPath: path) }
}
