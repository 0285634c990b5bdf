import Foundation

/// The OpenAPI 3 document of the API, served at /v1/openapi.json. The test suite runs
/// schemathesis against the live server with it: every route it lists answers as it says.
enum OpenAPIDocument {
    static let json: String = {
        let data = try! JSONSerialization.data(withJSONObject: document, options: [.sortedKeys, .prettyPrinted])
        return String(decoding: data, as: UTF8.self)
    }()

    // MARK: Building blocks

    static func ref(_ name: String) -> [String: Any] { ["$ref": "#/components/schemas/\(name)"] }
    static func array(_ items: [String: Any]) -> [String: Any] { ["type": "array", "items": items] }
    static func object(_ properties: [String: Any], required: [String] = []) -> [String: Any] {
        var schema: [String: Any] = ["type": "object", "properties": properties]
        if !required.isEmpty { schema["required"] = required }
        return schema
    }
    static var string: [String: Any] { ["type": "string"] }
    static var decimal: [String: Any] { ["type": "string", "pattern": "^-?[0-9]+(\\.[0-9]+)?$", "description": "an exact decimal"] }
    static var time: [String: Any] { ["type": "string", "description": "ISO 8601 UTC"] }
    static var integer: [String: Any] { ["type": "integer", "minimum": 0] }
    static var boolean: [String: Any] { ["type": "boolean"] }
    static func enumeration(_ values: [String]) -> [String: Any] { ["type": "string", "enum": values] }
    static func items(_ schema: String) -> [String: Any] { object(["items": array(ref(schema))], required: ["items"]) }
    static func page(_ schema: String) -> [String: Any] {
        object(["items": array(ref(schema)), "nextCursor": ["type": "string", "nullable": true]], required: ["items"])
    }

    static func path(_ name: String, _ description: String) -> [String: Any] {
        ["name": name, "in": "path", "required": true, "description": description, "schema": string]
    }
    static func query(_ name: String, _ schema: [String: Any], _ description: String) -> [String: Any] {
        ["name": name, "in": "query", "required": false, "description": description, "schema": schema]
    }
    static var limit: [String: Any] { query("limit", ["type": "integer", "minimum": 1, "maximum": 1000], "page size (default 100)") }
    static var clientID: [String: Any] { path("id", "the client's id (C000001)") }
    static var tradeFilters: [[String: Any]] {
        [
            query("from", time, "trade time from (inclusive)"), query("to", time, "trade time to (exclusive)"),
            query("instrument", string, "only this instrument"), query("side", enumeration(["buy", "sell"]), "only buys or sells"),
            query("account", string, "only this linked account"),
        ]
    }

    static func json(_ schema: [String: Any]) -> [String: Any] { ["content": ["application/json": ["schema": schema]]] }

    /// An operation: what it answers on success, and the error document otherwise.
    static func operation(_ summary: String, tag: String, roles: String, parameters: [[String: Any]] = [],
                          body: String? = nil, status: String = "200", response: [String: Any]?, public isPublic: Bool = false,
                          contentType: String = "application/json") -> [String: Any] {
        var responses: [String: Any] = ["default": ["description": "an error", "content": ["application/json": ["schema": ref("Error")]]]]
        if let response {
            responses[status] = ["description": summary, "content": [contentType: ["schema": response]]]
        } else {
            responses[status] = ["description": summary]
        }
        var operation: [String: Any] = ["summary": summary, "description": "Roles: \(roles).", "tags": [tag], "responses": responses]
        if !parameters.isEmpty { operation["parameters"] = parameters }
        if let body { operation["requestBody"] = ["required": true, "content": ["application/json": ["schema": ref(body)]]] }
        if isPublic { operation["security"] = [] as [Any] }
        return operation
    }

    static let readers = "crm-read, crm-write, ops, compliance, admin"

    // MARK: The document

    static var document: [String: Any] {
        [
            "openapi": "3.0.3",
            "info": ["title": "Counterfoil API", "version": "1",
                     "description": "Clients, account links, KYC/AML and purchase history for the CRM; reconciliation breaks for ops. Bearer tokens with roles."],
            "security": [["bearer": [] as [Any]]],
            "paths": paths,
            "components": ["securitySchemes": ["bearer": ["type": "http", "scheme": "bearer"]], "schemas": schemas],
        ]
    }

