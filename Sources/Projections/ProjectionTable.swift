import JSON
import Ledger
import Postgres

/// A report row type that lives in a projection table: how to load it back (so later events
/// can be applied to it) and how to write it, with the figures the domain computed.
///
/// Only the mapping to columns lives here; every figure comes from the row type itself.
public protocol ProjectionTable: ReportRow {
    /// The projection's name: `portfolio`, `labs`, `orders` or `supply`.
    static var projection: ProjectionName { get }
    /// The qualified table, e.g. `projections.orders`.
    static var table: String { get }
    /// The view in schema `reporting` that read commands load rows from (`loadColumns`), so
    /// a login granted only ledger_reporting can print reports (Schema/011_reporting_reads.sql).
    static var readable: String { get }
    /// The primary key column (quoted where it is a keyword).
    static var keyColumn: String { get }
    /// Every column of the table, in table order: the order of `columnValues`.
    static var tableColumns: [String] { get }
    /// The expressions `init(row:)` reads, in order.
    static var loadColumns: String { get }
    init(row: Row) throws
    /// The value of the key column.
    var key: String { get }
    /// Every column's value in COPY text form, in `tableColumns` order (nil for NULL).
    var columnValues: [String?] { get }
    /// Fills in what a row shows but its own events do not carry (the portfolio's startup
    /// names), for the rows with these keys. Every fold that writes or compares rows calls
    /// it, so stored, refolded and `--as-of` rows agree.
    static func complete(_ rows: inout [String: Self], keys: [String], on db: PostgresConnection) throws
}

extension ProjectionTable {
    public static func complete(_ rows: inout [String: Self], keys: [String], on db: PostgresConnection) throws {}
}

extension PortfolioPosition: ProjectionTable {
    public static var projection: ProjectionName { .portfolio }
    public static var table: String { "projections.portfolio" }
    public static var readable: String { "reporting.portfolio_state" }
    public static var keyColumn: String { "investment" }
    public static var tableColumns: [String] { columns + ["latest_mark"] }
    public static var loadColumns: String {
        "investment, startup, round, instrument, currency, committed, disbursed, latest_mark, proceeds, status, "
            + "startup_name, ownership, post_money"
    }

    public init(row: Row) throws {
        let currency = try Currency(code: try row.decode(String.self, at: 4))
        let instrumentText = try row.decode(String.self, at: 3)
        let statusText = try row.decode(String.self, at: 9)
        guard let instrument = Instrument(rawValue: instrumentText) else {
            throw StoredRowError(table: Self.table, reason: "unknown instrument '\(instrumentText)'")
        }
        guard let status = Investment.Status(rawValue: statusText) else {
            throw StoredRowError(table: Self.table, reason: "unknown status '\(statusText)'")
        }
        self.init(
            investment: try row.decode(String.self, at: 0), startup: try row.decode(String.self, at: 1),
            round: try row.decode(String.self, at: 2), instrument: instrument, currency: currency,
            committed: try row.money(at: 5, currency), disbursed: try row.money(at: 6, currency),
            latestMark: try row.optionalMoney(at: 7, currency), proceeds: try row.money(at: 8, currency),
            status: status, startupName: try row.decode(String?.self, at: 10), ownership: try row.decode(String?.self, at: 11),
            postMoney: try row.optionalMoney(at: 12, currency))
    }

    public var key: String { investment }

    public var columnValues: [String?] {
        [
            investment, startup, round, instrument.rawValue, currency.code, committed.decimalString,
            disbursed.decimalString, fairValue.decimalString, proceeds.decimalString, moic, status.rawValue,
            startupName, ownership, postMoney?.decimalString, latestMark?.decimalString,
        ]
    }

    /// Startup names from their `startup.registered` events (read through `reporting.events`,
    /// which every login that folds may read), for the rows with these keys that lack one.
    /// A startup is registered before anything is committed to it, and its name never
    /// changes, so every path — run, rebuild, verify, `--as-of` — finds the same name.
    public static func complete(_ rows: inout [String: PortfolioPosition], keys: [String], on db: PostgresConnection) throws {
        let missing = Set(keys.compactMap { key in rows[key].flatMap { $0.startupName == nil ? $0.startup : nil } })
        guard !missing.isEmpty else { return }
        var names: [String: String] = [:]
        for row in try db.query(
            """
            SELECT DISTINCT ON (stream) stream, payload->>'name' FROM reporting.events
            WHERE stream = ANY ($1::text[]) AND type = 'startup.registered' ORDER BY stream, version
            """, [PostgresArray(missing.map { StreamName.startup($0).rawValue })], prepared: true)
        {
            names[try row.decode(String.self, at: 0)] = try row.decode(String?.self, at: 1)
        }
        for key in keys {
            guard let startup = rows[key]?.startup, rows[key]?.startupName == nil else { continue }
            rows[key]!.startupName = names[StreamName.startup(startup).rawValue]
        }
    }
}

