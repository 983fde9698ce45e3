/// All four reports folded from events in log order: what `--as-of` reports and `verify`
/// compute from the log, with the very row types the projections store, so a report is the
/// same figure whichever way it was reached.
public struct Reports: Sendable, Equatable {
    private var positions: [String: PortfolioPosition] = [:]
    private var labRows: [String: LabSummary] = [:]
    private var orderRows: [String: OrderSummary] = [:]
    private var supplyRows: [String: SupplyPosition] = [:]
    /// Startup names, for the portfolio's `startup_name`, from the registrations this fold
    /// sees (a fold of one report's streams sees none: `ProjectionTable.complete` looks them up).
    private var startupNames: [String: String] = [:]

    public init() {}

    public mutating func apply(_ event: LedgerEvent) {
        if case .startup(.registered(let id, let name, _, _)) = event.fact { startupNames[id] = name }
        Reports.fold(event, into: &positions)
        Reports.fold(event, into: &labRows)
        Reports.fold(event, into: &orderRows)
        Reports.fold(event, into: &supplyRows)
    }

    private static func fold<Row: ReportRow>(_ event: LedgerEvent, into rows: inout [String: Row]) {
        guard let key = Row.key(of: event) else { return }
        if rows[key] != nil {
            rows[key]!.apply(event)
        } else if let row = Row(startingWith: event) {
            rows[key] = row
        }
    }

    public var portfolio: [PortfolioPosition] {
        positions.values.sorted { $0.investment < $1.investment }.map { position in
            var position = position
            if position.startupName == nil { position.startupName = startupNames[position.startup] }
            return position
        }
    }
    public var labs: [LabSummary] { labRows.values.sorted { $0.lab < $1.lab } }
    public var orders: [OrderSummary] { orderRows.values.sorted { $0.order < $1.order } }
    public var supply: [SupplyPosition] { supplyRows.values.sorted { $0.sku < $1.sku } }
}
