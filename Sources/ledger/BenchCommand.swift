import ArgumentParser
import EventStore
import Foundation
import JSON
import Ledger
import LedgerApp
import Postgres
import Projections
import Synchronization

/// `ledger bench`: measures this ledger on the server the URL names, in a scratch database
/// (`ledger_bench_<random>`) created for the run and dropped after it, so user data is
/// never touched. scripts/bench compares the figures with raw PostgreSQL (pgbench).
struct BenchGroup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Measure this ledger: appends, import, rebuild, reports.",
        discussion: """
            Each run creates a scratch database ledger_bench_<random> on the server the URL \
            names (the role needs CREATEDB), migrates it, measures, and drops it (--keep keeps \
            it). The table is for people; --format json prints one object with \
            events_per_second, p50_ms, p99_ms, peak_rss_mb where they apply.
            Examples:
              ledger bench append --clients 8 --events 20000
              ledger bench import --events 1000000 --format json
              ledger bench rebuild --events 1000000
              ledger bench report

            scripts/bench runs them all next to pgbench and prints ratios.
            """,
        subcommands: [BenchAppend.self, BenchImport.self, BenchRebuild.self, BenchReportCommand.self, BenchVerify.self])
}

/// Options every bench takes besides the global ones.
struct BenchOptions: ParsableArguments {
    @Option(help: "Concurrent clients, each on its own connection (append only).") var clients = 1
    @Option(help: "Events to append, import or load (default depends on the bench).") var events: Int?
    @Flag(help: "Keep the scratch database instead of dropping it.") var keep = false

    func validate() throws {
        if clients < 1 { throw ValidationError("--clients must be positive") }
        if let events, events < 1 { throw ValidationError("--events must be positive") }
    }
}

// MARK: - Appends

struct BenchAppend: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "append", abstract: "One command per append through the command handler; events/s, p50/p99.",
        discussion: """
            Each client thread holds one connection and a long-lived command handler and \
            issues supply.receive commands on its own SKU (bench-<run>-<client>), one event \
            each, with an expected version and an idempotency key per command. Latency is per \
            command, client side. Default: 1 client, 10,000 events in total.
            """)
    @OptionGroup var global: GlobalOptions
    @OptionGroup var bench: BenchOptions

    func run() throws {
        let total = bench.events ?? 10_000
        let clients = bench.clients
        try BenchDatabase.with(global: global, keep: bench.keep) { scratch in
            let run = scratch.runID
            let url = scratch.url
            let actor = global.resolvedActor
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
                func command(_ n: Int) throws -> LedgerCommand {
                    try LedgerCommand.parse(
                        ReceiveSupply.self,
                        fields: ["sku": sku, "quantity": String(1 + (n * 7919) % 64), "date": BenchWorkload.day(n).description],
                        today: .today)
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
            let report = BenchReport(title: "append", fields: [
                ("bench", "append"), ("database", .string(scratch.name)),
                ("clients", JSON(clients)), ("events", JSON(events)),
                ("seconds", number(seconds, 3)),
                ("events_per_second", number(Double(events) / max(seconds, 1e-9), 0)),
                ("p50_ms", number(percentile(latencies, 0.50), 3)),
                ("p99_ms", number(percentile(latencies, 0.99), 3)),
                ("max_ms", number(latencies.last ?? 0, 3)),
            ])
            report.print(global.format)
        }
    }
}

// MARK: - Import

