import EventStore
import Foundation
import Ledger
import Postgres

/// Snapshots that let `--as-of`, `--known-at` and `--as-issued` reports answer without
/// folding the whole log (Schema/015_time_travel_snapshots.sql).
///
/// The projector keeps, for every report row, its state at the end of each month in which
/// the row has an event, over the settled log up to one checkpoint (`extend`), and a copy
/// of each report as issued at each period close (`storeIssuedReports`). A reader takes the
/// entries it can use and folds only what they do not cover, with the same domain fold:
///
/// - The history holds every event at or before its checkpoint, and only settled ones, so
///   the events after it are exactly those a reader must add. They come after every event
///   of the history in log order, so folding them on top of a row's state is the fold of the
///   whole log — except where one of them is a reversal: the rows it touches are folded
///   again from their own events (as the projections do).
/// - A month-end entry is the state as of that month end. Mid-month, the rows with an
///   entry in that month are the ones that may differ from the previous month end: they
///   are folded again from their own events; every other row is its previous month-end
///   state.
/// - `--known-at T` may use the history only when every event it covers was recorded by T;
///   `--as-issued` only the copy stored for its close. Anything else is folded from the log
///   as before, so a snapshot never changes an answer, it only makes it cheaper.
public enum ReportHistory {
    /// The last day of `day`'s month: the month an event's entry belongs to.
    static func monthEnd(_ day: Day) -> Day {
        for last in [31, 30, 29, 28] {
            if let end = try? Day(year: day.year, month: day.month, day: last) { return end }
        }
        return day
    }

    /// The last day of the month before `day`'s.
    static func previousMonthEnd(_ day: Day) -> Day {
        day.month == 1 ? try! Day(year: day.year - 1, month: 12, day: 31) : monthEnd(try! Day(year: day.year, month: day.month - 1, day: 1))
    }

    /// The number of columns `loadColumns` reads (commas outside parentheses).
    static func columnCount(_ expressions: String) -> Int {
        var depth = 0
        var count = 1
        for c in expressions.utf8 {
            if c == UInt8(ascii: "(") { depth += 1 } else if c == UInt8(ascii: ")") { depth -= 1 } else if c == UInt8(ascii: ","), depth == 0 { count += 1 }
        }
        return count
    }
}

// MARK: - The row history: a row's state at each month end

/// One row's month-end states, oldest first: the state at `months[i]` is the fold of the
/// row's events dated on or before it (nil: no row then).
struct MonthChain<Row: ProjectionTable> {
    var months: [Day] = []
    var rows: [Row?] = []

    /// Folds in an event that comes after every event already folded (in log order): it
    /// changes the state at its own month end and at every later one.
    mutating func apply(_ event: LedgerEvent) {
        let month = ReportHistory.monthEnd(event.date)
        var low = 0
        var high = months.count
        while low < high {
            let mid = (low + high) / 2
            if months[mid] < month { low = mid + 1 } else { high = mid }
        }
        if low == months.count || months[low] != month {
            months.insert(month, at: low)
            rows.insert(low > 0 ? rows[low - 1] : nil, at: low)
        }
        for i in low..<months.count { rows[i] = Self.fold(rows[i], event) }
    }

    /// As `Reports` folds: the first event of a key starts its row, the others apply to it.
    static func fold(_ row: Row?, _ event: LedgerEvent) -> Row? {
        guard var row else { return Row(startingWith: event) }
        row.apply(event)
        return row
    }
}

