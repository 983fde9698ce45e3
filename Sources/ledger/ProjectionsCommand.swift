import ArgumentParser
import EventStore
import Foundation
import JSON
import LedgerApp
import Logging
import Postgres
import Projections
import Synchronization

struct ProjectionsGroup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "projections", abstract: "Keep the report tables (projections) up to date, or rebuild them.",
        discussion: """
            Projections: portfolio, labs, orders, supply. Each applies every event exactly once, \
            with its checkpoint stored in the same transaction as its rows.
            """,
        subcommands: [ProjectionsStatus.self, ProjectionsRun.self, ProjectionsRebuild.self])
}

func say(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

func lockWaitMessage(_ name: ProjectionName, _ pid: Int32?) {
    say("waiting for projection \(name): another process (\(pid.map { "PID \($0)" } ?? "unknown PID")) is updating it")
}

struct ProjectionsStatus: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Each projection's checkpoint position and lag in events.",
        discussion: """
            lag: events appended that the projection has not applied yet (reports printed now \
            miss them); lag_seconds: how long ago the oldest of them was recorded. On a hot \
            standby, replay_lag_seconds says how far the server is behind its primary (0 when it \
            has replayed all it received); it is null on a primary. Works for a login granted \
            only ledger_reporting.
            Examples:
              ledger projections status
              ledger projections status --format json
            """)
    @OptionGroup var global: ReadOptions

    func run() throws {
        let db = try global.connect()
        let statuses = try ProjectionRunner(connection: db).status(readable: true)
        let recovery = try ServerRecovery.current(on: db)
        let replayLag: JSON = recovery.replayLagSeconds.map { .number(seconds($0)) } ?? .null
        let rows: [JSON] = statuses.map {
            [
                "projection": .string($0.projection.rawValue), "checkpoint": JSON($0.checkpoint), "lag": JSON($0.lag),
                "lag_seconds": .number(seconds($0.lagSeconds)), "replay_lag_seconds": replayLag,
            ]
        }
        var columns = ["projection", "checkpoint", "lag", "lag_seconds", "replay_lag_seconds"]
        // A table on a primary has no use for a column that is always empty.
        if global.format == .table && !recovery.isStandby { columns.removeLast() }
        Listing(columns: columns, rows: rows).print(global.format)
        if recovery.isStandby {
            say("note: this server is a read-only hot standby, \(recovery.replayLagSeconds.map { seconds($0) + " s" } ?? "an unknown time") behind its primary")
        }
    }
}

/// Seconds as a JSON number with millisecond precision.
func seconds(_ value: Double) -> String {
    String(format: "%.3f", value)
}

/// `projections run|rebuild` write: on a hot standby (69) or for a login that may only read
/// (77) they would fail at their first write, after waiting for locks and, with --follow,
/// after starting to log; say so at once, naming where to run them or what to grant.
func refuseUnlessWritable(_ db: PostgresConnection, _ command: String) throws {
    if try ServerRecovery.current(on: db).isStandby {
        throw CLIError.unavailable(
            "this server is a read-only hot standby: run `ledger \(command)` against the primary "
                + "(reports, events and projections status work here)")
    }
    let mayWrite = try db.query(
        "SELECT has_schema_privilege('projections', 'USAGE') AND has_table_privilege('projections.checkpoints', 'UPDATE')"
    )[0].decode(Bool.self, at: 0)
    if !mayWrite {
        throw CLIError.mayNotWrite(because: "no right to update the projections")
    }
}

/// Set by SIGINT/SIGTERM so a following runner finishes its batch and stops cleanly.
let stopRequested = Atomic<Bool>(false)

