import EventStore
import Foundation
import JSON
import Ledger
import LedgerApp
import Postgres
import Projections
import Synchronization

/// A one-line progress display the CLI provides: `show` replaces the line, `finish` clears it.
public struct ProgressLine {
    public var show: (String) -> Void
    public var finish: () -> Void

    public init(show: @escaping (String) -> Void, finish: @escaping () -> Void) {
        self.show = show
        self.finish = finish
    }
}

/// The measurements behind `ledger bench …`, each in a scratch database: the CLI parses the
/// options and prints the figures; what is timed and how is here, out of the production
/// modules.
public enum Bench {
    // MARK: - Appends

    /// One command per append through the command handler: each client thread holds one
    /// connection and a long-lived command handler and issues supply.receive commands on its
    /// own SKU (bench-<run>-<client>), one event each, with an expected version and an
    /// idempotency key per command. Latency is per command, client side.
    public static func append(in scratch: BenchDatabase, clients: Int, events total: Int, actor: String) throws -> BenchReport {
        let run = scratch.runID
        let url = scratch.url
        let perClient = (0..<clients).map { total / clients + ($0 < total % clients ? 1 : 0) }
        // Connect and warm up every client (first command loads the empty stream)
        // before the clock starts, then start them together.
        let ready = DispatchSemaphore(value: 0)
        let go = DispatchSemaphore(value: 0)
        let started = Mutex<ContinuousClock.Instant?>(nil)
        let results = runOnThreads(clients) { i -> [Double] in
            let handler: CommandHandler
            do {
                handler = CommandHandler(
                    connection: try PostgresConnection(url: url, applicationName: "ledger-bench"), actor: actor,
                    remembersStreams: true)
            } catch {
                ready.signal()
                throw error
            }
            let sku = "bench-\(run)-\(i)"
            // Today once per client, as one `ledger` process or the importer reads it once:
            // read per command, the environment and calendar took ~17% of the client's CPU
            // (perf), a cost of this loop, not of the command path it measures.
            let today: Day
            do {
                today = try Day.ledgerToday()
            } catch {
                ready.signal()
                throw error
            }
            func command(_ n: Int) throws -> LedgerCommand {
                try LedgerCommand.parse(
                    ReceiveSupply.self,
                    fields: ["sku": sku, "quantity": String(1 + (n * 7919) % 64), "date": BenchWorkload.day(n).description],
                    today: today)
            }
            do {
                _ = try handler.handle(command(0), idempotencyKey: "\(run)-\(i)-warmup")
            } catch {
                ready.signal()
                throw error
            }
            ready.signal()
            go.wait()
            var latencies: [Double] = []
            latencies.reserveCapacity(perClient[i])
            let clock = ContinuousClock()
            for n in 0..<perClient[i] {
                let next = try command(n + 1)
                let t0 = clock.now
                _ = try handler.handle(next, idempotencyKey: "\(run)-\(i)-\(n)")
                latencies.append((clock.now - t0).milliseconds)
            }
            return latencies
        } beforeStart: {
            for _ in 0..<clients { ready.wait() }
            started.withLock { $0 = ContinuousClock.now }
            for _ in 0..<clients { go.signal() }
        }
        let seconds = (ContinuousClock.now - started.withLock { $0! }).asSeconds
        var latencies: [Double] = []
        for result in results { latencies += try result.get() }
        latencies.sort()
        let events = latencies.count
        return BenchReport(title: "append", fields: [
            ("bench", "append"), ("database", .string(scratch.name)),
            ("clients", JSON(clients)), ("events", JSON(events)),
            ("seconds", number(seconds, 3)),
            ("events_per_second", number(Double(events) / max(seconds, 1e-9), 0)),
            ("p50_ms", number(percentile(latencies, 0.50), 3)),
            ("p99_ms", number(percentile(latencies, 0.99), 3)),
            ("max_ms", number(latencies.last ?? 0, 3)),
        ])
    }

    // MARK: - Import

