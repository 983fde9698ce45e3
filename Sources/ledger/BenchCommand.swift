import ArgumentParser
import EventStore
import Foundation
import JSON
import Ledger
import LedgerApp
import LedgerBench
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
              ledger bench timetravel --events 1000000

            scripts/bench runs them all next to pgbench and prints ratios.
            """,
        subcommands: [
            BenchAppend.self, BenchImport.self, BenchRebuild.self, BenchReportCommand.self, BenchTimeTravel.self, BenchVerify.self,
            BenchScale.self,
        ])
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
        try BenchDatabase.with(global: global, keep: bench.keep) { scratch in
            try Bench.append(in: scratch, clients: bench.clients, events: bench.events ?? 10_000, actor: global.resolvedActor)
                .print(global.format)
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
        try BenchDatabase.with(global: global, keep: bench.keep) { scratch in
            let report = try Bench.importing(
                in: scratch, events: bench.events ?? 100_000, batchSize: batchSize, progress: Progress().line)
            report.print(global.format)
        }
    }
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
        try BenchDatabase.with(global: global, keep: bench.keep) { scratch in
            let report = try Bench.rebuild(in: scratch, events: bench.events ?? 100_000, progress: Progress().line)
            report.print(global.format)
        }
    }
}

// MARK: - Reports

extension Bench.ReportPrinting {
    /// Reports as `ledger report` prints them, to `descriptor`; folds as `--as-of 2099-12-31`.
    static func cli(to descriptor: Int32) throws -> Bench.ReportPrinting {
        let asOf = try Day("2099-12-31")
        return Bench.ReportPrinting(
            formats: [OutputFormat.table, .json, .csv].map(\.rawValue),
            print: { name, format, db in
                try ReportPrinter.print(
                    name.columns, OutputFormat(rawValue: format)!, from: .stored(name, db), to: ByteOutput(descriptor: descriptor))
            },
            fold: { name, db in _ = try name.listing(db, asOf: asOf) })
    }
}

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
        let devNull = open("/dev/null", O_WRONLY)
        guard devNull >= 0 else { throw CLIError.failed("cannot open /dev/null") }
        defer { close(devNull) }
        let printing = try Bench.ReportPrinting.cli(to: devNull)
        try BenchDatabase.with(global: global, keep: bench.keep) { scratch in
            let figures = try Bench.reports(
                in: scratch, events: bench.events ?? 1_000_000, runs: runs, printing: printing, progress: Progress().line)
            if global.format == .table {
                say("database \(scratch.name): \(figures.events) events; ms = median of \(runs) runs")
                Listing(
                    columns: ["report", "rows", "ms", "ms_json", "ms_csv", "process_ms", "process_ms_json", "process_ms_csv", "as_of_ms"],
                    rows: figures.rows
                ).print(.table)
            } else {
                figures.report.print(global.format)
            }
        }
    }
}

// MARK: - Time travel

struct BenchTimeTravel: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "timetravel", abstract: "Time --as-of, --known-at and --as-issued reports over a large data set.",
        discussion: """
            Imports a generated data set (default 1,000,000 events), runs the projections and \
            their time-travel snapshots, closes the period through 2025-12-31, then times \
            building each report's rows and cells (as `ledger report` does before printing; \
            median of runs): --as-of a month end, mid-month and far ahead, --known-at after \
            the last event and in the middle of the log, --as-issued 2025-12-31, and for \
            comparison the whole-log fold --as-of the month end.
            """)
    @OptionGroup var global: GlobalOptions
    @OptionGroup var bench: BenchOptions
    @Option(help: "Timed runs per report and view.") var runs = 7

    func run() throws {
        try bench.requireOneClient()
        if runs < 1 { throw CLIError.usage("--runs must be positive") }
        try BenchDatabase.with(global: global, keep: bench.keep) { scratch in
            let figures = try Bench.timeTravel(
                in: scratch, events: bench.events ?? 1_000_000, runs: runs,
                listing: { name, db, view, snapshots in _ = try name.listing(db, view, snapshots: snapshots) },
                progress: Progress().line)
            if global.format == .table {
                say("database \(scratch.name): \(figures.events) events; ms = median of \(runs) runs")
                Listing(columns: Bench.timeTravelColumns, rows: figures.rows).print(.table)
            } else {
                figures.report.print(global.format)
            }
        }
    }
}

extension BenchReport {
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
        case .csv, .html:
            Listing(columns: fields.map(\.0), rows: [.object(Dictionary(fields, uniquingKeysWith: { a, _ in a }))])
                .print(format, heading: ReportHeading(title: "bench \(title)"))
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

// MARK: - Scale

struct BenchScale: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scale", abstract: "Grow one ledger to each size and measure how cost grows with the log.",
        discussion: """
            Imports generated commands until the log holds the first size (up to --import-up-to; \
            beyond it synthetic events are COPied in, many times faster), measures, grows it to \
            the next size, measures again. At each size: appends with 1 and 8 clients (p50/p99), \
            a full rebuild, each current-state report (stored pages) and its --as-of fold, \
            verify, the digest and a proof, and bytes on disk per event (events with indexes, \
            idempotency keys, digest tree) next to a bare event-shaped table of the same rows. \
            Prints one object per size, then one with verify's figures. Default sizes: 1,000,000 and 10,000,000 events.
            Example:
              ledger bench scale --sizes 100000,1000000 --format json
            """)
    @OptionGroup var global: GlobalOptions
    @Flag(help: "Keep the scratch database instead of dropping it.") var keep = false
    @Option(help: "Log sizes to measure at, ascending, comma-separated.") var sizes = "1000000,10000000"
    @Option(name: .customLong("append-events"), help: "Commands per append run with 1 client (8 clients: twice as many).")
    var appendEvents = 2_000
    @Flag(name: .customLong("skip-verify"), help: "Do not time verify (the slowest measure).") var skipVerify = false
    @Option(name: .customLong("import-up-to"), help: "Grow by importing commands up to this size, by synthetic events (COPY) beyond.")
    var importUpTo = 1_000_000

    func run() throws {
        let parsed = sizes.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !parsed.isEmpty, parsed.allSatisfy({ ($0 ?? 0) > 0 }), parsed.map({ $0! }) == parsed.map({ $0! }).sorted() else {
            throw CLIError.usage("--sizes: positive numbers of events, ascending, e.g. 1000000,10000000")
        }
        guard appendEvents > 0 else { throw CLIError.usage("--append-events must be positive") }
        var plan = Bench.ScalePlan(sizes: parsed.map { $0! })
        plan.appendEvents = appendEvents
        plan.verifies = !skipVerify
        plan.importsUpTo = importUpTo
        let devNull = open("/dev/null", O_WRONLY)
        guard devNull >= 0 else { throw CLIError.failed("cannot open /dev/null") }
        defer { close(devNull) }
        let printing = try Bench.ReportPrinting.cli(to: devNull)
        try BenchDatabase.with(global: global, keep: keep) { scratch in
            try Bench.scale(
                in: scratch, plan: plan, actor: global.resolvedActor, printing: printing, progress: Progress().line
            ) { $0.print(global.format) }
        }
    }
}

extension BenchOptions {
    func requireOneClient() throws {
        if clients != 1 { throw CLIError.usage("--clients: only `ledger bench append` runs concurrent clients") }
    }
}


extension BenchDatabase {
    /// A scratch database on the server the global options name.
    static func with(global: GlobalOptions, keep: Bool, _ body: (BenchDatabase) throws -> Void) throws {
        try with(admin: try global.connect(), baseURL: global.resolvedURL, keep: keep, body)
    }
}
