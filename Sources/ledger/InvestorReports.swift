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
        try ReportReader(connection: db).fund(asOf: reportDate).rows(on: reportDate, in: currency)
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
            +proceeds and +NAV at the report date; empty when no rate solves it.
            Examples:
              ledger report fund
              ledger report fund --currency JPY --as-of 2026-09-30
              ledger report fund --currency USD --format csv > fund.csv
            """)
    @OptionGroup var global: GlobalOptions
    @OptionGroup var asOf: AsOf
    @OptionGroup var reporting: ReportingCurrency

    func run() throws {
        let reportDate = try asOf.day() ?? .today
        let currency = try reporting.value()
        let db = try global.connect()
        FundListing.listing(try FundListing.rows(db, on: reportDate, in: currency)).print(global.format)
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
    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("Where to write the page; - for standard output.", valueName: "file")) var out: String
    @OptionGroup var asOf: AsOf
    @OptionGroup var reporting: ReportingCurrency

    func run() throws {
        let day = try asOf.day()
        let currency = try reporting.value()
        let page = try Dashboard.render(try global.connect(), asOf: day, currency: currency)
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
    }
}

extension Dashboard {
    /// The dashboard of the ledger on `db`: current state, or as of a day.
    static func render(_ db: PostgresConnection, asOf day: Day?, currency: Currency?) throws -> String {
        let reportDate = day ?? .today
        let reader = ReportReader(connection: db)
        let fund = try FundListing.rows(db, on: reportDate, in: currency)
        let labs = try reader.labs(asOf: day)
        let orders = try reader.orders(asOf: day)
        let supply = try reader.supply(asOf: day)
        let portfolio = ProjectionName.listing(try reader.portfolio(asOf: day))
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