extension ReportHistory {
    /// Brings the history up to the settled log: folds every event after its checkpoint
    /// into the month-end states of the rows it touches, rewrites those rows' entries, and
    /// moves the checkpoint — in one transaction, so a reader sees the history and its
    /// checkpoint agree. Returns the number of events folded in.
    ///
    /// Events are read with the projections' late-commit rule (only transactions older than
    /// every one still running), so an event that commits late is after the checkpoint and
    /// a reader folds it on top; it is never skipped.
    @discardableResult
    public static func extend(on connection: PostgresConnection, pageSize: Int = 20_000, rowsHeld: Int = 50_000)
        throws -> Int
    {
        try connection.transaction { db in
            let row = try db.query(
                "SELECT transaction_id, position FROM projections.history_checkpoint FOR UPDATE", prepared: true)
            guard let row = row.first else { return 0 }
            let from = Checkpoint(
                transactionID: UInt64(try row.decode(Int64.self, at: 0)), position: try row.decode(Int64.self, at: 1))
            let portfolio = Chains<PortfolioPosition>(limit: rowsHeld)
            let labs = Chains<LabSummary>(limit: rowsHeld)
            let orders = Chains<OrderSummary>(limit: rowsHeld)
            let supply = Chains<SupplyPosition>(limit: rowsHeld)
            let log = EventLog(connection: db)
            var last: Checkpoint?
            var folded = 0
            try log.forEachPage(after: from, pageSize: pageSize, filter: EventLog.Filter(withoutReversed: false)) { page in
                var reversed: [Int64] = []
                for entry in page { if case .entry(let e) = entry.event.fact { reversed.append(e.reverses) } }
                let originals = try log.events(at: reversed)
                let through = page.last!.checkpoint
                // Held across pages and written when a report holds too many rows or the fold
                // ends (all in this one transaction), so memory stays bounded however long the log.
                try portfolio.fold(page, originals: originals, through: through, on: db)
                try labs.fold(page, originals: originals, through: through, on: db)
                try orders.fold(page, originals: originals, through: through, on: db)
                try supply.fold(page, originals: originals, through: through, on: db)
                last = through
                folded += page.count
            }
            guard let last else { return 0 }
            try portfolio.flush(on: db)
            try labs.flush(on: db)
            try orders.flush(on: db)
            try supply.flush(on: db)
            try db.query(
                """
                UPDATE projections.history_checkpoint
                SET transaction_id = $1, position = $2, updated_at = now(),
                    max_recorded_at = (SELECT max(m) FROM (
                        SELECT max_recorded_at AS m
                        UNION ALL
                        SELECT max(recorded_at) FROM events
                        WHERE (transaction_id, position) > ($3::text::xid8, $4::bigint)
                          AND (transaction_id, position) <= ($5::text::xid8, $2::bigint)) AS covered)
                """, [Int64(last.transactionID), last.position, String(from.transactionID), from.position, String(last.transactionID)])
            return folded
        }
    }

    /// Forgets the history and the issued copies (`ledger projections rebuild`): the next
    /// `extend` folds the whole log again.
    public static func reset(on db: PostgresConnection) throws {
        try db.transaction { db in
            try db.query("SELECT 1 FROM projections.history_checkpoint FOR UPDATE")
            try db.query("DELETE FROM projections.report_history")
            try db.query("DELETE FROM projections.issued_closes")
            try db.query(
                "UPDATE projections.history_checkpoint SET transaction_id = 0, position = 0, max_recorded_at = NULL, updated_at = now()")
        }
    }

    /// One report's rows touched by the log being folded, with their month-end states.
    ///
    /// The chains stay in memory across pages and are written once, when the fold ends or
    /// when more than `limit` rows are held (then all are written and forgotten), so a row
    /// touched on many pages is loaded and rewritten once, not once per page, while memory
    /// stays bounded however long the log.
    final class Chains<Row: ProjectionTable> {
        var chains: [String: MonthChain<Row>] = [:]
        var dirty: Set<String> = []
        let limit: Int

        init(limit: Int) { self.limit = limit }