    /// Generates a file of about `target` events and imports it; only the import is timed.
    public static func importing(
        in scratch: BenchDatabase, events target: Int, batchSize: Int, progress: ProgressLine? = nil
    ) throws -> BenchReport {
        let file = try BenchWorkload.generate(events: target)
        defer { try? FileManager.default.removeItem(atPath: file.path) }
        let rssBefore = peakRSSMegabytes()
        let t0 = ContinuousClock.now
        let summary = try importFile(file.path, into: scratch.url, batchSize: batchSize, progress: progress)
        let seconds = (ContinuousClock.now - t0).asSeconds
        return BenchReport(title: "import", fields: [
            ("bench", "import"), ("database", .string(scratch.name)),
            ("commands", JSON(summary.commands)), ("events", JSON(summary.events)),
            ("rejected", JSON(summary.errors.count)), ("file_mb", number(Double(file.bytes) / 1_048_576, 1)),
            ("batch_size", JSON(batchSize)),
            ("seconds", number(seconds, 3)),
            ("events_per_second", number(Double(summary.events) / max(seconds, 1e-9), 0)),
            ("peak_rss_mb", number(max(peakRSSMegabytes(), rssBefore), 1)),
        ])
    }

    /// Generates a file of about `target` events, imports it (every line must go in) and
    /// deletes it: how every bench but `import` fills its ledger.
    static func loadWorkload(events target: Int, into url: String, progress: ProgressLine?) throws -> Importer.Summary {
        let file = try BenchWorkload.generate(events: target)
        defer { try? FileManager.default.removeItem(atPath: file.path) }
        return try importFile(file.path, into: url, progress: progress)
    }

    /// Imports a generated file in process; every line must go in. `progress` gets a line
    /// to show now and then.
    public static func importFile(
        _ path: String, into url: String, batchSize: Int = 20_000, progress: ProgressLine? = nil
    ) throws -> Importer.Summary {
        guard let input = fopen(path, "r") else {
            throw BenchError.failed("cannot read \(path): \(String(cString: strerror(errno)))")
        }
        defer { fclose(input) }
        let importer = Importer(
            connection: try PostgresConnection(url: url, applicationName: "ledger-bench"),
            writerConnection: try PostgresConnection(url: url, applicationName: "ledger-bench"), actor: "bench",
            today: try Day.ledgerToday())
        importer.batchSize = batchSize
        let started = ContinuousClock.now
        if let progress {
            importer.onProgress = { s in
                let elapsed = max((ContinuousClock.now - started).asSeconds, 0.001)
                progress.show("importing: \(s.events) events (\(Int(Double(s.events) / elapsed)) events/s)")
            }
        }
        // The file is one this bench generated: plain lines, no limits to enforce.
        var line: UnsafeMutablePointer<CChar>?
        var capacity = 0
        defer { free(line) }
        let summary = try importer.run(lines: {
            let n = getline(&line, &capacity, input)
            guard n > 0, let line else { return nil }
            let end = n > 0 && line[n - 1] == 0x0A ? n - 1 : n
            return String(decoding: UnsafeRawBufferPointer(start: line, count: end), as: UTF8.self)
        })
        progress?.finish()
        if let first = summary.errors.first {
            throw BenchError.failed("bench import: \(summary.errors.count) generated lines were not imported, first: \(first)")
        }
        return summary
    }

    // MARK: - Rebuild

