import EventStore
import Foundation
import JSON
import Ledger
import Postgres
import Synchronization

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
}

// MARK: - Stored states, decoded in the client

/// Report rows from their stored states (`to_jsonb` of the projection row), sent as text and
/// parsed here: the server's `jsonb_populate_record` into the view's row type cost ~8 µs a
/// row, most of a read of 100,000 entries. Each state's values become the columns
/// `init(row:)` reads (`Rows(columns:values:)`), so the one mapping of a row to columns
/// stays the only one.
struct StoredStates<Row: ProjectionTable> {
    /// The state's key for each expression of `loadColumns`: the column it reads
    /// (`array_to_json(partners)` → `partners`, `"order"` → `order`).
    static var keys: [String] {
        var out: [String] = []
        var depth = 0
        var current = ""
        for c in Row.loadColumns + "," {
            if c == "(" { depth += 1; current = "" } else if c == ")" { depth -= 1 } else if c == ",", depth == 0 {
                out.append(current.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "\"", with: ""))
                current = ""
            } else { current.append(c) }
        }
        return out
    }

    let keys = Self.keys
    var pending: [[String?]] = []

    /// Adds one state (jsonb's text) to decode.
    mutating func add(_ text: UnsafeBufferPointer<UInt8>) throws {
        let state = try JSON.parse(text)
        pending.append(keys.map { key in
            switch state[key] {
            case nil, .null?: nil
            case .string(let s)?: s
            case .number(let n)?: n
            case .bool(let b)?: b ? "t" : "f"
            case let value?: value.canonicalString
            }
        })
    }

    /// The rows of the states added since the last call, in the order added.
    mutating func decode() throws -> [Row] {
        defer { pending = [] }
        guard !pending.isEmpty else { return [] }
        var out: [Row] = []
        out.reserveCapacity(pending.count)
        for row in try Rows(columns: keys.count, values: pending) { out.append(try Row(row: row)) }
        return out
    }
}

// MARK: - The row history: a row's state at each month end

/// One row's month-end states, oldest first: the state at `months[i]` is the fold of the
/// row's events dated on or before it (nil: no row then).
///
/// With each month, the positions of the row's events dated in it (log order), and whether
/// that month is `ordered`: all of them come after every event of the row dated before it
/// in the log, and none of the row's events is reversed by a reversal dated in it. Then the
/// state on a day inside the month is the previous month end's state folded on with the
/// month's events dated by then — a report mid-month reads those events by position instead
/// of folding the row's whole stream again (a SKU's or a lab's holds most of the log's).
struct MonthChain<Row: ProjectionTable> {
    var months: [Day] = []
    var rows: [Row?] = []
    var positions: [[Int64]] = []
    var ordered: [Bool] = []
    /// When an event last touched the row (the rebuild's page count): the rows held longest
    /// untouched are the ones it writes out first.
    var tick = 0

    /// Folds in an event that comes after every event already folded (in log order): it
    /// changes the state at its own month end and at every later one.
    ///
    /// `reversedOn`: the business date of the reversal of this event, when the whole log is
    /// folded in one pass with every reversal known beforehand (`ProjectionRebuilder`); then
    /// the event counts only in the months that end before that date, and the reversal's
    /// month has an entry that is not ordered — exactly what `ReportHistory.refoldChain`
    /// makes of the row when the reversal is met later (the incremental projector).
    mutating func apply(_ logged: LoggedEvent, reversedOn: Day? = nil, tick: Int = 0) {
        let event = logged.event
        self.tick = tick
        var upTo: Day?
        if let reversedOn {
            // Made before the event's own month is folded, so it starts from the state
            // without the event; a month inserted later copies the right state from the
            // month before it.
            let reversal = ReportHistory.monthEnd(reversedOn)
            ordered[entry(for: reversal)] = false
            upTo = reversal
        }
        let low = entry(for: ReportHistory.monthEnd(event.date))
        positions[low].append(logged.position)
        var i = low
        while i < months.count, upTo.map({ months[i] < $0 }) ?? true {
            Self.fold(&rows[i], event)
            i += 1
        }
        // A later month's events came before this earlier-dated one.
        for i in (low + 1)..<months.count { ordered[i] = false }
    }

    /// The index of `month`'s entry, inserted (with the previous month end's state) when
    /// there is none.
    private mutating func entry(for month: Day) -> Int {
        var low = 0
        var high = months.count
        while low < high {
            let mid = (low + high) / 2
            if months[mid] < month { low = mid + 1 } else { high = mid }
        }
        if low == months.count || months[low] != month {
            months.insert(month, at: low)
            rows.insert(low > 0 ? rows[low - 1] : nil, at: low)
            // Every event folded so far comes before this one in the log.
            positions.insert([], at: low)
            ordered.insert(true, at: low)
        }
        return low
    }

    /// An entry read back from the history (`ordered` false when it has no positions: kept
    /// before they were, so never folded on).
    mutating func append(month: Day, row: Row?, positions: [Int64]?, ordered: Bool) {
        months.append(month)
        rows.append(row)
        self.positions.append(positions ?? [])
        self.ordered.append(ordered && positions != nil)
    }

    /// As `Reports` folds: the first event of a key starts its row, the others apply to it.
    static func fold(_ row: Row?, _ event: LedgerEvent) -> Row? {
        guard var row else { return Row(startingWith: event) }
        row.apply(event)
        return row
    }

    /// The same fold in place (no copy of the row's collections).
    static func fold(_ row: inout Row?, _ event: LedgerEvent) {
        if row != nil { row!.apply(event) } else { row = Row(startingWith: event) }
    }

    /// The entries this chain stores (`projections.report_history`), each labelled for
    /// `ReportHistory.stage` (`history_at`: the month, whether it is ordered, its positions):
    /// each month with a row, and each month without one where the row went, or where the
    /// month has events of the row (`gone`: it may have begun and gone within the month, so
    /// a day inside it is folded again).
    ///
    /// A gone entry keeps its positions and flag like any other, so a chain read back
    /// (`ReportHistory.load`) writes the same entries again: the history never depends on
    /// where a projector's runs or its flushes fell, and a rebuild writes the same rows.
    func entries(present: inout [(String, Row)], gone: inout [String]) {
        var previous: Row?
        for i in months.indices {
            var label = months[i].description
            label += ordered[i] ? " t " : " f "
            for (n, position) in positions[i].enumerated() {
                if n > 0 { label += "," }
                label += String(position)
            }
            if let row = rows[i] {
                present.append((label, row))
            } else if previous != nil || !positions[i].isEmpty {
                gone.append(label)
            }
            previous = rows[i]
        }
    }