        /// Folds a page into the entries of the rows it touches; `through` is the page's
        /// last event.
        func fold(_ page: [LoggedEvent], originals: [Int64: LedgerEvent], through: Checkpoint, on db: PostgresConnection)
            throws
        {
            // Rows a reversal touched: folded again from the log up to `through`.
            var refold: Set<String> = []
            var keys = Set<String>()
            for entry in page {
                if case .entry(let e) = entry.event.fact {
                    if let original = originals[e.reverses], let key = Row.key(of: original) { keys.insert(key) }
                } else if let key = Row.key(of: entry.event) {
                    keys.insert(key)
                }
            }
            let missing = keys.filter { chains[$0] == nil }
            if !missing.isEmpty {
                let loaded = try ReportHistory.load(Row.self, keys: Array(missing), on: db)
                for key in missing { chains[key] = loaded[key] ?? MonthChain() }
            }
            for entry in page {
                if case .entry(let e) = entry.event.fact {
                    if let original = originals[e.reverses], let key = Row.key(of: original) { refold.insert(key) }
                } else if let key = Row.key(of: entry.event), !refold.contains(key) {
                    chains[key]!.apply(entry.event)
                }
            }
            for key in refold { chains[key] = try ReportHistory.refoldChain(Row.self, key: key, through: through, on: db) }
            dirty.formUnion(keys)
            if chains.count > limit { try flush(on: db) }
        }

        /// Replaces the stored entries of every row changed since the last flush, and
        /// forgets the chains held.
        func flush(on db: PostgresConnection) throws {
            defer {
                chains = [:]
                dirty = []
            }
            guard !dirty.isEmpty else { return }
            let keys = Array(dirty)
            try db.query(
                "DELETE FROM projections.report_history WHERE projection = $1 AND key = ANY ($2::text[])",
                [Row.projection.rawValue, PostgresArray(keys)])
            var present: [(Day, Row)] = []
            var goneKeys: [String] = []
            var goneMonths: [String] = []
            for key in keys {
                guard let chain = chains[key] else { continue }
                var previous: Row?
                for (month, row) in zip(chain.months, chain.rows) {
                    if let row {
                        present.append((month, row))
                    } else if previous != nil {
                        goneKeys.append(key)
                        goneMonths.append(month.description)
                    }
                    previous = row
                }
            }
            if !goneKeys.isEmpty {
                try db.query(
                    """
                    INSERT INTO projections.report_history (projection, key, month, gone, state)
                    SELECT $1, k, m::date, true, NULL FROM unnest($2::text[], $3::text[]) AS u(k, m)
                    """, [Row.projection.rawValue, PostgresArray(goneKeys), PostgresArray(goneMonths)])
            }
            try ReportHistory.stage(present.map { ($0.0.description, $0.1) }, on: db) { stage in
                try db.query(
                    """
                    INSERT INTO projections.report_history (projection, key, month, gone, state)
                    SELECT $1, s.\(Row.keyColumn), s.history_at::date, false, to_jsonb(s) - 'history_at'
                    FROM \(stage) s
                    """, [Row.projection.rawValue])
            }
        }
    }

    /// Copies rows, each with a text label (`history_at`), into a temporary table shaped as
    /// the projection table, then lets `body` move them on (`to_jsonb` of its rows is the
    /// projection row, whatever columns that table has).
    static func stage<Row: ProjectionTable>(
        _ rows: [(String, Row)], on db: PostgresConnection, _ body: (String) throws -> Void
    ) throws {
        guard !rows.isEmpty else { return }
        let stage = "history_stage_\(Row.projection.rawValue)"
        // Names are this program's constants.
        try db.execute(
            script: """
                DROP TABLE IF EXISTS pg_temp.\(stage);
                CREATE TEMPORARY TABLE \(stage) (LIKE \(Row.table)) ON COMMIT DROP;
                ALTER TABLE pg_temp.\(stage) ADD COLUMN history_at text;
                """)
        try db.copyIn("COPY pg_temp.\(stage) (\(Row.tableColumns.joined(separator: ", ")), history_at) FROM STDIN") { writer in
            for (label, row) in rows { try writer.writeRow(row.columnValues + [label]) }
        }
        try body("pg_temp.\(stage)")
        try db.execute(script: "DROP TABLE pg_temp.\(stage)")
    }