struct BenchImport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import", abstract: "Generate JSON Lines of realistic commands and import them; events/s.",
        discussion: """
            The file mixes orders (place, allocate, ship, deliver, invoice, pay, some cancels), \
            GPU deliveries, lab plans and expenses, startups and investments. Only the import is \
            timed, not the generation. Default: 100,000 events.
            """)
    @OptionGroup var global: GlobalOptions
    @OptionGroup var bench: BenchOptions
    @Option(name: .customLong("batch-size"), help: "Lines per import transaction.") var batchSize = 20_000

    func run() throws {
        try bench.requireOneClient()
        let target = bench.events ?? 100_000
        try BenchDatabase.with(global: global, keep: bench.keep) { scratch in
            let file = try BenchWorkload.generate(events: target)
            defer { try? FileManager.default.removeItem(atPath: file.path) }
            let rssBefore = peakRSSMegabytes()
            let t0 = ContinuousClock.now
            let summary = try importFile(file.path, into: scratch.url, batchSize: batchSize)
            let seconds = (ContinuousClock.now - t0).asSeconds
            let report = BenchReport(title: "import", fields: [
                ("bench", "import"), ("database", .string(scratch.name)),
                ("commands", JSON(summary.commands)), ("events", JSON(summary.events)),
                ("rejected", JSON(summary.errors.count)), ("file_mb", number(Double(file.bytes) / 1_048_576, 1)),
                ("batch_size", JSON(batchSize)),
                ("seconds", number(seconds, 3)),
                ("events_per_second", number(Double(summary.events) / max(seconds, 1e-9), 0)),
                ("peak_rss_mb", number(max(peakRSSMegabytes(), rssBefore), 1)),
            ])
            report.print(global.format)
        }
    }
}

/// Imports a generated file in process; every line must go in.
func importFile(_ path: String, into url: String, batchSize: Int = 20_000) throws -> Importer.Summary {
    let reader = try LineReader(path: path)
    let importer = Importer(
        connection: try PostgresConnection(url: url, applicationName: "ledger-bench"),
        writerConnection: try PostgresConnection(url: url, applicationName: "ledger-bench"), actor: "bench",
        today: .today)
    importer.batchSize = batchSize
    let progress = Progress()
    importer.onProgress = { s in
        progress.show("importing: \(s.events) events (\(Int(Double(s.events) / max(progress.elapsed, 0.001))) events/s)")
    }
    let summary = try importer.run(lines: reader.next)
    progress.finish()
    if let first = summary.errors.first {
        throw CLIError.failed("bench import: \(summary.errors.count) generated lines were not imported, first: \(first)")
    }
    return summary
}

// MARK: - Rebuild

