import EventStore
import Foundation
import Ledger
import Postgres

// MARK: - The log after the rows read (shared by every folded path)

extension ReportHistory {
    /// The events of `stretches` (in log order: they are disjoint and in order) that count for
    /// `view` — the report's own events and every reversal — with the events those reversals
    /// reverse: what a reader folds on top of the rows it read.
    /// `alsoStreamsStartingWith`: more streams read in the same pass (the portfolio's reader
    /// takes the startups' registrations with its own events); the fold leaves them alone.
    static func tail<Row: ProjectionTable>(
        _ type: Row.Type, _ view: ReportView, stretches: [(after: Checkpoint, through: Checkpoint?)], log: EventLog,
        alsoStreamsStartingWith more: [String] = []
    ) throws -> (events: [LoggedEvent], originals: [Int64: LedgerEvent]) {
        var tail = Row.projection.logFilter
        if !more.isEmpty { tail.streamPrefixes = (tail.streamPrefixes ?? []) + more }
        tail.types.append("entry.reversed")
        tail.asOf = view.asOf
        tail.knownAt = view.knownAt
        tail.settledOnly = false
        tail.withoutReversed = false
        var events: [LoggedEvent] = []
        var reversed: [Int64] = []
        for stretch in stretches {
            tail.after = stretch.after
            tail.through = stretch.through
            try log.forEachEvent(filter: tail) { logged in
                if case .entry(let e) = logged.event.fact { reversed.append(e.reverses) }
                events.append(logged)
            }
        }
        return (events, try log.events(at: reversed))
    }

    /// The keys of the rows `events` change: each event's row, and the row of each event a
    /// reversal among them reverses.
    static func keys<Row: ProjectionTable>(
        _ type: Row.Type, touchedBy events: [LoggedEvent], originals: [Int64: LedgerEvent]
    ) -> Set<String> {
        var keys = Set<String>()
        for logged in events {
            if case .entry(let e) = logged.event.fact {
                if let original = originals[e.reverses], let key = Row.key(of: original) { keys.insert(key) }
            } else if let key = Row.key(of: logged.event) {
                keys.insert(key)
            }
        }
        return keys
    }

    /// Folds `events` on top of `rows`, in log order; a row with one of its events reversed
    /// among them joins `refold` (folded again from its own events by `refoldRows`).
    static func foldTail<Row: ProjectionTable>(
        _ rows: inout [String: Row], _ events: [LoggedEvent], originals: [Int64: LedgerEvent], refold: inout Set<String>
    ) {
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
    }

    /// Folds these rows again from all their events that count for `view`, without the
    /// events reversed by a reversal that counts too.
    static func refoldRows<Row: ProjectionTable>(
        _ rows: inout [String: Row], _ refold: Set<String>, _ view: ReportView, log: EventLog
    ) throws {
        try refoldRows(&rows, refold, from: EventLog.Filter(asOf: view.asOf, settledOnly: false, knownAt: view.knownAt), log: log)
    }

    /// Folds these rows again from all their events that `base` selects (their streams, and
    /// for supply the dispatches of their SKUs, are added to it).
    static func refoldRows<Row: ProjectionTable>(
        _ rows: inout [String: Row], _ refold: Set<String>, from base: EventLog.Filter, log: EventLog
    ) throws {
        guard !refold.isEmpty else { return }
        var filter = base
        let keys = Array(refold)
        filter.streams = keys.map { Row.projection.stream(forKey: $0) }
        if Row.projection == .supply { filter.dispatchesOfSKUs = keys }
        for key in keys { rows[key] = nil }
        try log.forEachEvent(filter: filter) { logged in
            guard let key = Row.key(of: logged.event), refold.contains(key) else { return }
            rows[key] = MonthChain<Row>.fold(rows[key], logged.event)
        }
    }

