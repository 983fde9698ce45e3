import ArgumentParser
import Foundation
import JSON
import Ledger
import Postgres
import Projections

extension ProjectionName {
    /// The report as domain rows: read from the projection, or folded from the events
    /// dated on or before `asOf`, as typed cells for the report printer.
    func listing(_ db: PostgresConnection, asOf: Day?) throws -> Listing {
        try listing(db, ReportView(asOf: asOf))
    }

    /// `snapshots` false folds the whole log (the time-travel bench compares the two).
    func listing(_ db: PostgresConnection, _ view: ReportView, snapshots: Bool = true) throws -> Listing {
        let reader = ReportReader(connection: db, readable: true, useSnapshots: snapshots)
        switch self {
        case .portfolio: return Self.listing(try reader.portfolio(view))
        case .labs: return Self.listing(try reader.labs(view))
        case .orders: return Self.listing(try reader.orders(view))
        case .supply: return Self.listing(try reader.supply(view))
        }
    }

    static func listing<Row: ProjectionTable>(_ rows: [Row]) -> Listing {
        Listing(columns: Row.report.columns, rows: rows.map(\.cells))
    }
}

/// `--as-of`, `--known-at` and `--as-issued` on reports: which events a report counts.
struct AsOf: ParsableArguments {
    @Option(
        name: .customLong("as-of"),
        help: ArgumentHelp("Show the state from events dated on or before this day (YYYY-MM-DD).", valueName: "date"))
    var asOf: String?
    @Option(
        name: .customLong("known-at"),
        help: ArgumentHelp(
            "Count only the events recorded at or before this instant (RFC 3339, e.g. 2026-10-01T09:00:00+09:00): what the ledger knew then.",
            valueName: "timestamp"))
    var knownAt: String?
    @Option(
        name: .customLong("as-issued"),
        help: ArgumentHelp(
            "Print the report exactly as it stood when the period through this date was closed (implies --as-of DATE).",
            valueName: "date"))
    var asIssued: String?

    func day() throws -> Day? {
        guard let asOf else { return nil }
        do { return try Day(asOf) } catch { throw CLIError.usage("--as-of: \(error.message)") }
    }

    /// The view these flags ask for, and the caption line that names it; nil for the
    /// current state. `--as-issued` with no close through that date is refused (65).
    func view(on db: PostgresConnection) throws -> (view: ReportView, caption: String)? {
        if knownAt != nil, asIssued != nil {
            throw CLIError.usage("--known-at and --as-issued cannot be combined — an issued report is already what was known at its close")
        }
        var view = ReportView(asOf: try day())
        var parts: [String] = []
        if let knownAt {
            guard let instant = Timestamp(rfc3339: knownAt) else {
                throw CLIError.usage("--known-at: '\(knownAt)' is not an RFC 3339 timestamp — e.g. 2026-10-01T09:00:00+09:00 or 2026-10-01T00:00:00Z")
            }
            view.knownAt = instant
        }
        var checkpoint: Int64?
        if let asIssued {
            let date: Day
            do { date = try Day(asIssued) } catch { throw CLIError.usage("--as-issued: \(error.message)") }
            // Through schema reporting: a ledger_reporting login asks for issued reports too.
            guard let close = try ReportReader(connection: db, readable: true).close(through: date) else {
                throw CLIError.rejected(
                    "no period was closed through \(date) — see ledger period status for the closes there are")
            }
            view.through = close.checkpoint
            if view.asOf == nil { view.asOf = date }
            checkpoint = close.position
            parts.append("as issued at the close through \(date) (recorded \(close.recordedAt))")
        }
        guard view.isFolded else { return nil }
        if let asOf = view.asOf { parts.insert("as of \(asOf)", at: 0) }
        if let knownAt = view.knownAt { parts.append("known at \(knownAt)") }
        if checkpoint == nil {
            checkpoint = try db.query("SELECT coalesce(max(position), 0) FROM reporting.event_log")[0].decode(Int64.self, at: 0)
        }
        return (view, parts.joined(separator: ", ") + " — log through position \(checkpoint!)")
    }
}

extension Timestamp {
    /// An RFC 3339 instant: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` (`t`, `z` and a
    /// space for `T` allowed, as RFC 3339 does). Nil when malformed.
    init?(rfc3339 text: String) {
        let b = Array(text.utf8)
        func num(_ from: Int, _ count: Int) -> Int64? {
            guard from + count <= b.count else { return nil }
            var v: Int64 = 0
            for i in from..<(from + count) {
                guard (48...57).contains(b[i]) else { return nil }
                v = v * 10 + Int64(b[i] - 48)
            }
            return v
        }
        guard b.count >= 20, b[4] == 45, b[7] == 45, [84, 116, 32].contains(b[10]), b[13] == 58, b[16] == 58,
            let year = num(0, 4), let month = num(5, 2), let day = num(8, 2), let hour = num(11, 2),
            let minute = num(14, 2), let second = num(17, 2),
            (try? Day(year: Int(year), month: Int(month), day: Int(day))) != nil, hour < 24, minute < 60, second < 61
        else { return nil }
        var i = 19
        var micros: Int64 = 0
        if i < b.count, b[i] == 46 {
            i += 1
            var digits = 0
            while i < b.count, (48...57).contains(b[i]) {
                if digits < 6 { micros = micros * 10 + Int64(b[i] - 48) }
                digits += 1
                i += 1
            }
            guard digits > 0 else { return nil }
            if digits < 6 { for _ in digits..<6 { micros *= 10 } }
        }
        var offset: Int64 = 0
        guard i < b.count else { return nil }
        if b[i] == 90 || b[i] == 122 {
            i += 1
        } else if b[i] == 43 || b[i] == 45, let oh = num(i + 1, 2), b.count > i + 3, b[i + 3] == 58, let om = num(i + 4, 2),
            oh < 24, om < 60
        {
            offset = (oh * 60 + om) * 60 * (b[i] == 45 ? -1 : 1)
            i += 6
        } else {
            return nil
        }
        guard i == b.count else { return nil }
        // Days from the civil date (Howard Hinnant's algorithm).
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second - offset
        self.init(microsecondsSinceEpoch: seconds * 1_000_000 + micros)
    }
}

