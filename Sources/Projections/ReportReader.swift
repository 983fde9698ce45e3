import EventStore
import Ledger
import Postgres

/// The four reports as the CLI prints them, in the domain's own row types, so the JSON
/// row (`json`) and formatted money come from one place whichever way a report is read.
///
/// Without a date, rows come from the projection tables (as fresh as the last
/// `ledger projections run`). With `asOf`, the report is folded from the events whose
/// business date is on or before that day, with the same `Reports` fold.
public struct ReportReader {
    public let connection: PostgresConnection

    public init(connection: PostgresConnection) {
        self.connection = connection
    }

    public func portfolio(asOf: Day? = nil) throws -> [PortfolioPosition] {
        guard let asOf else { return try stored(PortfolioPosition.self) }
        return try fold(.portfolio, asOf: asOf).portfolio
    }

    public func labs(asOf: Day? = nil) throws -> [LabSummary] {
        guard let asOf else { return try stored(LabSummary.self) }
        return try fold(.labs, asOf: asOf).labs
    }

    public func orders(asOf: Day? = nil) throws -> [OrderSummary] {
        guard let asOf else { return try stored(OrderSummary.self) }
        return try fold(.orders, asOf: asOf).orders
    }

    public func supply(asOf: Day? = nil) throws -> [SupplyPosition] {
        guard let asOf else { return try stored(SupplyPosition.self) }
        return try fold(.supply, asOf: asOf).supply
    }

    private func stored<Row: ProjectionTable>(_ type: Row.Type) throws -> [Row] {
        // Sorted by the server in byte order (what Swift's `<` gives for slugs): cheaper than
        // moving 100,000 row structs around in a sort here.
        let rows = try connection.query(
            "SELECT " + Row.loadColumns + " FROM " + Row.table + " ORDER BY " + Row.keyColumn + " COLLATE \"C\"",
            prepared: true)
        var out: [Row] = []
        out.reserveCapacity(rows.count)
        for row in rows { out.append(try Row(row: row)) }
        return out
    }

    /// Folds the events of one report's streams up to `asOf`, in log order.
    private func fold(_ name: ProjectionName, asOf: Day) throws -> Reports {
        var filter = name.logFilter
        filter.asOf = asOf
        filter.settledOnly = false
        var reports = Reports()
        try EventLog(connection: connection).forEachEvent(filter: filter) { reports.apply($0.event) }
        return reports
    }
}