    /// Each row's latest state at or before segment `number` (Schema/026), nil for a row
    /// gone then; keys without an entry are left out (no row then).
    static func segmentStates<Row: ProjectionTable>(
        _ type: Row.Type, keys: [String], atSegment number: Int64, readable: Bool, on db: PostgresConnection
    ) throws -> [String: Row?] {
        var out: [String: Row?] = [:]
        guard !keys.isEmpty else { return out }
        var states = StoredStates<Row>()
        var present: [String] = []
        try db.forEachRow(
            """
            SELECT DISTINCT ON (key) key, gone, state::text FROM \(readable ? "reporting" : "projections").segment_states
            WHERE projection = $1 AND key = ANY ($2::text[]) AND segment <= $3
            ORDER BY key, segment DESC
            """, [Row.projection.rawValue, PostgresArray(keys), number]
        ) { row in
            let key = try row.decode(String.self, at: 0)
            if try !row.decode(Bool.self, at: 1), try row.withBytes(at: 2, { try states.add($0) }) != nil {
                present.append(key)
            } else {
                out.updateValue(nil, forKey: key)
            }
        }
        for (key, value) in zip(present, try states.decode()) { out[key] = value }
        return out
    }
}

// MARK: - Segment pages: each report as of each segment end, rendered (Schema/028)

extension ReportHistory {
    /// Renders the pages of every segment that has none yet (Schema/028), oldest first, each
    /// from the previous segment's pages with the rows that changed in it (its entries in
    /// `segment_states`) put in: a segment just cut, or the segments of a history kept before
    /// 028. Inside the transaction that wrote the segments.
    static func pageSegments(pageRows: Int, on db: PostgresConnection) throws {
        var ends: [Int: Checkpoint] = [:]
        var last = 0
        for row in try db.query("SELECT segment, transaction_id, position FROM projections.history_segments ORDER BY segment") {
            let number = Int(try row.decode(Int64.self, at: 0))
            ends[number] = Checkpoint(transactionID: UInt64(try row.decode(Int64.self, at: 1)), position: try row.decode(Int64.self, at: 2))
            last = number
        }
        guard last > 0 else { return }
        func run<Row: ProjectionTable>(_ type: Row.Type) throws {
            let paged = Int(
                try db.query(
                    "SELECT coalesce(max(segment), 0)::bigint FROM projections.paged_segments WHERE projection = $1",
                    [Row.projection.rawValue], prepared: true)[0].decode(Int64.self, at: 0))
            guard paged < last else { return }
            for number in (paged + 1)...last {
                guard let end = ends[number] else { continue }
                try pageSegment(Row.self, number, after: ends[number - 1] ?? .start, end: end, pageRows: pageRows, on: db)
            }
        }
        try run(PortfolioPosition.self)
        try run(LabSummary.self)
        try run(OrderSummary.self)
        try run(SupplyPosition.self)
    }

