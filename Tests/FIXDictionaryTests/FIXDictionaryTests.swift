import FIXCore
@testable import FIXDictionary
import Foundation
import Testing

let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
/// QuickFIX's stock dictionaries, fetched by scripts/fetch-dictionaries.sh (never committed).
let stockFolder = packageRoot.appendingPathComponent(".cache/quickfix-spec").path

func stock(_ name: String) throws -> FIXDataDictionary {
    try FIXDataDictionary(contentsOf: stockFolder + "/\(name).xml")
}

/// Builds and parses one message; `body` sees it while the parser is alive.
func withMessage<R>(_ fields: [(Int, String)], begin: String = "FIX.4.4", allowEmpty: Bool = false,
                    _ body: (FIXMessage) throws -> R) throws -> R {
    var wire: [UInt8] = []
    for (tag, value) in fields { wire += Array("\(tag)=\(value)\u{1}".utf8) }
    var message = Array("8=\(begin)\u{1}9=\(wire.count)\u{1}".utf8) + wire
    let sum = message.reduce(0) { ($0 + Int($1)) % 256 }
    message += Array(String(format: "10=%03d\u{1}", sum).utf8)
    let parser = FIXParser(options: FIXParserOptions(allowsEmptyValues: allowEmpty))
    return try withExtendedLifetime(parser) {
        try message.withUnsafeBytes { try body(try parser.parse($0)) }
    }
}

let header44: [(Int, String)] = [(35, "8"), (49, "PLATFORM1"), (56, "COUNTERFOIL"), (34, "12"), (52, "20261127-10:00:00.000")]
let fill44: [(Int, String)] = [(37, "O1"), (17, "E1"), (150, "F"), (39, "2"), (1, "ACC-1"), (55, "AAPL"), (54, "1"),
                               (38, "20"), (32, "20"), (31, "189.36"), (151, "0"), (14, "20"), (6, "189.36"),
                               (60, "20261127-09:59:59.000"), (453, "2"), (448, "BROKER"), (447, "D"), (452, "1"),
                               (448, "ACC-1"), (447, "D"), (452, "3")]

@Suite struct LoadingTests {
    @Test("QuickFIX's stock dictionaries all load", arguments: ["FIX40", "FIX41", "FIX42", "FIX43", "FIX44", "FIX50", "FIX50SP1", "FIX50SP2", "FIXT11"])
    func stockLoads(name: String) throws {
        let (dictionary, defects) = try FIXDataDictionary.load(path: stockFolder + "/\(name).xml")
        #expect(defects.filter(\.isFatal).isEmpty, "\(defects.prefix(3))")
        #expect(!dictionary.messages.isEmpty)
        #expect(dictionary.fields.count > (name == "FIXT11" ? 50 : 100))
        if name == "FIXT11" { #expect(dictionary.isTransport && dictionary.version == "FIXT.1.1") }
        if name == "FIX44" {
            #expect(dictionary.version == "FIX.4.4")
            #expect(dictionary.type(of: 44) == .decimal && dictionary.type(of: 52) == .utcTimestamp)
            #expect(dictionary.isField(453, in: "8") && !dictionary.isField(262, in: "8"))
            let parties = try #require(dictionary.messages["8"]?.body.groups[453])
            #expect(parties.delimiter == 448 && parties.instance.groups[802] != nil)
        }
    }

    @Test("a dictionary's defects are named with their lines")
    func defects() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("bad-\(UUID().uuidString).xml").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try """
        <fix type='FIX' major='4' minor='4' servicepack='0'>
         <header>
          <field name='BeginString' required='Y' />
         </header>
         <trailer />
         <messages>
          <message name='News' msgtype='B' msgcat='app'>
           <field name='Headline' required='Y' />
           <component name='Nowhere' required='N' />
           <group name='NoLines' required='N' />
          </message>
         </messages>
         <components />
         <fields>
          <field number='8' name='BeginString' type='STRING' />
          <field number='148' name='Headline' type='STRING' />
          <field number='148' name='Headline2' type='STRING' />
          <field number='33' name='NoLines' type='NUMINGROUP' />
          <field number='54' name='Side' type='CHAR'>
           <value enum='12' description='TWELVE' />
          </field>
         </fields>
        </fix>
        """.write(toFile: path, atomically: true, encoding: .utf8)
        let (_, defects) = try FIXDataDictionary.load(path: path)
        let text = defects.map(\.description)
        #expect(text.contains("\(path):17: tag 148 is defined twice (Headline and Headline2)"))
        #expect(text.contains("\(path):20: enum '12' of Side (CHAR) is not a single character"))
        #expect(text.contains("\(path):9: component Nowhere is used but not defined in <components>"))
        #expect(text.contains("\(path):10: group NoLines has no fields"))
        #expect(throws: DictionaryError.self) { _ = try FIXDataDictionary(contentsOf: path) }
    }
}

@Suite struct ValidationTests {
    static let fix44: FIXDataDictionary = try! stock("FIX44")

