import CRM
import ExactNumbers
import Foundation
import Hummingbird
import Ledger
import Logging
import NIOCore
import NIOPosix
import Reconciliation

/// Counterfoil's HTTP JSON API: the CRM's routes, each client's history, reconciliation
/// breaks, the event stream, health and metrics. Versioned under /v1; described by the
/// OpenAPI document it serves at /v1/openapi.json.
public struct APIServer: Sendable {
    public let store: CRMStore
    public let reconciler: Reconciler
    public let metrics: APIMetrics

    /// Sends a RequestForPositions on a FIX session (its key) for an account or all; returns
    /// its PosReqID. Set by the service that runs the acceptor beside the API.
    public let requestPositions: (@Sendable (String, String?) async throws -> String)?

    /// The sanctions list files, read again by `POST /v1/compliance/sanctions/reload`.
    public let sanctions: SanctionsSources?

    /// What a request may carry (`APIInputLimits`).
    public var inputLimits = APIInputLimits()
    /// Event streams open per token (4: a CRM and a few consoles); more are 429.
    let streams = StreamCounts(perTokenMax: 4)

    public init(store: CRMStore, reconciler: Reconciler, metrics: APIMetrics = APIMetrics(),
                requestPositions: (@Sendable (String, String?) async throws -> String)? = nil,
                sanctions: SanctionsSources? = nil) {
        self.store = store
        self.reconciler = reconciler
        self.metrics = metrics
        self.requestPositions = requestPositions
        self.sanctions = sanctions
    }

    var ledger: Ledger { store.ledger }