    /// Writes the pages of segment `number` that hold a row changed in it (from `after` to
    /// `end` in the log): the previous segment's page with those rows' lines put in, split
    /// when it grew past twice `pageRows` rows. The first paged segment starts from one empty
    /// page, so every key is on exactly one page of every paged segment.
    static func pageSegment<Row: ProjectionTable>(
        _ type: Row.Type, _ number: Int, after previous: Checkpoint, end: Checkpoint, pageRows: Int, on db: PostgresConnection
    ) throws {
        var changed: [String: Row?] = [:]
        var states = StoredStates<Row>()
        var present: [String] = []
        try db.forEachRow(
            "SELECT key, gone, state::text FROM projections.segment_states WHERE projection = $1 AND segment = $2",
            [Row.projection.rawValue, number]
        ) { row in
            let key = try row.decode(String.self, at: 0)
            if try !row.decode(Bool.self, at: 1), try row.withBytes(at: 2, { try states.add($0) }) != nil {
                present.append(key)
            } else {
                changed.updateValue(nil, forKey: key)
            }
        }
        for (key, value) in zip(present, try states.decode()) { changed[key] = value }
        if Row.projection == .portfolio {
            // A startup registered in this segment renames the rows committed to it before
            // (none when the rules hold: a registration precedes every commitment to it).
            let registered = try db.query(
                """
                SELECT substr(stream, 9) FROM events
                WHERE type = 'startup.registered' AND stream LIKE 'startup-%'
                  AND (transaction_id, position) > ($1::text::xid8, $2::bigint)
                  AND (transaction_id, position) <= ($3::text::xid8, $4::bigint)
                """, [String(previous.transactionID), previous.position, String(end.transactionID), end.position]
            ).map { try $0.decode(String.self, at: 0) }
            if !registered.isEmpty {
                let renamed = try rowsOfStartups(registered, throughSegment: Int64(number), readable: false, on: db)
                    .filter { changed[$0] == nil }
                for (key, value) in try segmentStates(Row.self, keys: renamed, atSegment: Int64(number), readable: false, on: db) {
                    changed.updateValue(value, forKey: key)
                }
            }
            // Each startup as named by its latest registration up to the segment's end.
            try name(&changed) { startups in
                var names: [String: String] = [:]
                for row in try db.query(
                    """
                    SELECT DISTINCT ON (stream) substr(stream, 9), payload->>'name' FROM events
                    WHERE stream = ANY ($1::text[]) AND type = 'startup.registered'
                      AND (transaction_id, position) <= ($2::text::xid8, $3::bigint)
                    ORDER BY stream, transaction_id DESC, position DESC
                    """, [PostgresArray(startups.map { StreamName.startup($0).rawValue }), String(end.transactionID), end.position])
                {
                    names[try row.decode(String.self, at: 0)] = try row.decode(String?.self, at: 1)
                }
                return names
            }
        }
        let changes = changed.map { (key: $0.key, line: $0.value.map { PageLine($0) }) }.sorted { PageLines.precedes($0.key, $1.key) }
        // The pages as of the previous segment.
        var bounds: [(key: String, segment: Int64?)] = try db.query(
            """
            SELECT DISTINCT ON (first_key) first_key, segment FROM projections.segment_pages
            WHERE projection = $1 AND segment < $2 ORDER BY first_key, segment DESC
            """, [Row.projection.rawValue, number]
        ).map { (try $0.decode(String.self, at: 0), try $0.decode(Int64.self, at: 1)) }
        if bounds.first?.key != "" { bounds.insert(("", nil), at: 0) }
        let groups = group(changes, by: bounds.map(\.key))
        // Every page when there were none (the first paged segment writes at least its first page).
        let touched = bounds.indices.filter { !groups[$0].isEmpty || bounds[$0].segment == nil }
        var texts: [String: Postgres.Row] = [:]
        let stored = touched.filter { bounds[$0].segment != nil }
        if !stored.isEmpty {
            for row in try db.query(
                """
                SELECT p.first_key, p.csv, p.cells FROM unnest($2::text[], $3::int[]) AS u(first_key, segment)
                JOIN projections.segment_pages p ON p.projection = $1 AND p.first_key = u.first_key AND p.segment = u.segment
                """,
                [Row.projection.rawValue, PostgresArray(stored.map { bounds[$0].key }), PostgresArray(stored.map { Int(bounds[$0].segment!) })])
            {
                texts[try row.decode(String.self, at: 0)] = row
            }
        }
        let columnCount = Row.report.columns.count
        // Paged again (its pages deleted by hand, say): written afresh.
        try db.query("DELETE FROM projections.segment_pages WHERE projection = $1 AND segment = $2", [Row.projection.rawValue, number])
        for i in touched {
            var lines: [PageLine] = []
            if let row = texts[bounds[i].key] {
                lines = try row.withBytes(at: 1) { csv in
                    try row.withBytes(at: 2) { cells in try PageLines.split(csv: csv, cells: cells) } ?? []
                } ?? []
            }
            for page in PageLines.pages(
                firstKey: bounds[i].key, lines: lines, changes: groups[i], pageRows: pageRows, columnCount: columnCount)
            {
                try db.query(
                    """
                    INSERT INTO projections.segment_pages (projection, first_key, segment, row_count, csv, cells, widths, numeric)
                    VALUES ($1, $2, $3, $4, $5, $6, $7::int[], $8::bool[])
                    """,
                    [
                        Row.projection.rawValue, page.firstKey, number, page.rowCount, page.csv, page.cells,
                        PostgresArray(page.widths), PostgresArray(page.numeric),
                    ], prepared: true)
            }
        }
        try db.query(
            "INSERT INTO projections.paged_segments (projection, segment) VALUES ($1, $2)", [Row.projection.rawValue, number])
    }

    /// Changes (in key order) grouped by the page that holds each key: the page with the
    /// greatest first key at or before it (`firstKeys` in byte order, the first "").
    static func group(
        _ changes: [(key: String, line: PageLine?)], by firstKeys: [String]
    ) -> [ArraySlice<(key: String, line: PageLine?)>] {
        var out: [ArraySlice<(key: String, line: PageLine?)>] = []
        var c = 0
        for (i, _) in firstKeys.enumerated() {
            let start = c
            if i + 1 < firstKeys.count {
                while c < changes.count, PageLines.precedes(changes[c].key, firstKeys[i + 1]) { c += 1 }
            } else {
                c = changes.count
            }
            out.append(changes[start..<c])
        }
        return out
    }

