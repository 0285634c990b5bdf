import TestSupport
import FIXCore
import Foundation

/// Builds a FIX message the slow, obvious way, independently of FIXEncoder, so that
/// tests of the encoder and the parser do not lean on each other.
func wire(_ fields: [(Int, String)], beginString: String = "FIX.4.4",
          bodyLength: Int? = nil, checksum: Int? = nil) -> [UInt8] {
    var body: [UInt8] = []
    for (tag, value) in fields {
        body += Array("\(tag)=".utf8) + Array(value.utf8) + [0x01]
    }
    var message = Array("8=\(beginString)\u{1}9=\(bodyLength ?? body.count)\u{1}".utf8) + body
    let sum = message.reduce(0) { ($0 + Int($1)) % 256 }
    message += Array(String(format: "10=%03d\u{1}", checksum ?? sum).utf8)
    return message
}

/// Reads every event of a stream fed in the given chunk sizes, as comparable values.
enum Seen: Equatable, CustomStringConvertible {
    case message(offset: Int, bytes: [UInt8])
    case malformed(FIXDecodingError, offset: Int)

    var description: String {
        switch self {
        case .message(let offset, let bytes):
            return "message@\(offset) \(String(decoding: bytes.map { $0 == 1 ? UInt8(ascii: "|") : $0 }, as: UTF8.self))"
        case .malformed(let error, let offset): return "malformed@\(offset) \(error)"
        }
    }
}

func readAll(_ stream: [UInt8], chunks: [Int], messageSizeMax: Int = 64 * 1024) -> [Seen] {
    let reader = FIXStreamReader(framer: FIXFramer(messageSizeMax: messageSizeMax))
    var seen: [Seen] = []
    var position = 0
    var chunkIndex = 0
    func drain() {
        while let event = reader.next() {
            switch event {
            case .message(let message, let offset): seen.append(.message(offset: offset, bytes: Array(message.bytes)))
            case .malformed(let error, let offset, _): seen.append(.malformed(error, offset: offset))
            }
        }
    }
    while position < stream.count {
        let size = chunks.isEmpty ? stream.count : max(1, chunks[chunkIndex % chunks.count])
        chunkIndex += 1
        let end = min(stream.count, position + size)
        stream[position..<end].withUnsafeBytes { reader.append($0) }
        position = end
        drain()
    }
    return seen
}

/// The package's Fixtures/ folder.
let fixturesFolder = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures")

/// The messages of a line-per-message fixture log, with '|' turned back into SOH.
func fixtureMessages(_ name: String) throws -> [[UInt8]] {
    let data = try Data(contentsOf: fixturesFolder.appendingPathComponent(name))
    return data.split(separator: UInt8(ascii: "\n")).map { line in
        line.contains(1) ? Array(line) : line.map { $0 == UInt8(ascii: "|") ? 1 : $0 }
    }
}
