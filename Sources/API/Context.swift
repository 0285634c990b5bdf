import CRM
import Foundation
import Hummingbird
import Ledger

/// The request context: who is asking (the token's record), set by `TokenAuthentication`.
public struct APIContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var token: TokenRecord?

    public init(source: Source) {
        coreContext = .init(source: source)
    }

    /// Who, for the audit trail: the token's name and id.
    var who: String { token.map { "\($0.name) (token \($0.id))" } ?? "anonymous" }

    /// Refuses the request unless the token has one of `roles` (admin always may).
    func require(_ roles: Role...) throws {
        guard let token else { throw APIError(.unauthorized, code: "unauthorized", "an API token is required (Authorization: Bearer TOKEN)") }
        guard token.role == .admin || roles.contains(token.role) else {
            throw APIError(.forbidden, code: "forbidden", "the \(token.role.rawValue) role may not do this")
        }
    }

    /// Every role may read.
    func requireReader() throws { try require(.crmRead, .crmWrite, .ops, .compliance) }

    /// Whether personal data (dates of birth, document numbers) may be shown in clear.
    var seesPersonalData: Bool { token?.role == .compliance || token?.role == .admin }
}

/// An error as JSON: `{"error": {"code": …, "message": …, "field": …}}` with its status.
public struct APIError: HTTPResponseError {
    public let status: HTTPResponse.Status
    public let code: String
    public let message: String
    public let field: String?

    public init(_ status: HTTPResponse.Status, code: String, _ message: String, field: String? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.field = field
    }

    init(_ error: CRMError) {
        let status: HTTPResponse.Status
        switch error.code {
        case .invalid: status = .badRequest
        case .notFound: status = .notFound
        case .conflict: status = .conflict
        case .forbidden: status = .forbidden
        // What this service is not set up for (no data key, say): the request cannot be met
        // as things are, which is the caller's to know, not a server failure.
        case .unavailable: status = .conflict
        }
        self.init(status, code: error.code.rawValue, error.message, field: error.field)
    }

    static func invalid(_ field: String, _ message: String) -> APIError { APIError(.badRequest, code: "invalid", message, field: field) }
    static func notFound(_ message: String) -> APIError { APIError(.notFound, code: "not_found", message) }

    struct Body: Encodable {
        struct Detail: Encodable {
            let code: String
            let message: String
            let field: String?
        }

        let error: Detail
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let data = try JSONEncoder().encode(Body(error: .init(code: code, message: message, field: field)))
        return Response(status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// Reads the bearer token and puts its record in the context; an unknown or revoked token
/// is refused at once, no token leaves the context empty (public routes need none).
struct TokenAuthentication: RouterMiddleware {
    let store: CRMStore

    func handle(_ request: Request, context: APIContext, next: (Request, APIContext) async throws -> Response) async throws -> Response {
        var context = context
        if let header = request.headers[.authorization] {
            guard header.hasPrefix("Bearer "), let record = try store.authenticate(String(header.dropFirst(7))) else {
                throw APIError(.unauthorized, code: "unauthorized", "the token is unknown or revoked")
            }
            context.token = record
        }
        return try await next(request, context)
    }
}

/// Turns the errors of the layers below into API errors: a CRM or reconciliation mistake
/// is the caller's (4xx), a decoding failure names its field.
struct ErrorTranslation: RouterMiddleware {
    func handle(_ request: Request, context: APIContext, next: (Request, APIContext) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as CRMError {
            throw APIError(error)
        } catch let error as DecodingError {
            throw APIError(.badRequest, code: "invalid", Self.describe(error), field: Self.field(error))
        } catch let error as LedgerError {
            throw APIError(.badRequest, code: "invalid", error.description)
        }
    }

    static func field(_ error: DecodingError) -> String? {
        let path: [any CodingKey]
        switch error {
        case .keyNotFound(let key, let context): path = context.codingPath + [key]
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context): path = context.codingPath
        @unknown default: return nil
        }
        let text = path.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().trimmingCharacters(in: CharacterSet(charactersIn: "."))
        return text.isEmpty ? nil : text
    }

    static func describe(_ error: DecodingError) -> String {
        switch error {
        case .keyNotFound(let key, _): return "\(key.stringValue) is required"
        case .typeMismatch(let type, _): return "expected \(type)"
        case .valueNotFound(let type, _): return "expected \(type), found null"
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty { return "the body is not valid JSON" }
            return context.debugDescription.replacingOccurrences(of: "Cannot initialize ", with: "not a valid ")
        @unknown default: return "the body cannot be read"
        }
    }
}