    /// The same entries as `entries`, one call each (the row nil for a gone entry): `month`,
    /// whether it is ordered, its positions.
    func forEachEntry(_ body: (Day, Bool, [Int64], Row?) throws -> Void) rethrows {
        var previous: Row?
        for i in months.indices {
            if rows[i] != nil || previous != nil || !positions[i].isEmpty {
                try body(months[i], ordered[i], positions[i], rows[i])
            }
            previous = rows[i]
        }
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
    public static func extend(
        on connection: PostgresConnection, pageSize: Int = 20_000, rowsHeld: Int = 50_000,
        segmentPositions: Int64 = ReportHistory.segmentPositions, backfillsSegments: Bool = true,
        segmentPageRows: Int = ReportPages.pageRows
    ) throws -> Int
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
            // Where the latest segment of the log ends (Schema/026): a page that ends far enough
            // past it ends the next one.
            var segment = try latestSegment(on: db)
            if backfillsSegments, segment.number == 0, from.position >= max(segmentPositions, 1) {
                // A history without segments (rebuilt by `projections rebuild`, or kept before
                // Schema/026): cut them through the log it covers first.
                segment = try backfillSegments(through: from, segmentPositions: max(segmentPositions, 1), pageSize: pageSize, on: db)
            }
            try forEachPage(of: log, after: from, pageSize: pageSize) { page in
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
                if through.position - segment.end.position >= max(segmentPositions, 1) {
                    // Every row's entries as of `through`, then the segment's states read from them.
                    try portfolio.flush(on: db)
                    try labs.flush(on: db)
                    try orders.flush(on: db)
                    try supply.flush(on: db)
                    segment = try cutSegment(after: segment, end: through, on: db)
                }
            }
            // Every segment cut since the last run (or kept from before Schema/028) as pages.
            try pageSegments(pageRows: segmentPageRows, on: db)
            guard let last else { return 0 }
            try portfolio.flush(on: db)
            try labs.flush(on: db)
            try orders.flush(on: db)
            try supply.flush(on: db)
            try db.query(
                """
                UPDATE projections.history_checkpoint
                SET transaction_id = $1, position = $2, updated_at = now(),
                    max_recorded_at = GREATEST(max_recorded_at, covered.recorded_at),
                    max_business_date = GREATEST(max_business_date, covered.business_date)
                FROM (
                    SELECT max(recorded_at) AS recorded_at, max(business_date) AS business_date FROM events
                    WHERE (transaction_id, position) > ($3::text::xid8, $4::bigint)
                      AND (transaction_id, position) <= ($5::text::xid8, $2::bigint)) AS covered
                """, [Int64(last.transactionID), last.position, String(from.transactionID), from.position, String(last.transactionID)])
            return folded
        }
    }

    /// The pages of the settled log after `checkpoint`, reversals included, each decoded on
    /// every core (an event's JSON and type need nothing but itself) and then handed to
    /// `body` in log order on this thread, which alone uses the connection.
    static func forEachPage(
        of log: EventLog, after checkpoint: Checkpoint, through end: Checkpoint? = nil, pageSize: Int,
        _ body: ([LoggedEvent]) throws -> Void
    ) throws {
        var cursor = checkpoint
        var filter = EventLog.Filter(withoutReversed: false)
        filter.through = end
        while true {
            let rows = try log.rows(after: cursor, limit: pageSize, filter: filter)
            guard let lastRow = rows.last else { return }
            cursor = try EventLog.checkpoint(lastRow)
            let parts = max(1, min(ProcessInfo.processInfo.activeProcessorCount, rows.count / 256))
            let decoded = Mutex<[[LoggedEvent]]>(Array(repeating: [], count: parts))
            let failure = Mutex<(any Error)?>(nil)
            DispatchQueue.concurrentPerform(iterations: parts) { part in
                var events: [LoggedEvent] = []
                events.reserveCapacity(rows.count / parts + 1)
                do {
                    for i in (rows.count * part / parts)..<(rows.count * (part + 1) / parts) { events.append(try EventLog.decode(rows[i])) }
                } catch {
                    failure.withLock { if $0 == nil { $0 = error } }
                }
                decoded.withLock { $0[part] = events }
            }
            if let error = failure.withLock({ $0 }) { throw error }
            try body(decoded.withLock { $0.flatMap { $0 } })
            if rows.count < pageSize { return }
        }
    }

    /// Replaces the whole history (`ledger projections rebuild`, inside its swap): deletes
    /// every entry, lets `write` insert the new ones, and moves the checkpoint to `through`
    /// with the latest recorded time and business date it covers (nil: the empty log). The
    /// issued copies are left as they are.
    static func replace(
        through: (checkpoint: Checkpoint, recordedAt: Timestamp?, businessDate: Day?)?, on db: PostgresConnection,
        write: (PostgresConnection) throws -> Void
    ) throws {
        try beginReplacing(on: db)
        try write(db)
        try finishReplacing(through: through, on: db)
    }

    /// `replace` in two steps, for a rebuild that writes entries in between (in the same
    /// transaction): takes the history's lock, waiting for a projector extending it
    /// meanwhile, and deletes every entry.
    static func beginReplacing(on db: PostgresConnection) throws {
        try db.query("SELECT 1 FROM projections.history_checkpoint FOR UPDATE")
        try db.query("DELETE FROM projections.report_history")
        // The segments (Schema/026) were cut from the history replaced: the next `extend`
        // starts them again, its first one holding every row.
        try db.execute(
            script: """
                DELETE FROM projections.segment_states;
                DELETE FROM projections.segment_pending;
                DELETE FROM projections.history_segments;
                """)
    }

    /// Moves the checkpoint of the history written since `beginReplacing`.
    static func finishReplacing(
        through: (checkpoint: Checkpoint, recordedAt: Timestamp?, businessDate: Day?)?, on db: PostgresConnection
    ) throws {
        try db.query(
            """
            UPDATE projections.history_checkpoint
            SET transaction_id = $1, position = $2, max_recorded_at = $3, max_business_date = $4::date, updated_at = now()
            """,
            [
                Int64(through?.checkpoint.transactionID ?? 0), through?.checkpoint.position ?? 0, through?.recordedAt,
                through?.businessDate?.sqlDate,
            ])
    }

    /// Forgets the history: the next `extend` folds the whole log again. The issued copies
    /// stay: they are what was issued at each close, and a rebuild after a change to a fold
    /// must not change them (Schema/022).
    public static func reset(on db: PostgresConnection) throws {
        try db.transaction { db in
            try replace(through: nil, on: db) { _ in }
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
                    chains[key]!.apply(entry)
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
            // The next segment's end keeps these rows' states (Schema/026).
            try db.query(
                """
                INSERT INTO projections.segment_pending (projection, key)
                SELECT $1, k FROM unnest($2::text[]) AS k ON CONFLICT DO NOTHING
                """, [Row.projection.rawValue, PostgresArray(keys)])
            try ReportHistory.write(keys.lazy.compactMap { key in self.chains[key].map { (key, $0) } }, on: db)
        }
    }

    /// Inserts the entries of these rows' chains (`MonthChain.entries`): the one way both the
    /// projector and the rebuild write the history, so a rebuilt history is the incremental one.
    ///
    /// One COPY straight into the history, each state built here as the JSON text of the
    /// projection row (`StateColumns`): the server only parses it into jsonb, the same value
    /// `to_jsonb` of the row makes. Staging the rows in a temporary table and turning them
    /// into jsonb there (`writeStaged`) cost the server ~2.3 s of `to_jsonb` for the 107k order
    /// entries of a 1M rebuild, besides the staging COPY and the INSERT. A table with a column
    /// the JSON here does not know takes that path still.
    static func write<Row: ProjectionTable>(_ chains: some Sequence<(String, MonthChain<Row>)>, on db: PostgresConnection)
        throws
    {
        guard let columns = try StateColumns.of(Row.self, on: db) else { return try writeStaged(chains, on: db) }
        let projection = Row.projection.rawValue
        var state: [UInt8] = []
        var positions: [UInt8] = []
        func row(_ writer: inout CopyWriter, _ key: String, _ month: Day, _ ordered: Bool, _ list: [Int64], _ row: Row?)
            throws
        {
            positions.removeAll(keepingCapacity: true)
            positions.append(UInt8(ascii: "{"))
            for (n, position) in list.enumerated() {
                if n > 0 { positions.append(UInt8(ascii: ",")) }
                positions.append(contentsOf: String(position).utf8)
            }
            positions.append(UInt8(ascii: "}"))
            var stateBytes: [UInt8]?
            if let row {
                state.removeAll(keepingCapacity: true)
                try columns.write(row.columnValues, into: &state)
                stateBytes = state
            }
            try writer.writeRow(bytes: [
                Array(projection.utf8), Array(key.utf8), Array(month.description.utf8), Array((row == nil ? "t" : "f").utf8),
                stateBytes, Array((ordered ? "t" : "f").utf8), positions,
            ])
        }
        var it = chains.makeIterator()
        guard var next = it.next() else { return }
        try db.copyIn(
            "COPY projections.report_history (projection, key, month, gone, state, ordered, positions) FROM STDIN"
        ) { writer in
            while true {
                let (key, chain) = next
                try chain.forEachEntry { month, ordered, list, state in try row(&writer, key, month, ordered, list, state) }
                guard let following = it.next() else { break }
                next = following
            }
        }
    }

    /// `write` through a temporary table and `to_jsonb` on the server: for a projection table
    /// with a column `StateColumns` cannot write as JSON.
    static func writeStaged<Row: ProjectionTable>(
        _ chains: some Sequence<(String, MonthChain<Row>)>, on db: PostgresConnection
    ) throws {
        var present: [(String, Row)] = []
        var goneKeys: [String] = []
        var goneLabels: [String] = []
        var gone: [String] = []
        for (key, chain) in chains {
            chain.entries(present: &present, gone: &gone)
            for label in gone {
                goneKeys.append(key)
                goneLabels.append(label)
            }
            gone.removeAll(keepingCapacity: true)
        }
        // A label carries the month, whether it is ordered and the month's positions.
        if !goneKeys.isEmpty {
            try db.query(
                """
                INSERT INTO projections.report_history (projection, key, month, gone, state, ordered, positions)
                SELECT $1, k, split_part(l, ' ', 1)::date, true, NULL, split_part(l, ' ', 2)::boolean,
                       ('{' || split_part(l, ' ', 3) || '}')::bigint[]
                FROM unnest($2::text[], $3::text[]) AS u(k, l)
                """, [Row.projection.rawValue, PostgresArray(goneKeys), PostgresArray(goneLabels)])
        }
        try stage(present, on: db) { stage in
            try db.query(
                """
                INSERT INTO projections.report_history (projection, key, month, gone, state, ordered, positions)
                SELECT $1, s.\(Row.keyColumn), split_part(s.history_at, ' ', 1)::date, false, to_jsonb(s) - 'history_at',
                       split_part(s.history_at, ' ', 2)::boolean,
                       ('{' || split_part(s.history_at, ' ', 3) || '}')::bigint[]
                FROM \(stage) s
                """, [Row.projection.rawValue])
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

    /// About how many positions of the log a segment spans (Schema/026): a `--known-at`
    /// between two segment ends reads at most about this many events beyond the snapshot.
    /// A cost bound only; any size is exact. 50,000, or `$LEDGER_SEGMENT_POSITIONS` (tests cut
    /// segments of a few positions through the CLI).
    public static var segmentPositions: Int64 {
        ProcessInfo.processInfo.environment["LEDGER_SEGMENT_POSITIONS"].flatMap(Int64.init).map { max($0, 1) } ?? 50_000
    }

    /// The latest segment's number and end (0 and the log's start when there is none).
    static func latestSegment(on db: PostgresConnection) throws -> (number: Int, end: Checkpoint) {
        guard let row = try db.query(
            "SELECT segment, transaction_id, position FROM projections.history_segments ORDER BY segment DESC LIMIT 1"
        ).first else { return (0, .start) }
        return (
            Int(try row.decode(Int64.self, at: 0)),
            Checkpoint(transactionID: UInt64(try row.decode(Int64.self, at: 1)), position: try row.decode(Int64.self, at: 2))
        )
    }

    /// Ends a segment at `end`, just after the history was written through it: keeps the
    /// state of every row changed since the previous segment (its latest month-end entry,
    /// which counts every event up to `end`, all dates) and the segment's recorded times
    /// and latest business date. Returns the new latest segment.
    static func cutSegment(after previous: (number: Int, end: Checkpoint), end: Checkpoint, on db: PostgresConnection)
        throws -> (number: Int, end: Checkpoint)
    {
        let number = previous.number + 1
        if number == 1 {
            // The first segment covers the log from its start: every row the history holds (a
            // history kept before Schema/026 included).
            try db.query(
                "INSERT INTO projections.segment_pending SELECT DISTINCT projection, key FROM projections.report_history ON CONFLICT DO NOTHING")
        }
        try db.query(
            """
            INSERT INTO projections.segment_states (projection, key, segment, gone, state)
            SELECT p.projection, p.key, $1, h.state IS NULL, h.state
            FROM projections.segment_pending p
            LEFT JOIN LATERAL (
                SELECT state FROM projections.report_history h
                WHERE h.projection = p.projection AND h.key = p.key ORDER BY h.month DESC LIMIT 1) h ON true
            """, [number])
        try db.query("DELETE FROM projections.segment_pending")
        try insertSegment(number, after: previous.end, end: end, on: db)
        return (number, end)
    }

    /// The row of segment `number`, from the previous segment's end to `end`.
    static func insertSegment(_ number: Int, after previous: Checkpoint, end: Checkpoint, on db: PostgresConnection) throws {
        try db.query(
            """
            INSERT INTO projections.history_segments
                (segment, transaction_id, position, max_recorded_at, max_business_date, min_recorded_at)
            SELECT $1, $2, $3,
                   GREATEST(inside.max_recorded_at, (SELECT max_recorded_at FROM projections.history_segments WHERE segment = $1 - 1)),
                   GREATEST(inside.max_business_date, (SELECT max_business_date FROM projections.history_segments WHERE segment = $1 - 1)),
                   inside.min_recorded_at
            FROM (
                SELECT max(recorded_at) AS max_recorded_at, max(business_date) AS max_business_date,
                       min(recorded_at) AS min_recorded_at
                FROM events
                WHERE (transaction_id, position) > ($4::text::xid8, $5::bigint)
                  AND (transaction_id, position) <= ($6::text::xid8, $3::bigint)) AS inside
            """,
            [number, Int64(end.transactionID), end.position, String(previous.transactionID), previous.position,
             String(end.transactionID)])
    }

    /// Cuts the segments of the log up to `through` (the history's checkpoint) when there are
    /// none: folds it into each row's current state, in log order — a reversal folds its
    /// row again from its events up to there, without the reversed ones — and at each
    /// segment end writes the states of the rows changed since the last. The rows changed
    /// after the last end are left pending for the next one (`cutSegment`). Returns the
    /// latest segment.
    static func backfillSegments(through: Checkpoint, segmentPositions: Int64, pageSize: Int, on db: PostgresConnection)
        throws -> (number: Int, end: Checkpoint)
    {
        let log = EventLog(connection: db)
        let portfolio = CurrentRows<PortfolioPosition>(), labs = CurrentRows<LabSummary>()
        let orders = CurrentRows<OrderSummary>(), supply = CurrentRows<SupplyPosition>()
        var segment: (number: Int, end: Checkpoint) = (0, .start)
        try forEachPage(of: log, after: .start, through: through, pageSize: pageSize) { page in
            var reversed: [Int64] = []
            for entry in page { if case .entry(let e) = entry.event.fact { reversed.append(e.reverses) } }
            let originals = try log.events(at: reversed)
            let end = page.last!.checkpoint
            try portfolio.fold(page, originals: originals, through: end, log: log)
            try labs.fold(page, originals: originals, through: end, log: log)
            try orders.fold(page, originals: originals, through: end, log: log)
            try supply.fold(page, originals: originals, through: end, log: log)
            guard end.position - segment.end.position >= segmentPositions else { return }
            let number = segment.number + 1
            try portfolio.write(segment: number, on: db)
            try labs.write(segment: number, on: db)
            try orders.write(segment: number, on: db)
            try supply.write(segment: number, on: db)
            try insertSegment(number, after: segment.end, end: end, on: db)
            segment = (number, end)
        }
        try portfolio.pend(on: db)
        try labs.pend(on: db)
        try orders.pend(on: db)
        try supply.pend(on: db)
        return segment
    }

    /// One report's rows as of a place in the log (all business dates), for `backfillSegments`.
    final class CurrentRows<Row: ProjectionTable> {
        var rows: [String: Row] = [:]
        var changed: Set<String> = []

        /// Folds a page in (log order); `through` is its last event.
        func fold(_ page: [LoggedEvent], originals: [Int64: LedgerEvent], through: Checkpoint, log: EventLog) throws {
            var refold = Set<String>()
            for logged in page {
                if case .entry(let e) = logged.event.fact {
                    if let original = originals[e.reverses], let key = Row.key(of: original) {
                        refold.insert(key)
                        changed.insert(key)
                    }
                } else if let key = Row.key(of: logged.event) {
                    changed.insert(key)
                    // A row folded again below reads this event too.
                    if !refold.contains(key) { rows[key] = MonthChain<Row>.fold(rows[key], logged.event) }
                }
            }
            // Its events up to `through`, without those reversed by then (a reversal counts
            // from its place in the log on, whatever its date, as for the current state).
            try ReportHistory.refoldRows(&rows, refold, from: EventLog.Filter(through: through, settledOnly: false), log: log)
        }

        /// Stores the state of every row changed since the last segment as of segment `number`.
        func write(segment number: Int, on db: PostgresConnection) throws {
            defer { changed = [] }
            guard !changed.isEmpty else { return }
            var present: [(String, Row)] = []
            var gone: [String] = []
            for key in changed {
                if let row = rows[key] { present.append(("", row)) } else { gone.append(key) }
            }
            if !gone.isEmpty {
                try db.query(
                    """
                    INSERT INTO projections.segment_states (projection, key, segment, gone, state)
                    SELECT $1, k, $2, true, NULL FROM unnest($3::text[]) AS k
                    """, [Row.projection.rawValue, number, PostgresArray(gone)])
            }
            try ReportHistory.stage(present, on: db) { stage in
                try db.query(
                    """
                    INSERT INTO projections.segment_states (projection, key, segment, gone, state)
                    SELECT $1, s.\(Row.keyColumn), $2, false, to_jsonb(s) - 'history_at' FROM \(stage) s
                    """, [Row.projection.rawValue, number])
            }
        }

        /// Leaves the rows changed since the last segment for the next one.
        func pend(on db: PostgresConnection) throws {
            guard !changed.isEmpty else { return }
            try db.query(
                """
                INSERT INTO projections.segment_pending (projection, key)
                SELECT $1, k FROM unnest($2::text[]) AS k ON CONFLICT DO NOTHING
                """, [Row.projection.rawValue, PostgresArray(Array(changed))])
        }
    }

    /// The stored month-end states of these rows (through schema reporting).
    static func load<Row: ProjectionTable>(_ type: Row.Type, keys: [String], on db: PostgresConnection) throws
        -> [String: MonthChain<Row>]
    {
        var out: [String: MonthChain<Row>] = [:]
        var states = StoredStates<Row>()
        var present: [(String, Int)] = []
        try db.forEachRow(
            """
            SELECT h.key, h.month, h.gone, h.state::text, h.ordered, h.positions::text
            FROM reporting.report_history h
            WHERE h.projection = $1 AND h.key = ANY ($2::text[])
            ORDER BY h.key, h.month
            """, [Row.projection.rawValue, PostgresArray(keys)]
        ) { row in
            let key = try row.decode(String.self, at: 0)
            let date = try row.decode(SQLDate.self, at: 1)
            let gone = try row.decode(Bool.self, at: 2)
            if !gone, try row.withBytes(at: 3, { try states.add($0) }) != nil { present.append((key, out[key]?.rows.count ?? 0)) }
            out[key, default: MonthChain()].append(
                month: try Day(year: date.year, month: date.month, day: date.day), row: nil,
                positions: try row.decode(String?.self, at: 5).map(ReportHistory.positions(inArray:)),
                ordered: try row.decode(Bool.self, at: 4))
        }
        for ((key, index), value) in zip(present, try states.decode()) { out[key]!.rows[index] = value }
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
        let reversalMonths = Set(reversedOn.values.map(monthEnd))
        let months = Set(events.map { monthEnd($0.event.date) }).union(reversalMonths).sorted()
        var chain = MonthChain<Row>()
        for month in months {
            var row: Row?
            // Where in the log the month's events start, and the last event dated before it.
            var first: Int?
            var lastBefore: Int?
            var positions: [Int64] = []
            for (i, logged) in events.enumerated() where logged.event.date <= month {
                if monthEnd(logged.event.date) == month {
                    first = first ?? i
                    positions.append(logged.position)
                } else {
                    lastBefore = i
                }
                if let reversal = reversedOn[logged.position], reversal <= month { continue }
                row = MonthChain<Row>.fold(row, logged.event)
            }
            let ordered = !reversalMonths.contains(month) && (first ?? Int.max) > (lastBefore ?? -1)
            chain.append(month: month, row: row, positions: positions, ordered: ordered)
        }
        return chain
    }
}

extension ReportHistory {
    /// A report known at `knownAt` (Schema/026): the rows as of the end of the latest segment
    /// whose every event counts for the view — all recorded by `knownAt`, and dated by the
    /// view's `asOf` if it has one — and the stretches of the log after it that can hold
    /// events recorded by then: each later segment whose earliest recorded time is at or
    /// before `knownAt` (segments are settled: none joins them later) and the log after the
    /// last one. The caller folds those stretches' events that count on top, in log order.
    /// Nil when no segment counts entirely (the caller folds the whole log).
    static func segmentRows<Row: ProjectionTable>(_ type: Row.Type, _ view: ReportView, knownAt: Timestamp, on db: PostgresConnection)
        throws -> (rows: [String: Row], stretches: [(after: Checkpoint, through: Checkpoint?)])?
    {
        guard let chosen = try segment(for: view, knownAt: knownAt, on: db) else { return nil }
        // The latest state of each row at or before that segment, by walking the
        // (projection, key, segment DESC) index, never by sorting every entry.
        try db.execute(script: "SET LOCAL enable_sort = off")
        var states = StoredStates<Row>()
        try db.forEachRow(
            """
            SELECT h.state::text FROM (
                SELECT DISTINCT ON (key) key, gone, state FROM reporting.segment_states
                WHERE projection = $1 AND segment <= $2
                ORDER BY key, segment DESC) AS h
            WHERE NOT h.gone
            """, [Row.projection.rawValue, chosen.number]
        ) { row in _ = try row.withBytes(at: 0) { try states.add($0) } }
        try db.execute(script: "SET LOCAL enable_sort = on")
        var rows: [String: Row] = [:]
        for value in try states.decode() { rows[value.key] = value }
        return (rows, chosen.stretches)
    }

    /// The latest segment whose every event counts for a view known at `knownAt` (all
    /// recorded by then, and dated by the view's `asOf` if it has one), and the stretches
    /// of the log after it that can hold events recorded by then (see `segmentRows`); nil
    /// when no segment counts entirely.
    static func segment(for view: ReportView, knownAt: Timestamp, on db: PostgresConnection)
        throws -> (number: Int64, stretches: [(after: Checkpoint, through: Checkpoint?)])?
    {
        var ends: [Checkpoint] = []
        var chosen: (index: Int, number: Int64)?
        var firstRecorded: [Timestamp] = []
        for row in try db.query(
            """
            SELECT segment, transaction_id, position, max_recorded_at, max_business_date, min_recorded_at
            FROM reporting.history_segments ORDER BY segment
            """, prepared: true)
        {
            ends.append(Checkpoint(transactionID: UInt64(try row.decode(Int64.self, at: 1)), position: try row.decode(Int64.self, at: 2)))
            firstRecorded.append(try row.decode(Timestamp.self, at: 5))
            // Both maxima only grow from one segment to the next: the last that counts is wanted.
            guard try row.decode(Timestamp.self, at: 3) <= knownAt else { continue }
            if let asOf = view.asOf {
                let date = try row.decode(SQLDate.self, at: 4)
                guard try Day(year: date.year, month: date.month, day: date.day) <= asOf else { continue }
            }
            chosen = (ends.count - 1, try row.decode(Int64.self, at: 0))
        }
        guard let chosen else { return nil }
        var stretches: [(after: Checkpoint, through: Checkpoint?)] = []
        for j in (chosen.index + 1)..<ends.count where firstRecorded[j] <= knownAt {
            stretches.append((ends[j - 1], ends[j]))
        }
        stretches.append((ends[ends.count - 1], nil))
        return (chosen.number, stretches)
    }

    /// Folds each row's state at the previous month end (in `rows`) on with its events of
    /// `asOf`'s month dated by then (`months`: their positions, in log order) — its state as
    /// of `asOf` over the history's events, since its month is ordered (`MonthChain`). A row
    /// with one of those events reversed by a reversal dated by then joins `refold` instead.
    static func foldOn<Row: ProjectionTable>(
        _ rows: inout [String: Row], _ months: [String: [Int64]], asOf: Day, refold: inout Set<String>, log: EventLog
    ) throws {
        let positions = months.values.flatMap { $0 }
        let events = try log.events(at: positions)
        // The partial index events_reversals (Schema/010) answers it.
        var reversed = Set<Int64>()
        for row in try log.connection.query(
            """
            SELECT (payload->>'reverses')::bigint FROM \(log.logTable)
            WHERE type = 'entry.reversed' AND (payload->>'reverses')::bigint = ANY ($1::bigint[]) AND business_date <= $2::date
            """, [PostgresArray(positions), asOf.sqlDate], prepared: true)
        {
            reversed.insert(try row.decode(Int64.self, at: 0))
        }
        for (key, positions) in months {
            if positions.contains(where: reversed.contains) {
                refold.insert(key)
                rows[key] = nil
                continue
            }
            var row = rows[key]
            for position in positions {
                guard let event = events[position], event.date <= asOf else { continue }
                row = MonthChain<Row>.fold(row, event)
            }
            rows[key] = row
        }
    }

    /// The positions of a bigint[] in PostgreSQL's text form (`{1,2,3}`).
    static func positions(inArray text: String) -> [Int64] {
        text.utf8.split(whereSeparator: { $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "{") || $0 == UInt8(ascii: "}") })
            .compactMap { Int64(String(decoding: $0, as: UTF8.self)) }
    }
}