    /// The portfolio rows (keys) at or before a segment whose startup is one of these.
    static func rowsOfStartups(_ startups: [String], throughSegment number: Int64, readable: Bool, on db: PostgresConnection)
        throws -> [String]
    {
        // The partial index segment_states_startup (Schema/028) answers it; an investment's
        // startup never changes, so any entry of a key names it.
        try db.query(
            """
            SELECT DISTINCT key FROM \(readable ? "reporting" : "projections").segment_states
            WHERE projection = 'portfolio' AND state->>'startup' = ANY ($1::text[]) AND segment <= $2
            """, [PostgresArray(startups), number]
        ).map { try $0.decode(String.self, at: 0) }
    }

    /// Sets each portfolio row's startup name from `names` (startup → name, for the rows'
    /// startups); other reports' rows are left as they are.
    static func name<Row: ProjectionTable>(_ rows: inout [String: Row?], _ names: ([String]) throws -> [String: String]) throws {
        guard Row.self == PortfolioPosition.self else { return }
        let startups = Set(rows.values.compactMap { ($0 as? PortfolioPosition)?.startup })
        guard !startups.isEmpty else { return }
        let found = try names(Array(startups))
        for key in Array(rows.keys) {
            guard var position = rows[key] as? PortfolioPosition else { continue }
            position.startupName = found[position.startup]
            rows[key] = (position as! Row)
        }
    }
}

// MARK: - Reading: a report known at an instant in the middle of the log, as pages

extension ReportHistory {
    /// A report known at an instant in the middle of the log, as the pages `ledger report`
    /// prints (`part`: CSV lines or table cells): the pages of the latest segment whose every
    /// event counts for the view (Schema/028, as `segmentRows` chooses it) copied, with the
    /// rows the later events recorded by then change put in — each such row its state at
    /// that segment (026) with those events folded on top, exactly as `rows` folds them.
    /// Nil when the view is not a known-at one this can answer (the caller renders `rows`):
    /// no segment counts entirely, the segment has no pages yet, or, for the portfolio, a
    /// startup stream holds a reversal (its names are then what `rows` reads, not the pages').
    /// Run it in the repeatable-read transaction that prints the pages.
    public static func segmentPages(_ name: ProjectionName, _ view: ReportView, _ part: ReportPages.Part, on db: PostgresConnection)
        throws -> [PrintablePage]?
    {
        func run<Row: ProjectionTable>(_ type: Row.Type) throws -> [PrintablePage]? {
            try segmentPages(Row.self, view, part, readable: true, on: db)
        }
        return try run(name.rowType)
    }