    /// The application on `host:port`, to run as a service beside the acceptor.
    public func application(host: String, port: Int, logger: Logger,
                            onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        Application(router: router(), configuration: .init(address: .hostname(host, port: port), serverName: "Counterfoil"),
                    onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? port) }, logger: logger)
    }

    public func router() -> Router<APIContext> {
        let router = Router(context: APIContext.self)
        router.add(middleware: metrics.middleware)
        router.add(middleware: ErrorTranslation())
        router.add(middleware: InputBounds(limits: inputLimits))
        router.add(middleware: TokenAuthentication(store: store))
        router.get("/healthz") { _, _ in Health(status: "ok", journalOffset: try ledger.nextOffset() - 1) }
        router.get("/metrics") { _, context in
            // What the books hold and how busy the service is: for holders of a token.
            try context.requireReader()
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                     body: ResponseBody(byteBuffer: ByteBuffer(string: try metrics.exposition(ledger: ledger, store: store))))
        }
        router.get("/v1/openapi.json") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(string: OpenAPIDocument.json)))
        }
        addClientRoutes(router)
        addHistoryRoutes(router)
        addComplianceRoutes(router)
        addReconRoutes(router)
        addAdminRoutes(router)
        router.get("/v1/events") { request, context in
            try context.requireReader()
            let lastEventID = request.headers.first { $0.name.canonicalName == "last-event-id" }?.value
            var limit: Int?
            if let text = request.uri.queryParameters.get("limit") {
                guard let value = Int(text), value > 0 else { throw APIError.invalid("limit", "a whole number of events from 1") }
                limit = value
            }
            let bearer = String((request.headers[.authorization] ?? "").dropFirst("Bearer ".count))
            return try EventStream(store: store, bearer: bearer, streams: streams, tokenID: context.token?.id ?? "")
                .response(lastEventID: lastEventID, query: request.uri.queryParameters.get("lastEventId"), limit: limit)
        }
        return router
    }

    // MARK: Clients

    func clientView(_ client: Client, _ context: APIContext) throws -> ClientView {
        ClientView(client, dateOfBirth: context.seesPersonalData ? try store.dateOfBirth(of: client) : nil)
    }

    func addClientRoutes(_ router: Router<APIContext>) {
        router.get("/v1/clients") { request, context in
            try context.requireReader()
            let query = Query(request)
            let limit = try query.limit()
            let status = try query.enumeration("status", ClientStatus.self)
            let clients = try store.clients(after: query.string("cursor"), limit: limit, status: status, tag: query.string("tag"))
            return Page(items: try clients.map { try clientView($0, context) }, nextCursor: clients.count == limit ? clients.last?.id : nil)
        }
        router.post("/v1/clients") { request, context in
            try context.require(.crmWrite)
            let input = try await decodeBody(ClientInput.self, request, context)
            return EditedResponse(status: .created, response: try clientView(try await writing { try store.createClient(input, who: context.who) }, context))
        }
        router.get("/v1/clients/{id}") { _, context in
            try context.requireReader()
            return try clientView(try client(context), context)
        }
        router.patch("/v1/clients/{id}") { request, context in
            try context.require(.crmWrite)
            let input = try await decodeBody(ClientInput.self, request, context)
            let id = try client(context).id
            return try clientView(try await writing { try store.updateClient(id, input, who: context.who) }, context)
        }
        router.get("/v1/clients/{id}/accounts") { _, context in
            try context.requireReader()
            return Items(items: try store.links(of: try client(context).id).map(LinkView.init))
        }
        router.post("/v1/clients/{id}/accounts") { request, context in
            try context.require(.crmWrite, .ops)
            let body = try await decodeBody(LinkBody.self, request, context)
            let id = try client(context).id
            let link = try await writing { try store.link(body.kind, body.value, to: id, who: context.who) }
            return EditedResponse(status: .created, response: LinkView(link))
        }
        router.delete("/v1/accounts/{kind}/{value}") { _, context in
            try context.require(.ops)
            guard let kind = context.parameters.get("kind", as: IdentifierKind.self) else {
                throw APIError.invalid("kind", "expected account, party or login")
            }
            let value = try context.parameters.require("value")
            try await writing { try store.unlink(kind, value, who: context.who) }
            return Response(status: .noContent)
        }
        router.get("/v1/accounts/unlinked") { _, context in
            try context.requireReader()
            return Items(items: try store.unlinkedAccounts().map(UnlinkedAccount.init))
        }
        router.get("/v1/clients/{id}/interactions") { request, context in
            try context.requireReader()
            return Items(items: try store.interactions(of: try client(context).id, limit: try Query(request).limit()).map(InteractionView.init))
        }
        router.post("/v1/clients/{id}/interactions") { request, context in
            try context.require(.crmWrite)
            let body = try await decodeBody(InteractionBody.self, request, context)
            var time: Int64?
            if let text = body.time {
                guard let parsed = ISOTime.parse(text) else { throw APIError.invalid("time", "'\(text)' is not an ISO 8601 time") }
                time = parsed
            }
            let id = try client(context).id
            let item = try await writing { [time] in
                try store.addInteraction(clientID: id, channel: body.channel, agent: body.agent, summary: body.summary,
                                         outcome: body.outcome, time: time, who: context.who)
            }
            return EditedResponse(status: .created, response: InteractionView(item))
        }
    }

    func client(_ context: APIContext) throws -> Client {
        let id = try context.parameters.require("id")
        guard let client = try store.client(id) else { throw APIError.notFound("no client \(id)") }
        return client
    }

    // MARK: A client's history

    func addHistoryRoutes(_ router: Router<APIContext>) {
        router.get("/v1/clients/{id}/trades") { request, context in
            try context.requireReader()
            let query = Query(request)
            var cursor: UInt64?
            if let text = query.string("cursor") {
                guard let value = UInt64(text), value > 0 else { throw APIError.invalid("cursor", "'\(text)' is not a cursor from an earlier page") }
                cursor = value
            }
            let page = try store.trades(of: try context.parameters.require("id"), filter: try query.tradeFilter(), before: cursor,
                                        limit: try query.limit())
            return try JSONWriter.tradePage(page)
        }
        router.get("/v1/clients/{id}/positions") { request, context in
            try context.requireReader()
            let positions = try store.positions(of: try client(context).id, asOf: try Query(request).time("asOf"))
            return Items(items: try positions.map { PositionView($0, mark: try ledger.mark(instrument: $0.instrument)?.price) })
        }
        router.get("/v1/clients/{id}/cash") { _, context in
            try context.requireReader()
            return Items(items: try store.cash(of: try client(context).id).map {
                CashView(account: $0.account, currency: $0.currency, amount: $0.amount.normalized.description)
            })
        }
        router.get("/v1/clients/{id}/pnl") { _, context in
            try context.requireReader()
            var totals: [String: (realized: ExactDecimal, unrealized: ExactDecimal, unmarked: Int)] = [:]
            var views: [PositionView] = []
            for position in try store.positions(of: try client(context).id) {
                let mark = try ledger.mark(instrument: position.instrument)?.price
                views.append(PositionView(position, mark: mark))
                var total = totals[position.currency] ?? (.zero, .zero, 0)
                total.realized += position.realizedPnL
                if let mark { total.unrealized += position.unrealizedPnL(mark: mark) } else if !position.quantity.isZero { total.unmarked += 1 }
                totals[position.currency] = total
            }
            return PnLView(positions: views, totals: totals.keys.sorted().map { currency in
                let total = totals[currency]!
                return PnLView.Total(currency: currency, realized: total.realized.normalized.description,
                                     unrealized: total.unrealized.normalized.description, unmarkedPositions: total.unmarked)
            })
        }
        router.get("/v1/clients/{id}/fees") { request, context in
            try context.requireReader()
            let fees = try store.fees(of: try client(context).id, filter: try Query(request).tradeFilter())
            return FeesView(items: fees.keys.sorted().map {
                FeesView.Total(currency: $0, commission: fees[$0]!.commission.normalized.description, fees: fees[$0]!.fees.normalized.description)
            })
        }
        router.get("/v1/clients/{id}/settlement") { _, context in
            try context.requireReader()
            return Items(items: try store.obligations(of: try client(context).id).map {
                ObligationView(account: $0.account, asset: $0.asset.description, valueDate: $0.valueDate.description,
                               amount: $0.amount.normalized.description, status: $0.status.description)
            })
        }
    }

    // MARK: KYC and alerts

    func kycView(_ file: KYCFile, _ context: APIContext) throws -> KYCView {
        let today = CalendarDay(daysSinceEpoch: Int(ISOTime.now() / 86_400_000_000_000))
        return KYCView(
            clientID: file.clientID,
            documents: try file.documents.map { document in
                var number = "••" + String(try store.documentNumber(document).suffix(2))
                if context.seesPersonalData { number = try store.documentNumber(document) }
                return DocumentView(id: document.id, kind: document.kind, number: number, issuingCountry: document.issuingCountry,
                                    expiry: document.expiry, method: document.method, result: document.result,
                                    verifiedAt: document.verifiedAt.map(ISOTime.format), verifiedBy: document.verifiedBy)
            },
            verified: file.isVerified(today: today),
            factors: .init(productRisk: file.factors.productRisk, expectedAnnualNotional: file.factors.expectedAnnualNotional.normalized.description,
                           expectedTradesPerMonth: file.factors.expectedTradesPerMonth, politicallyExposed: file.factors.politicallyExposed),
            declarations: file.declarations, countryRisk: file.countryRisk, riskLevel: file.riskLevel, riskReasons: file.riskReasons,
            eddTriggers: file.eddTriggers, eddStatus: file.eddStatus,
            eddHistory: file.eddHistory.map { .init(time: ISOTime.format($0.time), who: $0.who, status: $0.status, why: $0.why) })
    }

    func addComplianceRoutes(_ router: Router<APIContext>) {
        router.get("/v1/clients/{id}/kyc") { _, context in
            try context.requireReader()
            return try kycView(try store.kycFile(try client(context).id), context)
        }
        router.post("/v1/clients/{id}/kyc/documents") { request, context in
            try context.require(.crmWrite, .compliance)
            let input = try await decodeBody(DocumentInput.self, request, context)
            let id = try client(context).id
            return EditedResponse(status: .created, response: try kycView(try await writing { try store.addDocument(id, input, who: context.who) }, context))
        }
        router.put("/v1/clients/{id}/kyc/factors") { request, context in
            try context.require(.crmWrite, .compliance)
            let factors = try await decodeBody(DueDiligenceFactors.self, request, context)
            let id = try client(context).id
            return try kycView(try await writing { try store.setFactors(id, factors, who: context.who) }, context)
        }
        router.put("/v1/clients/{id}/kyc/declarations") { request, context in
            try context.require(.compliance)
            let declarations = try await decodeBody(EDDDeclarations.self, request, context)
            let id = try client(context).id
            return try kycView(try await writing { try store.setDeclarations(id, declarations, who: context.who) }, context)
        }
        router.post("/v1/clients/{id}/kyc/edd") { request, context in
            try context.require(.compliance)
            let body = try await decodeBody(EDDBody.self, request, context)
            let id = try client(context).id
            return try kycView(try await writing { try store.moveEDD(id, to: body.status, why: body.why, who: context.who) }, context)
        }
        router.get("/v1/clients/{id}/alerts") { request, context in
            try context.requireReader()
            let status = try Query(request).enumeration("status", Alert.Status.self)
            return Items(items: try store.alerts(clientID: try client(context).id, status: status.map { [$0] }).map(AlertView.init))
        }
        router.get("/v1/alerts") { request, context in
            try context.requireReader()
            let query = Query(request)
            let status = try query.enumeration("status", Alert.Status.self)
            return Items(items: try store.alerts(status: status.map { [$0] }, limit: try query.limit()).map(AlertView.init))
        }
        router.post("/v1/compliance/sanctions/reload") { _, context in
            try context.require(.compliance)
            guard let sanctions, !sanctions.isEmpty else {
                throw APIError(.conflict, code: "unavailable", "no sanctions list files are configured ([API] SanctionsSDN, SanctionsUN)")
            }
            let (entries, alerts) = try await writing { [store] in
                let lists: ScreeningLists
                do {
                    lists = try sanctions.load()
                } catch let error as CRMError {
                    // The files are the service's, not the caller's: the lists in use stay.
                    throw APIError(.conflict, code: "unavailable", "the sanctions lists could not be read, the previous ones stay: \(error)")
                }
                return (lists.entries.count, try store.reloadLists(lists))
            }
            return SanctionsReloadView(entries: entries, alerts: alerts.map(AlertView.init))
        }
        router.post("/v1/alerts/{alertID}/status") { request, context in
            try context.require(.compliance)
            let body = try await decodeBody(AlertStatusBody.self, request, context)
            guard let id = context.parameters.get("alertID", as: UInt64.self) else { throw APIError.notFound("no such alert") }
            return AlertView(try await writing { try store.moveAlert(id, to: body.status, note: body.note, who: context.who) })
        }
    }

    // MARK: Reconciliation

    func addReconRoutes(_ router: Router<APIContext>) {
        router.get("/v1/recon/runs") { request, context in
            try context.requireReader()
            let runs = try reconciler.runs(limit: try Query(request).limit())
            return Items(items: runs.map {
                RunView(id: $0.id, provider: $0.provider, origin: $0.origin, time: ISOTime.format($0.time), who: $0.who, kinds: $0.kinds,
                        rows: $0.rows, breaks: $0.breaks, new: $0.new, accepted: $0.accepted, cleared: $0.cleared, duplicateOf: $0.duplicateOf)
            })
        }
        router.get("/v1/recon/breaks") { request, context in
            try context.requireReader()
            let query = Query(request)
            let status = try query.enumeration("status", ReconBreak.Status.self)
            let now = ISOTime.now()
            let breaks = try reconciler.breaks(status: status.map { [$0] } ?? [.open, .investigating], provider: query.string("provider"))
            return Items(items: breaks.map { BreakView($0, now: now) })
        }
        router.post("/v1/recon/position-requests") { request, context in
            try context.require(.ops)
            let body = try await decodeBody(PositionRequestBody.self, request, context)
            guard let requestPositions else {
                throw APIError(.conflict, code: "unavailable", "no FIX acceptor runs beside this API: serve runs both", field: "session")
            }
            do {
                let id = try await requestPositions(body.session, body.account)
                return EditedResponse(status: .accepted, response: PositionRequestView(session: body.session, posReqID: id))
            } catch {
                throw APIError(.conflict, code: "conflict", "\(error)", field: "session")
            }
        }
        router.post("/v1/recon/breaks/{breakID}/investigate") { request, context in
            try context.require(.ops)
            let body = try await decodeBody(InvestigateBody.self, request, context)
            let id = try breakID(context)
            return BreakView(try await writing { try reconciling { try reconciler.investigate(id, who: context.who, note: body.note) } }, now: ISOTime.now())
        }
        router.post("/v1/recon/breaks/{breakID}/resolve") { request, context in
            try context.require(.ops)
            let body = try await decodeBody(ResolveBody.self, request, context)
            let id = try breakID(context)
            if body.adjust == true {
                guard let why = body.why, !why.isEmpty else { throw APIError.invalid("why", "an adjustment needs a reason") }
                return BreakView(try await writing { try reconciling { try reconciler.adjust(id, who: context.who, why: why, price: body.price).0 } }, now: ISOTime.now())
            }
            guard let explanation = body.explanation else { throw APIError.invalid("explanation", "give an explanation, or adjust: true with why") }
            return BreakView(try await writing { try reconciling { try reconciler.explain(id, who: context.who, explanation: explanation) } }, now: ISOTime.now())
        }
    }

    /// Runs a change, which waits for the ledger's writer to make it durable, on NIO's
    /// thread pool: no executor thread (with `ServerProcess.prepare()`, an event loop serving
    /// other connections) sits waiting for a commit.
    func writing<R: Sendable>(_ body: @escaping @Sendable () throws -> R) async throws -> R {
        try await NIOThreadPool.singleton.runIfActive(body)
    }

    func breakID(_ context: APIContext) throws -> UInt64 {
        guard let id = context.parameters.get("breakID", as: UInt64.self) else { throw APIError.notFound("no such break") }
        return id
    }

    /// Reconciliation refusals are the caller's: an unknown break is 404, the rest 409.
    func reconciling<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as ReconError {
            if error.description.hasPrefix("no break") { throw APIError.notFound(error.description) }
            throw APIError(.conflict, code: "conflict", error.description)
        }
    }

    // MARK: Admin

    func addAdminRoutes(_ router: Router<APIContext>) {
        router.get("/v1/audit") { request, context in
            try context.require()
            let query = Query(request)
            var cursor = UInt64.max
            if let text = query.string("cursor") {
                guard let value = UInt64(text), value > 0 else { throw APIError.invalid("cursor", "'\(text)' is not a cursor from an earlier page") }
                cursor = value
            }
            let limit = try query.limit()
            let entries = try store.auditTrail(before: cursor, limit: limit, target: query.string("target"))
            return Page(items: entries.map {
                AuditView(id: $0.id, time: ISOTime.format($0.time), who: $0.who, action: $0.action, target: $0.target, before: $0.before, after: $0.after)
            }, nextCursor: entries.count == limit ? entries.last.map { String($0.id) } : nil)
        }
        router.get("/v1/tokens") { _, context in
            try context.require()
            return Items(items: try store.allTokens().map { TokenView($0) })
        }
        router.post("/v1/tokens") { request, context in
            try context.require()
            let body = try await decodeBody(TokenBody.self, request, context)
            let (token, record) = try await writing { try store.createToken(name: body.name, role: body.role, who: context.who) }
            return EditedResponse(status: .created, response: TokenView(record, token: token))
        }
        router.delete("/v1/tokens/{tokenID}") { _, context in
            try context.require()
            let id = try context.parameters.require("tokenID")
            if id == context.token?.id {
                throw APIError(.conflict, code: "conflict", "a token cannot revoke itself; revoke it with another admin token or `counterfoil token revoke`")
            }
            return TokenView(try await writing { try store.revokeToken(id: id, who: context.who) })
        }
    }
}

