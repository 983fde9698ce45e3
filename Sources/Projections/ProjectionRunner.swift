import EventStore
import Foundation
import Ledger
import Postgres

/// Where one projection stands: `ledger projections status`.
public struct ProjectionStatus: Sendable, Equatable {
    public var projection: ProjectionName
    /// The position of the last event applied (0: none yet).
    public var checkpoint: Int64
    /// Committed events not applied yet.
    public var lag: Int64
    /// How long ago the oldest of those events was recorded (0 when there is none): how old
    /// the news is that the projection has not seen.
    public var lagSeconds: Double
}

/// Whether the server is a hot standby, and how far it is behind its primary.
public struct ServerRecovery: Sendable, Equatable {
    /// True on a hot standby (`pg_is_in_recovery()`): it serves reads, refuses writes.
    public var isStandby: Bool
    /// On a standby: seconds between now and the last transaction replayed, or 0 when
    /// everything received has been replayed (an idle primary is not lag); nil on a primary,
    /// or before anything was replayed.
    public var replayLagSeconds: Double?

    public static func current(on db: PostgresConnection) throws -> ServerRecovery {
        let row = try db.query(
            """
            SELECT pg_is_in_recovery(),
                   CASE WHEN NOT pg_is_in_recovery() THEN NULL
                        WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0
                        ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp()) END::text
            """)[0]
        return ServerRecovery(
            isStandby: try row.decode(Bool.self, at: 0),
            replayLagSeconds: try row.decode(String?.self, at: 1).flatMap { Double($0) }.map { max(0, $0) })
    }
}

/// Brings the projection tables up to date with the log: `ledger projections run`.
///
/// Each batch of events is read once for every projection at the same checkpoint, and
/// applied to each projection in its own transaction that also moves that projection's
/// checkpoint; so an event is applied exactly once whatever instant the process is killed
/// at. A per-projection lock (its checkpoint row) keeps two runners (or a runner and a rebuild) from
/// both applying a batch: the second waits, then finds the checkpoint moved and rereads.
public final class ProjectionRunner {
    public let connection: PostgresConnection
    /// Events read per batch.
    public var batchSize: Int
    /// Rows per report page (see `ReportPages`).
    public var pageRows = ReportPages.pageRows
    /// How often a long run renders stale report pages again before it has caught up (at
    /// the most: see `runOnce`).
    public var pageRefreshInterval: Duration = .seconds(10)
    /// Told when another session holds a projection's lock (with that session's PID, if
    /// it could be found), before waiting for it.
    public var onLockWait: ((ProjectionName, Int32?) -> Void)?
    /// Called inside each projection's transaction after its rows are written and before
    /// it commits: tests use it to stop a run at its most awkward instant.
    public var beforeCommit: ((ProjectionName, Checkpoint) throws -> Void)?
    /// Whether a run also brings the time-travel snapshots up to date (`ReportHistory`);
    /// tests turn it off to see a report answered without them.
    public var keepsHistory = true
    /// Whether a run cuts the segments of the log the history already covers when it has
    /// none (`ReportHistory.backfillSegments`: one pass over that log, after a rebuild or an
    /// upgrade to Schema/026). The rebuild's own catch-up leaves it to the next run.
    public var backfillsSegments = true
    /// How long a run that has read everything it may waits for committed events that a
    /// transaction still running holds back (see `EventStore.readAll`), before it stops:
    /// "run" means caught up with what had committed when it started, not stopped behind a
    /// transaction that ends a moment later.
    public var settleTimeout: Duration = .seconds(2)

    public init(connection: PostgresConnection, batchSize: Int = 10_000) {
        self.connection = connection
        self.batchSize = batchSize
    }

