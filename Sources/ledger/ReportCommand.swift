import ArgumentParser
import Foundation
import JSON
import Ledger
import Postgres
import Projections

/// The four reports, read from the projections (or folded from the log `--as-of` a date),
/// printed from the domain's own row types.
enum ReportKind: String, CaseIterable {
    case portfolio, labs, orders, supply

    /// Columns holding amounts, shown with their currency in tables.
    var moneyColumns: Set<String> {
        switch self {
        case .portfolio: ["committed", "disbursed", "fair_value", "proceeds"]
        case .labs: ["budget", "spent", "remaining"]
        case .orders: ["unit_price", "invoiced", "paid", "outstanding"]
        case .supply: []
        }
    }

    func listing(_ db: PostgresConnection, asOf: Day?) throws -> Listing {
        let reader = ReportReader(connection: db)
        switch self {
        case .portfolio: return Self.listing(try reader.portfolio(asOf: asOf).map(\.json), PortfolioPosition.columns, moneyColumns)
        case .labs: return Self.listing(try reader.labs(asOf: asOf).map(\.json), LabSummary.columns, moneyColumns)
        case .orders: return Self.listing(try reader.orders(asOf: asOf).map(\.json), OrderSummary.columns, moneyColumns)
        case .supply: return Self.listing(try reader.supply(asOf: asOf).map(\.json), SupplyPosition.columns, moneyColumns)
        }
    }

    static func listing(_ rows: [JSON], _ columns: [String], _ money: Set<String>) -> Listing {
        let display = rows.map { row in
            columns.map { column -> String in
                let value = row[column]
                if money.contains(column), let amount = value?.stringValue, let currency = row["currency"]?.stringValue,
                    let parsed = try? Money.parse(amount, currency: currency)
                {
                    return parsed.formatted
                }
                return cell(value, currency: row["currency"]?.stringValue)
            }
        }
        return Listing(columns: columns, rows: rows, display: display)
    }

    /// A friendly table cell for lists and objects.
    static func cell(_ value: JSON?, currency: String?) -> String {
        switch value {
        case .array(let items)?:
            return items.map { item in
                if let name = item["name"]?.stringValue, let date = item["date"]?.stringValue { return "\(name) (\(date))" }
                return Listing.plain(item)
            }.joined(separator: "; ")
        case .object(let members)?:
            return members.keys.sorted().compactMap { key in
                guard let amount = members[key]?.stringValue else { return nil }
                if let currency, let money = try? Money.parse(amount, currency: currency) {
                    return money.isZero ? nil : "\(key) \(money.formatted)"
                }
                return "\(key) \(amount)"
            }.joined(separator: "; ")
        default:
            return Listing.plain(value)
        }
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
    static var kind: ReportKind { get }
    var global: GlobalOptions { get }
    var asOf: AsOf { get }
}

extension ReportSubcommand {
    func run() throws {
        let day = try asOf.day()
        let db = try global.connect()
        if day == nil, global.format != .table {
            // Scripts asking for JSON or CSV of the current state get the stored rows as
            // PostgreSQL renders them: the same columns and values (tested against the
            // domain rows' `json`), without building every row in Swift first.
            return try Self.kind.streamStored(db, format: global.format)
        }
        try Self.kind.listing(db, asOf: day).print(global.format)
    }
}

extension ReportKind {
    var columns: [String] {
        switch self {
        case .portfolio: PortfolioPosition.columns
        case .labs: LabSummary.columns
        case .orders: OrderSummary.columns
        case .supply: SupplyPosition.columns
        }
    }

    /// Lists and objects, printed as JSON inside CSV cells.
    static let nestedColumns: Set<String> = ["partners", "milestones", "spent_by_category"]

    /// Counts of chips: JSON numbers (everything else is a string, a list or an object).
    static let integerColumns: Set<String> = ["quantity", "allocated", "shipped", "delivered", "received", "available"]

