import FIXCore
import Foundation

/// Reads FIX messages from a log file: line-per-message (SOH or '|' separated)
/// or a raw SOH stream, in chunks so that large logs need little memory.
public struct FIXLogReader {
    public enum Item {
        /// A message, and where it was ("line 12" or "byte 3450").
        case message(FIXMessage, String)
        case malformed(FIXDecodingError, String)
    }

    let path: String
    let handle: FileHandle
    let messageSizeMax: Int
    static let chunkSize = 1 << 20

    /// Bytes read so far, for progress on long files.
    public var bytesRead: Int { (try? Int(handle.offset())) ?? 0 }
    /// The file's size in bytes.
    public var fileSize: Int { (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0 }

    public init(path: String, messageSizeMax: Int = 64 * 1024) throws {
        self.path = path
        self.messageSizeMax = messageSizeMax
        guard let handle = FileHandle(forReadingAtPath: path) else {
            if FileManager.default.fileExists(atPath: path) {
                throw FIXLogError("cannot read \(path): permission denied")
            }
            throw FIXLogError("cannot read \(path): no such file")
        }
        self.handle = handle
    }

    /// Calls `body` for every message and every malformed piece, in file order.
    public func forEach(_ body: (Item) throws -> Void) throws {
        defer { try? handle.close() }
        let first = try handle.read(upToCount: FIXLogReader.chunkSize) ?? Data()
        // Messages running into each other with no newline are a raw stream; anything else
        // is read a line at a time.
        if first.contains(fixSOH) && !first.contains(UInt8(ascii: "\n")) {
            try readStream(first: first, body)
        } else {
            try readLines(first: first, body)
        }
    }

    private func readStream(first: Data, _ body: (Item) throws -> Void) throws {
        let reader = FIXStreamReader(framer: FIXFramer(messageSizeMax: messageSizeMax))
        var chunk = first
        while !chunk.isEmpty {
            chunk.withUnsafeBytes { reader.append($0) }
            while let event = reader.next() {
                switch event {
                case .message(let message, let offset): try body(.message(message, "byte \(offset)"))
                case .malformed(let error, let offset, _): try body(.malformed(error, "byte \(offset)"))
                }
            }
            chunk = try handle.read(upToCount: FIXLogReader.chunkSize) ?? Data()
        }
        if case .malformed(let error, let offset, let length) = reader.finish() {
            let what = error == .garbage ? error.description : "\(length) bytes of an incomplete message at the end"
            try body(.malformed(error, "byte \(offset) (\(what))"))
        }
    }

    private func readLines(first: Data, _ body: (Item) throws -> Void) throws {
        let framer = FIXFramer(messageSizeMax: messageSizeMax)
        let parser = FIXParser()
        var pending = [UInt8](first)
        var lineNumber = 0
        var atEnd = false
        var start = 0
        while true {
            guard let newline = pending[start...].firstIndex(of: UInt8(ascii: "\n")) else {
                if atEnd {
                    if start < pending.count {
                        lineNumber += 1
                        try handleLine(&pending[start...], lineNumber, framer, parser, body)
                    }
                    return
                }
                pending.removeFirst(start)
                start = 0
                if let more = try handle.read(upToCount: FIXLogReader.chunkSize), !more.isEmpty {
                    pending.append(contentsOf: more)
                } else {
                    atEnd = true
                }
                continue
            }
            lineNumber += 1
            try handleLine(&pending[start..<newline], lineNumber, framer, parser, body)
            start = newline + 1
        }
    }

    private func handleLine(_ line: inout ArraySlice<UInt8>, _ number: Int, _ framer: FIXFramer, _ parser: FIXParser,
                            _ body: (Item) throws -> Void) throws {
        var end = line.endIndex
        while end > line.startIndex && (line[end - 1] == 0x0D || line[end - 1] == 0x20) { end -= 1 }
        guard let begin = Self.find(Array("8=FIX".utf8), in: line[line.startIndex..<end]) else {
            if line[line.startIndex..<end].allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { return }
            try body(.malformed(.garbage, "line \(number)"))
            return
        }
        // A '|'-separated line gets its delimiters back; a SOH line may have '|' inside values.
        if !line[begin..<end].contains(fixSOH) {
            for i in begin..<end where line[i] == UInt8(ascii: "|") { line[i] = fixSOH }
        }
        try line[begin..<end].withUnsafeBytes { bytes in
            switch framer.frame(bytes) {
            case .message(let length):
                do {
                    let message = try parser.parse(UnsafeRawBufferPointer(rebasing: bytes[0..<length]))
                    try body(.message(message, "line \(number)"))
                } catch let error as FIXDecodingError {
                    try body(.malformed(error, "line \(number)"))
                }
                if length < bytes.count {
                    try body(.malformed(.garbage, "line \(number) (\(bytes.count - length) bytes after the message)"))
                }
            case .needMoreBytes:
                try body(.malformed(.bodyLengthMismatch, "line \(number) (message ends before its BodyLength says)"))
            case .skip(_, let error):
                try body(.malformed(error, "line \(number)"))
            }
        }
    }

    static func find(_ pattern: [UInt8], in bytes: ArraySlice<UInt8>) -> Int? {
        guard bytes.count >= pattern.count else { return nil }
        var i = bytes.startIndex
        while i <= bytes.endIndex - pattern.count {
            if bytes[i] == pattern[0] && bytes[i..<(i + pattern.count)].elementsEqual(pattern) { return i }
            i += 1
        }
        return nil
    }
}

/// A log that cannot be read.
public struct FIXLogError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
