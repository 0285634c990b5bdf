/// A FAST error, under the code the FAST 1.1 specification gives it (S = static, found in
/// templates; D = dynamic, found decoding; R = reportable), with where it happened.
public struct FASTError: Error, Equatable, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable {
        /// Static: a template file that is not valid (XML, structure, attribute values).
        case s1 = "S1"
        /// Static: an operator used with a type it does not apply to.
        case s2 = "S2"
        /// Static: an initial value that does not convert to the field's type.
        case s3 = "S3"
        /// Static: a constant operator without an initial value.
        case s4 = "S4"
        /// Static: a mandatory field with a default operator but no initial value.
        case s5 = "S5"
        /// Dynamic: an integer in the stream outside the bounds of its type.
        case d2 = "D2"
        /// Dynamic: a dictionary entry read as another type than it was written.
        case d4 = "D4"
        /// Dynamic: a mandatory field with no value in the stream and no previous or initial one.
        case d5 = "D5"
        /// Dynamic: a mandatory field whose previous value is empty.
        case d6 = "D6"
        /// Dynamic: a delta subtraction length longer than the value it applies to.
        case d7 = "D7"
        /// Dynamic: a static template reference to an unknown template.
        case d8 = "D8"
        /// Dynamic: a template identifier no template has.
        case d9 = "D9"
        /// Reportable: a decimal whose exponent is outside -63...63.
        case r1 = "R1"
        /// Reportable: a Unicode string that is not valid UTF-8 once a tail or delta is applied.
        case r2 = "R2"
        /// Reportable: an integer encoded with more bytes than it needs.
        case r6 = "R6"
        /// Reportable: a presence map encoded with more bytes than it needs.
        case r7 = "R7"
        /// Reportable: a presence map with a bit set that no field uses.
        case r8 = "R8"
        /// Reportable: a string encoded with more bytes than it needs.
        case r9 = "R9"
        // R3, R4 and R5 are conversions between a field's declared type and another one; the
        // decoder hands out values in their declared types and converts nothing.
        /// The input ends inside a message (not a specification code).
        case truncated = "truncated"
        /// A sequence longer, or nesting deeper, than any real message has (not a specification
        /// code): refused so that hostile input cannot make the decoder spin or overflow its stack.
        case limit = "limit"
    }

    public let code: Code
    /// Byte offset in the decoded buffer (static errors: the template file's line).
    public let offset: Int
    /// The field (or template) concerned, if known.
    public let field: String?
    public let reason: String

    public init(_ code: Code, offset: Int, field: String?, _ reason: String) {
        self.code = code
        self.offset = offset
        self.field = field
        self.reason = reason
    }

    public var description: String {
        "[\(code.rawValue)] " + (field.map { "\($0): " } ?? "") + reason + " (at byte \(offset))"
    }
}

/// A template file that cannot be used: which file, line and element, and why.
public struct FASTTemplateError: Error, CustomStringConvertible, Sendable {
    public let code: FASTError.Code
    public let path: String
    public let line: Int
    public let element: String
    public let reason: String

    public var description: String { "\(path):\(line): <\(element)>: [\(code.rawValue)] \(reason)" }
}