/// A JSON body; what cannot be read is a 400 naming the field.
func decodeBody<T: Decodable>(_ type: T.Type, _ request: Request, _ context: APIContext) async throws -> T {
    let limit = min(context.maxUploadSize, APIInputLimits().jsonBodyBytesMax)
    let buffer: ByteBuffer
    do {
        buffer = try await request.body.collect(upTo: limit)
    } catch let error as HTTPError where error.status == .contentTooLarge {
        throw APIError(.contentTooLarge, code: "too_long", "the body is longer than \(limit) bytes")
    }
    do {
        return try JSONDecoder().decode(type, from: Data(buffer: buffer))
    } catch let error as DecodingError {
        throw APIError(.badRequest, code: "invalid", ErrorTranslation.describe(error), field: ErrorTranslation.field(error))
    }
}

/// Query parameters, checked: a bad one is a 400 that names it.
struct Query {
    /// Parsed once: `uri.queryParameters` parses the query string each time it is asked.
    let parameters: Parameters

    init(_ request: Request) { parameters = request.uri.queryParameters }

    func string(_ name: String) -> String? {
        parameters.get(name).flatMap { $0.isEmpty ? nil : String($0) }
    }

    func limit(default fallback: Int = 100) throws -> Int {
        guard let text = string("limit") else { return fallback }
        guard let value = Int(text), (1...1000).contains(value) else { throw APIError.invalid("limit", "a whole number from 1 to 1000") }
        return value
    }