    /// The stored month-end states of these rows (through schema reporting).
    static func load<Row: ProjectionTable>(_ type: Row.Type, keys: [String], on db: PostgresConnection) throws
        -> [String: MonthChain<Row>]
    {
        let width = columnCount(Row.loadColumns)
        var out: [String: MonthChain<Row>] = [:]
        // The view's row type turns the stored jsonb back into the columns `init(row:)` reads.
        try db.forEachRow(
            """
            SELECT \(Row.loadColumns), h.key, h.month, h.gone
            FROM reporting.report_history h
            LEFT JOIN LATERAL jsonb_populate_record(NULL::\(Row.readable), h.state) AS x ON true
            WHERE h.projection = $1 AND h.key = ANY ($2::text[])
            ORDER BY h.key, h.month
            """, [Row.projection.rawValue, PostgresArray(keys)]
        ) { row in
            let key = try row.decode(String.self, at: width)
            let date = try row.decode(SQLDate.self, at: width + 1)
            let gone = try row.decode(Bool.self, at: width + 2)
            out[key, default: MonthChain()].months.append(try Day(year: date.year, month: date.month, day: date.day))
            out[key]!.rows.append(gone ? nil : try Row(row: row))
        }
        return out
    }

    /// One row's month-end states folded afresh from its events up to `through`: each the
    /// fold of the events dated on or before that month end, without those reversed by a
    /// reversal dated on or before it.
    static func refoldChain<Row: ProjectionTable>(
        _ type: Row.Type, key: String, through: Checkpoint, on db: PostgresConnection
    ) throws -> MonthChain<Row> {
        var filter = EventLog.Filter(through: through, settledOnly: false, withoutReversed: false)
        filter.streams = [Row.projection.stream(forKey: key)]
        if Row.projection == .supply { filter.dispatchesOfSKU = key }
        var events: [LoggedEvent] = []
        try EventLog(connection: db).forEachEvent(filter: filter) { logged in
            if case .entry = logged.event.fact { return }
            if Row.key(of: logged.event) == key { events.append(logged) }
        }
        // When each event was reversed (business date), if it was by `through`.
        var reversedOn: [Int64: Day] = [:]
        if !events.isEmpty {
            for row in try db.query(
                """
                SELECT (payload->>'reverses')::bigint, min(business_date) FROM events
                WHERE type = 'entry.reversed' AND (payload->>'reverses')::bigint = ANY ($1::bigint[])
                  AND (transaction_id, position) <= ($2::text::xid8, $3::bigint)
                GROUP BY 1
                """, [PostgresArray(events.map(\.position)), String(through.transactionID), through.position])
            {
                let date = try row.decode(SQLDate.self, at: 1)
                reversedOn[try row.decode(Int64.self, at: 0)] = try Day(year: date.year, month: date.month, day: date.day)
            }
        }
        let months = Set(events.map { monthEnd($0.event.date) } + reversedOn.values.map(monthEnd)).sorted()
        var chain = MonthChain<Row>()
        for month in months {
            var row: Row?
            for logged in events where logged.event.date <= month {
                if let reversal = reversedOn[logged.position], reversal <= month { continue }
                row = MonthChain<Row>.fold(row, logged.event)
            }
            chain.months.append(month)
            chain.rows.append(row)
        }
        return chain
    }
}

// MARK: - Issued reports: each report as it stood at a period close

