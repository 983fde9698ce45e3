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
        let reader = ReportReader(connection: db)
        switch self {
        case .portfolio: return Self.listing(try reader.portfolio(asOf: asOf))
        case .labs: return Self.listing(try reader.labs(asOf: asOf))
        case .orders: return Self.listing(try reader.orders(asOf: asOf))
        case .supply: return Self.listing(try reader.supply(asOf: asOf))
        }
    }

    static func listing<Row: ProjectionTable>(_ rows: [Row]) -> Listing {
        Listing(columns: Row.report.columns, rows: rows.map(\.cells))
    }
}

/// `--as-of` on reports.
struct AsOf: ParsableArguments {
    @Option(
        name: .customLong("as-of"),
        help: ArgumentHelp("Show the state from events dated on or before this day (YYYY-MM-DD).", valueName: "date"))
    var asOf: String?

    func day() throws -> Day? {
        guard let asOf else { return nil }
        do { return try Day(asOf) } catch { throw CLIError.usage("--as-of: \(error.message)") }
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
        subcommands: [ReportPortfolio.self, ReportLabs.self, ReportOrders.self, ReportSupply.self])
}

protocol ReportSubcommand: ParsableCommand {
    static var report: ProjectionName { get }
    var global: GlobalOptions { get }
    var asOf: AsOf { get }
}

extension ReportSubcommand {
    func run() throws {
        let day = try asOf.day()
        let db = try global.connect()
        guard let day else {
            // The current state is printed from the report's pages, ready-rendered by the
            // projection runner (see `ReportPage`); the rows below go through the same printer.
            return try ReportPrinter.print(Self.report.columns, global.format, from: .stored(Self.report, db), to: ByteOutput())
        }
        try Self.report.listing(db, asOf: day).print(global.format)
    }
}

struct ReportPortfolio: ReportSubcommand {
    static let report = ProjectionName.portfolio
    static let configuration = CommandConfiguration(
        commandName: "portfolio",
        abstract: "Investments: committed, disbursed (cost basis), fair value, proceeds, MOIC, status.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var asOf: AsOf
}

struct ReportLabs: ReportSubcommand {
    static let report = ProjectionName.labs
    static let configuration = CommandConfiguration(
        commandName: "labs", abstract: "Labs: budget, spent, remaining, spending by category, partners, milestones.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var asOf: AsOf
}

struct ReportOrders: ReportSubcommand {
    static let report = ProjectionName.orders
    static let configuration = CommandConfiguration(
        commandName: "orders",
        abstract: "Orders: allocated, shipped, delivered, invoiced, paid, outstanding, status.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var asOf: AsOf
}

struct ReportSupply: ReportSubcommand {
    static let report = ProjectionName.supply
    static let configuration = CommandConfiguration(
        commandName: "supply", abstract: "Stock per SKU: received, allocated, shipped, available.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var asOf: AsOf
}