func installStopHandlers() {
    signal(SIGINT) { _ in stopRequested.store(true, ordering: .relaxed) }
    signal(SIGTERM) { _ in stopRequested.store(true, ordering: .relaxed) }
    // A process inherits its parent's blocked signals: a supervisor (or a test harness)
    // that spawns us with SIGTERM blocked would otherwise never be able to stop a follower.
    var stopSignals = sigset_t()
    sigemptyset(&stopSignals)
    sigaddset(&stopSignals, SIGINT)
    sigaddset(&stopSignals, SIGTERM)
    pthread_sigmask(SIG_UNBLOCK, &stopSignals, nil)
}

struct ProjectionsRun: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Catch every projection up with the log, then exit (or --follow).",
        discussion: """
            With --follow it keeps running: woken by each append (LISTEN/NOTIFY, with a poll every \
            second as a fallback), reconnecting if the connection drops, until SIGINT or SIGTERM. \
            A second runner waits for the first and says which process holds the projection.
            Examples:
              ledger projections run
              ledger projections run --follow &
            """)
    @OptionGroup var global: GlobalOptions
    @Flag(help: "Keep running, applying new events as they are appended.") var follow = false

    func run() throws {
        installStopHandlers()
        let shouldStop = { stopRequested.load(ordering: .relaxed) }
        if follow {
            // Fail fast (exit 69) when the server is unreachable or a standby.
            try refuseUnlessWritable(try global.connect(), "projections run")
            // A long-running process logs (swift-log: timestamp, level, message), one line per
            // event of note; one-shot commands print results instead.
            LoggingSystem.bootstrap(StreamLogHandler.standardError)
            let log = Logger(label: "ledger.projections")
            log.info("following the event log; stop with Ctrl-C")
            try ProjectionRunner.follow(
                databaseURL: global.resolvedURL, settings: global.sessionSettings, shouldStop: shouldStop,
                onLockWait: { name, pid in
                    log.notice("waiting for projection \(name): another process (\(pid.map { "PID \($0)" } ?? "unknown PID")) is updating it")
                },
                onBatch: { n in log.info("applied \(n) events") },
                onReconnect: { error, wait in log.warning("connection lost (\(error)); reconnecting in \(wait)") },
                onHeldBack: { holder in log.warning("\(holder)") },
                onLockWaitNote: { log.notice("note: \($0)") },
                onReconnected: { log.info("reconnected") },
                onCaughtUp: { log.info("caught up") })
            log.info("stopped")
            return
        }
        let db = try global.connect()
        try refuseUnlessWritable(db, "projections run")
        let runner = ProjectionRunner(connection: db)
        runner.onLockWait = lockWaitMessage
        let applied = try runner.runOnce(shouldStop: shouldStop)
        if let holder = try EventStore(connection: db).logHolder() { say("warning: \(holder)") }
        // The log's stored Merkle tree too, so `ledger digest` reads a few stored hashes.
        try LogDigest.extend(on: db)
        if global.format == .table {
            print("applied \(applied) events")
        } else {
            Listing(columns: ["applied"], rows: [["applied": JSON(applied)]]).print(global.format)
        }
    }
}

