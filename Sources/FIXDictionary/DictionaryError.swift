/// A dictionary file that cannot be used: where and why, on one line.
public struct DictionaryError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