struct BenchRebuild: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rebuild", abstract: "Load events (import fast path), then time a full projection rebuild.",
        discussion: """
            The rebuild runs as a child process (`ledger projections rebuild`, this binary), so \
            its peak RSS is the rebuild's own and not the load's. Default: 100,000 events.
            """)
    @OptionGroup var global: GlobalOptions
    @OptionGroup var bench: BenchOptions

    func run() throws {
        try bench.requireOneClient()
        let target = bench.events ?? 100_000
        try BenchDatabase.with(global: global, keep: bench.keep) { scratch in
            let file = try BenchWorkload.generate(events: target)
            defer { try? FileManager.default.removeItem(atPath: file.path) }
            let load0 = ContinuousClock.now
            let loaded = try importFile(file.path, into: scratch.url)
            let loadSeconds = (ContinuousClock.now - load0).asSeconds
            say("loaded \(loaded.events) events in \(String(format: "%.1f", loadSeconds)) s; rebuilding")
            let child = try runChild(["projections", "rebuild", "--format", "json"], databaseURL: scratch.url)
            guard child.status == 0 else {
                throw CLIError.failed("ledger projections rebuild exited with status \(child.status): \(child.stderr)")
            }
            // The child's own timing (rebuild only, no process start) and its row counts.
            let rows = (try? JSON.parse(child.stdout))?.arrayValue ?? []
            let events = rows.first?["events"]?.intValue.map(Int.init) ?? loaded.events
            let inner = rows.first?["seconds"].flatMap { ReportText.plain($0) }.flatMap(Double.init) ?? child.seconds
            let projectionRows = rows.reduce(0) { $0 + Int($1["rows"]?.intValue ?? 0) }
            let report = BenchReport(title: "rebuild", fields: [
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
            report.print(global.format)
        }
    }
}

// MARK: - Reports

struct BenchReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report", abstract: "Time each report over a large data set; ms (median of runs).",
        discussion: """
            Imports a generated data set (default 1,000,000 events: about 107,000 orders, \
            18,000 investments, labs and supply), brings the projections up to date, then times \
            each report printed as `ledger report` prints it, in each format, to /dev/null: \
            inside this process (ms, json_ms, csv_ms: reading the report pages and printing \
            them) and as a whole `ledger report` process (process_ms…: start, connect, print); \
            then folded from the log with --as-of (as_of_ms).
            """)
    @OptionGroup var global: GlobalOptions
    @OptionGroup var bench: BenchOptions
    @Option(help: "Timed runs per report and format.") var runs = 11

    func run() throws {
        try bench.requireOneClient()
        if runs < 1 { throw CLIError.usage("--runs must be positive") }
        let target = bench.events ?? 1_000_000
        try BenchDatabase.with(global: global, keep: bench.keep) { scratch in
            let file = try BenchWorkload.generate(events: target)
            defer { try? FileManager.default.removeItem(atPath: file.path) }
            let loaded = try importFile(file.path, into: scratch.url)
            let db = try PostgresConnection(url: scratch.url, applicationName: "ledger-bench")
            let p0 = ContinuousClock.now
            let applied = try ProjectionRunner(connection: db).runOnce()
            let projectSeconds = (ContinuousClock.now - p0).asSeconds
            say("loaded \(loaded.events) events; projections applied \(applied) in \(String(format: "%.1f", projectSeconds)) s")
            let devNull = open("/dev/null", O_WRONLY)
            guard devNull >= 0 else { throw CLIError.failed("cannot open /dev/null") }
            defer { close(devNull) }
            let asOf = try Day("2099-12-31")
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
                for format in [OutputFormat.table, .json, .csv] {
                    let suffix = format == .table ? "" : "_\(format.rawValue)"
                    let inProcess = try median {
                        try ReportPrinter.print(name.columns, format, from: .stored(name, db), to: ByteOutput(descriptor: devNull))
                    }
                    let process = try median {
                        let child = try runChild(
                            ["report", name.rawValue, "--format", format.rawValue], databaseURL: scratch.url,
                            discardOutput: true)
                        guard child.status == 0 else {
                            throw CLIError.failed("ledger report \(name) exited with status \(child.status): \(child.stderr)")
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
                    _ = try name.listing(db, asOf: asOf)
                    folded.append((ContinuousClock.now - t0).milliseconds)
                }
                let foldedMs = percentile(folded.sorted(), 0.5)
                row["as_of_ms"] = number(foldedMs, 1)
                object.append(("\(name)_as_of_ms", number(foldedMs, 1)))
                table.append(.object(row))
            }
            object.append(("peak_rss_mb", number(peakRSSMegabytes(), 1)))
            if global.format == .table {
                say("database \(scratch.name): \(loaded.events) events; ms = median of \(runs) runs")
                Listing(
                    columns: ["report", "rows", "ms", "ms_json", "ms_csv", "process_ms", "process_ms_json", "process_ms_csv", "as_of_ms"],
                    rows: table
                ).print(.table)
            } else {
                BenchReport(title: "report", fields: object).print(global.format)
            }
        }
    }
}

/// One bench's figures, printed as one object.
struct BenchReport {
    var title: String
    var fields: [(String, JSON)]

    /// One object: a two-column table for people, one JSON object (or one CSV row) for scripts.
    func print(_ format: OutputFormat) {
        switch format {
        case .json:
            // Keys in a fixed, readable order.
            var out: [UInt8] = [UInt8(ascii: "{")]
            for (i, (key, value)) in fields.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                JSON.writeString(key, into: &out)
                out.append(UInt8(ascii: ":"))
                value.write(into: &out)
            }
            out.append(contentsOf: Array("}\n".utf8))
            FileHandle.standardOutput.write(Data(out))
        case .csv:
            Listing(columns: fields.map(\.0), rows: [.object(Dictionary(fields, uniquingKeysWith: { a, _ in a }))])
                .print(.csv)
        case .table:
            let width = fields.map(\.0.count).max() ?? 0
            var text = "bench \(title)\n"
            for (key, value) in fields where key != "bench" {
                text += "  " + key + String(repeating: " ", count: width - key.count) + "  " + ReportText.plain(value) + "\n"
            }
            FileHandle.standardOutput.write(Data(text.utf8))
        }
    }
}

extension BenchOptions {
    func requireOneClient() throws {
        if clients != 1 { throw CLIError.usage("--clients: only `ledger bench append` runs concurrent clients") }
    }
}

// MARK: - Scratch database

/// A database created for one bench run.
struct BenchDatabase {
    var name: String
    var url: String
    var runID: String