    /// Applies every committed event not yet applied to each projection, then returns the
    /// number of events applied (counted once per event, however many projections it fed).
    @discardableResult
    public func runOnce(_ names: [ProjectionName] = ProjectionName.allCases, shouldStop: () -> Bool = { false })
        throws -> Int
    {
        let log = EventLog(connection: connection)
        var applied = 0
        var nextRefresh = ContinuousClock.now + pageRefreshInterval
        var settleDeadline: ContinuousClock.Instant?
        var settlePause: Duration = .milliseconds(2)
        while !shouldStop() {
            // Under a steady stream of appends a run may not catch up for a while: stale
            // pages are rendered again every `pageRefreshInterval` meanwhile, or ten times as
            // long as the last rendering took, so it never takes more than a tenth of the run.
            if ContinuousClock.now >= nextRefresh {
                let started = ContinuousClock.now
                try refreshReportPages(names)
                let took = ContinuousClock.now - started
                nextRefresh = .now + max(pageRefreshInterval, took * 10)
            }
            let checkpoints = try self.checkpoints(names)
            guard let lowest = checkpoints.values.min() else { break }
            let group = names.filter { checkpoints[$0] == lowest }
            // The same rows, order and late-commit rule as `EventStore.readAll`, reading only
            // the columns a fold needs.
            // Reversals too: the runner applies them (see `apply`).
            let (page, last) = try log.page(after: lowest, limit: batchSize, filter: EventLog.Filter(withoutReversed: false))
            guard let through = last else {
                let deadline = settleDeadline ?? .now + settleTimeout
                settleDeadline = deadline
                guard ContinuousClock.now < deadline, try log.hasHeldBackEvents(after: lowest) else { break }
                settlePause.sleepThread()
                settlePause = min(settlePause * 2, .milliseconds(100))
                continue
            }
            var anyApplied = false
            for name in group {
                if try apply(page, to: name, from: lowest, through: through) { anyApplied = true }
            }
            if anyApplied { applied += page.count }
        }
        try refreshReportPages(names)
        // The snapshots time-travel reports start from (Schema/015): the month-end history
        // up to the settled log, and the reports as issued at any close not stored yet.
        if keepsHistory, !shouldStop() {
            try ReportHistory.extend(on: connection, backfillsSegments: backfillsSegments)
            try ReportHistory.storeIssuedReports(on: connection)
        }
        return applied
    }

    /// Renders again the report pages that batches marked stale: once per run rather than
    /// once per batch, so catching up over many batches renders each page once.
    func refreshReportPages(_ names: [ProjectionName]) throws {
        // Stale pages, or no first page (every page deleted by hand).
        let stale = try connection.query(
            """
            SELECT name FROM unnest($1::text[]) AS name
            WHERE EXISTS (SELECT 1 FROM projections.report_pages p WHERE p.projection = name AND p.csv IS NULL)
               OR NOT EXISTS (SELECT 1 FROM projections.report_pages p WHERE p.projection = name AND p.first_key = '')
            """, [PostgresArray(names.map(\.rawValue))], prepared: true
        ).compactMap { ProjectionName(rawValue: try $0.decode(String.self, at: 0)) }
        for name in stale {
            try connection.transaction { db in
                try ProjectionSQL.lock(name, on: db, waiting: onLockWait)
                try ReportPages.refresh(name, on: db, pageRows: pageRows)
            }
        }
    }

    /// Applies a batch to one projection, unless another runner moved its checkpoint
    /// meanwhile (then it returns false and the caller rereads).
    ///
    /// A reversal (`entry.reversed`) cannot be undone by arithmetic on a row (undoing a mark
    /// needs the mark before it, undoing a close the status before it): the row of each key
    /// the reversed event touched is folded again from the log up to the reversal, leaving
    /// out every event reversed by then. Reversals are rare; this costs one query each.
    func apply(_ logged: [LoggedEvent], to name: ProjectionName, from: Checkpoint, through: Checkpoint) throws -> Bool {
        func run<Row: ProjectionTable>(_ type: Row.Type) throws -> Bool {
            try connection.transaction { db in
                try ProjectionSQL.lock(name, on: db, waiting: onLockWait)
                guard try ProjectionSQL.checkpoint(of: name, on: db) == from else { return false }
                var keys = Set<String>()
                var reversed: [Int64] = []
                for entry in logged {
                    if let key = Row.key(of: entry.event) { keys.insert(key) }
                    if case .entry(let e) = entry.event.fact { reversed.append(e.reverses) }
                }
                let originals = try EventLog(connection: db).events(at: reversed)
                for event in originals.values { if let key = Row.key(of: event) { keys.insert(key) } }
                var state = ProjectionState<Row>()
                if !keys.isEmpty { state.rows = try ProjectionSQL.load(Row.self, keys: Array(keys), from: db) }
                for entry in logged {
                    guard case .entry(let e) = entry.event.fact else {
                        state.apply(entry.event)
                        continue
                    }
                    guard let original = originals[e.reverses], let key = Row.key(of: original) else { continue }
                    state.rows[key] = try EventLog(connection: db).refold(Row.self, key: key, through: entry.checkpoint)
                    state.touched.insert(key)
                }
                let changed = state.touched.sorted()
                try Row.complete(&state.rows, keys: changed, on: db)
                try ProjectionSQL.replace(changed, with: changed.compactMap { state.rows[$0] }, on: db)
                try ReportPages.markStale(name, keys: changed, on: db)
                try ProjectionSQL.setCheckpoint(name, to: through, on: db)
                try beforeCommit?(name, through)
                return true
            }
        }
        return try run(name.rowType)
    }

