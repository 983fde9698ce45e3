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

    /// Whether the rebuild also folds the time-travel history (`ReportHistory`) afresh, in
    /// the same pass over the log, and swaps it in with the projections. `projections rebuild`
    /// does; it costs one fold of the log either way.
    public var keepsHistory = true

    /// Rebuilds `names` (every projection by default) from the first event, then catches
    /// up with what was appended meanwhile.
    ///
    /// One pass over the log: each report's rows are folded with their month-end states
    /// (`MonthChain`, every reversal known beforehand), so the history is written from the
    /// same fold, and each projection row is its chain's latest state — the fold of all of the
    /// row's events but the reversed ones, which is what the projection holds.
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
                if keepsHistory { try ReportHistory.replace(through: nil, on: db) { _ in } }
                try beforeSwapCommit?()
            }
            return RebuildSummary(
                projections: names, events: 0, rows: [:], caughtUp: try ProjectionRunner(connection: connection).runOnce(names),
                seconds: (ContinuousClock.now - started).seconds)
        }
        // The history covers every report, so with it the whole log is read.
        var filter = names.count == 1 && !keepsHistory ? names[0].logFilter : EventLog.Filter()
        filter.through = end
        // Every transaction up to `end` had finished when `end` was read.
        filter.settledOnly = false
        // Reversed events are folded (the history counts them until their reversal's date);
        // the reversals themselves are left out here, not by the page query: its NOT EXISTS
        // per event doubled the server's cost of every page (EXPLAIN ANALYZE). A reversal
        // counts when it is at or before `end`, as it did there.
        filter.withoutReversed = false
        let reversals = try Self.reversals(through: end, on: connection)
        // For progress only: the log's last position, about the number of events to read
        // (counting them exactly cost the server a pass over the whole log first); the last
        // progress call gives the exact count.
        let total = Int(end.position)
        var portfolio = RebuildFold<PortfolioPosition>()
        var labs = RebuildFold<LabSummary>()
        var orders = RebuildFold<OrderSummary>()
        var supply = RebuildFold<SupplyPosition>()
        var done = 0
        // The latest recorded time and business date of the events read (the history's
        // coverage, Schema/015 and 019), reversals included.
        let coverage = Mutex<(recordedAt: Timestamp?, businessDate: Day?)>((nil, nil))
        // The main thread reads the pages; any free core decodes their events; one thread
        // folds them in log order (`PagePipeline`).
        let failure = Mutex<(any Error)?>(nil)
        let progress = self.progress
        let pipeline = PagePipeline<LoggedEvent>(consumers: [{ chunks in
            for chunk in chunks {
                for logged in chunk {
                    let reversedOn = reversals.isEmpty ? nil : reversals[logged.position]
                    switch logged.event.fact {
                    case .investment: portfolio.apply(logged, reversedOn: reversedOn)
                    case .lab: labs.apply(logged, reversedOn: reversedOn)
                    case .supply: supply.apply(logged, reversedOn: reversedOn)
                    case .order:
                        orders.apply(logged, reversedOn: reversedOn)
                        supply.apply(logged, reversedOn: reversedOn)
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
                let rows = try log.rows(after: cursor, limit: pageSize, filter: filter, recordedAt: true)
                guard let last = rows.last else { break }
                cursor = try EventLog.checkpoint(last)
                pipeline.submit(count: rows.count) { range in
                    var events: [LoggedEvent] = []
                    events.reserveCapacity(range.count)
                    var recordedAt: Timestamp?
                    var businessDate: SQLDate?
                    do {
                        for i in range {
                            let row = rows[i]
                            let recorded = try row.decode(Timestamp.self, at: 6)
                            if recordedAt.map({ recorded > $0 }) ?? true { recordedAt = recorded }
                            let date = try row.decode(SQLDate.self, at: 5)
                            if businessDate.map({ date > $0 }) ?? true { businessDate = date }
                            if row.withBytes(at: 2, { $0.elementsEqual("entry.reversed".utf8) }) == true { continue }
                            events.append(try EventLog.decode(row))
                        }
                        let day = try businessDate.map { try Day(year: $0.year, month: $0.month, day: $0.day) }
                        coverage.withLock {
                            if let recordedAt, $0.recordedAt.map({ recordedAt > $0 }) ?? true { $0.recordedAt = recordedAt }
                            if let day, $0.businessDate.map({ day > $0 }) ?? true { $0.businessDate = day }
                        }
                    } catch {
                        failure.withLock { if $0 == nil { $0 = error } }
                    }
                    return events
                }
                if let error = failure.withLock({ $0 }) { throw error }
                if rows.count < pageSize { break }
            }
        }
        if let error = failure.withLock({ $0 }) { throw error }
        progress?(done, done, Double(done) / max((ContinuousClock.now - started).seconds, 1e-9))
        var rows: [ProjectionName: Int] = [:]
        let covered = coverage.withLock { $0 }
        try connection.transaction { db in
            for name in names {
                try ProjectionSQL.lock(name, on: db, waiting: onLockWait)
                switch name {
                case .portfolio: rows[name] = try swap(portfolio.rows, db)
                case .labs: rows[name] = try swap(labs.rows, db)
                case .orders: rows[name] = try swap(orders.rows, db)
                case .supply: rows[name] = try swap(supply.rows, db)
                }
                try ProjectionSQL.setCheckpoint(name, to: end, on: db)
            }
            if keepsHistory {
                try ReportHistory.replace(
                    through: (end, covered.recordedAt, covered.businessDate), on: db
                ) { db in
                    // Each report's chains are let go once written, so the next one's entries
                    // have their memory.
                    try ReportHistory.write(portfolio.chains.lazy.map { ($0.key, $0.value) }, on: db)
                    portfolio = .init()
                    try ReportHistory.write(labs.chains.lazy.map { ($0.key, $0.value) }, on: db)
                    labs = .init()
                    try ReportHistory.write(orders.chains.lazy.map { ($0.key, $0.value) }, on: db)
                    orders = .init()
                    try ReportHistory.write(supply.chains.lazy.map { ($0.key, $0.value) }, on: db)
                    supply = .init()
                }
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
        // The known-at segments (Schema/026) are another pass over the log: the next run's.
        runner.backfillsSegments = false
        let caughtUp = try runner.runOnce(names)
        return RebuildSummary(projections: names, events: done, rows: rows, caughtUp: caughtUp, seconds: seconds)
    }

    /// For each event reversed by a reversal at or before `end`, the earliest business date
    /// among its reversals (the history leaves the event out from that date's month on).
    static func reversals(through end: Checkpoint, on db: PostgresConnection) throws -> [Int64: Day] {
        // The partial index events_reversals (Schema/010) answers it.
        let rows = try db.query(
            """
            SELECT (payload->>'reverses')::bigint, min(business_date) FROM public.events
            WHERE type = 'entry.reversed' AND (transaction_id, position) <= ($1::text::xid8, $2::bigint)
            GROUP BY 1
            """, [String(end.transactionID), end.position])
        var out: [Int64: Day] = [:]
        for row in rows {
            guard let position = try row.decode(Int64?.self, at: 0) else { continue }
            let date = try row.decode(SQLDate.self, at: 1)
            out[position] = try Day(year: date.year, month: date.month, day: date.day)
        }
        return out
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

/// One report's rows folded over the whole log by the rebuild: each row's month-end chain.
struct RebuildFold<Row: ProjectionTable> {
    var chains: [String: MonthChain<Row>] = [:]

    mutating func apply(_ logged: LoggedEvent, reversedOn: Day?) {
        guard let key = Row.key(of: logged.event) else { return }
        chains[key, default: MonthChain()].apply(logged, reversedOn: reversedOn)
    }

    /// The projection's rows: each chain's latest state. Its last month is on or after every
    /// event and reversal of the row, so that state counts every event but the reversed ones.
    var rows: [String: Row] {
        var out: [String: Row] = [:]
        out.reserveCapacity(chains.count)
        for (key, chain) in chains {
            if let row = chain.rows.last, let row { out[key] = row }
        }
        return out
    }
}

extension Duration {
    var seconds: Double {
        let (s, atto) = components
        return Double(s) + Double(atto) / 1e18
    }
}