extension LabSummary: ProjectionTable {
    public static var projection: ProjectionName { .labs }
    public static var table: String { "projections.labs" }
    public static var readable: String { "reporting.labs" }
    public static var keyColumn: String { "lab" }
    public static var tableColumns: [String] { columns }
    public static var loadColumns: String {
        "lab, name, city, currency, budget, spent, status, array_to_json(partners), milestones, spent_by_category"
    }

    public init(row: Row) throws {
        let currency = try Currency(code: try row.decode(String.self, at: 3))
        let statusText = try row.decode(String.self, at: 6)
        guard let status = Lab.Status(rawValue: statusText) else {
            throw StoredRowError(table: Self.table, reason: "unknown status '\(statusText)'")
        }
        let partners = try row.decode(JSON.self, at: 7).arrayValue?.compactMap(\.stringValue) ?? []
        var milestones: [Milestone] = []
        for m in try row.decode(JSON.self, at: 8).arrayValue ?? [] {
            guard let name = m["name"]?.stringValue, let date = m["date"]?.stringValue else {
                throw StoredRowError(table: Self.table, reason: "malformed milestone \(m)")
            }
            milestones.append(Milestone(name: name, date: try Day(date)))
        }
        var byCategory: [ExpenseCategory: Money] = [:]
        for (name, amount) in try row.decode(JSON.self, at: 9).objectValue ?? [:] {
            guard let category = ExpenseCategory(rawValue: name), let text = amount.stringValue else {
                throw StoredRowError(table: Self.table, reason: "malformed spent_by_category entry \(name)")
            }
            byCategory[category] = try Money.exact(text, currency)
        }
        self.init(
            lab: try row.decode(String.self, at: 0), name: try row.decode(String.self, at: 1),
            city: try row.decode(String.self, at: 2), currency: currency, budget: try row.money(at: 4, currency),
            spent: try row.money(at: 5, currency), status: status, partners: partners, milestones: milestones,
            spentByCategory: byCategory)
    }

    public var key: String { lab }

    public var columnValues: [String?] {
        let json = self.json
        return [
            lab, name, city, currency.code, budget.decimalString, spent.decimalString, remaining.decimalString,
            status.rawValue, postgresArrayLiteral(partners), json["milestones"]!.canonicalString,
            json["spent_by_category"]!.canonicalString,
        ]
    }
}

extension OrderSummary: ProjectionTable {
    public static var projection: ProjectionName { .orders }
    public static var table: String { "projections.orders" }
    public static var readable: String { "reporting.orders_state" }
    public static var keyColumn: String { "\"order\"" }
    public static var tableColumns: [String] { ["\"order\""] + columns.dropFirst() + ["cancelled", "shipments"] }
    public static var loadColumns: String {
        "\"order\", customer, sku, currency, quantity, unit_price, allocated, shipped, delivered, invoiced, paid, cancelled, shipments"
    }

    public init(row: Row) throws {
        let currency = try Currency(code: try row.decode(String.self, at: 3))
        var shipments: [String: Order.Shipment] = [:]
        for (id, s) in try row.decode(JSON.self, at: 12).objectValue ?? [:] {
            guard let quantity = s["quantity"]?.intValue, let delivered = s["delivered"]?.boolValue else {
                throw StoredRowError(table: Self.table, reason: "malformed shipment \(id)")
            }
            shipments[id] = Order.Shipment(quantity: quantity, delivered: delivered)
        }
        self.init(
            order: try row.decode(String.self, at: 0), customer: try row.decode(String.self, at: 1),
            sku: try row.decode(String.self, at: 2), currency: currency,
            quantity: try row.decode(Int64.self, at: 4), unitPrice: try row.money(at: 5, currency),
            allocated: try row.decode(Int64.self, at: 6), shipped: try row.decode(Int64.self, at: 7),
            delivered: try row.decode(Int64.self, at: 8), invoiced: try row.money(at: 9, currency),
            paid: try row.money(at: 10, currency), cancelled: try row.decode(Bool.self, at: 11),
            shipments: shipments)
    }