    /// A column of `reporting.<view>` as text: amounts (and MOIC) as their exact decimal
    /// text, lists and objects as JSON.
    func selectExpression(_ column: String) -> String {
        let name = "\"" + column + "\""
        return Self.nestedColumns.contains(column) ? "to_json(" + name + ")::text" : name + "::text"
    }

    /// Prints the stored report as JSON or CSV straight from `reporting.<view>`, with the
    /// same bytes as printing the domain rows (a test holds the two together).
    /// The SQL is made from this program's own column names only, never from input.
    func streamStored(_ db: PostgresConnection, format: OutputFormat) throws {
        let select = columns.map(selectExpression).joined(separator: ", ")
        let rows = try db.query(
            "SELECT " + select + " FROM reporting." + rawValue + " ORDER BY \"" + columns[0] + "\" COLLATE \"C\"")
        var out: [UInt8] = []
        out.reserveCapacity(1 << 20)
        func flush() {
            FileHandle.standardOutput.write(Data(out))
            out.removeAll(keepingCapacity: true)
        }
        // Nested values come as PostgreSQL's JSON text: re-encoded canonically.
        func nested(_ text: String) throws -> JSON { try JSON.parse(text) }
        if format == .json {
            out.append(UInt8(ascii: "["))
            for (r, row) in rows.enumerated() {
                out.append(contentsOf: (r == 0 ? "\n{" : ",\n{").utf8)
                for (i, column) in columns.enumerated() {
                    if i > 0 { out.append(UInt8(ascii: ",")) }
                    JSON.writeString(column, into: &out)
                    out.append(UInt8(ascii: ":"))
                    guard let text = row.text(at: i) else {
                        out.append(contentsOf: "null".utf8)
                        continue
                    }
                    if Self.integerColumns.contains(column) {
                        out.append(contentsOf: text.utf8)
                    } else if Self.nestedColumns.contains(column) {
                        try nested(text).write(into: &out)
                    } else {
                        JSON.writeString(text, into: &out)
                    }
                }
                out.append(UInt8(ascii: "}"))
                if out.count > 1 << 20 { flush() }
            }
            out.append(contentsOf: (rows.isEmpty ? "]\n" : "\n]\n").utf8)
        } else {
            out.append(contentsOf: (columns.joined(separator: ",") + "\n").utf8)
            for row in rows {
                for (i, column) in columns.enumerated() {
                    if i > 0 { out.append(UInt8(ascii: ",")) }
                    var text = row.text(at: i) ?? ""
                    if Self.nestedColumns.contains(column) { text = try nested(text).canonicalString }
                    out.append(contentsOf: Listing.csvField(text).utf8)
                }
                out.append(UInt8(ascii: "\n"))
                if out.count > 1 << 20 { flush() }
            }
        }
        flush()
    }
}

struct ReportPortfolio: ReportSubcommand {
    static let kind = ReportKind.portfolio
    static let configuration = CommandConfiguration(
        commandName: "portfolio",
        abstract: "Investments: committed, disbursed (cost basis), fair value, proceeds, MOIC, status.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var asOf: AsOf
}

struct ReportLabs: ReportSubcommand {
    static let kind = ReportKind.labs
    static let configuration = CommandConfiguration(
        commandName: "labs", abstract: "Labs: budget, spent, remaining, spending by category, partners, milestones.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var asOf: AsOf
}

struct ReportOrders: ReportSubcommand {
    static let kind = ReportKind.orders
    static let configuration = CommandConfiguration(
        commandName: "orders",
        abstract: "Orders: allocated, shipped, delivered, invoiced, paid, outstanding, status.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var asOf: AsOf
}

struct ReportSupply: ReportSubcommand {
    static let kind = ReportKind.supply
    static let configuration = CommandConfiguration(
        commandName: "supply", abstract: "Stock per SKU: received, allocated, shipped, available.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var asOf: AsOf
}