    func time(_ name: String) throws -> Int64? {
        guard let text = string(name) else { return nil }
        guard let value = ISOTime.parse(text) else { throw APIError.invalid(name, "'\(text)' is not an ISO 8601 time (YYYY-MM-DD[THH:MM[:SS]][Z])") }
        return value
    }

    func enumeration<T: RawRepresentable & CaseIterable>(_ name: String, _ type: T.Type) throws -> T? where T.RawValue == String {
        guard let text = string(name) else { return nil }
        guard let value = T(rawValue: text) else {
            throw APIError.invalid(name, "expected one of \(T.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return value
    }

    func tradeFilter() throws -> TradeFilter {
        var filter = TradeFilter(from: try time("from"), to: try time("to"), instrument: string("instrument"), account: string("account"))
        if let side = string("side") {
            guard let value = ["buy": Side.buy, "sell": .sell][side] else { throw APIError.invalid("side", "expected buy or sell") }
            filter.side = value
        }
        return filter
    }
}

// Request and response bodies of the routes above.
struct LinkBody: Decodable { let kind: IdentifierKind; let value: String }
struct UnlinkedAccount: Encodable, Sendable { let account: String }
struct InteractionBody: Decodable { let channel: Interaction.Channel; let agent: String; let summary: String; let outcome: String?; let time: String? }
struct EDDBody: Decodable { let status: EDDStatus; let why: String }
struct AlertStatusBody: Decodable { let status: Alert.Status; let note: String }
struct InvestigateBody: Decodable { let note: String }
struct ResolveBody: Decodable { let adjust: Bool?; let why: String?; let explanation: String?; let price: ExactDecimal? }
struct TokenBody: Decodable { let name: String; let role: Role }
struct PositionRequestBody: Decodable { let session: String; let account: String? }
struct SanctionsReloadView: ResponseEncodable { let entries: Int; let alerts: [AlertView] }
struct PositionRequestView: ResponseEncodable { let session: String; let posReqID: String }
