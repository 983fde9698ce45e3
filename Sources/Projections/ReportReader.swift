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
    /// Read through the views of schema reporting (read commands: a ledger_reporting login,
    /// a hot standby) rather than the tables.
    public let readable: Bool
    /// Answer folded views from the snapshots the projector keeps (`ReportHistory`) where
    /// they can answer exactly; false folds the whole log (tests compare the two).
    public let useSnapshots: Bool

    public init(connection: PostgresConnection, readable: Bool = false, useSnapshots: Bool = true) {
        self.connection = connection
        self.readable = readable
        self.useSnapshots = useSnapshots
    }

    public func portfolio(asOf: Day? = nil) throws -> [PortfolioPosition] { try portfolio(ReportView(asOf: asOf)) }
    public func labs(asOf: Day? = nil) throws -> [LabSummary] { try labs(ReportView(asOf: asOf)) }
    public func orders(asOf: Day? = nil) throws -> [OrderSummary] { try orders(ReportView(asOf: asOf)) }
    public func supply(asOf: Day? = nil) throws -> [SupplyPosition] { try supply(ReportView(asOf: asOf)) }

    public func portfolio(_ view: ReportView) throws -> [PortfolioPosition] { try rows(PortfolioPosition.self, view) }
    public func labs(_ view: ReportView) throws -> [LabSummary] { try rows(LabSummary.self, view) }
    public func orders(_ view: ReportView) throws -> [OrderSummary] { try rows(OrderSummary.self, view) }
    public func supply(_ view: ReportView) throws -> [SupplyPosition] { try rows(SupplyPosition.self, view) }

    /// The current state from the projection, or the folded view: from the snapshots where
    /// they answer it, else from the whole log. Both in one repeatable-read snapshot, so the
    /// snapshots, their checkpoint and the log after it agree.
    func rows<Row: ProjectionTable>(_ type: Row.Type, _ view: ReportView) throws -> [Row] {
        guard view.isFolded else { return try stored(Row.self) }
        guard useSnapshots else { return try fullFold(Row.projection, view).rows(Row.self) }
        func answer(_ db: PostgresConnection) throws -> [Row] {
            // Plans over 100,000 rows would be JIT-compiled, which costs more than it saves.
            try db.execute(script: "SET LOCAL jit = off")
            if let rows = try ReportHistory.rows(Row.self, view, on: db, readable: readable) { return rows }
            return try ReportReader(connection: db, readable: readable, useSnapshots: false).fullFold(Row.projection, view)
                .rows(Row.self)
        }
        if connection.isInTransaction { return try answer(connection) }
        return try connection.transaction(.repeatableRead) { db in
            try db.execute(script: "SET TRANSACTION READ ONLY")
            return try answer(db)
        }
    }

    /// The fund report's fold: investments, startup names and FX rates dated on or before
    /// `asOf` (the report date). Always folded from the log: its figures depend on the
    /// report date (NAV, the rate for it, the IRR's last flow), which no stored row can hold.
    public func fund(asOf: Day) throws -> FundLedger { try fund(ReportView(asOf: asOf)) }

    /// The fund report's fold for a view: dated on or before its `asOf` (the report date, which
    /// the caller sets), recorded by its `knownAt`, in the log by its `through` (an issued
    /// report) — with the same filter as the other reports' folds, reversals included.
    public func fund(_ view: ReportView) throws -> FundLedger {
        var filter = EventLog.Filter(streamPrefixes: ["investment-", "startup-", "fx-"])
        filter.asOf = view.asOf
        filter.knownAt = view.knownAt
        filter.through = view.through
        filter.settledOnly = false
        var fund = FundLedger()
        try EventLog(connection: connection, readable: readable).forEachEvent(filter: filter) { fund.apply($0.event) }
        return fund
    }

    private func stored<Row: ProjectionTable>(_ type: Row.Type) throws -> [Row] {
        // Sorted by the server in byte order (what Swift's `<` gives for slugs): cheaper than
        // moving 100,000 row structs around in a sort here.
        let rows = try connection.query(
            "SELECT " + Row.loadColumns + " FROM " + (readable ? Row.readable : Row.table) + " ORDER BY " + Row.keyColumn + " COLLATE \"C\"",
            prepared: true)
        var out: [Row] = []
        out.reserveCapacity(rows.count)
        for row in rows { out.append(try Row(row: row)) }
        return out
    }

    /// The whole fold of one report for a view. The portfolio's with the startups'
    /// registrations the view selects, for their names: a startup registered after the
    /// view's date has no name yet, as in the fund report.
    func fullFold(_ name: ProjectionName, _ view: ReportView) throws -> Reports {
        try fold(name, view, alsoStreamsStartingWith: name == .portfolio ? ["startup-"] : [])
    }

    /// Folds the events of one report's streams the view selects, in log order, without
    /// the events reversed by a reversal the view also selects.
    private func fold(_ name: ProjectionName, _ view: ReportView, alsoStreamsStartingWith more: [String] = []) throws -> Reports {
        var filter = name.logFilter
        if !more.isEmpty { filter.streamPrefixes = (filter.streamPrefixes ?? []) + more }
        filter.asOf = view.asOf
        filter.knownAt = view.knownAt
        filter.through = view.through
        filter.settledOnly = false
        var reports = Reports()
        try EventLog(connection: connection, readable: readable).forEachEvent(filter: filter) { reports.apply($0.event) }
        return reports
    }
}

extension Reports {
    /// One report's rows, in key order.
    func rows<Row: ProjectionTable>(_ type: Row.Type) -> [Row] {
        switch Row.projection {
        case .portfolio: portfolio as! [Row]
        case .labs: labs as! [Row]
        case .orders: orders as! [Row]
        case .supply: supply as! [Row]
        }
    }
}

/// Which events a report counts. Current state (nothing set) reads the projections;
/// otherwise the report is folded from the log: events dated on or before `asOf` (what had
/// happened by then), recorded at or before `knownAt` (what the ledger had been told by
/// then), up to `through` in log order (the log as it stood at a period's close: an issued
/// report). A reversal counts under the same conditions as the events.
public struct ReportView: Sendable, Equatable {
    public var asOf: Day?
    public var knownAt: Timestamp?
    public var through: Checkpoint?

    public init(asOf: Day? = nil, knownAt: Timestamp? = nil, through: Checkpoint? = nil) {
        self.asOf = asOf
        self.knownAt = knownAt
        self.through = through
    }

    public var isFolded: Bool { asOf != nil || knownAt != nil || through != nil }
}

/// The close an `--as-issued DATE` report reproduces.
public struct IssuedClose: Sendable, Equatable {
    public var position: Int64
    public var checkpoint: Checkpoint
    public var recordedAt: Timestamp
}

extension ReportReader {
    /// The latest `period.closed` whose `through` is `date`, nil when there is none.
    public func close(through date: Day) throws -> IssuedClose? {
        let rows = try connection.query(
            """
            SELECT transaction_id::text::bigint, position, recorded_at FROM \(readable ? "reporting.event_log" : "events")
            WHERE stream = 'periods' AND type = 'period.closed' AND payload->>'through' = $1
            ORDER BY version DESC LIMIT 1
            """, [date.description], prepared: true)
        guard let row = rows.first else { return nil }
        let position = try row.decode(Int64.self, at: 1)
        return IssuedClose(
            position: position,
            checkpoint: Checkpoint(transactionID: UInt64(try row.decode(Int64.self, at: 0)), position: position),
            recordedAt: try row.decode(Timestamp.self, at: 2))
    }
}