extension ReportHistory {
    /// Stores the four reports as issued at every period close that has no stored copy yet
    /// (folded from the log once; `--as-issued` then reads them back). Returns how many
    /// closes were stored. A close reopened later keeps its copy: it stays what was issued.
    @discardableResult
    public static func storeIssuedReports(on connection: PostgresConnection) throws -> Int {
        let closes = try connection.query(
            """
            SELECT e.position, e.transaction_id::text::bigint, e.payload->>'through' FROM events e
            WHERE e.stream = 'periods' AND e.type = 'period.closed'
              AND e.transaction_id < (SELECT log_horizon())
              AND NOT EXISTS (SELECT 1 FROM projections.issued_closes c WHERE c.close_position = e.position)
            ORDER BY e.position
            """)
        var stored = 0
        for close in closes {
            let position = try close.decode(Int64.self, at: 0)
            let checkpoint = Checkpoint(transactionID: UInt64(try close.decode(Int64.self, at: 1)), position: position)
            let through = try Day(try close.decode(String.self, at: 2))
            try connection.transaction(.repeatableRead) { db in
                // Another projector may have stored it meanwhile.
                let inserted = try db.query(
                    "INSERT INTO projections.issued_closes (close_position, through) VALUES ($1, $2::date) ON CONFLICT DO NOTHING RETURNING 1",
                    [position, through.sqlDate])
                guard !inserted.isEmpty else { return }
                let view = ReportView(asOf: through, through: checkpoint)
                let reader = ReportReader(connection: db, useSnapshots: false)
                try store(try reader.portfolio(view), close: position, on: db)
                try store(try reader.labs(view), close: position, on: db)
                try store(try reader.orders(view), close: position, on: db)
                try store(try reader.supply(view), close: position, on: db)
            }
            stored += 1
        }
        return stored
    }

    static func store<Row: ProjectionTable>(_ rows: [Row], close: Int64, on db: PostgresConnection) throws {
        try stage(rows.map { ("", $0) }, on: db) { stage in
            try db.query(
                """
                INSERT INTO projections.issued_reports (close_position, projection, key, state)
                SELECT $1, $2, s.\(Row.keyColumn), to_jsonb(s) - 'history_at' FROM \(stage) s
                """, [close, Row.projection.rawValue])
        }
    }
}

// MARK: - Reading

