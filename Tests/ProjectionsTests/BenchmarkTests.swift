import EventStore
import Foundation
import Ledger
import LedgerApp
import LedgerBench
import Postgres
@testable import Projections
import Testing
import TestSupport

@Suite struct BenchmarkTests {
    /// `LEDGER_BENCH_EVENTS=1000000` measures a rebuild of that many events; without it a
    /// small log checks that the synthetic ledger is valid and that rebuild, run and
    /// verify agree on it.
    @Test func rebuildOfASyntheticLedger() throws {
        let count = ProcessInfo.processInfo.environment["LEDGER_BENCH_EVENTS"].flatMap { Int($0) } ?? 20_000
        try TestDatabase.with { url in
            let db = try PostgresConnection(url: url)
            var clock = ContinuousClock.now
            let written = try SyntheticLedger.append(events: count, to: db)
            let generated = ContinuousClock.now - clock
            #expect(written == count)
            try db.execute(script: "VACUUM ANALYZE events")
            let rssBefore = peakRSSMegabytes()
            clock = ContinuousClock.now
            let summary = try ProjectionRebuilder(connection: db).rebuild()
            let rebuild = ContinuousClock.now - clock
            let rssAfter = peakRSSMegabytes()
            clock = ContinuousClock.now
            let orders = try ReportReader(connection: db).orders()
            let load = ContinuousClock.now - clock
            let dbTime = try db.query("EXPLAIN (ANALYZE, FORMAT JSON) SELECT \(OrderSummary.loadColumns) FROM projections.orders")
            print(
                """
                BENCH events=\(written) generate=\(generated) rebuild=\(rebuild) \
                events/s=\(Int(summary.eventsPerSecond)) (whole rebuild \(Int(Double(written) / rebuild.seconds))) \
                rows=\(summary.rows) peakRSS before=\(rssBefore)MB after=\(rssAfter)MB \
                orders=\(orders.count) loadOrders=\(load) \
                explain=\(String(describing: dbTime.first?.text(at: 0)?.split(separator: "\n").filter { $0.contains("Execution Time") }))
                """)
            clock = ContinuousClock.now
            let asOf = try ReportReader(connection: db).orders(asOf: try Day("2024-12-31"))
            let asOfTime = ContinuousClock.now - clock
            clock = ContinuousClock.now
            let verified = try verify(connection: db)
            print("BENCH asOf orders=\(asOf.count) in \(asOfTime); verify \(verified.isIntact) in \(ContinuousClock.now - clock)")
            #expect(verified.isIntact)
            if count <= 50_000 {
                let rebuilt = try StoredReports(db)
                #expect(rebuilt == StoredReports(try foldedReports(db)))
            }
        }
    }
}
