import EventCodec
import EventStore
import JSON
import Ledger
import Postgres

/// A typed event with its place in the log.
struct LoggedEvent: Sendable {
    var checkpoint: Checkpoint
    var position: Int64 { checkpoint.position }
    var event: LedgerEvent
}

/// Reads the log for folding: only the columns a fold needs (no metadata, hash or ids), in
/// large keyset pages over the (transaction_id, position) index, so a replay of millions of
/// events is bounded in memory by one page.
struct EventLog {
    let connection: PostgresConnection
    /// The table itself for the runner and the rebuild (they write, and run on whatever
    /// schema the database has), or its view in schema reporting for read commands, which a
    /// ledger_reporting login may read (Schema/008, 011). Aliased `events` either way.
    var relation = "public.events AS events"

    /// The relation's name without its alias, for subqueries.
    var logTable: String { relation.hasPrefix("reporting.") ? "reporting.event_log" : "events" }

    init(connection: PostgresConnection, readable: Bool = false) {
        self.connection = connection
        if readable { relation = "reporting.event_log AS events" }
    }

    /// Which events to read.
    struct Filter {
        /// Only events with a business date on or before this day.
        var asOf: Day? = nil
        /// Only events at or before this checkpoint.
        var through: Checkpoint? = nil
        /// Only events after this checkpoint (the log past a snapshot).
        var after: Checkpoint? = nil
        /// Only streams with one of these prefixes (`order-`), plus these types; nil: all.
        var streamPrefixes: [String]? = nil
        var types: [String] = []
        /// Only transactions older than every one still running (the runner's rule); false
        /// reads whatever the snapshot sees, for a one-off fold in one snapshot.
        var settledOnly = true
        /// Only events recorded at or before this instant (`--known-at`).
        var knownAt: Timestamp? = nil
        /// Leave out reversed events and the reversals themselves: a reversal counts when
        /// it passes the same date, checkpoint and recorded-time conditions as the events.
        var withoutReversed = true
        /// Only these streams, plus order dispatches of this SKU (one report row's events).
        var streams: [String]? = nil
        var dispatchesOfSKU: String? {
            get { dispatchesOfSKUs?.first }
            set { dispatchesOfSKUs = newValue.map { [$0] } }
        }
        /// With `streams`: also the order dispatches of these SKUs (supply rows' events).
        var dispatchesOfSKUs: [String]? = nil

        /// The date, checkpoint and recorded-time conditions on the rows of `alias`.
        private func bounds(_ alias: String) -> SQL {
            var sql: SQL = ""
            if let asOf {
                sql += "\n  AND \(literal: alias).business_date <= \(asOf.sqlDate)::date"
            }
            if let through {
                sql += "\n  AND (\(literal: alias).transaction_id, \(literal: alias).position) <= (\(String(through.transactionID))::text::xid8, \(through.position)::bigint)"
            }
            if let knownAt {
                sql += "\n  AND \(literal: alias).recorded_at <= \(knownAt)::timestamptz"
            }
            return sql
        }

        /// This filter's conditions on a query over `events`, to append to it (their
        /// parameters are numbered after the query's own).
        func conditions(log: String = "events") -> SQL {
            var sql = bounds("events")
            if withoutReversed {
                // The partial index events_reversals (Schema/010) answers the NOT EXISTS.
                sql += "\n  AND events.type <> 'entry.reversed'"
                sql += "\n  AND NOT EXISTS (SELECT 1 FROM \(literal: log) r WHERE r.type = 'entry.reversed'"
                sql += " AND (r.payload->>'reverses')::bigint = events.position"
                sql += bounds("r")
                sql += ")"
            }
            if let after {
                sql += "\n  AND (events.transaction_id, events.position) > (\(String(after.transactionID))::text::xid8, \(after.position)::bigint)"
            }
            if let streams {
                if let dispatchesOfSKUs {
                    sql += "\n  AND (events.stream = ANY (\(PostgresArray(streams))::text[]) OR (events.type = 'order.shipment_dispatched' AND events.payload->>'sku' = ANY (\(PostgresArray(dispatchesOfSKUs))::text[])))"
                } else {
                    sql += "\n  AND events.stream = ANY (\(PostgresArray(streams))::text[])"
                }
            }
            if let streamPrefixes {
                sql += "\n  AND (stream LIKE ANY (\(PostgresArray(streamPrefixes.map { $0 + "%" }))::text[]) OR type = ANY (\(PostgresArray(types))::text[]))"
            }
            return sql
        }
    }