    static func segmentPages<Row: ProjectionTable>(
        _ type: Row.Type, _ view: ReportView, _ part: ReportPages.Part, readable: Bool, on db: PostgresConnection
    ) throws -> [PrintablePage]? {
        guard let knownAt = view.knownAt, view.through == nil else { return nil }
        guard let (covered, recordedBy, _) = try historyCoverage(on: db), covered != .start else { return nil }
        // Every event the history covers recorded by then: the history answers (`rows`).
        if let recordedBy, recordedBy <= knownAt { return nil }
        guard let chosen = try segment(for: view, knownAt: knownAt, on: db) else { return nil }
        let schema = readable ? "reporting" : "projections"
        guard
            !(try db.query(
                "SELECT 1 FROM \(schema).paged_segments WHERE projection = $1 AND segment = $2",
                [Row.projection.rawValue, chosen.number], prepared: true
            ).isEmpty)
        else { return nil }
        let log = EventLog(connection: db, readable: readable)
        if Row.projection == .portfolio {
            // The pages name each startup by its registration up to their segment; `rows`, by
            // the registrations the view counts. The same, but for a registration reversed.
            let renamed = try db.query(
                """
                SELECT 1 FROM \(log.logTable) WHERE type = 'entry.reversed' AND (payload->>'reverses')::bigint IS NOT NULL
                  AND stream LIKE 'startup-%' LIMIT 1
                """, prepared: true)
            guard renamed.isEmpty else { return nil }
        }
        // Plans over tens of thousands of rows would be JIT-compiled, which costs more than it saves.
        try db.execute(script: "SET LOCAL jit = off")
        // The portfolio's with the startups' registrations, in the same pass over the stretches.
        let (events, originals) = try tail(
            Row.self, view, stretches: chosen.stretches, log: log,
            alsoStreamsStartingWith: Row.projection == .portfolio ? ["startup-"] : [])
        var touched = keys(Row.self, touchedBy: events, originals: originals)
        if Row.projection == .portfolio {
            // Startups registered after the segment, by then: rows committed to them before it
            // (none when the rules hold) take the name.
            var startupsRegistered: [String] = []
            for logged in events {
                if case .startup(.registered(let id, _, _, _)) = logged.event.fact { startupsRegistered.append(id) }
            }
            if !startupsRegistered.isEmpty {
                touched.formUnion(try rowsOfStartups(startupsRegistered, throughSegment: chosen.number, readable: readable, on: db))
            }
        }
        // The rows that change: their state at the segment, the later events folded on top.
        var rows: [String: Row] = [:]
        for (key, value) in try segmentStates(Row.self, keys: Array(touched), atSegment: chosen.number, readable: readable, on: db) {
            if let value { rows[key] = value }
        }
        var refold = Set<String>()
        foldTail(&rows, events, originals: originals, refold: &refold)
        try refoldRows(&rows, refold, view, log: log)
        var changed: [String: Row?] = [:]
        for key in touched { changed.updateValue(rows[key], forKey: key) }
        // Named as `rows` names them: by the registrations the view counts.
        try name(&changed) { startups in
            var filter = EventLog.Filter(asOf: view.asOf, settledOnly: false, knownAt: view.knownAt)
            filter.streams = startups.map { StreamName.startup($0).rawValue }
            var names: [String: String] = [:]
            try log.forEachEvent(filter: filter) { logged in
                if case .startup(.registered(let id, let name, _, _)) = logged.event.fact { names[id] = name }
            }
            return names
        }
        let changes = changed.map { (key: $0.key, line: $0.value.map { PageLine($0) }) }.sorted { PageLines.precedes($0.key, $1.key) }
        // The pages as of the segment, and which of them hold a changed row.
        let index = try db.query(
            """
            SELECT DISTINCT ON (first_key) first_key, segment, row_count, widths::text, numeric::text FROM \(schema).segment_pages
            WHERE projection = $1 AND segment <= $2 ORDER BY first_key, segment DESC
            """, [Row.projection.rawValue, chosen.number], prepared: true)
        let firstKeys = try index.map { try $0.decode(String.self, at: 0) }
        guard firstKeys.first == "" else { return nil }
        let groups = group(changes, by: firstKeys)
        let text = part == .csv ? "csv" : "cells"
        let pages = try db.query(
            """
            SELECT p.\(text), CASE WHEN u.patched THEN p.csv END
            FROM unnest($2::text[], $3::int[], $4::bool[]) WITH ORDINALITY AS u(first_key, segment, patched, n)
            JOIN \(schema).segment_pages p ON p.projection = $1 AND p.first_key = u.first_key AND p.segment = u.segment
            ORDER BY u.n
            """,
            [
                Row.projection.rawValue, PostgresArray(firstKeys), PostgresArray(try index.map { Int(try $0.decode(Int64.self, at: 1)) }),
                PostgresArray(groups.map { !$0.isEmpty }),
            ])
        guard pages.count == index.count else { return nil }
        let columnCount = Row.report.columns.count
        var out: [PrintablePage] = []
        out.reserveCapacity(pages.count)
        for (i, row) in pages.enumerated() {
            guard !groups[i].isEmpty else {
                let layout = PageLayout(
                    rowCount: Int(try index[i].decode(Int64.self, at: 2)), widths: ReportPages.integers(index[i].text(at: 3)),
                    numeric: ReportPages.booleans(index[i].text(at: 4)))
                out.append(PrintablePage(layout: layout, text: .stored(row, column: 0)))
                continue
            }
            let lines = try row.withBytes(at: 1) { csv in
                part == .csv
                    ? try PageLines.split(csv: csv, cells: nil)
                    : try row.withBytes(at: 0) { cells in try PageLines.split(csv: csv, cells: cells) } ?? []
            } ?? []
            let merged = PageLines.merge(lines, with: groups[i])
            let page = PageLines.page(firstKey: firstKeys[i], lines: merged[...], columnCount: columnCount, withCells: part == .table)
            out.append(PrintablePage(page, part))
        }
        return out
    }
}
