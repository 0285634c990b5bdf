import Hummingbird

/// How much of a request the API reads before anything reaches a store, a key or a
/// record: every value from outside has a bound. A record's text field holds at most
/// 65,535 bytes and an LMDB key 511, so nothing longer may get that far.
public struct APIInputLimits: Sendable {
    /// The whole request target (path and query), in bytes: longer is 414.
    public var urlBytesMax = 8192
    /// One query parameter's value, or one path segment (an id, an account), in bytes:
    /// longer is 400 naming it.
    public var valueBytesMax = 256
    /// A JSON body, in bytes: longer is 413. Below a record field's 65,535 bytes, so no
    /// string decoded from it can overflow one.
    public var jsonBodyBytesMax = 60_000

    public init() {}
}

/// Refuses a request whose target, query values or path segments are beyond
/// `APIInputLimits`, before authentication and before any route sees it.
struct InputBounds: RouterMiddleware {
    let limits: APIInputLimits

    func handle(_ request: Request, context: APIContext, next: (Request, APIContext) async throws -> Response) async throws -> Response {
        let target = request.uri.description
        guard target.utf8.count <= limits.urlBytesMax else {
            throw APIError(.uriTooLong, code: "too_long", "the request target is longer than \(limits.urlBytesMax) bytes")
        }
        for segment in request.uri.path.split(separator: "/") where segment.utf8.count > limits.valueBytesMax {
            throw APIError(.badRequest, code: "invalid", "a path segment is longer than \(limits.valueBytesMax) bytes", field: "path")
        }
        for (name, value) in request.uri.queryParameters where value.utf8.count > limits.valueBytesMax || name.utf8.count > limits.valueBytesMax {
            let field = name.utf8.count > limits.valueBytesMax ? String(name.prefix(32)) : String(name)
            throw APIError.invalid(field, "longer than \(limits.valueBytesMax) bytes")
        }
        return try await next(request, context)
    }
}
