import CRM
import Foundation
import Hummingbird
import Ledger
import Prometheus
import Reconciliation

/// Prometheus metrics of the API and the books: requests by route and status with their
/// durations, and, read when scraped, the journal's length, open alerts and open breaks.
public final class APIMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    let journal: Gauge
    let openAlerts: Gauge
    let openBreaks: Gauge

    public init() {
        journal = registry.makeGauge(name: "counterfoil_journal_entries", help: "Journal entries booked")
        openAlerts = registry.makeGauge(name: "counterfoil_alerts_open", help: "Compliance alerts open or being investigated")
        openBreaks = registry.makeGauge(name: "counterfoil_recon_breaks_open", help: "Reconciliation breaks open or being investigated")
    }

    var middleware: RequestMetrics { RequestMetrics(metrics: self) }

    func exposition(ledger: Ledger, store: CRMStore) throws -> String {
        journal.set(Int64(try ledger.nextOffset() - 1))
        openAlerts.set(Int64(try store.alerts(status: [.open, .investigating], limit: .max).count))
        openBreaks.set(Int64(try Reconciler(ledger: ledger).breaks(status: [.open, .investigating]).count))
        return registry.emitToString()
    }

    func observe(route: String, method: String, status: Int, seconds: Duration) {
        let labels = [("route", route), ("method", method), ("status", String(status))]
        registry.makeCounter(name: "counterfoil_http_requests_total", labels: labels, help: "HTTP requests").increment()
        registry.makeDurationHistogram(name: "counterfoil_http_request_duration_seconds", labels: [("route", route), ("method", method)],
                                       buckets: [.milliseconds(1), .milliseconds(5), .milliseconds(25), .milliseconds(100), .milliseconds(500), .seconds(2)],
                                       help: "HTTP request durations").record(seconds)
    }
}

struct RequestMetrics: RouterMiddleware {
    let metrics: APIMetrics

    func handle(_ request: Request, context: APIContext, next: (Request, APIContext) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        do {
            let response = try await next(request, context)
            metrics.observe(route: context.endpointPath ?? "unmatched", method: request.method.rawValue, status: response.status.code,
                            seconds: ContinuousClock.now - start)
            return response
        } catch {
            let status = (error as? any HTTPResponseError)?.status.code ?? 500
            metrics.observe(route: context.endpointPath ?? "unmatched", method: request.method.rawValue, status: status,
                            seconds: ContinuousClock.now - start)
            throw error
        }
    }
}