struct ProjectionsRebuild: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rebuild", abstract: "Rebuild projections from the first event; swap in atomically.",
        discussion: """
            Replays the whole log into memory, then replaces the projection's rows and checkpoint \
            in one transaction: until then reports and reporting.* answer the old state. A killed \
            rebuild leaves the live state as it was.
            Examples:
              ledger projections rebuild
              ledger projections rebuild orders
            """)
    @OptionGroup var global: GlobalOptions
    @Argument(help: "portfolio, labs, orders or supply (default: all).") var name: String?

    func run() throws {
        let names: [ProjectionName]
        if let name {
            do { names = [try ProjectionName(parsing: name)] } catch { throw CLIError.usage(error.description) }
        } else {
            names = ProjectionName.allCases
        }
        let db = try global.connect()
        try refuseUnlessWritable(db, "projections rebuild")
        // A second connection writes while the first reads the log (and bounds memory:
        // rows no page touched for a while are written out mid-pass).
        let rebuilder = ProjectionRebuilder(connection: db, writer: try global.connect())
        rebuilder.onLockWait = lockWaitMessage
        let progress = Progress()
        var lastLog = Date()
        rebuilder.progress = { done, total, rate in
            if progress.enabled {
                let pct = total > 0 ? done * 100 / total : 100
                let eta = rate > 0 ? Int(Double(max(total - done, 0)) / rate) : 0
                let bar = String(repeating: "#", count: pct / 5) + String(repeating: ".", count: 20 - pct / 5)
                progress.show("rebuilding [\(bar)] \(done)/\(total) events, \(Int(rate)) events/s, ETA \(eta)s")
            } else if Date().timeIntervalSince(lastLog) >= 5 {
                lastLog = Date()
                say("rebuilding: \(done)/\(total) events, \(Int(rate)) events/s")
            }
        }
        // The time-travel history is folded afresh in the same pass (after a change to a fold,
        // or a database upgraded from before it) and swapped in with the projections.
        let summary = try rebuilder.rebuild(names)
        progress.finish()
        // The issued copies stay what was issued (Schema/022); only a close without one is
        // stored now.
        try ReportHistory.storeIssuedReports(on: db)
        let rows: [JSON] = summary.projections.map {
            [
                "projection": .string($0.rawValue), "events": JSON(summary.events), "rows": JSON(summary.rows[$0] ?? 0),
                "seconds": .number(String(format: "%.3f", summary.seconds)),
                "events_per_second": JSON(Int(summary.eventsPerSecond)),
                "peak_rss_mb": .number(String(format: "%.1f", peakRSSMegabytes())),
            ]
        }
        Listing(columns: ["projection", "events", "rows", "seconds", "events_per_second", "peak_rss_mb"], rows: rows)
            .print(global.format)
    }
}

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify", abstract: "Check the ledger's integrity: hash chains, business rules, projections, digests.",
        discussion: """
            Recomputes every stream's hash chain (an edited, deleted or reordered event breaks it), \
            refolds every event checking every business rule and that each payload names its own \
            stream, and compares every projection with the events. With --digest FILE (an earlier \
            `ledger digest --format json`, or a period close's event) it also proves the log still \
            holds exactly the digest's events, in order, as its prefix: a deleted, changed, \
            reordered or truncated event is found even when the chains were recomputed.
            Exit 0 when intact; 65 naming the first bad position, row or missing size.
            Examples:
              ledger verify
              ledger verify --digest digest-2026-11-27.json
            """)
    @OptionGroup var global: ReadOptions
    @Option(help: ArgumentHelp("A digest taken earlier (ledger digest --format json); - for stdin.", valueName: "file"))
    var digest: String?

    func run() throws {
        let expected = try digest.map(readDigest(file:))
        let connection = try global.connect()
        if let expected, case .differs(_, let message) = try expected.check(on: connection) {
            throw CLIError.rejected("ledger damaged: the log no longer holds the digest's \(expected.size) events: \(message)")
        }
        switch try verify(connection: connection) {
        case .intact(let events, let rows, let compared):
            if global.format == .table {
                var line = "intact: \(events) events in unbroken hash chains, every one within the rules; "
                line += compared
                    ? "\(rows) projection rows match the events"
                    : "projections not compared (this login cannot read them, or the server is a standby)"
                if let expected { line += "; the log holds the digest's \(expected.size) events as its prefix" }
                print(line)
            } else {
                var row: [String: JSON] = [
                    "intact": true, "events": JSON(events), "rows": JSON(rows), "projections_compared": .bool(compared),
                ]
                var columns = ["intact", "events", "rows", "projections_compared"]
                if let expected {
                    row["digest_size"] = JSON(expected.size)
                    columns.append("digest_size")
                }
                Listing(columns: columns, rows: [.object(row)]).print(global.format)
            }
        case .damaged(let problem):
            throw CLIError.rejected("ledger damaged: \(problem)")
        }
    }
}