    public var key: String { order }

    public var columnValues: [String?] {
        var shipmentsJSON: [String: JSON] = [:]
        for (id, s) in shipments {
            shipmentsJSON[id] = ["quantity": JSON(s.quantity), "delivered": .bool(s.delivered)]
        }
        return [
            order, customer, sku, currency.code, String(quantity), unitPrice.decimalString, String(allocated),
            String(shipped), String(delivered), invoiced.decimalString, paid.decimalString,
            outstanding.decimalString, status.rawValue, cancelled ? "t" : "f",
            JSON.object(shipmentsJSON).canonicalString,
        ]
    }
}

extension SupplyPosition: ProjectionTable {
    public static var projection: ProjectionName { .supply }
    public static var table: String { "projections.supply" }
    public static var readable: String { "reporting.supply" }
    public static var keyColumn: String { "sku" }
    public static var tableColumns: [String] { columns }
    public static var loadColumns: String { "sku, received, allocated, shipped" }

    public init(row: Row) throws {
        self.init(
            sku: try row.decode(String.self, at: 0), received: try row.decode(Int64.self, at: 1),
            allocated: try row.decode(Int64.self, at: 2), shipped: try row.decode(Int64.self, at: 3))
    }

    public var key: String { sku }

    public var columnValues: [String?] {
        [sku, String(received), String(allocated), String(shipped), String(available)]
    }
}

/// A projection row that cannot be read back into its domain type (the table was edited by
/// hand, or written by an incompatible version): rebuild the projection.
public struct StoredRowError: Error, Sendable, CustomStringConvertible {
    public var table: String
    public var reason: String
    public var description: String {
        "\(table) holds a row this program cannot read (\(reason)); run `ledger projections rebuild`"
    }
}

/// `{"a","b \"c\""}`: a PostgreSQL array literal of texts, every element quoted.
func postgresArrayLiteral(_ elements: [String]) -> String {
    var out = "{"
    for (i, element) in elements.enumerated() {
        if i > 0 { out += "," }
        out += "\""
        for c in element.unicodeScalars {
            if c == "\"" || c == "\\" { out.unicodeScalars.append("\\") }
            out.unicodeScalars.append(c)
        }
        out += "\""
    }
    return out + "}"
}

extension Money {
    /// Reads an amount as the projection stored it: major units, exactly the currency's
    /// fraction digits or fewer, possibly negative (a damaged log can saturate a sum).
    static func exact(_ text: String, _ currency: Currency) throws -> Money {
        var units: Int64 = 0
        var negative = false
        var fraction = -1
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "-") where units == 0 && !negative && fraction < 0:
                negative = true
            case UInt8(ascii: "."):
                guard fraction < 0 else { throw StoredAmountError(text: text, currency: currency) }
                fraction = 0
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                if fraction >= 0 { fraction += 1 }
                let (times10, o1) = units.multipliedReportingOverflow(by: 10)
                let (sum, o2) = times10.addingReportingOverflow(Int64(byte - UInt8(ascii: "0")))
                guard !o1, !o2 else { throw StoredAmountError(text: text, currency: currency) }
                units = sum
            default:
                throw StoredAmountError(text: text, currency: currency)
            }
        }
        let digits = max(fraction, 0)
        guard digits <= currency.exponent else { throw StoredAmountError(text: text, currency: currency) }
        for _ in digits..<currency.exponent {
            let (times10, overflow) = units.multipliedReportingOverflow(by: 10)
            guard !overflow else { throw StoredAmountError(text: text, currency: currency) }
            units = times10
        }
        return Money(minorUnits: negative ? -units : units, currency: currency)
    }
}

/// A stored amount that is not an exact amount of its row's currency.
public struct StoredAmountError: Error, Sendable, CustomStringConvertible {
    public var text: String
    public var currency: Currency
    public var description: String { "stored amount '\(text)' is not an exact amount of \(currency.code)" }
}

extension Row {
    func money(at column: Int, _ currency: Currency) throws -> Money {
        try Money.exact(try decode(String.self, at: column), currency)
    }

    func optionalMoney(at column: Int, _ currency: Currency) throws -> Money? {
        guard let text = try decode(String?.self, at: column) else { return nil }
        return try Money.exact(text, currency)
    }
}
