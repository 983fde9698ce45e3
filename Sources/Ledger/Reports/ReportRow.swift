import JSON

/// What the four row types share, so one fold serves them all.
public protocol ReportRow: Sendable, Equatable {
    static func key(of event: LedgerEvent) -> String?
    init?(startingWith event: LedgerEvent)
    mutating func apply(_ event: LedgerEvent)
    /// The report's columns, each declared once with how to read it from a row.
    static var report: ReportColumns<Self> { get }
}

extension ReportRow {
    /// The columns' names, in order (the JSON keys).
    public static var columns: [String] { report.columns.map(\.name) }
    /// The report's values, in column order: every format prints these.
    public var cells: [ReportCell] { Self.report.cells(of: self) }
    /// The row object of `ledger report … --format json`: the contract's keys, exact values.
    public var json: JSON { Self.report.json(of: self) }
}

extension PortfolioPosition: ReportRow {}
extension LabSummary: ReportRow {}
extension OrderSummary: ReportRow {}
extension SupplyPosition: ReportRow {}