    /// Up to `limit` events after `checkpoint` in log order, never passing an event whose
    /// transaction is still running (the same rule as `EventStore.readAll`).
    func page(after checkpoint: Checkpoint, limit: Int, filter: Filter = Filter()) throws -> (
        events: [LoggedEvent], last: Checkpoint?
    ) {
        let rows = try rows(after: checkpoint, limit: limit, filter: filter)
        var events: [LoggedEvent] = []
        events.reserveCapacity(rows.count)
        for row in rows {
            events.append(try Self.decode(row))
        }
        return (events, events.last?.checkpoint)
    }

    /// The rows of `page` as the server sent them, for a reader that decodes them elsewhere
    /// (`Self.decode`; `Self.checkpoint` of the last one is where the next page starts).
    /// `recordedAt`: each row also has its `recorded_at` (column 6).
    func rows(after checkpoint: Checkpoint, limit: Int, filter: Filter = Filter(), recordedAt: Bool = false) throws -> Rows {
        var sql: SQL = """
            SELECT transaction_id::text::bigint, position, type, schema_version, payload::text, business_date\(literal: recordedAt ? ", recorded_at" : "")
            FROM \(literal: relation)
            WHERE (transaction_id, position) > (\(String(checkpoint.transactionID))::text::xid8, \(checkpoint.position)::bigint)
            """
        if filter.settledOnly { sql += "\n  AND transaction_id < (SELECT log_horizon())" }
        sql += filter.conditions(log: logTable)
        // Qualified: a bare `transaction_id` would name the bigint output column, which has
        // no index, and PostgreSQL would sort the whole rest of the log for every page.
        sql += "\nORDER BY events.transaction_id, events.position LIMIT \(limit)"
        return try connection.query(sql.text, sql.binds, prepared: true)
    }

    /// True when committed events after `checkpoint` wait behind a transaction that is still
    /// running (the reader may not pass it: see `page`).
    func hasHeldBackEvents(after checkpoint: Checkpoint) throws -> Bool {
        try connection.query(
            """
            SELECT EXISTS (SELECT 1 FROM \(relation)
              WHERE (transaction_id, position) > ($1::text::xid8, $2::bigint)
                AND transaction_id >= (SELECT log_horizon()))
            """, [String(checkpoint.transactionID), checkpoint.position], prepared: true
        )[0].decode(Bool.self, at: 0)
    }

    /// The last event a reader may take now (see `page`), or nil for an empty log.
    func end() throws -> Checkpoint? {
        let rows = try connection.query(
            """
            SELECT transaction_id::text::bigint, position FROM \(relation)
            WHERE transaction_id < (SELECT log_horizon())
            ORDER BY events.transaction_id DESC, events.position DESC LIMIT 1
            """)
        guard let row = rows.first else { return nil }
        return Checkpoint(
            transactionID: UInt64(try row.decode(Int64.self, at: 0)), position: try row.decode(Int64.self, at: 1))
    }

    /// How many events `forEachPage(after: .start, …, filter:)` would read.
    func count(filter: Filter) throws -> Int {
        var sql: SQL = "SELECT count(*) FROM \(literal: relation) WHERE transaction_id < (SELECT log_horizon())"
        sql += filter.conditions(log: logTable)
        return try connection.query(sql.text, sql.binds)[0].decode(Int.self, at: 0)
    }

    /// Every event the filter selects, in log order, in one query streamed row by row: for a
    /// one-off fold inside one snapshot (`--as-of`), where PostgreSQL may filter first and
    /// sort what is left instead of walking the whole log in order page by page.
    func forEachEvent(filter: Filter, _ body: (LoggedEvent) throws -> Void) throws {
        var sql: SQL = """
            SELECT transaction_id::text::bigint, position, type, schema_version, payload::text, business_date
            FROM \(literal: relation)
            WHERE true
            """
        if filter.settledOnly { sql += "\n  AND transaction_id < (SELECT log_horizon())" }
        sql += filter.conditions(log: logTable)
        sql += "\nORDER BY events.transaction_id, events.position"
        try connection.forEachRow(sql.text, sql.binds) { row in try body(try Self.decode(row)) }
    }

