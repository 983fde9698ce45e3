import JSON

/// What the four row types share, so one fold serves them all.
public protocol ReportRow: Sendable, Equatable {
    static func key(of event: LedgerEvent) -> String?
    init?(startingWith event: LedgerEvent)
    mutating func apply(_ event: LedgerEvent)
    static var columns: [String] { get }
    /// The row object of `ledger report … --format json`: the contract's keys, exact values.
    var json: JSON { get }
}

extension PortfolioPosition: ReportRow {}
extension LabSummary: ReportRow {}
extension OrderSummary: ReportRow {}
extension SupplyPosition: ReportRow {}