extension ReportHistory {
    /// The report for `view` from the snapshots, or nil when they cannot answer it exactly
    /// (the caller folds the log). Runs inside the caller's repeatable-read transaction, so
    /// the history, its checkpoint and the log after it are one snapshot.
    static func rows<Row: ProjectionTable>(_ type: Row.Type, _ view: ReportView, on db: PostgresConnection, readable: Bool)
        throws -> [Row]?
    {
        let log = EventLog(connection: db, readable: readable)
        if let through = view.through {
            // Only the copy stored for that very close, as of its own date.
            guard let asOf = view.asOf, view.knownAt == nil else { return nil }
            let stored = try db.query(
                "SELECT 1 FROM reporting.issued_closes WHERE close_position = $1 AND through = $2::date",
                [through.position, asOf.sqlDate], prepared: true)
            // The checkpoint must be that close's (an --as-issued view is built from it).
            guard !stored.isEmpty else { return nil }
            var out: [Row] = []
            // Sorted here, not by the server (a sort of 100,000 jsonb rows).
            try db.forEachRow(
                """
                SELECT \(Row.loadColumns) FROM reporting.issued_reports h
                CROSS JOIN LATERAL jsonb_populate_record(NULL::\(Row.readable), h.state) AS x
                WHERE h.close_position = $1 AND h.projection = $2
                """, [through.position, Row.projection.rawValue]
            ) { row in out.append(try Row(row: row)) }
            return out.sorted { $0.key < $1.key }
        }
        let meta = try db.query(
            "SELECT transaction_id, position, max_recorded_at FROM reporting.history_checkpoint", prepared: true)
        guard let meta = meta.first else { return nil }
        let covered = Checkpoint(
            transactionID: UInt64(try meta.decode(Int64.self, at: 0)), position: try meta.decode(Int64.self, at: 1))
        if let knownAt = view.knownAt, covered != .start {
            // Every event the history covers must count: all recorded by then.
            guard let latest = try meta.decode(Timestamp?.self, at: 2), latest <= knownAt else { return nil }
        }
        var rows: [String: Row] = [:]
        var refold = Set<String>()
        if covered != .start {
            var bound: Day?
            if let asOf = view.asOf {
                if monthEnd(asOf) == asOf {
                    bound = asOf
                } else {
                    bound = previousMonthEnd(asOf)
                    // Rows that changed in asOf's month may differ from their previous
                    // month-end state: fold them again.
                    for row in try db.query(
                        "SELECT key FROM reporting.report_history WHERE projection = $1 AND month = $2::date",
                        [Row.projection.rawValue, monthEnd(asOf).sqlDate], prepared: true)
                    {
                        refold.insert(try row.decode(String.self, at: 0))
                    }
                }
            }
            let sql = """
                SELECT \(Row.loadColumns) FROM (
                    SELECT DISTINCT ON (key) key, gone, state FROM reporting.report_history
                    WHERE projection = $1\(bound == nil ? "" : " AND month <= $2::date")
                    ORDER BY key, month DESC) AS h
                CROSS JOIN LATERAL jsonb_populate_record(NULL::\(Row.readable), h.state) AS x
                WHERE NOT h.gone
                """
            var binds: [any PostgresBindable] = [Row.projection.rawValue]
            if let bound { binds.append(bound.sqlDate) }
            // The latest entry per key by walking the (projection, key, month DESC) index,
            // never by sorting every entry (jsonb rows; a plan the server may otherwise pick).
            try db.execute(script: "SET LOCAL enable_sort = off")
            try db.forEachRow(sql, binds) { row in
                let value = try Row(row: row)
                if !refold.contains(value.key) { rows[value.key] = value }
            }
            try db.execute(script: "SET LOCAL enable_sort = on")
        }
        // The log after the history: folded on top, or the row folded again after a reversal.
        var tail = Row.projection.logFilter
        tail.types.append("entry.reversed")
        tail.after = covered
        tail.asOf = view.asOf
        tail.knownAt = view.knownAt
        tail.settledOnly = false
        tail.withoutReversed = false
        var events: [LoggedEvent] = []
        var reversed: [Int64] = []
        try log.forEachEvent(filter: tail) { logged in
            if case .entry(let e) = logged.event.fact { reversed.append(e.reverses) }
            events.append(logged)
        }
        let originals = try log.events(at: reversed)
        for logged in events {
            if case .entry(let e) = logged.event.fact {
                if let original = originals[e.reverses], let key = Row.key(of: original) {
                    refold.insert(key)
                    rows[key] = nil
                }
            } else if let key = Row.key(of: logged.event), !refold.contains(key) {
                rows[key] = MonthChain<Row>.fold(rows[key], logged.event)
            }
        }
        if !refold.isEmpty {
            var filter = EventLog.Filter(asOf: view.asOf, settledOnly: false, knownAt: view.knownAt)
            let keys = Array(refold)
            filter.streams = keys.map { Row.projection.stream(forKey: $0) }
            if Row.projection == .supply { filter.dispatchesOfSKUs = keys }
            try log.forEachEvent(filter: filter) { logged in
                guard let key = Row.key(of: logged.event), refold.contains(key) else { return }
                rows[key] = MonthChain<Row>.fold(rows[key], logged.event)
            }
        }
        let out = rows.values.sorted { $0.key < $1.key }
        // The portfolio names each startup as registered by then (`Reports.portfolio`); the
        // registration is on the startup's stream, not in the row's state.
        if var positions = out as? [PortfolioPosition] {
            // By stream (its index), not by prefix (a scan of the whole log).
            var filter = EventLog.Filter(asOf: view.asOf, settledOnly: false, knownAt: view.knownAt)
            filter.streams = Set(positions.map(\.startup)).map { StreamName.startup($0).rawValue }
            var names: [String: String] = [:]
            try log.forEachEvent(filter: filter) { logged in
                if case .startup(.registered(let id, let name, _, _)) = logged.event.fact { names[id] = name }
            }
            for i in positions.indices { positions[i].startupName = names[positions[i].startup] }
            return positions as? [Row]
        }
        return out
    }
}
