/// Why bytes received from a counterparty are not a FIX message.
///
/// A struct over a private code, so new cases do not break callers. Compare
/// against the static members (`error == .badChecksum`); the numbers carried
/// with it (`tag`, `expected`, `actual`) say where and what, and
/// `description` reads as one line for a log or a user.
public struct FIXDecodingError: Error, Sendable, CustomStringConvertible {
    @usableFromInline
    enum Code: UInt8, Sendable {
        case garbage
        case badBeginString
        case missingBodyLength
        case badBodyLength
        case bodyLengthMismatch
        case badChecksumField
        case badChecksum
        case messageTooLarge
        case nonNumericTag
        case badTag
        case missingEquals
        case emptyValue
        case tooManyFields
        case msgTypeNotThird
        case checksumNotLast
        case badRawDataLength
    }

    @usableFromInline let code: Code
    /// The tag involved, when there is one (0 otherwise).
    public let tag: Int
    /// The byte offset within the message (or skipped bytes) where the problem lies.
    public let offset: Int
    /// What was expected, where it is a number (a checksum, a length); -1 otherwise.
    public let expected: Int
    /// What was found, where it is a number; -1 otherwise.
    public let actual: Int

    @usableFromInline
    init(_ code: Code, tag: Int = 0, offset: Int = 0, expected: Int = -1, actual: Int = -1) {
        self.code = code
        self.tag = tag
        self.offset = offset
        self.expected = expected
        self.actual = actual
    }

    /// Bytes that are not the start of a message (`8=FIX`); skipped to resynchronise.
    public static let garbage = FIXDecodingError(.garbage)
    /// `8=` is not followed by a BeginString and its delimiter.
    public static let badBeginString = FIXDecodingError(.badBeginString)
    /// The second field is not `9=` (BodyLength).
    public static let missingBodyLength = FIXDecodingError(.missingBodyLength)
    /// BodyLength is not a number.
    public static let badBodyLength = FIXDecodingError(.badBodyLength)
    /// BodyLength does not end where `10=` starts.
    public static let bodyLengthMismatch = FIXDecodingError(.bodyLengthMismatch)
    /// The CheckSum field is not `10=` and three digits.
    public static let badChecksumField = FIXDecodingError(.badChecksumField)
    /// The CheckSum does not match the bytes.
    public static let badChecksum = FIXDecodingError(.badChecksum)
    /// The message is larger than the configured maximum.
    public static let messageTooLarge = FIXDecodingError(.messageTooLarge)
    /// A tag contains something other than digits.
    public static let nonNumericTag = FIXDecodingError(.nonNumericTag)
    /// A tag is empty, zero, or too large.
    public static let badTag = FIXDecodingError(.badTag)
    /// A field has no `=` between tag and value.
    public static let missingEquals = FIXDecodingError(.missingEquals)
    /// A field has no value (`tag=` then the delimiter).
    public static let emptyValue = FIXDecodingError(.emptyValue)
    /// The message has more fields than the parser's table holds.
    public static let tooManyFields = FIXDecodingError(.tooManyFields)
    /// The third field is not `35=` (MsgType).
    public static let msgTypeNotThird = FIXDecodingError(.msgTypeNotThird)
    /// The last field is not `10=` (CheckSum), or `10=` appears before the end.
    public static let checksumNotLast = FIXDecodingError(.checksumNotLast)
    /// A raw-data field does not have the length its length field announced.
    public static let badRawDataLength = FIXDecodingError(.badRawDataLength)

    /// Same kind of error, whatever the position and numbers.
    @inlinable
    public func `is`(_ other: FIXDecodingError) -> Bool { code == other.code }

    @usableFromInline
    func at(offset: Int, tag: Int? = nil) -> FIXDecodingError {
        FIXDecodingError(code, tag: tag ?? self.tag, offset: offset, expected: expected, actual: actual)
    }

    public var description: String {
        switch code {
        case .garbage: return "\(actual) bytes before the next 8=FIX skipped"
        case .badBeginString: return "BeginString (8) is not followed by a delimiter within 16 bytes"
        case .missingBodyLength: return "second field is not BodyLength (9)"
        case .badBodyLength: return "BodyLength (9) is not a number"
        case .bodyLengthMismatch: return "BodyLength (9) says \(expected) but CheckSum (10) does not follow there"
        case .badChecksumField: return "CheckSum (10) is not three digits and a delimiter"
        case .badChecksum: return "CheckSum (10) is \(actual) but the bytes sum to \(expected)"
        case .messageTooLarge: return "message of \(actual) bytes exceeds the maximum of \(expected)"
        case .nonNumericTag: return "tag is not a number at byte \(offset)"
        case .badTag: return "empty, zero or too large tag at byte \(offset)"
        case .missingEquals: return "field without '=' at byte \(offset)"
        case .emptyValue: return "tag \(tag) has an empty value"
        case .tooManyFields: return "more than \(expected) fields"
        case .msgTypeNotThird: return "third field is tag \(tag), not MsgType (35)"
        case .checksumNotLast: return "CheckSum (10) is not the last field"
        case .badRawDataLength: return "raw data tag \(tag) does not have the announced length \(expected)"
        }
    }
}

extension FIXDecodingError: Equatable {
    /// Errors are equal when they are of the same kind; positions are context.
    public static func == (a: FIXDecodingError, b: FIXDecodingError) -> Bool { a.code == b.code }
}

/// Why a field's value is not of the type asked for.
public struct FIXValueError: Error, Sendable, Equatable, CustomStringConvertible {
    @usableFromInline
    enum Code: UInt8, Sendable {
        case notAnInteger, integerOverflow, notADecimal, notAChar, notABoolean
        case notATimestamp, notADate, notAMonthYear, notATime
    }

    @usableFromInline let code: Code

    @usableFromInline init(_ code: Code) { self.code = code }

    public static let notAnInteger = FIXValueError(.notAnInteger)
    public static let integerOverflow = FIXValueError(.integerOverflow)
    public static let notADecimal = FIXValueError(.notADecimal)
    public static let notAChar = FIXValueError(.notAChar)
    public static let notABoolean = FIXValueError(.notABoolean)
    public static let notATimestamp = FIXValueError(.notATimestamp)
    public static let notADate = FIXValueError(.notADate)
    public static let notAMonthYear = FIXValueError(.notAMonthYear)
    public static let notATime = FIXValueError(.notATime)

    public var description: String {
        switch code {
        case .notAnInteger: return "not an integer"
        case .integerOverflow: return "integer out of range"
        case .notADecimal: return "not a decimal number"
        case .notAChar: return "not a single character"
        case .notABoolean: return "not Y or N"
        case .notATimestamp: return "not a UTCTimestamp (YYYYMMDD-HH:MM:SS[.sss…])"
        case .notADate: return "not a date (YYYYMMDD)"
        case .notAMonthYear: return "not a MonthYear (YYYYMM, YYYYMMDD or YYYYMMwN)"
        case .notATime: return "not a time (HH:MM:SS[.sss…])"
        }
    }
}