// MARK: - Issued reports: each report as it stood at a period close

extension ReportHistory {
    /// Stores the four reports as issued at every period close that has no stored copy yet
    /// (folded from the log once), with their rendered pages (`--as-issued` prints those), and
    /// renders the pages of closes stored before Schema/022 from their stored rows. Returns how
    /// many closes were stored or paged. A close reopened later keeps its copy, and so does
    /// `projections rebuild`: it stays what was issued.
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
                try storeIssuedPages(close: position, on: db)
            }
            stored += 1
        }
        // Closes stored before Schema/022: their pages, from the rows stored then.
        let unpaged = try connection.query(
            """
            SELECT c.close_position FROM projections.issued_closes c
            WHERE NOT EXISTS (SELECT 1 FROM projections.issued_pages p WHERE p.close_position = c.close_position)
            ORDER BY c.close_position
            """)
        for close in unpaged {
            let position = try close.decode(Int64.self, at: 0)
            // Read committed: after the lock, a statement sees pages another projector committed.
            try connection.transaction { db in
                // Another projector may be rendering them: the first to lock the close does.
                try db.query("SELECT 1 FROM projections.issued_closes WHERE close_position = $1 FOR UPDATE", [position])
                let paged = try db.query("SELECT 1 FROM projections.issued_pages WHERE close_position = $1 LIMIT 1", [position])
                guard paged.isEmpty else { return }
                try storeIssuedPages(close: position, on: db)
                stored += 1
            }
        }
        return stored
    }

    /// The close whose stored copy answers `view` (`--as-issued`, as of that close's own date,
    /// not combined with `--known-at`), nil when there is none stored (the caller folds).
    static func issuedClose(_ view: ReportView, on db: PostgresConnection) throws -> Int64? {
        guard let through = view.through, let asOf = view.asOf, view.knownAt == nil else { return nil }
        let stored = try db.query(
            "SELECT 1 FROM reporting.issued_closes WHERE close_position = $1 AND through = $2::date",
            [through.position, asOf.sqlDate], prepared: true)
        // The checkpoint must be that close's (an --as-issued view is built from it).
        return stored.isEmpty ? nil : through.position
    }

    /// The close whose rendered pages (Schema/022) print `view` of this report exactly —
    /// `--as-issued` with a copy stored and paged — else nil (the rows path answers: a close
    /// stored before 022 whose pages the projector has not rendered yet, or another view).
    /// Run it in the repeatable-read transaction that prints the pages.
    public static func issuedPages(_ name: ProjectionName, _ view: ReportView, on db: PostgresConnection) throws -> Int64? {
        guard let close = try issuedClose(view, on: db) else { return nil }
        let paged = try db.query(
            "SELECT 1 FROM reporting.issued_pages WHERE close_position = $1 AND projection = $2 LIMIT 1",
            [close, name.rawValue], prepared: true)
        return paged.isEmpty ? nil : close
    }

    /// A report as issued at a close, from its stored rows (`issued_reports`), in key order.
    static func issuedRows<Row: ProjectionTable>(_ type: Row.Type, close: Int64, on db: PostgresConnection) throws -> [Row] {
        var states = StoredStates<Row>()
        // Sorted here, not by the server (a sort of 100,000 jsonb rows).
        try db.forEachRow(
            "SELECT h.state::text FROM reporting.issued_reports h WHERE h.close_position = $1 AND h.projection = $2",
            [close, Row.projection.rawValue]
        ) { row in _ = try row.withBytes(at: 0) { try states.add($0) } }
        return try states.decode().sorted { $0.key < $1.key }
    }

    /// Renders the four reports as issued at a close into pages (`issued_pages`, Schema/022)
    /// from the rows stored for it — what `--as-issued` printed from those rows, so a close
    /// stored before 022 prints byte for byte as before — `ReportPages.pageRows` rows to a
    /// page (an empty report: one page of none). Inside the transaction that stored the
    /// rows, or that holds the close's row locked.
    static func storeIssuedPages(close: Int64, on db: PostgresConnection) throws {
        func run<Row: ProjectionTable>(_ type: Row.Type) throws {
            let rows = try issuedRows(Row.self, close: close, on: db)
            let pageRows = ReportPages.pageRows
            let starts = Array(stride(from: 0, to: max(rows.count, 1), by: pageRows))
            // Rendered on every core, as a rebuild renders the current state's pages.
            let pages = [ReportPage](unsafeUninitializedCapacity: starts.count) { buffer, count in
                // Each iteration initializes its own slot, and all are done when this returns.
                nonisolated(unsafe) let slots = buffer.baseAddress!
                DispatchQueue.concurrentPerform(iterations: starts.count) { i in
                    let slice = rows[starts[i]..<min(starts[i] + pageRows, rows.count)]
                    (slots + i).initialize(to: ReportPage(firstKey: "", rows: slice))
                }
                count = starts.count
            }
            for (number, page) in pages.enumerated() {
                try db.query(
                    """
                    INSERT INTO projections.issued_pages (close_position, projection, page, row_count, csv, cells, widths, numeric)
                    VALUES ($1, $2, $3, $4, $5, $6, $7::int[], $8::bool[])
                    """,
                    [
                        close, Row.projection.rawValue, number, page.rowCount, page.csv, page.cells,
                        PostgresArray(page.widths), PostgresArray(page.numeric),
                    ], prepared: true)
            }
        }
        try run(PortfolioPosition.self)
        try run(LabSummary.self)
        try run(OrderSummary.self)
        try run(SupplyPosition.self)
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
    /// How far apart (in positions) the projection's checkpoint and the history's may be for
    /// `currentState` to answer: beyond it, the log between them is more to read than the
    /// history saves. A cost bound only; either path is exact.
    static let currentStateReach: Int64 = 50_000

    /// The projection's own rows, when the view counts every event they hold: every event
    /// up to the projection's checkpoint is dated on or before the view's `asOf` and
    /// recorded by its `knownAt` — then its reversals count too, and the rows are the fold
    /// of exactly those events. That is the case for a report as of today or later, or known
    /// at an instant after the last event: it reads ~100,000 rows' columns instead of the
    /// latest history entry of each (jsonb). The caller folds the log after `checkpoint` on
    /// top. Nil when the view leaves out an event the rows hold (the history answers).
    static func currentState<Row: ProjectionTable>(
        _ type: Row.Type, _ view: ReportView, history: Checkpoint, recordedBy: Timestamp?, datedBy: SQLDate?,
        on db: PostgresConnection, readable: Bool
    ) throws -> (rows: [String: Row], checkpoint: Checkpoint)? {
        guard let projected = try currentCheckpoint(
            Row.projection, view, history: history, recordedBy: recordedBy, datedBy: datedBy, on: db, readable: readable)
        else { return nil }
        var rows: [String: Row] = [:]
        try db.forEachRow("SELECT \(Row.loadColumns) FROM \(readable ? Row.readable : Row.table)") { row in
            let value = try Row(row: row)
            rows[value.key] = value
        }
        return (rows, projected)
    }

    /// What the history covers (`reporting.history_checkpoint`, Schema/015 and 019): the log
    /// position it is folded through, and the latest recorded time and business date among the
    /// events it covers; nil when there is no checkpoint row.
    static func historyCoverage(on db: PostgresConnection) throws
        -> (covered: Checkpoint, recordedBy: Timestamp?, datedBy: SQLDate?)?
    {
        guard let meta = try db.query(
            "SELECT transaction_id, position, max_recorded_at, max_business_date FROM reporting.history_checkpoint",
            prepared: true
        ).first else { return nil }
        return (
            Checkpoint(transactionID: UInt64(try meta.decode(Int64.self, at: 0)), position: try meta.decode(Int64.self, at: 1)),
            try meta.decode(Timestamp?.self, at: 2), try meta.decode(SQLDate?.self, at: 3)
        )
    }

    /// Whether `view` of this report is exactly its current state and nothing more: the
    /// projection's rows count for it (`currentState`) and no event after their checkpoint
    /// does. Then `ledger report` prints the projection's stored pages (rendered once, as
    /// for the current state) instead of rendering every row again. Run it in the
    /// repeatable-read transaction that reads the pages.
    ///
    /// The portfolio's rows name their startups as registered by the view's date (`rows`
    /// looks them up), its pages as the projection found them: the same names whenever no
    /// startup stream holds a reversal. Then each startup has one registration, never
    /// reversed, which comes before every commitment to it in the log — so it counts for
    /// any view every commitment counts for, and it is the name the projection read. A
    /// reversal on any startup stream (a registration undone, perhaps made again under
    /// another name) sends the portfolio to the rows path.
    public static func isCurrentState(_ name: ProjectionName, _ view: ReportView, on db: PostgresConnection, readable: Bool)
        throws -> Bool
    {
        guard view.isFolded, view.through == nil else { return false }
        guard let coverage = try historyCoverage(on: db) else { return false }
        let (covered, recordedBy, datedBy) = coverage
        if let knownAt = view.knownAt, covered != .start {
            guard let recordedBy, recordedBy <= knownAt else { return false }
        }
        guard let projected = try currentCheckpoint(
            name, view, history: covered, recordedBy: recordedBy, datedBy: datedBy, on: db, readable: readable)
        else { return false }
        let log = EventLog(connection: db, readable: readable)
        if name == .portfolio {
            // Reversals are few and indexed (events_reversals, Schema/010): read by that index.
            let renamed = try db.query(
                """
                SELECT 1 FROM \(log.logTable) WHERE type = 'entry.reversed' AND (payload->>'reverses')::bigint IS NOT NULL
                  AND stream LIKE 'startup-%' LIMIT 1
                """, prepared: true)
            guard renamed.isEmpty else { return false }
        }
        var tail = name.logFilter
        tail.types.append("entry.reversed")
        tail.after = projected
        tail.asOf = view.asOf
        tail.knownAt = view.knownAt
        tail.settledOnly = false
        tail.withoutReversed = false
        var sql: SQL = "SELECT 1 FROM \(literal: log.relation) WHERE true"
        sql += tail.conditions(log: log.logTable)
        sql += "\nLIMIT 1"
        return try db.query(sql.text, sql.binds).isEmpty
    }

    /// The projection's checkpoint, when every event up to it counts for `view` (see
    /// `currentState`), else nil.
    static func currentCheckpoint(
        _ name: ProjectionName, _ view: ReportView, history: Checkpoint, recordedBy: Timestamp?, datedBy: SQLDate?,
        on db: PostgresConnection, readable: Bool
    ) throws -> Checkpoint? {
        let found = try db.query(
            "SELECT transaction_id, position FROM \(readable ? "reporting.checkpoints" : "projections.checkpoints") WHERE projection = $1",
            [name.rawValue], prepared: true)
        guard let found = found.first else { return nil }
        let projected = Checkpoint(
            transactionID: UInt64(try found.decode(Int64.self, at: 0)), position: try found.decode(Int64.self, at: 1))
        guard projected != .start, abs(projected.position - history.position) <= currentStateReach else { return nil }
        // The latest business date and recorded time up to the projection's checkpoint: the
        // history's (an upper bound when the projection is behind it), plus the events
        // between the two when the projection is ahead.
        var datedBy = try datedBy.map { try Day(year: $0.year, month: $0.month, day: $0.day) }
        var recordedBy = recordedBy
        if history < projected {
            let between = try db.query(
                """
                SELECT max(business_date), max(recorded_at) FROM \(readable ? "reporting.event_log" : "events")
                WHERE (transaction_id, position) > ($1::text::xid8, $2::bigint)
                  AND (transaction_id, position) <= ($3::text::xid8, $4::bigint)
                """,
                [String(history.transactionID), history.position, String(projected.transactionID), projected.position],
                prepared: true)[0]
            if let date = try between.decode(SQLDate?.self, at: 0) {
                let day = try Day(year: date.year, month: date.month, day: date.day)
                datedBy = max(datedBy ?? day, day)
            }
            if let instant = try between.decode(Timestamp?.self, at: 1) { recordedBy = max(recordedBy ?? instant, instant) }
        }
        if let asOf = view.asOf, let datedBy, datedBy > asOf { return nil }
        if let knownAt = view.knownAt, let recordedBy, recordedBy > knownAt { return nil }
        return projected
    }

    /// The report for `view` from the snapshots, or nil when they cannot answer it exactly
    /// (the caller folds the log). Runs inside the caller's repeatable-read transaction, so
    /// the history, its checkpoint and the log after it are one snapshot.
    static func rows<Row: ProjectionTable>(_ type: Row.Type, _ view: ReportView, on db: PostgresConnection, readable: Bool)
        throws -> [Row]?
    {
        let log = EventLog(connection: db, readable: readable)
        if view.through != nil {
            // Only the copy stored for that very close, as of its own date.
            guard let close = try issuedClose(view, on: db) else { return nil }
            return try issuedRows(Row.self, close: close, on: db)
        }
        guard let coverage = try historyCoverage(on: db) else { return nil }
        let (covered, recordedBy, datedBy) = coverage
        var rows: [String: Row] = [:]
        var refold = Set<String>()
        // Where the rows read stand in the log: the fold goes on from there.
        var after = covered
        // The stretches of the log after the rows read that can hold events for the view
        // (`through` nil: to its end); nil: all of it after `after`.
        var stretches: [(after: Checkpoint, through: Checkpoint?)]?
        if let knownAt = view.knownAt, covered != .start, !(recordedBy.map { $0 <= knownAt } ?? false) {
            // Not every event the history covers was recorded by then: the rows as of the
            // latest segment end whose every event was (Schema/026), else the whole log.
            guard let segmented = try segmentRows(Row.self, view, knownAt: knownAt, on: db) else { return nil }
            rows = segmented.rows
            stretches = segmented.stretches
        } else if let current = try currentState(
            Row.self, view, history: covered, recordedBy: recordedBy, datedBy: datedBy, on: db, readable: readable)
        {
            rows = current.rows
            after = current.checkpoint
        } else if covered != .start {
            var bound: Day?
            // Rows whose month is ordered: their month's events, by position.
            var foldOn: [String: [Int64]] = [:]
            if let asOf = view.asOf {
                if monthEnd(asOf) == asOf {
                    bound = asOf
                } else {
                    bound = previousMonthEnd(asOf)
                    // Rows that changed in asOf's month may differ from their previous
                    // month-end state: folded on with the month's events when the month is
                    // ordered, else folded again from all their events.
                    for row in try db.query(
                        "SELECT key, ordered, positions::text FROM reporting.report_history WHERE projection = $1 AND month = $2::date",
                        [Row.projection.rawValue, monthEnd(asOf).sqlDate], prepared: true)
                    {
                        let key = try row.decode(String.self, at: 0)
                        if try row.decode(Bool.self, at: 1), let positions = try row.decode(String?.self, at: 2) {
                            foldOn[key] = Self.positions(inArray: positions)
                        } else {
                            refold.insert(key)
                        }
                    }
                }
            }
            let sql = """
                SELECT h.state::text FROM (
                    SELECT DISTINCT ON (key) key, gone, state FROM reporting.report_history
                    WHERE projection = $1\(bound == nil ? "" : " AND month <= $2::date")
                    ORDER BY key, month DESC) AS h
                WHERE NOT h.gone
                """
            var binds: [any PostgresBindable] = [Row.projection.rawValue]
            if let bound { binds.append(bound.sqlDate) }
            // The latest entry per key by walking the (projection, key, month DESC) index,
            // never by sorting every entry (jsonb rows; a plan the server may otherwise pick).
            try db.execute(script: "SET LOCAL enable_sort = off")
            var states = StoredStates<Row>()
            try db.forEachRow(sql, binds) { row in _ = try row.withBytes(at: 0) { try states.add($0) } }
            try db.execute(script: "SET LOCAL enable_sort = on")
            for value in try states.decode() where !refold.contains(value.key) { rows[value.key] = value }
            if let asOf = view.asOf, !foldOn.isEmpty {
                try Self.foldOn(&rows, foldOn, asOf: asOf, refold: &refold, log: log)
            }
        }
        // The log after the history: folded on top, or the row folded again after a reversal.
        let (events, originals) = try tail(Row.self, view, stretches: stretches ?? [(after, nil)], log: log)
        foldTail(&rows, events, originals: originals, refold: &refold)
        try refoldRows(&rows, refold, view, log: log)
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
