import JSON

/// One column of a report: its name (the JSON key, the CSV header, the table header in
/// upper case) and the kind of value it holds, which decides how every format writes it.
/// Printers need only these; the row types say how to read each column's value
/// (`ReportColumns`).
public struct ReportColumn: Sendable, Equatable {
    public let name: String
    public let kind: ReportColumnKind

    public init(_ name: String, _ kind: ReportColumnKind) {
        self.name = name
        self.kind = kind
    }
}

/// How a report column's value is written: JSON and CSV carry exact values, a table shows
/// amounts with their currency.
public enum ReportColumnKind: Sendable, Equatable {
    /// A JSON string; an empty CSV cell is the empty string.
    case text
    /// A JSON string or null; an empty CSV cell is null (MOIC before any disbursement).
    case optionalText
    /// An amount: a JSON decimal string, shown as `¥4,500,000` in a table.
    case money
    /// An amount or nothing (a post-money valuation not recorded): a JSON decimal string or
    /// null; an empty CSV cell is null.
    case optionalMoney
    /// A count of units: a JSON number.
    case integer
    /// A list or an object of a report (partners, milestones, spending by category): JSON in
    /// JSON, one flat cell in CSV (`RIKEN; University of Tokyo`), never JSON inside a cell.
    case json
    /// Any other JSON value (an event's payload, a figure of a bench run): JSON in JSON, its
    /// canonical JSON text in a CSV cell.
    case value
}

/// A report's columns, each declared once with how to read its value from a row: the
/// columns' names and kinds, every row's cells (and so its JSON object, CSV line and table
/// cells) all come from this one list, in its order.
///
/// ```swift
/// static let report = ReportColumns<SupplyPosition>([
///     .text("sku") { $0.sku }, .integer("received") { $0.received }, …
/// ])
/// ```
public struct ReportColumns<Row>: Sendable {
    /// One column and how to read it.
    public struct Column: Sendable {
        public let column: ReportColumn
        let read: @Sendable (Row) -> ReportCell

        public static func text(_ name: String, _ read: @escaping @Sendable (Row) -> String) -> Column {
            Column(column: ReportColumn(name, .text)) { .text(read($0)) }
        }

        public static func optionalText(_ name: String, _ read: @escaping @Sendable (Row) -> String?) -> Column {
            Column(column: ReportColumn(name, .optionalText)) { .optionalText(read($0)) }
        }

        public static func money(_ name: String, _ read: @escaping @Sendable (Row) -> Money) -> Column {
            Column(column: ReportColumn(name, .money)) { .money(read($0)) }
        }

        public static func optionalMoney(_ name: String, _ read: @escaping @Sendable (Row) -> Money?) -> Column {
            Column(column: ReportColumn(name, .optionalMoney)) { .optionalMoney(read($0)) }
        }

        public static func integer(_ name: String, _ read: @escaping @Sendable (Row) -> Int64) -> Column {
            Column(column: ReportColumn(name, .integer)) { .integer(read($0)) }
        }

        /// A list or object of the report (partners, milestones, spending by category),
        /// with what a table shows for it.
        public static func json(_ name: String, _ read: @escaping @Sendable (Row) -> (JSON, display: String)) -> Column {
            Column(column: ReportColumn(name, .json)) {
                let (value, display) = read($0)
                return .json(value, display: display)
            }
        }
    }

    public let columns: [ReportColumn]
    private let readers: [@Sendable (Row) -> ReportCell]

    public init(_ columns: [Column]) {
        self.columns = columns.map(\.column)
        self.readers = columns.map(\.read)
    }

    /// A row's values, in column order.
    public func cells(of row: Row) -> [ReportCell] { readers.map { $0(row) } }

    /// A row's JSON object: the columns' names, the cells' exact values.
    public func json(of row: Row) -> JSON {
        var members: [String: JSON] = [:]
        for (column, read) in zip(columns, readers) { members[column.name] = read(row).json }
        return .object(members)
    }
}
