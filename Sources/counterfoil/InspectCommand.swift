import ArgumentParser
import FIXBooking
import FIXCore
import Foundation

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Print the FIX messages of a log readably.",
        discussion: """
        FILE is a FIX log: one message per line with SOH or '|' between fields (text before \
        8=FIX on a line, such as a timestamp, is ignored), or a raw SOH-delimited stream. \
        Malformed messages are reported with their line (or byte offset) and what is wrong.
        """
    )

    @Argument(help: "The FIX log to read.")
    var file: String

    @Flag(help: "Print a count per MsgType and the malformed messages instead of every message.")
    var summary = false

    @Option(help: "Largest message accepted, in bytes.")
    var maxMessageSize = 64 * 1024

    func run() throws {
        guard maxMessageSize >= 32 else { throw ValidationError("--max-message-size must be at least 32") }
        let log = try FIXLogReader(path: file, messageSizeMax: maxMessageSize)
        var countsByType: [String: Int] = [:]
        var typeOrder: [String] = []
        var messages = 0
        var malformed: [(String, String)] = []
        try log.forEach { item in
            switch item {
            case .message(let message, let position):
                messages += 1
                if summary {
                    let type = message.msgType.string
                    if countsByType[type] == nil { typeOrder.append(type) }
                    countsByType[type, default: 0] += 1
                } else {
                    print("\(position): \(message.rendered())")
                }
            case .malformed(let error, let position):
                if summary {
                    malformed.append((position, error.description))
                } else {
                    print("\(position): malformed: \(error)")
                }
            }
        }
        guard summary else { return }
        print("\(messages) messages, \(malformed.count) malformed")
        for type in typeOrder.sorted() {
            let name = FIXMsgTypeNames.name(of: type).map { " (\($0))" } ?? ""
            print("  35=\(type)\(name): \(countsByType[type]!)")
        }
        for (position, error) in malformed {
            print("  malformed at \(position): \(error)")
        }
    }
}