    func checkpoints(_ names: [ProjectionName]) throws -> [ProjectionName: Checkpoint] {
        try checkpoints(names, from: "projections.checkpoints", on: connection)
    }

    /// From the table (the runner) or from reporting.checkpoints (`status`, for any reader).
    func checkpoints(_ names: [ProjectionName], from relation: String, on connection: PostgresConnection) throws
        -> [ProjectionName: Checkpoint]
    {
        var out: [ProjectionName: Checkpoint] = [:]
        for row in try connection.query(
            "SELECT projection, transaction_id, position FROM " + relation, prepared: true)
        {
            guard let name = ProjectionName(rawValue: try row.decode(String.self, at: 0)), names.contains(name) else {
                continue
            }
            out[name] = Checkpoint(
                transactionID: UInt64(try row.decode(Int64.self, at: 1)), position: try row.decode(Int64.self, at: 2))
        }
        for name in names where out[name] == nil { out[name] = .start }
        return out
    }

    /// Each projection's checkpoint, how many committed events it has yet to apply, and
    /// the age of the oldest of them. Reads only schema `reporting`, so it works for a
    /// reporting login and on a standby.
    /// `readable`: through schema reporting (read commands), not the tables.
    public func status(_ names: [ProjectionName] = ProjectionName.allCases, readable: Bool = false) throws
        -> [ProjectionStatus]
    {
        try connection.transaction(.repeatableRead) { db in
            let checkpoints = try self.checkpoints(
                names, from: readable ? "reporting.checkpoints" : "projections.checkpoints", on: db)
            let log = readable ? "reporting.event_log" : "public.events"
            return try names.map { name in
                let checkpoint = checkpoints[name]!
                // Usually nothing follows the checkpoint: asked first of the log's last event,
                // one step of a backward index scan whatever the statistics. Right after a big
                // import, until autovacuum has analyzed the table, the count below is planned
                // as a scan of the whole log (~200 ms for 1M events, in every `ledger report`).
                let behind = try db.query(
                    """
                    SELECT coalesce((SELECT (events.transaction_id, events.position) > ($1::text::xid8, $2::bigint)
                                     FROM \(log) AS events
                                     ORDER BY events.transaction_id DESC, events.position DESC LIMIT 1), false)
                    """, [String(checkpoint.transactionID), checkpoint.position], prepared: true)[0].decode(Bool.self, at: 0)
                guard behind else { return ProjectionStatus(projection: name, checkpoint: checkpoint.position, lag: 0, lagSeconds: 0) }
                let row = try db.query(
                    """
                    SELECT count(*), coalesce(extract(epoch FROM now() - min(recorded_at)), 0)::text
                    FROM \(log) AS events
                    WHERE (transaction_id, position) > ($1::text::xid8, $2::bigint)
                    """, [String(checkpoint.transactionID), checkpoint.position], prepared: true)[0]
                return ProjectionStatus(
                    projection: name, checkpoint: checkpoint.position, lag: try row.decode(Int64.self, at: 0),
                    lagSeconds: max(0, Double(try row.decode(String.self, at: 1)) ?? 0))
            }
        }
    }

