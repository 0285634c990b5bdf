import ArgumentParser
import FIXBooking
import FIXCore
import FIXDictionary
import Foundation

struct DictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dict",
        abstract: "Work with QuickFIX-format data dictionaries.",
        subcommands: [DictCheckCommand.self]
    )
}

struct DictCheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Report a dictionary's defects with their line numbers.",
        discussion: "Duplicate tag numbers or names, references to undefined fields or components, enum values that do not fit their type, groups without fields. Exits 1 if there is any."
    )

    @Argument(help: "The dictionary (QuickFIX XML).") var file: String

    func run() throws {
        let dictionary: FIXDataDictionary
        let defects: [DictionaryDefect]
        do {
            (dictionary, defects) = try FIXDataDictionary.load(path: file)
        } catch let error as DictionaryError {
            throw UserError(error.description)
        }
        for defect in defects { print(defect) }
        if defects.isEmpty {
            print("\(file): \(dictionary.version), \(dictionary.fields.count) fields, \(dictionary.messages.count) messages, no defects")
            return
        }
        print("\(file): \(defects.count) defect(s)")
        throw ExitCode(1)
    }
}

struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Validate the messages of a FIX log against a dictionary.",
        discussion: "Prints one line per failing message (where, SessionRejectReason, tag, why) and a summary; exits 1 if any message fails."
    )

    @Option(help: "The dictionary (QuickFIX XML): the application dictionary for FIX 5.0 logs.") var dict: String
    @Option(help: "The FIXT transport dictionary, for FIX 5.0 logs.") var transport: String?
    @Flag(help: "Accept user-defined tags (5000 and up) the dictionary does not define.") var allowUserDefinedFields = false
    @Flag(help: "Accept defined tags that the message type does not list.") var allowUnknownMessageFields = false
    @Flag(help: "Accept enum values the dictionary does not list.") var allowUnknownEnumValues = false
    @Argument(help: "The FIX log.") var log: String

    func run() throws {
        let application: FIXDataDictionary
        let transportDictionary: FIXDataDictionary?
        do {
            application = try FIXDataDictionary(contentsOf: dict)
            transportDictionary = try transport.map { try FIXDataDictionary(contentsOf: $0) }
        } catch let error as DictionaryError {
            throw UserError(error.description)
        }
        var options = FIXValidationOptions()
        options.validateUserDefinedFields = !allowUserDefinedFields
        options.allowUnknownMessageFields = allowUnknownMessageFields
        options.allowUnknownEnumValues = allowUnknownEnumValues
        let validator = FIXValidator(application: application, transport: transportDictionary, options: options)
        let reader = try FIXLogReader(path: log)
        var total = 0
        var failed = 0
        var malformed = 0
        var byReason: [Int: Int] = [:]
        try reader.forEach { item in
            switch item {
            case .message(let message, let position):
                total += 1
                if let rejection = validator.validate(message) {
                    failed += 1
                    byReason[rejection.reason.rawValue, default: 0] += 1
                    print("\(position): \(rejection)")
                }
            case .malformed(let error, let position):
                malformed += 1
                print("\(position): malformed: \(error)")
            }
        }
        let reasons = byReason.sorted { $0.key < $1.key }.map { "373=\($0.key) × \($0.value)" }.joined(separator: ", ")
        print("\(total) messages: \(total - failed) valid, \(failed) failed\(reasons.isEmpty ? "" : " (\(reasons))"), \(malformed) malformed")
        if failed > 0 || malformed > 0 { throw ExitCode(1) }
    }
}