    static var paths: [String: Any] {
        let client = [clientID]
        return [
            "/healthz": ["get": operation("Liveness and the journal's length", tag: "service", roles: "none", response: ref("Health"), public: true)],
            "/metrics": ["get": operation("Prometheus metrics (a scraper sends a token, as Prometheus's authorization setting does)",
                                          tag: "service", roles: readers, response: string, contentType: "text/plain")],
            "/v1/openapi.json": ["get": operation("This document", tag: "service", roles: "none", response: ["type": "object"], public: true)],
            "/v1/clients": [
                "get": operation("List clients", tag: "clients", roles: readers,
                                 parameters: [query("cursor", string, "the nextCursor of the previous page"), limit,
                                              query("status", enumeration(["lead", "active", "suspended", "closed"]), "only this status"),
                                              query("tag", string, "only clients with this tag")],
                                 response: page("Client")),
                "post": operation("Create a client (screened against the sanctions lists)", tag: "clients", roles: "crm-write, admin",
                                  body: "ClientCreate", status: "201", response: ref("Client")),
            ],
            "/v1/clients/{id}": [
                "get": operation("A client", tag: "clients", roles: readers + " (date of birth: compliance, admin)", parameters: client, response: ref("Client")),
                "patch": operation("Change a client", tag: "clients", roles: "crm-write, admin", parameters: client, body: "ClientChange",
                                   response: ref("Client")),
            ],
            "/v1/clients/{id}/accounts": [
                "get": operation("The identifiers linked to a client", tag: "clients", roles: readers, parameters: client, response: items("Link")),
                "post": operation("Link an account, PartyID or platform login", tag: "clients", roles: "crm-write, ops, admin",
                                  parameters: client, body: "LinkInput", status: "201", response: ref("Link")),
            ],
            "/v1/accounts/{kind}/{value}": [
                "delete": operation("Unlink an identifier", tag: "clients", roles: "ops, admin",
                                    parameters: [["name": "kind", "in": "path", "required": true, "schema": enumeration(["account", "party", "login"])],
                                                 path("value", "the identifier")],
                                    status: "204", response: nil),
            ],
            "/v1/accounts/unlinked": ["get": operation("Booked accounts no client is linked to", tag: "clients", roles: readers,
                                                       response: items("Unlinked"))],
            "/v1/clients/{id}/interactions": [
                "get": operation("A client's interactions, newest first", tag: "clients", roles: readers, parameters: client + [limit],
                                 response: items("Interaction")),
                "post": operation("Record a call, chat, email, meeting or note", tag: "clients", roles: "crm-write, admin", parameters: client,
                                  body: "InteractionInput", status: "201", response: ref("Interaction")),
            ],
            "/v1/clients/{id}/trades": ["get": operation("A client's trades, newest first, by cursor", tag: "history", roles: readers,
                                                         parameters: client + tradeFilters + [query("cursor", ["type": "string", "pattern": "^[1-9][0-9]{0,18}$"], "the nextCursor of the previous page"), limit],
                                                         response: page("Trade"))],
            "/v1/clients/{id}/positions": ["get": operation("A client's positions, now or as of a time", tag: "history", roles: readers,
                                                            parameters: client + [query("asOf", time, "the time the positions stood at")],
                                                            response: items("Position"))],
            "/v1/clients/{id}/cash": ["get": operation("A client's cash per account and currency", tag: "history", roles: readers,
                                                       parameters: client, response: items("Cash"))],
            "/v1/clients/{id}/pnl": ["get": operation("A client's realized and unrealized P&L", tag: "history", roles: readers,
                                                      parameters: client, response: ref("PnL"))],
            "/v1/clients/{id}/fees": ["get": operation("Commission and fees a client paid, per currency", tag: "history", roles: readers,
                                                       parameters: client + tradeFilters, response: items("Fees"))],
            "/v1/clients/{id}/settlement": ["get": operation("A client's settlement obligations", tag: "history", roles: readers,
                                                             parameters: client, response: items("Obligation"))],
            "/v1/clients/{id}/kyc": ["get": operation("A client's KYC file (document numbers: compliance, admin)", tag: "kyc", roles: readers,
                                                      parameters: client, response: ref("KYC"))],
            "/v1/clients/{id}/kyc/documents": ["post": operation("Add an identity document (CIP)", tag: "kyc", roles: "crm-write, compliance, admin",
                                                                 parameters: client, body: "DocumentInput", status: "201", response: ref("KYC"))],
            "/v1/clients/{id}/kyc/factors": ["put": operation("Set the due diligence factors (CDD); the risk level follows", tag: "kyc",
                                                              roles: "crm-write, compliance, admin", parameters: client, body: "Factors",
                                                              response: ref("KYC"))],
            "/v1/clients/{id}/kyc/declarations": ["put": operation("Set the EDD triggers a person decides", tag: "kyc", roles: "compliance, admin",
                                                                   parameters: client, body: "Declarations", response: ref("KYC"))],
            "/v1/clients/{id}/kyc/edd": ["post": operation("A step of the EDD workflow", tag: "kyc", roles: "compliance, admin", parameters: client,
                                                           body: "EDDStep", response: ref("KYC"))],
            "/v1/clients/{id}/alerts": ["get": operation("A client's alerts", tag: "compliance", roles: readers,
                                                         parameters: client + [query("status", enumeration(["open", "investigating", "closed"]), "only this status")],
                                                         response: items("Alert"))],
            "/v1/alerts": ["get": operation("Alerts, newest first", tag: "compliance", roles: readers,
                                            parameters: [query("status", enumeration(["open", "investigating", "closed"]), "only this status"), limit],
                                            response: items("Alert"))],
            "/v1/compliance/sanctions/reload": ["post": operation("Read the configured sanctions list files again and screen every client; hits become alerts",
                                                                  tag: "compliance", roles: "compliance, admin",
                                                                  response: ref("SanctionsReload"))],
            "/v1/alerts/{alertID}/status": ["post": operation("Move an alert: investigating, closed (with a reason), open", tag: "compliance",
                                                              roles: "compliance, admin", parameters: [path("alertID", "the alert's id")],
                                                              body: "AlertStep", response: ref("Alert"))],
            "/v1/events": ["get": operation("Server-sent events: booked journal entries (trade, reversal, replacement, adjustment) and alerts; "
                                            + "resume with Last-Event-ID", tag: "events", roles: readers,
                                            parameters: [query("lastEventId", string, "resume after this event id (as the Last-Event-ID header)"),
                                                         query("limit", ["type": "integer", "minimum": 1], "close after this many events")],
                                            response: string, contentType: "text/event-stream")],
            "/v1/recon/runs": ["get": operation("Reconciliation runs, newest first", tag: "recon", roles: readers, parameters: [limit],
                                                response: items("Run"))],
            "/v1/recon/breaks": ["get": operation("Reconciliation breaks (default: open and investigating)", tag: "recon", roles: readers,
                                                  parameters: [query("status", enumeration(["open", "investigating", "resolved"]), "only this status"),
                                                               query("provider", string, "only this provider's")],
                                                  response: items("Break"))],
            "/v1/recon/position-requests": ["post": operation("Send a RequestForPositions on a FIX session; its PositionReports are kept for reconciliation",
                                                              tag: "recon", roles: "ops, admin", body: "PositionRequest", status: "202",
                                                              response: ref("PositionRequestSent"))],
            "/v1/recon/breaks/{breakID}/investigate": ["post": operation("Mark a break as being investigated", tag: "recon", roles: "ops, admin",
                                                                         parameters: [path("breakID", "the break's id")], body: "Investigate",
                                                                         response: ref("Break"))],
            "/v1/recon/breaks/{breakID}/resolve": ["post": operation("Resolve a break by an adjustment booked through the ledger, or by an explanation",
                                                                     tag: "recon", roles: "ops, admin", parameters: [path("breakID", "the break's id")],
                                                                     body: "Resolve", response: ref("Break"))],
            "/v1/audit": ["get": operation("The audit trail, newest first", tag: "admin", roles: "admin",
                                           parameters: [query("cursor", ["type": "string", "pattern": "^[1-9][0-9]{0,18}$"], "the nextCursor of the previous page"),
                                                        limit, query("target", string, "only changes to this client or token")],
                                           response: page("Audit"))],
            "/v1/tokens": [
                "get": operation("API tokens (hashes are never shown)", tag: "admin", roles: "admin", response: items("Token")),
                "post": operation("Create a token; the token is in this answer only", tag: "admin", roles: "admin", body: "TokenInput",
                                  status: "201", response: ref("Token")),
            ],
            "/v1/tokens/{tokenID}": ["delete": operation("Revoke a token", tag: "admin", roles: "admin",
                                                         parameters: [path("tokenID", "the token's id")], response: ref("Token"))],
        ]
    }