    /// `ledger projections run --follow`: catches up, then waits for appends (LISTEN on
    /// `EventStore.notificationChannel`, with a poll every `pollInterval` in case a
    /// notification is missed) and catches up again, until `shouldStop` returns true.
    /// A lost connection is reopened with backoff (up to `maxBackoff` between attempts);
    /// `onReconnect` is told each failure so the CLI can say so on stderr.
    public static func follow(
        databaseURL: String?, settings: [(String, String)] = [], batchSize: Int = 10_000, pollInterval: Duration = .seconds(1),
        maxBackoff: Duration = .seconds(30), shouldStop: () -> Bool,
        onLockWait: ((ProjectionName, Int32?) -> Void)? = nil,
        onBatch: ((Int) -> Void)? = nil, onReconnect: ((any Error, Duration) -> Void)? = nil,
        onHeldBack: ((EventStore.LogHolder) -> Void)? = nil,
        onLockWaitNote: (@Sendable (String) -> Void)? = nil,
        onReconnected: (() -> Void)? = nil, onCaughtUp: (() -> Void)? = nil
    ) throws {
        // When a pass applies nothing, whether an open transaction holds the log back —
        // looked at every few seconds, told once per holder.
        var lastLook = ContinuousClock.now - .seconds(60)
        var toldAbout: Int32?
        var backoff: Duration = .milliseconds(100)
        var connectedOnce = false
        while !shouldStop() {
            do {
                let connection = try PostgresConnection(
                    url: databaseURL, applicationName: EventStore.followerApplicationName, settings: settings)
                if connectedOnce { onReconnected?() }
                connectedOnce = true
                // Any lock this session waits on for over a second is said (see LockWatch).
                let watch = onLockWaitNote.map { LockWatch(url: databaseURL, pid: connection.backendPID, report: $0) }
                defer { watch?.stop() }
                try connection.listen(EventStore.notificationChannel)
                let runner = ProjectionRunner(connection: connection, batchSize: batchSize)
                runner.onLockWait = onLockWait
                backoff = .milliseconds(100)
                // Told once each time the runner goes from working (or connecting) to idle.
                var idle = false
                while !shouldStop() {
                    let applied = try runner.runOnce(shouldStop: shouldStop)
                    if applied > 0 {
                        onBatch?(applied)
                        idle = false
                        // Keep the log's stored Merkle tree up with the log too (a no-op
                        // for a login that may not write it), so digests stay cheap.
                        try LogDigest.extend(on: connection)
                    }
                    if !idle, !shouldStop() {
                        onCaughtUp?()
                        idle = true
                    }
                    if let onHeldBack, applied == 0, ContinuousClock.now - lastLook >= .seconds(5) {
                        lastLook = .now
                        let holder = try EventStore(connection: connection).logHolder()
                        if let holder, holder.pid != toldAbout { onHeldBack(holder) }
                        toldAbout = holder?.pid
                    }
                    // Wake on a notification, or after the poll interval, or soon after a stop.
                    var waited: Duration = .zero
                    while waited < pollInterval, !shouldStop() {
                        let slice = min(pollInterval - waited, .milliseconds(200))
                        if !(try connection.waitForNotifications(timeout: slice)).isEmpty { break }
                        waited += slice
                    }
                }
            } catch {
                // A server that was never reachable is the user's to fix: fail fast.
                guard connectedOnce, Self.isLostConnection(error) else { throw error }
                onReconnect?(error, backoff)
                var slept: Duration = .zero
                while slept < backoff, !shouldStop() {
                    Thread.sleep(forTimeInterval: 0.05)
                    slept += .milliseconds(50)
                }
                backoff = min(backoff * 2, maxBackoff)
            }
        }
    }

    /// Whether an error means the server went away (worth reconnecting): a lost connection,
    /// and also a session the server ended — shutdown (57P01, sent by a fast shutdown or
    /// pg_terminate_backend), crash recovery, a server still starting.
    static func isLostConnection(_ error: any Error) -> Bool {
        if let error = error as? PostgresError { return error.isServerGone }
        if case .database(let error)? = error as? EventStoreError { return error.isServerGone }
        return false
    }
}
