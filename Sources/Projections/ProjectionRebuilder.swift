import EventStore
import Foundation
import Ledger
import Postgres
import Synchronization

/// How a rebuild went, for the CLI and `ledger bench rebuild`.
public struct RebuildSummary: Sendable, Equatable {
    public var projections: [ProjectionName]
    /// Events replayed before the swap.
    public var events: Int
    /// Rows written per projection.
    public var rows: [ProjectionName: Int]
    /// Events applied after the swap: appended while the rebuild ran.
    public var caughtUp: Int
    public var seconds: Double
    public var eventsPerSecond: Double { seconds > 0 ? Double(events) / seconds : 0 }
}

/// `ledger projections rebuild`: replays the whole log into fresh rows, in memory, then
/// swaps them in with one transaction.
///
/// Until that transaction commits the live tables keep the old state, so reports and the
/// `reporting` views never see an empty or half-built projection, and a rebuild that is
/// killed leaves them intact. Memory grows with the number of rows, not of events: the log
/// is read a page at a time.
public final class ProjectionRebuilder {
    public let connection: PostgresConnection
    /// Events read per query.
    public var pageSize: Int
    /// Rows per report page (see `ReportPages`).
    public var pageRows = ReportPages.pageRows
    /// `(events done, events in total, events per second)`, after each page.
    public var progress: ((Int, Int, Double) -> Void)?
    /// Told when a runner holds a projection's lock at the swap (with its PID).
    public var onLockWait: ((ProjectionName, Int32?) -> Void)?
    /// Called inside the swap transaction, after the new rows are written and before the
    /// commit: tests hold the rebuild there to check what readers see.
    public var beforeSwapCommit: (() throws -> Void)?

    public init(connection: PostgresConnection, pageSize: Int = 20_000) {
        self.connection = connection
        self.pageSize = pageSize
    }