    /// Calls `body` with every page after `checkpoint` until the log (as filtered) is read.
    func forEachPage(
        after checkpoint: Checkpoint, pageSize: Int, filter: Filter = Filter(), _ body: ([LoggedEvent]) throws -> Void
    ) throws {
        var cursor = checkpoint
        while true {
            let (events, last) = try page(after: cursor, limit: pageSize, filter: filter)
            if !events.isEmpty { try body(events) }
            guard let last, events.count == pageSize else { return }
            cursor = last
        }
    }

    /// The events at these positions (those that exist), for the runner to see what a
    /// reversal reverses.
    func events(at positions: [Int64]) throws -> [Int64: LedgerEvent] {
        guard !positions.isEmpty else { return [:] }
        var out: [Int64: LedgerEvent] = [:]
        for row in try connection.query(
            """
            SELECT transaction_id::text::bigint, position, type, schema_version, payload::text, business_date
            FROM \(relation) WHERE position = ANY ($1::bigint[])
            """, [PostgresArray(positions)], prepared: true)
        {
            let logged = try Self.decode(row)
            out[logged.position] = logged.event
        }
        return out
    }

    /// One report row folded again from its events up to `through`, without the events
    /// reversed by then (nil when none is left, e.g. its creating event was reversed).
    func refold<Row: ProjectionTable>(_ type: Row.Type, key: String, through: Checkpoint) throws -> Row? {
        var filter = Filter(through: through, settledOnly: false)
        filter.streams = [Row.projection.stream(forKey: key)]
        if Row.projection == .supply { filter.dispatchesOfSKU = key }
        var row: Row?
        try forEachEvent(filter: filter) { logged in
            if row != nil { row!.apply(logged.event) } else { row = Row(startingWith: logged.event) }
        }
        return row
    }

    /// Where a row of `rows(after:limit:filter:)` stands in the log.
    static func checkpoint(_ row: Row) throws -> Checkpoint {
        Checkpoint(transactionID: UInt64(try row.decode(Int64.self, at: 0)), position: try row.decode(Int64.self, at: 1))
    }

    static func decode(_ row: Row) throws -> LoggedEvent {
        let transactionID = UInt64(try row.decode(Int64.self, at: 0))
        let position = try row.decode(Int64.self, at: 1)
        let type = try row.decode(String.self, at: 2)
        let schemaVersion = try row.decode(Int.self, at: 3)
        let payload = try row.decode(JSON.self, at: 4)
        let date = try row.decode(SQLDate.self, at: 5)
        do {
            let day = try Day(year: date.year, month: date.month, day: date.day)
            let event = try LedgerEvent.decode(type: type, schemaVersion: schemaVersion, date: day, payload: payload)
            return LoggedEvent(checkpoint: Checkpoint(transactionID: transactionID, position: position), event: event)
        } catch {
            throw UnreadableEvent(position: position, reason: "\(error)")
        }
    }
}

extension ProjectionName {
    /// The stream that holds the events of one row of this projection (for supply, with
    /// the order dispatches of its SKU).
    func stream(forKey key: String) -> String {
        switch self {
        case .portfolio: StreamName.investment(key).rawValue
        case .labs: StreamName.lab(key).rawValue
        case .orders: StreamName.order(key).rawValue
        case .supply: StreamName.supply(sku: key).rawValue
        }
    }

    /// The slice of the log this projection reads: its streams, plus order dispatches for
    /// supply (they carry the SKU).
    var logFilter: EventLog.Filter {
        switch self {
        case .portfolio: EventLog.Filter(streamPrefixes: ["investment-"])
        case .labs: EventLog.Filter(streamPrefixes: ["lab-"])
        case .orders: EventLog.Filter(streamPrefixes: ["order-"])
        case .supply: EventLog.Filter(streamPrefixes: ["supply-"], types: ["order.shipment_dispatched"])
        }
    }
}
