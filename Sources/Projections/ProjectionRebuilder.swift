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
    /// Rows written out mid-pass (memory bound, `ProjectionRebuilder.rowsHeld`), and read
    /// back because a later event touched them.
    public var rowsWrittenOut = 0
    public var rowsReadBack = 0
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

    /// A second connection that writes while `connection` reads: with it the rebuild runs
    /// in one transaction there, writing rows no page has touched for a while as it goes
    /// (`rowsHeld`), so its memory is bounded however long the log. Without it every row is
    /// held until the swap.
    public let writer: PostgresConnection?
    /// Rows held per report before the least recently touched half is written out (with a
    /// `writer`). 20,000, or `$LEDGER_REBUILD_ROWS_HELD`.
    public var rowsHeld =
        ProcessInfo.processInfo.environment["LEDGER_REBUILD_ROWS_HELD"].flatMap(Int.init).map { max($0, 1) } ?? 20_000

    public init(connection: PostgresConnection, writer: PostgresConnection? = nil, pageSize: Int = 20_000) {
        self.connection = connection
        self.writer = writer
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
        let want = Set(names)
        // With a writer connection, rows no page has touched for a while are written out
        // mid-pass (in the writer's one transaction) and read back if touched again.
        let evicts = writer != nil && keepsHistory
        let limit = evicts ? max(rowsHeld, 1) : Int.max
        var portfolio = RebuildFold<PortfolioPosition>(limit: limit, projects: want.contains(.portfolio))
        var labs = RebuildFold<LabSummary>(limit: limit, projects: want.contains(.labs))
        var orders = RebuildFold<OrderSummary>(limit: limit, projects: want.contains(.orders))
        var supply = RebuildFold<SupplyPosition>(limit: limit, projects: want.contains(.supply))
        var done = 0
        var spill = (writtenOut: 0, readBack: 0)
        // The latest recorded time and business date of the events read (the history's
        // coverage, Schema/015 and 019), reversals included.
        let coverage = Mutex<(recordedAt: Timestamp?, businessDate: Day?)>((nil, nil))
        let failure = Mutex<(any Error)?>(nil)
        let progress = self.progress
        let pageSize = self.pageSize
        let writing = writer ?? connection
        var rows: [ProjectionName: Int] = [:]

        /// The pass: the main thread reads the pages on `connection`; any free core decodes
        /// their events; one thread folds them in log order (`PagePipeline`) and, evicting,
        /// writes on `writing`.
        func pass() throws {
            var tick = 0
            // The writer's thread, with at most two write-outs queued (memory).
            let writes = DispatchQueue(label: "ledger.rebuild.writer")
            let pending = DispatchSemaphore(value: 2)
            defer { writes.sync {} }
            let pipeline = PagePipeline<LoggedEvent>(consumers: [{ chunks in
                guard failure.withLock({ $0 == nil }) else { return }
                tick += 1
                do {
                    if evicts {
                        // Rows written out earlier and touched again by this page come back,
                        // once every write queued before is done.
                        try writes.sync {
                            try failure.withLock { if let error = $0 { throw error } }
                            spill.readBack += try portfolio.reload(chunks, on: writing)
                            spill.readBack += try labs.reload(chunks, on: writing)
                            spill.readBack += try orders.reload(chunks, on: writing)
                            spill.readBack += try supply.reload(chunks, on: writing)
                        }
                    }
                    for chunk in chunks {
                        for logged in chunk {
                            let reversedOn = reversals.isEmpty ? nil : reversals[logged.position]
                            switch logged.event.fact {
                            case .investment: portfolio.apply(logged, reversedOn: reversedOn, tick: tick)
                            case .lab: labs.apply(logged, reversedOn: reversedOn, tick: tick)
                            case .supply: supply.apply(logged, reversedOn: reversedOn, tick: tick)
                            case .order:
                                orders.apply(logged, reversedOn: reversedOn, tick: tick)
                                supply.apply(logged, reversedOn: reversedOn, tick: tick)
                            case .startup, .entry, .period, .fx: break
                            }
                        }
                        done += chunk.count
                    }
                    if evicts {
                        // Written on the writer's own thread while this one folds on.
                        func writeOut<Row: ProjectionTable>(_ fold: inout RebuildFold<Row>) {
                            let out = fold.evictIfFull()
                            guard !out.isEmpty else { return }
                            spill.writtenOut += out.count
                            let projects = fold.projects
                            // Used by the writer's thread only, one write-out at a time.
                            let out2 = out
                            nonisolated(unsafe) let db = writing
                            pending.wait()
                            writes.async {
                                defer { pending.signal() }
                                guard failure.withLock({ $0 == nil }) else { return }
                                do {
                                    try RebuildFold<Row>.write(out2, projects: projects, on: db)
                                } catch {
                                    failure.withLock { if $0 == nil { $0 = error } }
                                }
                            }
                        }
                        writeOut(&portfolio)
                        writeOut(&labs)
                        writeOut(&orders)
                        writeOut(&supply)
                    }
                } catch {
                    failure.withLock { if $0 == nil { $0 = error } }
                }
                let seconds = (ContinuousClock.now - started).seconds
                progress?(max(done, 0), max(total, done), seconds > 0 ? Double(done) / seconds : 0)
            }])
            // Each page's anti-join (reversed events) looks costly enough that PostgreSQL would
            // start parallel workers for every page: forks that cost more than the page itself.
            try connection.execute(script: "SET max_parallel_workers_per_gather = 0")
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

        /// Starts the history's replacement (its lock, its old entries deleted) and the
        /// tables that hold rows written out mid-pass.
        func begin(_ db: PostgresConnection) throws {
            if keepsHistory { try ReportHistory.beginReplacing(on: db) }
            if evicts {
                try portfolio.begin(on: db)
                try labs.begin(on: db)
                try orders.begin(on: db)
                try supply.begin(on: db)
            }
        }

        /// The swap: every projection's rows and pages, the rest of the history, the
        /// checkpoints — one transaction with `begin`.
        func swapIn(_ db: PostgresConnection) throws {
            let covered = coverage.withLock { $0 }
            for name in names {
                try ProjectionSQL.lock(name, on: db, waiting: onLockWait)
                // Each fold is let go once written, so the next one's rows have its memory.
                switch name {
                case .portfolio: rows[name] = try portfolio.swapIn(on: db, pageRows: pageRows)
                case .labs: rows[name] = try labs.swapIn(on: db, pageRows: pageRows)
                case .orders: rows[name] = try orders.swapIn(on: db, pageRows: pageRows)
                case .supply: rows[name] = try supply.swapIn(on: db, pageRows: pageRows)
                }
                try ProjectionSQL.setCheckpoint(name, to: end, on: db)
            }
            if keepsHistory {
                try portfolio.writeHistory(on: db)
                portfolio = .init(limit: 0, projects: false)
                try labs.writeHistory(on: db)
                labs = .init(limit: 0, projects: false)
                try orders.writeHistory(on: db)
                orders = .init(limit: 0, projects: false)
                try supply.writeHistory(on: db)
                supply = .init(limit: 0, projects: false)
                try ReportHistory.finishReplacing(through: (end, covered.recordedAt, covered.businessDate), on: db)
            }
            try beforeSwapCommit?()
        }

        if let writer, evicts {
            // One transaction on the writer for the whole pass: readers see the old history
            // and rows until it commits, and a killed rebuild leaves them as they were.
            try writer.transaction { db in
                try begin(db)
                try pass()
                if let error = failure.withLock({ $0 }) { throw error }
                try swapIn(db)
            }
        } else {
            try pass()
            if let error = failure.withLock({ $0 }) { throw error }
            try (writer ?? connection).transaction { db in
                try begin(db)
                try swapIn(db)
            }
        }
        progress?(done, done, Double(done) / max((ContinuousClock.now - started).seconds, 1e-9))
        let seconds = (ContinuousClock.now - started).seconds
        portfolio = .init(limit: 0, projects: false)
        labs = .init(limit: 0, projects: false)
        orders = .init(limit: 0, projects: false)
        supply = .init(limit: 0, projects: false)
        let runner = ProjectionRunner(connection: connection)
        runner.onLockWait = onLockWait
        runner.pageRows = pageRows
        // The known-at segments (Schema/026) are another pass over the log: the next run's.
        runner.backfillsSegments = false
        let caughtUp = try runner.runOnce(names)
        var summary = RebuildSummary(projections: names, events: done, rows: rows, caughtUp: caughtUp, seconds: seconds)
        summary.rowsWrittenOut = spill.writtenOut
        summary.rowsReadBack = spill.readBack
        return summary
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

}

/// One report's rows folded over the whole log by the rebuild: each row's month-end chain
/// (`MonthChain`), whose latest state is the projection's row.
///
/// When more than `limit` rows are held, the half no page has touched for longest is
/// written out — history entries into `projections.report_history`, projection rows into a
/// temporary table — in the rebuild's transaction, and read back from there if a later
/// page touches them again (`reload`). Memory then stays bounded by `limit` rows however
/// long the log; a finished order is never touched again, so little is read back.
struct RebuildFold<Row: ProjectionTable> {
    var chains: [String: MonthChain<Row>] = [:]
    let limit: Int
    /// Whether this projection is rebuilt (else only its history is kept).
    let projects: Bool
    /// Whether any row was written out.
    var evicted = false

    init(limit: Int, projects: Bool) {
        self.limit = limit
        self.projects = projects
    }

    /// The temporary table of the projection rows written out mid-pass.
    static var spilled: String { "pg_temp.rebuild_\(Row.projection.rawValue)" }

    mutating func apply(_ logged: LoggedEvent, reversedOn: Day?, tick: Int) {
        guard let key = Row.key(of: logged.event) else { return }
        chains[key, default: MonthChain()].apply(logged, reversedOn: reversedOn, tick: tick)
    }

    func begin(on db: PostgresConnection) throws {
        guard projects else { return }
        // Names are this program's constants.
        try db.execute(
            script: """
                DROP TABLE IF EXISTS \(Self.spilled);
                CREATE TEMPORARY TABLE \(Self.spilled.dropFirst("pg_temp.".count)) (LIKE \(Row.table)) ON COMMIT DROP;
                """)
    }

    /// Reads back the rows written out earlier that these pages touch, and removes what was
    /// written of them (they are written again, whole, when next written out).
    mutating func reload(_ chunks: [[LoggedEvent]], on db: PostgresConnection) throws -> Int {
        guard evicted else { return 0 }
        var keys = Set<String>()
        for chunk in chunks {
            for logged in chunk {
                if let key = Row.key(of: logged.event), chains[key] == nil { keys.insert(key) }
            }
        }
        guard !keys.isEmpty else { return 0 }
        // Every row written out has at least one entry (`MonthChain.entries`).
        let back = try ReportHistory.load(Row.self, keys: Array(keys), on: db)
        guard !back.isEmpty else { return 0 }
        let found = Array(back.keys)
        try db.query(
            "DELETE FROM projections.report_history WHERE projection = $1 AND key = ANY ($2::text[])",
            [Row.projection.rawValue, PostgresArray(found)])
        if projects {
            try db.query(
                "DELETE FROM \(Self.spilled) WHERE \(Row.keyColumn) = ANY ($1::text[])", [PostgresArray(found)])
        }
        for (key, chain) in back { chains[key] = chain }
        return back.count
    }

    /// Takes out the half of the rows held that no page has touched for longest, when more
    /// than `limit` are held, for `write` (on the writer's thread).
    mutating func evictIfFull() -> [(String, MonthChain<Row>)] {
        guard chains.count > limit else { return [] }
        let oldest = chains.lazy.map { ($0.value.tick, $0.key) }.sorted { $0.0 < $1.0 }.prefix(chains.count - limit / 2)
        var out: [(String, MonthChain<Row>)] = []
        out.reserveCapacity(oldest.count)
        for (_, key) in oldest { out.append((key, chains.removeValue(forKey: key)!)) }
        evicted = true
        return out
    }

    /// Writes these rows' history entries and, for a rebuilt projection, their latest rows.
    static func write(_ chains: [(String, MonthChain<Row>)], projects: Bool, on db: PostgresConnection) throws {
        try ReportHistory.write(chains, on: db)
        guard projects else { return }
        var rows: [String: Row] = [:]
        for (key, chain) in chains {
            if let row = chain.rows.last, let row { rows[key] = row }
        }
        try Row.complete(&rows, keys: Array(rows.keys), on: db)
        try ProjectionSQL.copy(rows.values, into: spilled, on: db)
    }

    /// The latest state of these rows' chains: the fold of all of a row's events but the
    /// reversed ones (its last month is on or after every event and reversal of the row).
    func latest(_ keys: some Sequence<String>) -> [String: Row] {
        var out: [String: Row] = [:]
        for key in keys {
            if let row = chains[key]?.rows.last, let row { out[key] = row }
        }
        return out
    }

    /// Replaces the projection's rows and pages by the rows held and those written out;
    /// returns how many rows it has.
    func swapIn(on db: PostgresConnection, pageRows: Int) throws -> Int {
        var rows = latest(chains.keys)
        try Row.complete(&rows, keys: Array(rows.keys), on: db)
        try ProjectionSQL.replace(nil, with: rows.values, on: db)
        guard evicted else {
            try ReportPages.replace(with: rows, on: db, pageRows: pageRows)
            return rows.count
        }
        let moved = try db.query(
            "INSERT INTO \(Row.table) SELECT * FROM \(Self.spilled)"
        ).affectedRows
        // Rendered from the table, a page at a time: the rows are not all in memory.
        try ReportPages.rewrite(Row.self, on: db, pageRows: pageRows)
        return rows.count + moved
    }

    /// Writes the history entries of the rows still held.
    func writeHistory(on db: PostgresConnection) throws {
        try ReportHistory.write(chains.lazy.map { ($0.key, $0.value) }, on: db)
    }
}

extension Duration {
    var seconds: Double {
        let (s, atto) = components
        return Double(s) + Double(atto) / 1e18
    }
}
