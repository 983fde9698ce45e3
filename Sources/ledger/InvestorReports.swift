import ArgumentParser
import Foundation
import JSON
import Ledger
import Postgres
import Projections

/// `--currency` of the fund report and the dashboard: the reporting currency.
struct ReportingCurrency: ParsableArguments {
    @Option(
        name: .customLong("currency"),
        help: ArgumentHelp(
            "Convert every amount into this currency (ISO 4217) with the recorded FX rates.", valueName: "cur"))
    var currency: String?

    func value() throws -> Currency? {
        guard let currency else { return nil }
        do { return try Currency(code: currency) } catch { throw CLIError.usage("--currency: \(error.message)") }
    }
}

enum FundListing {
    /// The fund report's rows on `reportDate`: folded from the log; a conversion without a
    /// rate is a rejection (65) naming the pair and the date.
    static func rows(_ db: PostgresConnection, on reportDate: Day, in currency: Currency?) throws -> [FundRow] {
        try rows(db, ReportView(asOf: reportDate), in: currency)
    }

    /// The fund report's rows for a view whose `asOf` is the report date. Read through
    /// schema reporting, so a ledger_reporting login and a hot standby print it too.
    static func rows(_ db: PostgresConnection, _ view: ReportView, in currency: Currency?) throws -> [FundRow] {
        let reportDate = view.asOf ?? .today
        var view = view
        view.asOf = reportDate
        return try ReportReader(connection: db, readable: true).fund(view).rows(on: reportDate, in: currency)
    }

    static func listing(_ rows: [FundRow]) -> Listing {
        Listing(columns: FundRow.report.columns, rows: rows.map { FundRow.report.cells(of: $0) })
    }
}

struct ReportFund: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fund",
        abstract: "Fund metrics per investment and in total: paid-in, distributions, NAV, DPI, RVPI, TVPI, IRR.",
        discussion: """
            One row per investment, then a TOTAL row per currency — or, with --currency, every \
            amount converted (paid-in at each disbursement's date, distributions at each exit's \
            date, NAV at the report date, by the recorded FX rates) and one TOTAL row. The \
            report date is --as-of, else today. IRR is XIRR (actual/365) over −disbursements, \
            +proceeds and +NAV at the report date; empty when no rate solves it. The report is \
            folded from the log every time, so it is never behind the projections. \
            --known-at counts what the ledger had recorded by then; --as-issued DATE prints it \
            as it stood at the close through DATE.
            Examples:
              ledger report fund
              ledger report fund --currency JPY --as-of 2026-09-30
              ledger report fund --as-issued 2026-09-30 --format html > q3.html
              ledger report fund --currency USD --format csv > fund.csv
            """)
    @OptionGroup var global: ReadOptions
    @OptionGroup var asOf: AsOf
    @OptionGroup var reporting: ReportingCurrency

    func run() throws {
        _ = try asOf.day()
        let currency = try reporting.value()
        let db = try global.connect()
        let selected = try asOf.view(on: db)
        let view = selected?.view ?? ReportView(asOf: .today)
        let rows = try FundListing.rows(db, view, in: currency)
        let reportDate = view.asOf ?? .today
        // The table names a time-travelled report (--known-at, --as-issued) as the other
        // reports do; a plain --as-of fund table has always started with its header, and
        // its date is the report date anyway. The HTML page always says what it shows.
        let title = "fund" + (currency.map { " in \($0.code)" } ?? "")
        let caption =
            if let selected, selected.view.knownAt != nil || selected.view.through != nil {
                "\(title) \(selected.caption)"
            } else if global.format == .html {
                "\(title) as of \(reportDate)"
            } else {
                String?.none
            }
        FundListing.listing(rows).print(global.format, heading: ReportHeading(title: "fund", caption: caption))
    }
}

struct ReportDashboard: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dashboard",
        abstract: "Write one self-contained HTML page with every report, four charts and the fund metrics.",
        discussion: """
            The page has inline CSS and SVG charts only (no script, no web fonts, nothing \
            fetched), so it can be mailed or archived as it is, and prints on A4: fund metrics \
            on top; value by investment, lab budget against spend by category, stock per SKU \
            and outstanding by customer; then the fund, portfolio, labs, orders and supply \
            reports. With --currency the fund figures are converted.
            Examples:
              ledger report dashboard --out dashboard.html --currency JPY
              ledger report dashboard --out - --as-of 2026-06-30 > q2.html
              chromium --headless --print-to-pdf=dashboard.pdf dashboard.html
            """)
    @OptionGroup var global: ReadOptions
    @Option(help: ArgumentHelp("Where to write the page; - for standard output.", valueName: "file")) var out: String
    @OptionGroup var asOf: AsOf
    @OptionGroup var reporting: ReportingCurrency

    func run() throws {
        _ = try asOf.day()
        let currency = try reporting.value()
        let db = try global.connect()
        // --known-at and --as-issued select the events as they do for every report.
        let view = try asOf.view(on: db)?.view
        let page = try Dashboard.render(db, view, currency: currency)
        if out == "-" {
            FileHandle.standardOutput.write(Data(page.utf8))
        } else {
            do {
                try Data(page.utf8).write(to: URL(fileURLWithPath: out), options: .atomic)
            } catch {
                throw CLIError.failed("cannot write \(out): \(error.localizedDescription) — check the directory exists and is writable")
            }
            say("wrote \(out) (\(page.utf8.count) bytes)")
        }
        // The current state's four reports come from the projections (the fund report is
        // always folded from the log): say when they lag, as `ledger report` does.
        if view == nil { try warnIfBehind(ProjectionName.allCases, on: db) }
    }
}

extension Dashboard {
    /// The dashboard of the ledger on `db`: current state, or as of a day.
    static func render(_ db: PostgresConnection, asOf day: Day?, currency: Currency?) throws -> String {
        try render(db, day.map { ReportView(asOf: $0) }, currency: currency)
    }

    /// The dashboard for a view of the log (nil: the current state, from the projections).
    /// Read through schema reporting, so a ledger_reporting login can make it too.
    static func render(_ db: PostgresConnection, _ view: ReportView?, currency: Currency?) throws -> String {
        let reportDate = view?.asOf ?? .today
        let reader = ReportReader(connection: db, readable: true)
        let fund = try FundListing.rows(db, view ?? ReportView(asOf: reportDate), in: currency)
        let view = view ?? ReportView()
        let labs = try reader.labs(view)
        let orders = try reader.orders(view)
        let supply = try reader.supply(view)
        let portfolio = ProjectionName.listing(try reader.portfolio(view))
        func table(_ title: String, _ listing: Listing, note: String = "", emphasized: [Bool] = []) -> Dashboard.Table {
            Dashboard.Table(
                title: title, note: note, columns: listing.columns.map(\.name), cells: listing.rows.map(ReportText.tableCells),
                emphasized: emphasized)
        }
        return Dashboard(
            reportDate: reportDate, reportingCurrency: currency, fund: fund, labs: labs, orders: orders, supply: supply,
            tables: [
                table(
                    "Fund report", FundListing.listing(fund),
                    note: "DPI = distributions / paid-in; RVPI = NAV / paid-in; TVPI = (distributions + NAV) / paid-in; "
                        + "IRR = XIRR (actual/365) of −disbursements, +proceeds and +NAV on \(reportDate).",
                    emphasized: fund.map(\.isTotal)),
                table("Portfolio", portfolio),
                table("Labs", ProjectionName.listing(labs)),
                table("Orders", ProjectionName.listing(orders)),
                table("Supply", ProjectionName.listing(supply)),
            ]
        ).html()
    }
}