    /// Loads about `target` events (import), then times `ledger projections rebuild` as a
    /// child process of this binary, so its peak RSS is the rebuild's own.
    public static func rebuild(in scratch: BenchDatabase, events target: Int, progress: ProgressLine? = nil) throws
        -> BenchReport
    {
        let (loaded, loadSeconds) = try timed { try loadWorkload(events: target, into: scratch.url, progress: progress) }
        benchSay("loaded \(loaded.events) events in \(String(format: "%.1f", loadSeconds)) s; rebuilding")
        let child = try runChild(["projections", "rebuild", "--format", "json"], databaseURL: scratch.url)
        guard child.status == 0 else {
            throw BenchError.failed("ledger projections rebuild exited with status \(child.status): \(child.stderr)")
        }
        // The child's own timing (rebuild only, no process start) and its row counts.
        let rows = (try? JSON.parse(child.stdout))?.arrayValue ?? []
        let events = rows.first?["events"]?.intValue.map(Int.init) ?? loaded.events
        let inner = rows.first?["seconds"].flatMap { ReportText.plain($0) }.flatMap(Double.init) ?? child.seconds
        let projectionRows = rows.reduce(0) { $0 + Int($1["rows"]?.intValue ?? 0) }
        return BenchReport(title: "rebuild", fields: [
            ("bench", "rebuild"), ("database", .string(scratch.name)),
            ("events", JSON(events)), ("rows", JSON(projectionRows)),
            ("load_seconds", number(loadSeconds, 3)),
            ("load_events_per_second", number(Double(loaded.events) / max(loadSeconds, 1e-9), 0)),
            ("seconds", number(inner, 3)),
            ("process_seconds", number(child.seconds, 3)),
            ("events_per_second", number(Double(events) / max(inner, 1e-9), 0)),
            // The child's own high-water mark: wait4's ru_maxrss would also count this
            // process's memory, which posix_spawn's child shares until it execs.
            ("peak_rss_mb", number(rows.first?["peak_rss_mb"].flatMap { Double(ReportText.plain($0)) } ?? child.maxRSSMegabytes, 1)),
        ])
    }

    // MARK: - Reports

    /// How the CLI prints a report: `print(name, format, db)` writes it in that format
    /// ("table", "json", "csv") to /dev/null as `ledger report` would; `fold(name, db)`
    /// folds it from the log with `--as-of` far in the future.
    public struct ReportPrinting {
        public var formats: [String]
        public var print: (ProjectionName, String, PostgresConnection) throws -> Void
        public var fold: (ProjectionName, PostgresConnection) throws -> Void

        public init(
            formats: [String], print: @escaping (ProjectionName, String, PostgresConnection) throws -> Void,
            fold: @escaping (ProjectionName, PostgresConnection) throws -> Void
        ) {
            self.formats = formats
            self.print = print
            self.fold = fold
        }
    }

    /// Figures of the report bench: one object for scripts, one row per report for people.
    public struct ReportFigures {
        public var report: BenchReport
        public var rows: [JSON]
        public var events: Int
    }