struct ReportGroup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report", abstract: "Print the portfolio, labs, orders or supply report.",
        discussion: """
            Reports read the projections (bring them up to date with `ledger projections run`). \
            With --as-of DATE they are folded from the events dated on or before DATE instead.
            Examples:
              ledger report portfolio
              ledger report orders --format csv > orders.csv
              ledger report supply --as-of 2026-06-30 --format json
            """,
        subcommands: [
            ReportPortfolio.self, ReportLabs.self, ReportOrders.self, ReportSupply.self, ReportFund.self, ReportDashboard.self,
        ])
}

protocol ReportSubcommand: ParsableCommand {
    static var report: ProjectionName { get }
    var global: ReadOptions { get }
    var asOf: AsOf { get }
}

extension ReportSubcommand {
    func run() throws {
        _ = try asOf.day()
        let db = try global.connect()
        guard let (view, caption) = try asOf.view(on: db) else {
            // The current state is printed from the report's pages, ready-rendered by the
            // projection runner (see `ReportPage`); the rows below go through the same printer.
            // Its caption names the projection's checkpoint, read in the same snapshot as the
            // pages, so a printed report can be traced like a folded one.
            try db.transaction(.repeatableRead) { db in
                let checkpoint = try db.query(
                    "SELECT coalesce(max(position), 0) FROM reporting.checkpoints WHERE projection = $1",
                    [Self.report.rawValue])[0].decode(Int64.self, at: 0)
                try ReportPrinter.print(
                    Self.report.columns, global.format, from: .stored(Self.report, db), to: ByteOutput(),
                    heading: ReportHeading(
                        title: Self.report.rawValue,
                        caption: "\(Self.report.rawValue) current state — projections through position \(checkpoint)"))
            }
            return try warnIfBehind([Self.report], on: db)
        }
        // The table and the page name what they show, so a printed report can be traced
        // (JSON and CSV stay plain data).
        let heading = ReportHeading(title: Self.report.rawValue, caption: "\(Self.report.rawValue) \(caption)")
        // As of today or later with nothing after the projection's checkpoint, the view is the
        // current state: printed from its pages, rendered once, not row by row (107,000 orders).
        // As issued, it is the pages rendered at the close (Schema/022): a copy.
        let fromPages = try db.transaction(.repeatableRead) { db in
            let source: PageSource
            if let close = try ReportHistory.issuedPages(Self.report, view, on: db) {
                source = .issued(close: close, Self.report, db)
            } else if try ReportHistory.isCurrentState(Self.report, view, on: db, readable: true) {
                source = .stored(Self.report, db)
            } else if let pages = try ReportHistory.segmentPages(Self.report, view, global.format.pagePart, on: db) {
                // Known at an instant mid-log: a segment's pages with the rows changed since put in (Schema/028).
                source = .pages(pages)
            } else {
                return false
            }
            try ReportPrinter.print(Self.report.columns, global.format, from: source, to: ByteOutput(), heading: heading)
            return true
        }
        if !fromPages { try Self.report.listing(db, view).print(global.format, heading: heading) }
    }
}

/// A report read from projections that lag the log still prints (exit 0), but says so on
/// stderr: a figure that silently misses the latest events is worse than a late one.
/// `names`: the projections the report read; the warning gives the largest lag.
func warnIfBehind(_ names: [ProjectionName], on db: PostgresConnection) throws {
    let lag = try ProjectionRunner(connection: db).status(names, readable: true).map(\.lag).max() ?? 0
    guard lag > 0 else { return }
    // Worded as CONTRACT.md fixes it ("N events" even for one): scripts match on it.
    say("warning: projections are \(lag) events behind — run ledger projections run")
}

struct ReportPortfolio: ReportSubcommand {
    static let report = ProjectionName.portfolio
    static let configuration = CommandConfiguration(
        commandName: "portfolio",
        abstract: "Investments: committed, disbursed (cost basis), fair value, proceeds, MOIC, status.")
    @OptionGroup var global: ReadOptions
    @OptionGroup var asOf: AsOf
}

struct ReportLabs: ReportSubcommand {
    static let report = ProjectionName.labs
    static let configuration = CommandConfiguration(
        commandName: "labs", abstract: "Labs: budget, spent, remaining, spending by category, partners, milestones.")
    @OptionGroup var global: ReadOptions
    @OptionGroup var asOf: AsOf
}

struct ReportOrders: ReportSubcommand {
    static let report = ProjectionName.orders
    static let configuration = CommandConfiguration(
        commandName: "orders",
        abstract: "Orders: allocated, shipped, delivered, invoiced, paid, outstanding, status.")
    @OptionGroup var global: ReadOptions
    @OptionGroup var asOf: AsOf
}

struct ReportSupply: ReportSubcommand {
    static let report = ProjectionName.supply
    static let configuration = CommandConfiguration(
        commandName: "supply", abstract: "Stock per SKU: received, allocated, shipped, available.")
    @OptionGroup var global: ReadOptions
    @OptionGroup var asOf: AsOf
}