    static var schemas: [String: Any] {
        let country: [String: Any] = ["type": "string", "pattern": "^[A-Z]{2}$", "description": "ISO 3166-1 alpha-2"]
        let contact = object(["email": string, "phone": string, "address": string])
        let clientFields: [String: Any] = [
            "kind": enumeration(["person", "company"]), "name": ["type": "string", "minLength": 1, "maxLength": 200],
            "countryOfResidence": country, "nationality": country, "contact": contact,
            "status": enumeration(["lead", "active", "suspended", "closed"]), "manager": string, "tags": array(["type": "string", "minLength": 1, "maxLength": 50]),
            "shellCompany": boolean, "dateOfBirth": ["type": "string", "format": "date"],
        ]
        let risk = enumeration(["low", "medium", "high"])
        let eddStatus = enumeration(["not-required", "required", "in-review", "cleared", "rejected"])
        let declarations = object(["suspiciousFinancialHistory": boolean, "linksToSuspects": boolean, "finesOrNonCompliance": boolean, "unpaidDebts": boolean],
                                  required: ["suspiciousFinancialHistory", "linksToSuspects", "finesOrNonCompliance", "unpaidDebts"])
        let factors = object(["productRisk": risk, "expectedAnnualNotional": decimal, "expectedTradesPerMonth": integer, "politicallyExposed": boolean],
                             required: ["productRisk", "expectedAnnualNotional", "expectedTradesPerMonth", "politicallyExposed"])
        return [
            "Error": object(["error": object(["code": string, "message": string, "field": string], required: ["message"])], required: ["error"]),
            "Health": object(["status": string, "journalOffset": integer], required: ["status", "journalOffset"]),
            "Client": object(clientFields.merging(["id": string, "createdAt": time, "updatedAt": time]) { a, _ in a },
                             required: ["id", "kind", "name", "countryOfResidence", "contact", "status", "tags", "shellCompany", "createdAt", "updatedAt"]),
            "ClientCreate": object(clientFields, required: ["name", "countryOfResidence"]),
            "ClientChange": object(clientFields),
            "LinkInput": object(["kind": enumeration(["account", "party", "login"]), "value": ["type": "string", "minLength": 1, "maxLength": 200]],
                                required: ["kind", "value"]),
            "Link": object(["kind": enumeration(["account", "party", "login"]), "value": string, "clientID": string, "linkedAt": time, "linkedBy": string],
                           required: ["kind", "value", "clientID", "linkedAt", "linkedBy"]),
            "Unlinked": object(["account": string], required: ["account"]),
            "InteractionInput": object(["channel": enumeration(["call", "chat", "email", "note", "meeting"]), "agent": ["type": "string", "minLength": 1],
                                        "summary": ["type": "string", "minLength": 1, "maxLength": 10000], "outcome": string, "time": time],
                                       required: ["channel", "agent", "summary"]),
            "Interaction": object(["id": integer, "clientID": string, "time": time, "channel": string, "agent": string, "summary": string, "outcome": string],
                                  required: ["id", "clientID", "time", "channel", "agent", "summary"]),
            "Trade": object(["offset": integer, "kind": enumeration(["trade", "reversal", "replacement"]), "source": string, "executionID": string,
                             "reference": integer, "account": string, "instrument": string, "side": enumeration(["buy", "sell"]), "quantity": decimal,
                             "price": decimal, "currency": string, "tradeDate": string, "valueDate": string, "transactTime": time,
                             "commission": decimal, "fees": decimal, "bookedAt": time],
                            required: ["offset", "kind", "source", "executionID", "account", "instrument", "side", "quantity", "price", "currency",
                                       "tradeDate", "valueDate", "transactTime", "commission", "fees", "bookedAt"]),
            "Position": object(["account": string, "instrument": string, "quantity": decimal, "averageCost": decimal, "realizedPnL": decimal,
                                "mark": decimal, "unrealizedPnL": decimal, "currency": string],
                               required: ["account", "instrument", "quantity", "averageCost", "realizedPnL", "currency"]),
            "Cash": object(["account": string, "currency": string, "amount": decimal], required: ["account", "currency", "amount"]),
            "PnL": object(["positions": array(ref("Position")),
                           "totals": array(object(["currency": string, "realized": decimal, "unrealized": decimal, "unmarkedPositions": integer],
                                                  required: ["currency", "realized", "unrealized", "unmarkedPositions"]))],
                          required: ["positions", "totals"]),
            "Fees": object(["currency": string, "commission": decimal, "fees": decimal], required: ["currency", "commission", "fees"]),
            "Obligation": object(["account": string, "asset": string, "valueDate": string, "amount": decimal, "status": string],
                                 required: ["account", "asset", "valueDate", "amount", "status"]),
            "DocumentInput": object(["kind": enumeration(["passport", "national-id", "driving-licence", "company-registration"]),
                                     "number": ["type": "string", "minLength": 1, "maxLength": 64], "issuingCountry": country,
                                     "expiry": ["type": "string", "format": "date"],
                                     "method": enumeration(["document", "electronic", "in-person", "video"]),
                                     "result": enumeration(["pending", "passed", "failed"])],
                                    required: ["kind", "number", "issuingCountry", "expiry", "method", "result"]),
            "Factors": factors,
            "Declarations": declarations,
            "EDDStep": object(["status": eddStatus, "why": ["type": "string", "minLength": 1]], required: ["status", "why"]),
            "KYC": object(["clientID": string,
                           "documents": array(object(["id": integer, "kind": string, "number": string, "issuingCountry": string, "expiry": string,
                                                      "method": string, "result": string, "verifiedAt": time, "verifiedBy": string],
                                                     required: ["id", "kind", "number", "issuingCountry", "expiry", "method", "result"])),
                           "verified": boolean, "factors": factors, "declarations": declarations, "countryRisk": risk, "riskLevel": risk,
                           "riskReasons": array(string), "eddTriggers": array(string), "eddStatus": eddStatus,
                           "eddHistory": array(object(["time": time, "who": string, "status": eddStatus, "why": string], required: ["time", "who", "status", "why"]))],
                          required: ["clientID", "documents", "verified", "factors", "declarations", "countryRisk", "riskLevel", "riskReasons",
                                     "eddTriggers", "eddStatus", "eddHistory"]),
            "SanctionsReload": object(["entries": integer, "alerts": array(ref("Alert"))], required: ["entries", "alerts"]),
            "Alert": object(["id": integer, "clientID": string, "rule": enumeration(["sanctions", "size", "velocity", "baseline", "account-status"]),
                             "detail": string, "trades": array(integer),
                             "hit": object(["list": string, "entryID": string, "listedName": string, "score": ["type": "number"]]),
                             "time": time, "status": enumeration(["open", "investigating", "closed"]), "closeReason": string,
                             "history": array(object(["time": time, "who": string, "status": string, "note": string]))],
                            required: ["id", "clientID", "rule", "detail", "trades", "time", "status", "history"]),
            "AlertStep": object(["status": enumeration(["open", "investigating", "closed"]), "note": ["type": "string", "minLength": 1]],
                                required: ["status", "note"]),
            "Run": object(["id": integer, "provider": string, "origin": string, "time": time, "who": string, "kinds": array(string), "rows": integer,
                           "breaks": integer, "new": integer, "accepted": integer, "cleared": integer, "duplicateOf": integer],
                          required: ["id", "provider", "origin", "time", "who", "kinds", "rows", "breaks", "new", "accepted", "cleared"]),
            "Break": object(["id": integer, "provider": string, "status": enumeration(["open", "investigating", "resolved"]),
                             "type": enumeration(["missing-ours", "missing-theirs", "quantity", "price", "value-date", "duplicate", "mapping"]),
                             "kind": enumeration(["positions", "cash", "trades"]), "account": string, "subject": string, "ours": string, "theirs": string,
                             "oppositeSign": boolean, "note": string, "firstRun": integer, "lastRun": integer, "daysOpen": integer,
                             "resolution": enumeration(["adjusted", "explained", "cleared"]), "adjustmentOffset": integer, "explanation": string,
                             "history": array(object(["time": time, "who": string, "action": string, "note": string]))],
                            required: ["id", "provider", "status", "type", "kind", "account", "subject", "oppositeSign", "note", "firstRun", "lastRun",
                                       "daysOpen", "history"]),
            "PositionRequest": object(["session": ["type": "string", "minLength": 1, "description": "the session key, e.g. FIX.4.4:COUNTERFOIL->PLATFORM"],
                                       "account": string], required: ["session"]),
            "PositionRequestSent": object(["session": string, "posReqID": string], required: ["session", "posReqID"]),
            "Investigate": object(["note": ["type": "string", "minLength": 1]], required: ["note"]),
            "Resolve": ["oneOf": [
                object(["explanation": ["type": "string", "minLength": 1]], required: ["explanation"]),
                object(["adjust": ["type": "boolean", "enum": [true]], "why": ["type": "string", "minLength": 1], "price": decimal],
                       required: ["adjust", "why"]),
            ], "description": "an accepted explanation, or an adjustment booked through the ledger"],
            "Audit": object(["id": integer, "time": time, "who": string, "action": string, "target": string, "before": string, "after": string],
                            required: ["id", "time", "who", "action", "target"]),
            "TokenInput": object(["name": ["type": "string", "minLength": 1, "maxLength": 100],
                                  "role": enumeration(["crm-read", "crm-write", "ops", "compliance", "admin"])], required: ["name", "role"]),
            "Token": object(["id": string, "name": string, "role": enumeration(["crm-read", "crm-write", "ops", "compliance", "admin"]),
                             "createdAt": time, "createdBy": string, "revokedAt": time, "token": string],
                            required: ["id", "name", "role", "createdAt", "createdBy"]),
        ]
    }
}