    /// Imports about `target` events, brings the projections up to date, then times each
    /// report printed in each format: in this process, as a whole `ledger report` process,
    /// and folded with --as-of. Each figure is the median of `runs` runs (`runs / 4` folds).
    public static func reports(
        in scratch: BenchDatabase, events target: Int, runs: Int, printing: ReportPrinting,
        progress: ProgressLine? = nil
    ) throws -> ReportFigures {
        let loaded = try loadWorkload(events: target, into: scratch.url, progress: progress)
        let db = try PostgresConnection(url: scratch.url, applicationName: "ledger-bench")
        let runner = ProjectionRunner(connection: db)
        // The time-travel snapshots apart (timed by `bench timetravel`), so projections_seconds
        // stays the projections' own; --as-of below reads them.
        runner.keepsHistory = false
        let (applied, projectSeconds) = try timed { try runner.runOnce() }
        try ReportHistory.extend(on: db)
        benchSay("loaded \(loaded.events) events; projections applied \(applied) in \(String(format: "%.1f", projectSeconds)) s")
        var table: [JSON] = []
        var object: [(String, JSON)] = [
            ("bench", "report"), ("database", .string(scratch.name)), ("events", JSON(loaded.events)), ("runs", JSON(runs)),
            ("projections_seconds", number(projectSeconds, 3)),
        ]
        func median(_ work: () throws -> Void) rethrows -> Double {
            var times: [Double] = []
            for _ in 0..<runs {
                let t0 = ContinuousClock.now
                try work()
                times.append((ContinuousClock.now - t0).milliseconds)
            }
            return percentile(times.sorted(), 0.5)
        }
        for name in ProjectionName.allCases {
            let rows = try ReportPages.read(name, .csv, on: db).reduce(0) { $0 + $1.rowCount }
            var row: [String: JSON] = ["report": .string(name.rawValue), "rows": JSON(rows)]
            object.append(("\(name)_rows", JSON(rows)))
            for format in printing.formats {
                let suffix = format == "table" ? "" : "_\(format)"
                let inProcess = try median { try printing.print(name, format, db) }
                let process = try median {
                    let child = try runChild(
                        ["report", name.rawValue, "--format", format], databaseURL: scratch.url, discardOutput: true)
                    guard child.status == 0 else {
                        throw BenchError.failed("ledger report \(name) exited with status \(child.status): \(child.stderr)")
                    }
                }
                row["ms" + suffix] = number(inProcess, 1)
                row["process_ms" + suffix] = number(process, 1)
                object.append(("\(name)_ms" + suffix, number(inProcess, 1)))
                object.append(("\(name)_process_ms" + suffix, number(process, 1)))
            }
            var folded: [Double] = []
            for _ in 0..<max(1, runs / 4) {
                let t0 = ContinuousClock.now
                try printing.fold(name, db)
                folded.append((ContinuousClock.now - t0).milliseconds)
            }
            let foldedMs = percentile(folded.sorted(), 0.5)
            row["as_of_ms"] = number(foldedMs, 1)
            object.append(("\(name)_as_of_ms", number(foldedMs, 1)))
            table.append(.object(row))
        }
        object.append(("peak_rss_mb", number(peakRSSMegabytes(), 1)))
        // #11: the time-travel views as `ledger report` processes, after a close through
        // 2025-12-31 (its issued copies stored as the projector stores them).
        let issueSeconds = try closeForTimeTravel(on: db, url: scratch.url)
        object.append(("issued_seconds", number(issueSeconds, 3)))
        object += try timeTravelProcesses(on: db, url: scratch.url, runs: min(runs, 7))
        return ReportFigures(report: BenchReport(title: "report", fields: object), rows: table, events: loaded.events)
    }

    // MARK: - Verify and digest

    /// Loads about `target` events, catches the projections up, then times `verify` (hash
    /// chains, every rule, every projection) and the digest: its first computation (storing
    /// the tree), a later one, a proof, a digest by a reader that may not write (stored tree
    /// plus the events after it) and a check of a digest.
    public static func verifying(in scratch: BenchDatabase, events target: Int, progress: ProgressLine? = nil) throws
        -> BenchReport
    {
        let loaded = try loadWorkload(events: target, into: scratch.url, progress: progress)
        benchSay("loaded \(loaded.events) events; catching projections up")
        let db = try PostgresConnection(url: scratch.url, applicationName: "ledger-bench")
        try ProjectionRunner(connection: db).runOnce()

        let (result, verifySeconds) = try timed { try verify(connection: db) }
        guard case .intact(let events, _, _) = result else {
            throw BenchError.failed("verify found the bench ledger damaged: \(result)")
        }
        let (_, first) = try timed { try LogDigest.current(on: db) }
        let (digest, again) = try timed { try LogDigest.current(on: db) }
        let position = try db.query("SELECT min(position) FROM events")[0].decode(Int64.self, at: 0)
        let (_, prove) = try timed { try LogDigest.proof(ofPosition: position, on: db) }
        let (_, readOnly) = try timed { try LogDigest.current(on: db, extending: false) }
        let (_, check) = try timed { try digest.check(on: db) }
        return BenchReport(title: "verify", fields: [
            ("bench", "verify"), ("database", .string(scratch.name)), ("events", JSON(events)),
            ("seconds", number(verifySeconds, 3)),
            ("events_per_second", number(Double(events) / max(verifySeconds, 1e-9), 0)),
            ("digest_first_seconds", number(first, 3)), ("digest_seconds", number(again, 3)),
            ("digest_read_only_seconds", number(readOnly, 3)), ("prove_ms", number(prove * 1000, 1)),
            ("verify_digest_seconds", number(check, 3)),
            ("peak_rss_mb", number(peakRSSMegabytes(), 1)),
        ])
    }
}