    func validate(_ body: [(Int, String)], header: [(Int, String)] = header44, options: FIXValidationOptions = FIXValidationOptions(),
                  allowEmpty: Bool = false) throws -> FIXRejection? {
        let validator = FIXValidator(application: Self.fix44, options: options)
        return try withMessage(header + body, allowEmpty: allowEmpty) { validator.validate($0) }
    }

    @Test("a drop-copy fill with a parties group passes")
    func valid() throws {
        #expect(try validate(fill44) == nil)
    }

    @Test("each kind of fault gives its SessionRejectReason and RefTagID", arguments: [
        ("required field missing", 17, SessionRejectReason.requiredTagMissing, 17),
        ("enum value not allowed", 54, .valueIsIncorrect, 54),
        ("letters in a quantity", 38, .incorrectDataFormat, 38),
        ("a defined tag not in this message", 262, .tagNotDefinedForMessageType, 262),
        ("an undefined tag", 9999, .invalidTagNumber, 9999),
        ("a tag twice outside a group", 55, .tagAppearsMoreThanOnce, 55),
        ("a header field in the body", 49, .tagSpecifiedOutOfRequiredOrder, 49),
        ("a wrong group count", 453, .incorrectNumInGroupCount, 453),
        ("group fields out of order", 447, .repeatingGroupFieldsOutOfOrder, 447),
        ("a bad timestamp", 60, .incorrectDataFormat, 60),
    ])
    func faults(what: String, tag: Int, reason: SessionRejectReason, refTag: Int) throws {
        var body = fill44
        switch what {
        case "required field missing": body.removeAll { $0.0 == 17 }
        case "enum value not allowed": body[body.firstIndex { $0.0 == 54 }!].1 = "Z"
        case "letters in a quantity": body[body.firstIndex { $0.0 == 38 }!].1 = "2O"
        case "a defined tag not in this message": body.insert((262, "REQ1"), at: 3)
        case "an undefined tag": body.insert((9999, "x"), at: 3)
        case "a tag twice outside a group": body.insert((55, "MSFT"), at: 6)
        case "a header field in the body": body.insert((49, "X"), at: 2)
        case "a wrong group count": body[body.firstIndex { $0.0 == 453 }!].1 = "3"
        case "group fields out of order":
            let at = body.lastIndex { $0.0 == 447 }!
            body.swapAt(at, at + 1)
        case "a bad timestamp": body[body.firstIndex { $0.0 == 60 }!].1 = "20261127 09:59:59"
        default: Issue.record("unknown case")
        }
        let rejection = try #require(try validate(body), "\(what) passed")
        #expect(rejection.reason == reason, "\(what): \(rejection)")
        #expect(rejection.refTagID == refTag, "\(what): \(rejection)")
        #expect(rejection.refMsgType == "8" && rejection.refSeqNum == 12)
        #expect(!rejection.text.isEmpty)
    }

    @Test("enum values of one, two to seven and eight or more bytes, and multiple-value fields")
    func enumLengths() throws {
        let set = EnumSet(["1", "11", "ABCDEFG", "ABCDEFGH", "LONGER-THAN-EIGHT"])
        for value in ["1", "11", "ABCDEFG", "ABCDEFGH", "LONGER-THAN-EIGHT"] {
            #expect(Array(value.utf8).withUnsafeBytes { set.contains($0) }, "\(value)")
        }
        for value in ["2", "1\u{0}", "12", "ABCDEF", "ABCDEFGG", "ABCDEFGHI", "LONGER-THAN-EIGHX", ""] {
            #expect(!Array(value.utf8).withUnsafeBytes { set.contains($0) }, "\(value)")
        }
        // Through the validator: PartyRole (452) has one- and two-digit values; ExecInst
        // (18) is a multiple-value field of single characters.
        var body = fill44
        body[body.lastIndex { $0.0 == 452 }!].1 = "11"
        #expect(try validate(body) == nil)
        body[body.lastIndex { $0.0 == 452 }!].1 = "99"
        #expect(try validate(body)?.reason == .valueIsIncorrect)
        #expect(try validate(fill44 + [(18, "1 G")]) == nil)
        #expect(try validate(fill44 + [(18, "1 @")])?.reason == .valueIsIncorrect)
    }

    @Test("an unknown MsgType is 373=11; an empty value 373=4")
    func msgTypeAndEmpty() throws {
        let unknown = try validate([(58, "x")], header: [(35, "ZZ")] + header44.dropFirst())
        #expect(unknown?.reason == .invalidMsgType)
        let empty = try validate(fill44 + [(58, "")], allowEmpty: true)
        #expect(empty?.reason == .tagSpecifiedWithoutValue && empty?.refTagID == 58)
    }