    /// Rebuilds `names` (every projection by default) from the first event, then catches
    /// up with what was appended meanwhile.
    @discardableResult
    public func rebuild(_ names: [ProjectionName] = ProjectionName.allCases) throws -> RebuildSummary {
        let names = Array(Set(names)).sorted()
        let started = ContinuousClock.now
        let log = EventLog(connection: connection)
        // Replay up to the log's end as it is now; the catch-up after the swap applies
        // whatever is appended meanwhile.
        guard let end = try log.end() else {
            try connection.transaction { db in
                for name in names {
                    try ProjectionSQL.lock(name, on: db, waiting: onLockWait)
                    try db.query("DELETE FROM " + name.rowType.table)
                    try ReportPages.reset(name, on: db)
                    try ReportPages.refresh(name, on: db, pageRows: pageRows)
                    try ProjectionSQL.setCheckpoint(name, to: .start, on: db)
                }
                try beforeSwapCommit?()
            }
            return RebuildSummary(
                projections: names, events: 0, rows: [:], caughtUp: try ProjectionRunner(connection: connection).runOnce(names),
                seconds: (ContinuousClock.now - started).seconds)
        }
        var filter = names.count == 1 ? names[0].logFilter : EventLog.Filter()
        filter.through = end
        // Every transaction up to `end` had finished when `end` was read.
        filter.settledOnly = false
        // Reversed events and the reversals themselves are left out here, not by the page
        // query: its NOT EXISTS per event doubled the server's cost of every page (EXPLAIN
        // ANALYZE). A reversal counts when it is at or before `end`, as it did there.
        filter.withoutReversed = false
        let reversed = try Self.reversedPositions(through: end, on: connection)
        // For progress only: the log's last position, about the number of events to read
        // (counting them exactly cost the server a pass over the whole log first); the last
        // progress call gives the exact count.
        let total = Int(end.position)
        var portfolio = ProjectionState<PortfolioPosition>()
        var labs = ProjectionState<LabSummary>()
        var orders = ProjectionState<OrderSummary>()
        var supply = ProjectionState<SupplyPosition>()
        let want = Set(names)
        var done = 0
        // The main thread reads the pages; any free core decodes their events; one thread
        // folds them in log order (`PagePipeline`).
        let failure = Mutex<(any Error)?>(nil)
        let progress = self.progress
        let pipeline = PagePipeline<LoggedEvent>(consumers: [{ chunks in
            for chunk in chunks {
                for logged in chunk {
                    let event = logged.event
                    switch event.fact {
                    case .investment: if want.contains(.portfolio) { portfolio.apply(event) }
                    case .lab: if want.contains(.labs) { labs.apply(event) }
                    case .supply: if want.contains(.supply) { supply.apply(event) }
                    case .order:
                        if want.contains(.orders) { orders.apply(event) }
                        if want.contains(.supply) { supply.apply(event) }
                    case .startup, .entry, .period, .fx: break
                    }
                }
                done += chunk.count
            }
            let seconds = (ContinuousClock.now - started).seconds
            progress?(max(done, 0), max(total, done), seconds > 0 ? Double(done) / seconds : 0)
        }])
        // Each page's anti-join (reversed events) looks costly enough that PostgreSQL would
        // start parallel workers for every page: forks that cost more than the page itself.
        try connection.execute(script: "SET max_parallel_workers_per_gather = 0")
        do {
            defer {
                pipeline.finish()
                try? connection.execute(script: "RESET max_parallel_workers_per_gather")
            }
            var cursor = Checkpoint.start
            while true {
                let rows = try log.rows(after: cursor, limit: pageSize, filter: filter)
                guard let last = rows.last else { break }
                cursor = try EventLog.checkpoint(last)
                pipeline.submit(count: rows.count) { range in
                    var events: [LoggedEvent] = []
                    events.reserveCapacity(range.count)
                    do {
                        for i in range {
                            let row = rows[i]
                            if row.withBytes(at: 2, { $0.elementsEqual("entry.reversed".utf8) }) == true { continue }
                            if !reversed.isEmpty, reversed.contains(try row.decode(Int64.self, at: 1)) { continue }
                            events.append(try EventLog.decode(row))
                        }
                    } catch {
                        failure.withLock { if $0 == nil { $0 = error } }
                    }
                    return events
                }
                if let error = failure.withLock({ $0 }) { throw error }
        progress?(done, done, Double(done) / max((ContinuousClock.now - started).seconds, 1e-9))
                if rows.count < pageSize { break }
            }
        }
        if let error = failure.withLock({ $0 }) { throw error }
        var rows: [ProjectionName: Int] = [:]
        try connection.transaction { db in
            for name in names {
                try ProjectionSQL.lock(name, on: db, waiting: onLockWait)
                switch name {
                // Each state is let go once written, so the next one's pages have its memory.
                case .portfolio:
                    rows[name] = try swap(portfolio.rows, db)
                    portfolio = .init()
                case .labs:
                    rows[name] = try swap(labs.rows, db)
                    labs = .init()
                case .orders:
                    rows[name] = try swap(orders.rows, db)
                    orders = .init()
                case .supply:
                    rows[name] = try swap(supply.rows, db)
                    supply = .init()
                }
                try ProjectionSQL.setCheckpoint(name, to: end, on: db)
            }
            try beforeSwapCommit?()
        }
        let seconds = (ContinuousClock.now - started).seconds
        portfolio = .init()
        labs = .init()
        orders = .init()
        supply = .init()
        let runner = ProjectionRunner(connection: connection)
        runner.onLockWait = onLockWait
        runner.pageRows = pageRows
        let caughtUp = try runner.runOnce(names)
        return RebuildSummary(projections: names, events: done, rows: rows, caughtUp: caughtUp, seconds: seconds)
    }

    /// The positions reversed by a reversal at or before `end`.
    static func reversedPositions(through end: Checkpoint, on db: PostgresConnection) throws -> Set<Int64> {
        // The partial index events_reversals (Schema/010) answers it.
        let rows = try db.query(
            """
            SELECT (payload->>'reverses')::bigint FROM public.events
            WHERE type = 'entry.reversed' AND (transaction_id, position) <= ($1::text::xid8, $2::bigint)
            """, [String(end.transactionID), end.position])
        return Set(try rows.compactMap { try $0.decode(Int64?.self, at: 0) })
    }

    /// Writes the rows and their report pages in place of the old ones.
    private func swap<Row: ProjectionTable>(_ rows: [String: Row], _ db: PostgresConnection) throws -> Int {
        var rows = rows
        try Row.complete(&rows, keys: Array(rows.keys), on: db)
        try ProjectionSQL.replace(nil, with: rows.values, on: db)
        try ReportPages.replace(with: rows, on: db, pageRows: pageRows)
        return rows.count
    }
}

extension Duration {
    var seconds: Double {
        let (s, atto) = components
        return Double(s) + Double(atto) / 1e18
    }
}