    /// Creates and migrates `ledger_bench_<random>`, runs `body`, drops it unless `keep`.
    static func with(global: GlobalOptions, keep: Bool, _ body: (BenchDatabase) throws -> Void) throws {
        let runID = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        let name = "ledger_bench_" + runID
        let admin = try global.connect()
        do {
            try admin.query("CREATE DATABASE \(admin.quoteIdentifier(name))")
        } catch {
            throw CLIError.unavailable(
                "cannot create the scratch database \(name): \(error.message) — bench needs a role with CREATEDB")
        }
        let url = Self.url(global.resolvedURL, database: name)
        say("bench database: \(name)")
        var failure: (any Error)?
        do {
            let db = try PostgresConnection(url: url, applicationName: "ledger-bench")
            _ = try Migrator(directory: Migrator.locateSchemaDirectory()).migrate(db)
            // Let autovacuum not distort the timings (the bench runs a fresh table).
            try body(BenchDatabase(name: name, url: url, runID: runID))
        } catch {
            failure = error
        }
        if keep {
            say("kept bench database \(name): \(PostgresConnection.redacted(url))")
        } else {
            do {
                try admin.query("DROP DATABASE IF EXISTS \(admin.quoteIdentifier(name)) WITH (FORCE)")
            } catch {
                say("could not drop bench database \(name): \(error.message)")
            }
        }
        if let failure { throw failure }
    }

    /// The given URL (or libpq's PG* defaults) pointing at `database` instead.
    static func url(_ base: String?, database: String) -> String {
        guard let base, !base.isEmpty else { return "dbname=\(database)" }
        if base.hasPrefix("postgres://") || base.hasPrefix("postgresql://"),
            var parts = URLComponents(string: base)
        {
            parts.path = "/" + database
            if let s = parts.string { return s }
        }
        // Key/value form: a later keyword wins.
        return base + " dbname=\(database)"
    }
}

// MARK: - Workload

/// Generates realistic write commands as JSON Lines: interleaved order lifecycles on a
/// few dozen GPU SKUs (with deliveries to keep stock), lab expenses, investments.
/// Deterministic (fixed seed), so runs are comparable.
struct BenchWorkload {
    struct File {
        var path: String
        var bytes: Int
        var events: Int
    }


    /// A business date in 2024–2025, spread by `n`.
    static func day(_ n: Int) -> Day {
        try! Day(year: 2024 + (n / 336) % 2, month: 1 + (n / 28) % 12, day: 1 + n % 28)
    }

    struct OrderState {
        var id: Int
        var sku: Int
        var quantity: Int
        var price: Int
        var step: Int  // 0 placed, 1 allocated, 2 shipped, 3 delivered, 4 invoiced, 5 paid/done
        var shipment = 0
    }

