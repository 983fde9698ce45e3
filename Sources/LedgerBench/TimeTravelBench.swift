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
        let issueSeconds = try closeForTimeTravel(on: db, url: scratch.url)
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
        // The same views as `ledger report` processes (what a user waits for).
        let processes = try timeTravelProcesses(on: db, url: scratch.url, runs: runs)
        object += processes
        for (i, name) in ProjectionName.allCases.enumerated() {
            guard case .object(var row) = table[i] else { continue }
            for (key, value) in processes where key.hasPrefix("\(name)_") && !key.hasSuffix("_cpu_ms") {
                row[String(key.dropFirst(name.rawValue.count + 1))] = value
            }
            table[i] = .object(row)
        }
        return ReportFigures(report: BenchReport(title: "timetravel", fields: object), rows: table, events: loaded.events)
    }

    /// The time-travel views a user asks `ledger report` for, timed as whole processes (start,
    /// connect, read, print the table to /dev/null), as the `report … process` figures are:
    /// `--as-of` a day inside a month and far ahead, `--known-at` the middle of the log (an
    /// instant before its latest recorded event) and `--as-issued` the close through
    /// 2025-12-31, which `closeForTimeTravel` made. Returns, per report and view, the median
    /// wall ms and the median CPU ms of the process (the client's own work, which load does
    /// not inflate), keyed `<report>_<view>_process_ms` and `…_process_cpu_ms`.
    public static func timeTravelProcesses(on db: PostgresConnection, url: String, runs: Int) throws -> [(String, JSON)] {
        let middle = try db.query(
            """
            SELECT to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') FROM events
            WHERE position = (SELECT (min(position) + max(position)) / 2 FROM events)
            """)[0].decode(String.self, at: 0)
        let views: [(String, [String])] = [
            ("as_of_mid_month", ["--as-of", "2024-12-15"]),
            ("as_of_future", ["--as-of", "2099-12-31"]),
            ("known_at_middle", ["--known-at", middle]),
            ("as_issued", ["--as-issued", "2025-12-31"]),
        ]
        var out: [(String, JSON)] = []
        for name in ProjectionName.allCases {
            for (label, flags) in views {
                var wall: [Double] = []
                var cpu: [Double] = []
                for _ in 0..<runs {
                    let child = try runChild(["report", name.rawValue] + flags, databaseURL: url, discardOutput: true)
                    guard child.status == 0 else {
                        throw BenchError.failed("ledger report \(name) \(flags.joined(separator: " ")) exited with \(child.status): \(child.stderr)")
                    }
                    wall.append(child.seconds * 1000)
                    cpu.append(child.cpuSeconds * 1000)
                }
                out.append(("\(name)_\(label)_process_ms", number(percentile(wall.sorted(), 0.5), 1)))
                out.append(("\(name)_\(label)_process_cpu_ms", number(percentile(cpu.sorted(), 0.5), 1)))
            }
        }
        return out
    }

    /// Closes the period through 2025-12-31 (a child `ledger period close`, as a user would)
    /// and brings the projections, the history and the issued copies up to it; returns the
    /// seconds storing the issued copies took.
    @discardableResult
    public static func closeForTimeTravel(on db: PostgresConnection, url: String) throws -> Double {
        let close = try runChild(["period", "close", "--through", "2025-12-31", "--reason", "bench"], databaseURL: url)
        guard close.status == 0 else { throw BenchError.failed("ledger period close exited with \(close.status): \(close.stderr)") }
        let runner = ProjectionRunner(connection: db)
        runner.keepsHistory = false
        try runner.runOnce()
        try ReportHistory.extend(on: db)
        return try timed { try ReportHistory.storeIssuedReports(on: db) }.1
    }

    /// The column order of the time-travel bench's table.
    public static let timeTravelColumns = [
        "report", "as_of_month_end_ms", "as_of_mid_month_ms", "as_of_today_ms", "known_at_latest_ms", "known_at_middle_ms",
        "as_issued_ms", "full_fold_as_of_month_end_ms", "as_of_mid_month_process_ms", "as_of_future_process_ms",
        "known_at_middle_process_ms", "as_issued_process_ms",
    ]
}