    @Test("each switch turns its check off")
    func switches() throws {
        var options = FIXValidationOptions()
        options.validateUserDefinedFields = false
        #expect(try validate(fill44 + [(9999, "custom")], options: options) == nil)
        options = FIXValidationOptions()
        options.allowUnknownMessageFields = true
        #expect(try validate(fill44 + [(262, "R")], options: options) == nil)
        options = FIXValidationOptions()
        options.allowUnknownEnumValues = true
        var body = fill44
        body[body.firstIndex { $0.0 == 54 }!].1 = "Z"
        #expect(try validate(body, options: options) == nil)
        options = FIXValidationOptions()
        options.validateFieldsOutOfOrder = false
        #expect(try validate([(49, "X")] + fill44, header: Array(header44.filter { $0.0 != 49 }), options: options) == nil)
        options = FIXValidationOptions()
        options.validateFieldsHaveValues = false
        #expect(try validate(fill44 + [(58, "")], options: options, allowEmpty: true) == nil)
        options = FIXValidationOptions()
        options.validateIncomingMessage = false
        #expect(try validate([(9999, "x")], options: options) == nil)
    }

    @Test("every message of the drop-copy fixtures validates against the stock FIX 4.4 dictionary")
    func fixtures() throws {
        let validator = FIXValidator(application: Self.fix44)
        let data = try Data(contentsOf: packageRoot.appendingPathComponent("Fixtures/dropcopy-fix44.log"))
        let parser = FIXParser()
        var failures: [String] = []
        for line in data.split(separator: UInt8(ascii: "\n")) {
            try Array(line).withUnsafeBytes { bytes in
                let message = try parser.parse(bytes)
                if let rejection = validator.validate(message) { failures.append("\(rejection)") }
            }
        }
        #expect(failures.count == 0, "\(failures.count) failures, e.g. \(failures.prefix(3))")
    }

    @Test("FIX 5.0SP2 over FIXT 1.1: the header from the transport dictionary, the body from the application one")
    func fixt() throws {
        let validator = FIXValidator(application: try stock("FIX50SP2"), transport: try stock("FIXT11"))
        let ok = try withMessage(header44 + fill44, begin: "FIXT.1.1") { validator.validate($0) }
        #expect(ok == nil, "\(String(describing: ok))")
        let logon = try withMessage([(35, "A"), (49, "A"), (56, "B"), (34, "1"), (52, "20261127-10:00:00.000"),
                                     (98, "0"), (108, "30"), (1137, "9")], begin: "FIXT.1.1") { validator.validate($0) }
        #expect(logon == nil, "\(String(describing: logon))")
    }

    @Test("group instances, nested ones included, are navigable from the dictionary")
    func groups() throws {
        let layout = try #require(Self.fix44.messages["8"]?.body)
        let body: [(Int, String)] = [(37, "O1"), (17, "E1"), (150, "F"), (39, "2"), (55, "AAPL"), (54, "1"), (151, "0"), (14, "1"), (6, "1"),
                                     (453, "2"), (448, "BROKER"), (447, "D"), (452, "1"), (802, "1"), (523, "DESK"), (803, "4"),
                                     (448, "ACC-1"), (447, "D"), (452, "3"), (58, "after")]
        try withMessage(header44 + body) { message in
            #expect(FIXValidator(application: Self.fix44).validate(message) == nil)
            let parties = try #require(message.group(453, layout: layout))
            var ids: [String] = []
            var subIDs: [String] = []
            for instance in parties {
                ids.append(message[instance.position(of: 448, in: message)!].value.string)
                if let subs = instance.group(802, in: message) {
                    for sub in subs { subIDs.append(message[sub.position(of: 523, in: message)!].value.string) }
                }
            }
            #expect(ids == ["BROKER", "ACC-1"])
            #expect(subIDs == ["DESK"])
        }
    }
}

@Suite struct DropCopyProfileTests {
    static let path = packageRoot.appendingPathComponent("FixDictionaries/FIX44-DropCopy.xml").path

    @Test("Counterfoil's FIX 4.4 drop-copy profile has no defects and validates the drop-copy traffic")
    func profile() throws {
        let (dictionary, defects) = try FIXDataDictionary.load(path: Self.path)
        #expect(defects.isEmpty, "\(defects)")
        #expect(Set(dictionary.messages.keys) == ["0", "1", "2", "3", "4", "5", "A", "j", "8", "AE", "AR", "AN", "AO", "AP"])
        let validator = FIXValidator(application: dictionary)
        let parser = FIXParser()
        let data = try Data(contentsOf: packageRoot.appendingPathComponent("Fixtures/dropcopy-fix44.log"))
        var checked = 0
        for line in data.split(separator: UInt8(ascii: "\n")) {
            try Array(line).withUnsafeBytes { bytes in
                let message = try parser.parse(bytes)
                let rejection = validator.validate(message)
                #expect(rejection == nil, "\(String(describing: rejection))")
                checked += 1
            }
        }
        #expect(checked == 3001)
        // A message type outside the profile is refused as such.
        let order = try withMessage(header44.map { $0.0 == 35 ? (35, "D") : $0 } + [(11, "C1")]) { validator.validate($0) }
        #expect(order?.reason == .invalidMsgType)
    }
}