    /// Writes commands worth about `events` events to a temporary file.
    static func generate(events target: Int) throws -> File {
        let path = NSTemporaryDirectory() + "/ledger-bench-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).jsonl"
        guard let out = fopen(path, "w") else {
            throw CLIError.failed("cannot write \(path): \(String(cString: strerror(errno)))")
        }
        var rng = SplitMix64(seed: 20_240_401)
        var events = 0
        var bytes = 0
        var n = 0
        func emit(_ line: String, _ count: Int) {
            bytes += line.utf8.count + 1
            fputs(line, out)
            fputc(0x0A, out)
            events += count
            n += 1
        }
        // Dates never go back (a fact may not be dated before the event that created its
        // order, lab or investment): they advance a day per 50 lines up to 2025-12-28, then stay.
        func date() -> String { day(min(n / 50, 671)).description }

        let skuCount = 40
        var available = [Int](repeating: 0, count: skuCount)
        let customers = ["NTT", "SoftBank", "Sakura Internet", "KDDI", "Preferred Networks", "Rakuten", "LINE Yahoo", "Fujitsu"]
        var orders: [OrderState] = []
        var nextOrder = 0
        var labs: [(id: Int, spent: Int)] = []
        var nextLab = 0
        var investments: [(id: Int, committed: Int, disbursed: Int)] = []
        var nextStartup = 0
        var shipment = 0

        while events < target {
            let r = rng.below(100)
            if r < 72 {
                // Orders: start a new one or move an open one a step on.
                if orders.count < 2_000 && (orders.isEmpty || rng.below(7) == 0) {
                    let sku = rng.below(skuCount)
                    let o = OrderState(
                        id: nextOrder, sku: sku, quantity: rng.inRange(1...64), price: 1_000 * rng.inRange(3_000...6_000), step: 0)
                    nextOrder += 1
                    orders.append(o)
                    emit(
                        #"{"command":"order.place","order":"ord-\#(o.id)","customer":"\#(customers[rng.below(customers.count)])","sku":"gpu-\#(sku)","quantity":\#(o.quantity),"unit-price":"\#(o.price)","currency":"JPY","date":"\#(date())"}"#,
                        1)
                    continue
                }
                let i = rng.below(orders.count)
                var o = orders[i]
                switch o.step {
                case 0:
                    if rng.below(40) == 0 {
                        emit(#"{"command":"order.cancel","order":"ord-\#(o.id)","reason":"customer withdrew","date":"\#(date())"}"#, 1)
                        orders.swapAt(i, orders.count - 1)
                        orders.removeLast()
                        continue
                    }
                    if available[o.sku] < o.quantity {
                        let q = 500 * rng.inRange(1...4)
                        available[o.sku] += q
                        emit(#"{"command":"supply.receive","sku":"gpu-\#(o.sku)","quantity":\#(q),"date":"\#(date())"}"#, 1)
                    }
                    available[o.sku] -= o.quantity
                    emit(#"{"command":"order.allocate","order":"ord-\#(o.id)","quantity":\#(o.quantity),"date":"\#(date())"}"#, 2)
                case 1:
                    shipment += 1
                    emit(
                        #"{"command":"order.ship","order":"ord-\#(o.id)","shipment":"shp-\#(shipment)","quantity":\#(o.quantity),"date":"\#(date())"}"#,
                        1)
                    o.shipment = shipment
                case 2:
                    emit(#"{"command":"order.deliver","order":"ord-\#(o.id)","shipment":"shp-\#(o.shipment)","date":"\#(date())"}"#, 1)
                case 3, 4:
                    let value = o.quantity * o.price
                    emit(
                        #"{"command":"order.\#(o.step == 3 ? "invoice" : "pay")","order":"ord-\#(o.id)","amount":"\#(value)","currency":"JPY","date":"\#(date())"}"#,
                        1)
                default:
                    break
                }
                o.step += 1
                if o.step >= 5 {
                    orders.swapAt(i, orders.count - 1)
                    orders.removeLast()
                } else {
                    orders[i] = o
                }
            } else if r < 88 {
                // Labs: a few, each planned and opened, then many expenses.
                if labs.count < 4 + nextLab / 1_000 && labs.count < 40 {
                    let id = nextLab
                    nextLab += 1
                    emit(
                        #"{"command":"lab.plan","lab":"lab-\#(id)","name":"Research Lab \#(id)","city":"Tokyo","budget":"900000000000","currency":"JPY","date":"\#(date())"}"#,
                        1)
                    emit(#"{"command":"lab.add-partner","lab":"lab-\#(id)","partner":"University \#(id)","date":"\#(date())"}"#, 1)
                    emit(#"{"command":"lab.open","lab":"lab-\#(id)","date":"\#(date())"}"#, 1)
                    labs.append((id, 0))
                    continue
                }
                let i = rng.below(labs.count)
                let amount = 1_000 * rng.inRange(10...5_000)
                labs[i].spent += amount
                let category = ["facility", "equipment", "staff", "compute", "other"][rng.below(5)]
                emit(
                    #"{"command":"lab.expense","lab":"lab-\#(labs[i].id)","category":"\#(category)","amount":"\#(amount)","currency":"JPY","description":"invoice \#(n)","date":"\#(date())"}"#,
                    1)
                if rng.below(500) == 0 {
                    emit(#"{"command":"lab.milestone","lab":"lab-\#(labs[i].id)","name":"milestone \#(n)","date":"\#(date())"}"#, 1)
                }
            } else {
                // Investments: register a startup and commit, then disburse and mark.
                if investments.isEmpty || rng.below(6) == 0 {
                    let id = nextStartup
                    nextStartup += 1
                    let committed = 1_000_000 * rng.inRange(50...2_000)
                    emit(
                        #"{"command":"startup.register","startup":"st-\#(id)","name":"Startup \#(id) KK","sector":"AI","country":"JP","date":"\#(date())"}"#,
                        1)
                    emit(
                        #"{"command":"invest.commit","investment":"inv-\#(id)","startup":"st-\#(id)","round":"Series A","instrument":"equity","amount":"\#(committed)","currency":"JPY","ownership":"5","date":"\#(date())"}"#,
                        1)
                    investments.append((id, committed, 0))
                    continue
                }
                let i = rng.below(investments.count)
                let inv = investments[i]
                if inv.disbursed < inv.committed && rng.below(2) == 0 {
                    let amount = min(inv.committed - inv.disbursed, inv.committed / 4)
                    investments[i].disbursed += amount
                    emit(
                        #"{"command":"invest.disburse","investment":"inv-\#(inv.id)","amount":"\#(amount)","currency":"JPY","date":"\#(date())"}"#,
                        1)
                } else {
                    let value = inv.committed / 100 * rng.inRange(50...300)
                    emit(
                        #"{"command":"invest.mark","investment":"inv-\#(inv.id)","fair-value":"\#(value)","currency":"JPY","date":"\#(date())"}"#,
                        1)
                }
                if investments.count > 5_000 { investments.swapAt(i, investments.count - 1); investments.removeLast() }
            }
        }
        fclose(out)
        return File(path: path, bytes: bytes, events: events)
    }
}

// MARK: - Helpers

func percentile(_ sorted: [Double], _ p: Double) -> Double {
    guard !sorted.isEmpty else { return 0 }
    let index = Int((Double(sorted.count - 1) * p).rounded())
    return sorted[min(max(index, 0), sorted.count - 1)]
}

func number(_ measure: Double, _ decimals: Int) -> JSON {
    decimals == 0 ? .number(String(Int(measure.rounded()))) : .number(String(format: "%.\(decimals)f", measure))
}

extension Duration {
    var asSeconds: Double { milliseconds / 1_000 }
    var milliseconds: Double {
        let (s, atto) = components
        return Double(s) * 1_000 + Double(atto) / 1e15
    }
}

/// This process's peak resident set (VmHWM), in MB.
func peakRSSMegabytes() -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        let kb = line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.flatMap { Double($0) } ?? 0
        return kb / 1024
    }
    return 0
}

struct ChildResult {
    var status: Int32
    var stdout: String
    var stderr: String
    var seconds: Double
    var maxRSSMegabytes: Double
}

/// Runs this binary with `arguments`, waits with wait4 and returns its output and peak RSS.
/// The database URL goes to the child in its environment (`DATABASE_URL`), never in its
/// arguments: any user on the machine can read another process's arguments (`ps`), and a
/// URL may carry a password.
func runChild(_ arguments: [String], databaseURL: String, discardOutput: Bool = false) throws -> ChildResult {
    let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    let base = NSTemporaryDirectory() + "/ledger-bench-child-\(getpid())"
    let outPath = base + ".out", errPath = base + ".err"
    defer {
        unlink(outPath)
        unlink(errPath)
    }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, discardOutput ? "/dev/null" : outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    let argv: [UnsafeMutablePointer<CChar>?] = ([exe] + arguments).map { strdup($0) } + [nil]
    defer { for p in argv { free(p) } }
    var pid: pid_t = 0
    let t0 = ContinuousClock.now
    var environment = ProcessInfo.processInfo.environment
    environment["DATABASE_URL"] = databaseURL
    let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer { for p in envp { free(p) } }
    let rc = posix_spawn(&pid, exe, &actions, nil, argv, envp)
    guard rc == 0 else { throw CLIError.failed("cannot start \(exe): \(String(cString: strerror(rc)))") }
    var status: Int32 = 0
    var usage = rusage()
    while wait4(pid, &status, 0, &usage) < 0 {
        guard errno == EINTR else { throw CLIError.failed("wait4: \(String(cString: strerror(errno)))") }
    }
    let seconds = (ContinuousClock.now - t0).asSeconds
    let exited = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
    return ChildResult(
        status: exited,
        stdout: (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
        stderr: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "",
        seconds: seconds, maxRSSMegabytes: Double(usage.ru_maxrss) / 1024)
}

extension SplitMix64 {
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    mutating func inRange(_ r: ClosedRange<Int>) -> Int { r.lowerBound + below(r.count) }
}
