import EventStore
import Foundation
import JSON
import Ledger
import LedgerApp
import Postgres
import Projections

extension Bench {
    /// How the CLI builds a folded report (rows and cells, as `ledger report --as-of` does
    /// before printing) for a view; `snapshots` false folds the whole log.
    public typealias FoldedListing = (ProjectionName, PostgresConnection, ReportView, _ snapshots: Bool) throws -> Void

    /// Imports about `target` events, brings the projections and their time-travel snapshots
    /// up to date, closes the period through 2025-12-31 (a child `ledger period close`) and
    /// stores its issued reports; then times, per report, the views time travel asks for.
    /// Each figure is the median of `runs` runs of building the report's rows and cells.
    public static func timeTravel(
        in scratch: BenchDatabase, events target: Int, runs: Int, listing: FoldedListing, progress: ProgressLine? = nil
    ) throws -> ReportFigures {
        let loaded = try loadWorkload(events: target, into: scratch.url, progress: progress)
        let db = try PostgresConnection(url: scratch.url, applicationName: "ledger-bench")
        let runner = ProjectionRunner(connection: db)
        runner.keepsHistory = false
        let (_, projectSeconds) = try timed { try runner.runOnce() }
        let (_, historySeconds) = try timed { try ReportHistory.extend(on: db) }
        let close = try runChild(["period", "close", "--through", "2025-12-31", "--reason", "bench"], databaseURL: scratch.url)
        guard close.status == 0 else { throw BenchError.failed("ledger period close exited with \(close.status): \(close.stderr)") }
        try runner.runOnce()
        try ReportHistory.extend(on: db)
        let (_, issueSeconds) = try timed { try ReportHistory.storeIssuedReports(on: db) }
        let closeRow = try db.query(
            "SELECT transaction_id::text::bigint, position FROM events WHERE type = 'period.closed' ORDER BY position DESC LIMIT 1")[0]
        let closed = Checkpoint(
            transactionID: UInt64(try closeRow.decode(Int64.self, at: 0)), position: try closeRow.decode(Int64.self, at: 1))
        // An instant after every event (the history answers), and one in the middle of the
        // log (before the history's last event: folded from the log).
        let latest = try db.query("SELECT max(recorded_at) FROM events")[0].decode(Timestamp.self, at: 0)
        let middle = try db.query(
            "SELECT recorded_at FROM events WHERE position = (SELECT (min(position) + max(position)) / 2 FROM events)")[0]
            .decode(Timestamp.self, at: 0)
        let historyRows = try db.query("SELECT count(*)::int FROM projections.report_history")[0].decode(Int.self, at: 0)
        benchSay(
            "loaded \(loaded.events) events; projections \(String(format: "%.1f", projectSeconds)) s, history \(String(format: "%.1f", historySeconds)) s (\(historyRows) entries), issued copies \(String(format: "%.1f", issueSeconds)) s"
        )
        let views: [(String, ReportView, Bool)] = [
            ("as_of_month_end_ms", ReportView(asOf: try Day("2024-12-31")), true),
            ("as_of_mid_month_ms", ReportView(asOf: try Day("2024-12-15")), true),
            ("as_of_today_ms", ReportView(asOf: try Day("2099-12-31")), true),
            ("known_at_latest_ms", ReportView(knownAt: latest), true),
            ("known_at_middle_ms", ReportView(knownAt: middle), true),
            ("as_issued_ms", ReportView(asOf: try Day("2025-12-31"), through: closed), true),
            ("full_fold_as_of_month_end_ms", ReportView(asOf: try Day("2024-12-31")), false),
        ]
        var table: [JSON] = []
        var object: [(String, JSON)] = [
            ("bench", "timetravel"), ("database", .string(scratch.name)), ("events", JSON(loaded.events)), ("runs", JSON(runs)),
            ("projections_seconds", number(projectSeconds, 3)), ("history_seconds", number(historySeconds, 3)),
            ("history_entries", JSON(historyRows)), ("issued_seconds", number(issueSeconds, 3)),
        ]
        for name in ProjectionName.allCases {
            var row: [String: JSON] = ["report": .string(name.rawValue)]
            for (label, view, snapshots) in views {
                var times: [Double] = []
                for _ in 0..<(snapshots ? runs : max(1, runs / 4)) {
                    let t0 = ContinuousClock.now
                    try listing(name, db, view, snapshots)
                    times.append((ContinuousClock.now - t0).milliseconds)
                }
                let ms = percentile(times.sorted(), 0.5)
                row[label] = number(ms, 1)
                object.append(("\(name)_\(label)", number(ms, 1)))
            }
            table.append(.object(row))
        }
        object.append(("peak_rss_mb", number(peakRSSMegabytes(), 1)))
        return ReportFigures(report: BenchReport(title: "timetravel", fields: object), rows: table, events: loaded.events)
    }

    /// The column order of the time-travel bench's table.
    public static let timeTravelColumns = [
        "report", "as_of_month_end_ms", "as_of_mid_month_ms", "as_of_today_ms", "known_at_latest_ms", "known_at_middle_ms",
        "as_issued_ms", "full_fold_as_of_month_end_ms",
    ]
}
