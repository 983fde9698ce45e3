import Foundation
import JSON
import Ledger
import Postgres
import Synchronization

/// A run of a report's rows, in key order, already rendered: what `ledger report` prints.
///
/// Printing 100,000 orders row by row costs PostgreSQL and libpq about a microsecond per
/// row each way (`COPY` of `reporting.orders` alone takes ~90 ms here); a hundred pages of
/// a thousand rows come back in ~10 ms. So the projection keeps its report as pages:
/// each page covers the keys from its `firstKey` up to the next page's, and holds those
/// rows as CSV lines and as table cells, with each table column's width and alignment.
public struct ReportPage: Sendable, Equatable {
    /// The smallest key the page covers ("" for the first page).
    public var firstKey: String
    public var rowCount: Int
    /// The rows as CSV lines of exact values, each ending in a newline: what the CSV
    /// printer makes spreadsheet-safe (`ReportPrinter.writeCSV`) and the JSON printer reads.
    public var csv: String
    /// The rows as table cells: cells separated by `ReportPage.cellSeparator`, each row
    /// ending in a newline.
    public var cells: String
    /// Per column, the widest cell (in terminal columns, `ReportText.displayWidth`).
    public var widths: [Int]
    /// Per column, whether every cell reads as a number (right-aligned).
    public var numeric: [Bool]

    /// U+001F UNIT SEPARATOR, between table cells (cells never contain it).
    public static let cellSeparator: UInt8 = 0x1F

    /// Renders rows (in key order) as one page.
    public init<Row: ReportRow>(firstKey: String, rows: some Collection<Row>) {
        self.init(firstKey: firstKey, columnCount: Row.report.columns.count, cells: rows.lazy.map(\.cells))
    }

    /// Renders rows of cells (in key order) as one page: the one place a cell becomes text.
    public init(firstKey: String, columnCount: Int, cells rows: some Collection<[ReportCell]>) {
        var csv = ""
        var cells = ""
        var widths = Array(repeating: 0, count: columnCount)
        var numeric = Array(repeating: true, count: columnCount)
        for values in rows {
            csv += ReportText.csvLine(values)
            for (i, cell) in ReportText.tableCells(values).enumerated() {
                if i > 0 { cells.unicodeScalars.append("\u{1F}") }
                cells += cell
                widths[i] = max(widths[i], ReportText.displayWidth(cell))
                if numeric[i], !cell.isEmpty, !ReportText.looksNumeric(cell) { numeric[i] = false }
            }
            cells += "\n"
        }
        self.init(firstKey: firstKey, rowCount: rows.count, csv: csv, cells: cells, widths: widths, numeric: numeric)
    }

    /// One row's lines as a page holds them: its CSV line and its table cells (U+001F between
    /// cells), each ending in a newline — what `init(firstKey:columnCount:cells:)` appends
    /// for it, so a page put together from rows' lines (`PageLines`) is the page rendered
    /// from those rows.
    public static func lines(of values: [ReportCell]) -> (csv: String, cells: String) {
        var cells = ""
        for (i, cell) in ReportText.tableCells(values).enumerated() {
            if i > 0 { cells.unicodeScalars.append("\u{1F}") }
            cells += cell
        }
        return (ReportText.csvLine(values), cells + "\n")
    }

    /// Its row count, widths and alignment.
    public var layout: PageLayout { PageLayout(rowCount: rowCount, widths: widths, numeric: numeric) }

    public init(firstKey: String, rowCount: Int, csv: String, cells: String, widths: [Int], numeric: [Bool]) {
        self.firstKey = firstKey
        self.rowCount = rowCount
        self.csv = csv
        self.cells = cells
        self.widths = widths
        self.numeric = numeric
    }
}

/// The pages of each report in `projections.report_pages`, kept by the projection runner
/// and the rebuild, read by `ledger report`.
///
/// A page whose rows change is marked stale (its text set to NULL) in the same transaction
/// as the rows; the runner renders the stale pages again once it has caught up. A reader
/// never prints a stale page: it renders that page's rows itself, from the same snapshot.
public enum ReportPages {
    /// Rows per page when a page is split: a page re-rendered with more than twice as
    /// many rows is split into pages of this many. 1,000, or `$LEDGER_REPORT_PAGE_ROWS`.
    public static var pageRows: Int {
        ProcessInfo.processInfo.environment["LEDGER_REPORT_PAGE_ROWS"].flatMap(Int.init).map { max($0, 1) } ?? 1_000
    }

    /// Marks stale the pages holding these keys (inside the transaction that changed them).
    static func markStale(_ name: ProjectionName, keys: [String], on db: PostgresConnection) throws {
        guard !keys.isEmpty else { return }
        try db.query(
            """
            UPDATE projections.report_pages
            SET row_count = NULL, csv = NULL, cells = NULL, widths = NULL, numeric = NULL
            WHERE projection = $1 AND csv IS NOT NULL AND first_key IN (
                SELECT (SELECT max(p.first_key) FROM projections.report_pages p
                        WHERE p.projection = $1 AND p.first_key <= k)
                FROM unnest($2::text[]) AS k)
            """, [name.rawValue, PostgresArray(keys)], prepared: true)
    }

    /// Drops every page of a report and leaves one stale page covering every key
    /// (a rebuild then renders it afresh with `refresh`).
    static func reset(_ name: ProjectionName, on db: PostgresConnection) throws {
        try db.query("DELETE FROM projections.report_pages WHERE projection = $1", [name.rawValue])
        try db.query("INSERT INTO projections.report_pages (projection, first_key) VALUES ($1, '')", [name.rawValue])
    }

    /// Replaces every page of a report by pages of `rows` (all of its rows), `pageRows` to
    /// a page: what a rebuild writes, from the rows it holds, without reading them back.
    static func replace<Row: ProjectionTable>(with rows: [String: Row], on db: PostgresConnection, pageRows: Int) throws {
        let name = Row.projection
        try db.query("DELETE FROM projections.report_pages WHERE projection = $1", [name.rawValue])
        // Byte order, as the key column's COLLATE "C" sorts.
        let keys = rows.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        let pageRows = max(pageRows, 1)
        // Pages are rendered on every core (a rebuild renders all of them at once, ~a quarter
        // of its CPU over 1M events), then stored in order.
        let starts = Array(stride(from: 0, to: max(keys.count, 1), by: pageRows))
        let pages = [ReportPage](unsafeUninitializedCapacity: starts.count) { buffer, count in
            // Each iteration initializes its own slot, and all are done when this returns.
            nonisolated(unsafe) let slots = buffer.baseAddress!
            DispatchQueue.concurrentPerform(iterations: starts.count) { i in
                let start = starts[i]
                let slice = keys[start..<min(start + pageRows, keys.count)]
                (slots + i).initialize(
                    to: ReportPage(firstKey: start == 0 ? "" : slice.first!, rows: slice.map { rows[$0]! }))
            }
            count = starts.count
        }
        for page in pages { try store(page, of: name, on: db) }
    }

    /// Replaces every page of a report by pages rendered from its table in key order, 32
    /// pages' rows at a time (rendered on every core, as `replace` renders): what a rebuild
    /// writes when its rows are not all in memory.
    static func rewrite<Row: ProjectionTable>(_ type: Row.Type, on db: PostgresConnection, pageRows: Int) throws {
        let name = Row.projection
        try db.query("DELETE FROM projections.report_pages WHERE projection = $1", [name.rawValue])
        let pageRows = max(pageRows, 1)
        let batch = pageRows * 32
        // Table and column names are this program's constants; keys are bound.
        let select = "SELECT " + Row.loadColumns + " FROM " + Row.table
        let order = " ORDER BY " + Row.keyColumn + " LIMIT \(batch)"
        var after: String?
        repeat {
            let result =
                if let after {
                    try db.query(select + " WHERE " + Row.keyColumn + " > $1" + order, [after], prepared: true)
                } else {
                    try db.query(select + order, prepared: true)
                }
            var rows: [Row] = []
            rows.reserveCapacity(result.count)
            for row in result { rows.append(try Row(row: row)) }
            let first = after == nil
            // The first page covers every key from "" (as `replace` leaves it), even empty.
            let starts = Array(stride(from: 0, to: max(rows.count, first ? 1 : 0), by: pageRows))
            let pages = [ReportPage](unsafeUninitializedCapacity: starts.count) { buffer, count in
                // Each iteration initializes its own slot, and all are done when this returns.
                nonisolated(unsafe) let slots = buffer.baseAddress
                let rows = rows
                DispatchQueue.concurrentPerform(iterations: starts.count) { i in
                    let slice = rows[starts[i]..<min(starts[i] + pageRows, rows.count)]
                    (slots! + i).initialize(
                        to: ReportPage(firstKey: first && i == 0 ? "" : slice.first!.key, rows: slice))
                }
                count = starts.count
            }
            for page in pages { try store(page, of: name, on: db) }
            after = rows.count == batch ? rows.last!.key : nil
        } while after != nil
    }

    /// Renders the stale pages of a report again from its rows, splitting pages that grew
    /// too long. Call inside a transaction holding the projection's lock. Returns the
    /// number of pages written.
    @discardableResult
    static func refresh(_ name: ProjectionName, on db: PostgresConnection, pageRows: Int = pageRows) throws -> Int {
        let pageRows = max(pageRows, 1)
        func run<Row: ProjectionTable>(_ type: Row.Type) throws -> Int {
            let stored = try db.query(
                "SELECT first_key, csv IS NULL FROM projections.report_pages WHERE projection = $1 ORDER BY first_key",
                [name.rawValue], prepared: true)
            var bounds: [(key: String, stale: Bool)] = try stored.map {
                (try $0.decode(String.self, at: 0), try $0.decode(Bool.self, at: 1))
            }
            if bounds.first?.key != "" { bounds.insert(("", true), at: 0) }
            var written = 0
            for (i, bound) in bounds.enumerated() where bound.stale {
                let upper = i + 1 < bounds.count ? bounds[i + 1].key : nil
                let rows = try self.rows(Row.self, from: bound.key, below: upper, on: db)
                var start = 0
                repeat {
                    let count = rows.count - start <= 2 * pageRows ? rows.count - start : pageRows
                    let slice = rows[start..<(start + count)]
                    let page = ReportPage(firstKey: start == 0 ? bound.key : slice.first!.key, rows: slice)
                    try store(page, of: name, on: db)
                    written += 1
                    start += count
                } while start < rows.count
            }
            return written
        }
        return try run(name.rowType)
    }

    /// The rows whose keys are in `[lower, upper)`, in key order.
    /// `readable`: through the view a ledger_reporting login may read (read commands), not
    /// the table (the runner, which also runs before the views exist, mid-upgrade).
    static func rows<Row: ProjectionTable>(
        _ type: Row.Type, from lower: String, below upper: String?, on db: PostgresConnection, readable: Bool = false
    ) throws -> [Row] {
        // Table and column names are this program's constants; keys are bound.
        let select = "SELECT " + Row.loadColumns + " FROM " + (readable ? Row.readable : Row.table) + " WHERE " + Row.keyColumn + " >= $1"
        let order = " ORDER BY " + Row.keyColumn
        let result =
            if let upper {
                try db.query(select + " AND " + Row.keyColumn + " < $2" + order, [lower, upper], prepared: true)
            } else {
                try db.query(select + order, [lower], prepared: true)
            }
        var out: [Row] = []
        out.reserveCapacity(result.count)
        for row in result { out.append(try Row(row: row)) }
        return out
    }

    static func store(_ page: ReportPage, of name: ProjectionName, on db: PostgresConnection) throws {
        try db.query(
            """
            INSERT INTO projections.report_pages (projection, first_key, row_count, csv, cells, widths, numeric)
            VALUES ($1, $2, $3, $4, $5, $6::int[], $7::bool[])
            ON CONFLICT (projection, first_key) DO UPDATE
            SET row_count = excluded.row_count, csv = excluded.csv, cells = excluded.cells,
                widths = excluded.widths, numeric = excluded.numeric
            """,
            [
                name.rawValue, page.firstKey, page.rowCount, page.csv, page.cells, PostgresArray(page.widths),
                PostgresArray(page.numeric),
            ], prepared: true)
    }

    /// What a reader wants from each page.
    public enum Part: Sendable {
        /// CSV lines (for CSV and JSON output).
        case csv
        /// Table cells, widths and alignment.
        case table
    }

    /// Every page of a report in key order, stale ones rendered from the rows of the same
    /// snapshot. Stored pages are read in place from the query's result.
    /// `readable`: through the views of schema reporting (read commands: any reporting
    /// login, a hot standby), not the tables.
    public static func read(_ name: ProjectionName, _ part: Part, on db: PostgresConnection, readable: Bool = false)
        throws -> [PrintablePage]
    {
        try db.transaction(.repeatableRead) { db in
            let stored = try db.query(
                "SELECT first_key, row_count, " + (part == .csv ? "csv" : "cells")
                    + ", widths, numeric FROM " + pagesRelation(readable) + " WHERE projection = $1 ORDER BY first_key",
                [name.rawValue], prepared: true)
            let keys = try stored.map { try $0.decode(String.self, at: 0) }
            var pages: [PrintablePage] = []
            pages.reserveCapacity(stored.count + 1)
            func render(from lower: String, below upper: String?) throws {
                func run<Row: ProjectionTable>(_ type: Row.Type) throws {
                    let page = ReportPage(
                        firstKey: lower, rows: try rows(Row.self, from: lower, below: upper, on: db, readable: readable))
                    pages.append(PrintablePage(layout: page.layout, text: .rendered(part == .csv ? page.csv : page.cells)))
                }
                try run(name.rowType)
            }
            // Rows below the first page (none once a run or rebuild has written the pages).
            if keys.first != "" { try render(from: "", below: keys.first) }
            for (i, row) in stored.enumerated() {
                guard let rowCount = try row.decode(Int64?.self, at: 1) else {
                    try render(from: keys[i], below: i + 1 < keys.count ? keys[i + 1] : nil)
                    continue
                }
                let layout = PageLayout(
                    rowCount: Int(rowCount), widths: integers(row.text(at: 3)), numeric: booleans(row.text(at: 4)))
                pages.append(PrintablePage(layout: layout, text: .stored(row, column: 2)))
            }
            return pages
        }
    }

    /// Reads a report's pages in one snapshot, handing over first the layout of every page
    /// (row count, widths, alignment), then each page's text as soon as it arrives, in order,
    /// while the server still sends the next (`PostgresConnection.forEachRow`). Stale pages
    /// are rendered from the rows first.
    public static func stream(
        _ name: ProjectionName, _ part: Part, on db: PostgresConnection, readable: Bool = false,
        layout: ([PageLayout]) throws -> Void, page: (Int, PrintablePage) throws -> Void
    ) throws {
        try db.transaction(.repeatableRead) { db in
            let index = try db.query(
                "SELECT first_key, row_count, widths, numeric FROM " + pagesRelation(readable)
                    + " WHERE projection = $1 ORDER BY first_key", [name.rawValue], prepared: true)
            let stale = try index.first?.decode(String.self, at: 0) != "" || index.contains { $0.isNull(at: 1) }
            guard !stale else {
                let pages = try read(name, part, on: db, readable: readable)
                try layout(pages.map(\.layout))
                for (i, p) in pages.enumerated() { try page(i, p) }
                return
            }
            let layouts = try index.map {
                PageLayout(
                    rowCount: Int(try $0.decode(Int64.self, at: 1)), widths: integers($0.text(at: 2)),
                    numeric: booleans($0.text(at: 3)))
            }
            try layout(layouts)
            var i = 0
            try db.forEachRow(
                "SELECT " + (part == .csv ? "csv" : "cells")
                    + " FROM " + pagesRelation(readable) + " WHERE projection = $1 ORDER BY first_key", [name.rawValue]
            ) { row in
                guard i < layouts.count else { return }
                try page(i, PrintablePage(layout: layouts[i], text: .stored(row, column: 0)))
                i += 1
            }
        }
    }

    /// Streams a report as issued at a close (`reporting.issued_pages`, Schema/022) as
    /// `stream` does the current state's: every page's layout, then each page's text as it
    /// arrives. False, having handed over nothing, when the close has no pages for it (stored
    /// before 022 and not rendered yet: the caller renders its stored rows). Run it in the
    /// repeatable-read transaction that checked the close.
    public static func streamIssued(
        close: Int64, _ name: ProjectionName, _ part: Part, on db: PostgresConnection,
        layout: ([PageLayout]) throws -> Void, page: (Int, PrintablePage) throws -> Void
    ) throws -> Bool {
        let index = try db.query(
            "SELECT row_count, widths, numeric FROM reporting.issued_pages WHERE close_position = $1 AND projection = $2 ORDER BY page",
            [close, name.rawValue], prepared: true)
        guard !index.isEmpty else { return false }
        let layouts = try index.map {
            PageLayout(
                rowCount: Int(try $0.decode(Int64.self, at: 0)), widths: integers($0.text(at: 1)), numeric: booleans($0.text(at: 2)))
        }
        try layout(layouts)
        var i = 0
        try db.forEachRow(
            "SELECT " + (part == .csv ? "csv" : "cells")
                + " FROM reporting.issued_pages WHERE close_position = $1 AND projection = $2 ORDER BY page",
            [close, name.rawValue]
        ) { row in
            guard i < layouts.count else { return }
            try page(i, PrintablePage(layout: layouts[i], text: .stored(row, column: 0)))
            i += 1
        }
        return true
    }

    static func pagesRelation(_ readable: Bool) -> String {
        readable ? "reporting.report_pages" : "projections.report_pages"
    }

    /// `ledger verify`: every page that is not stale must be what its rows render to now
    /// (the rows themselves are checked against the events first).
    static func check<Row: ProjectionTable>(_ type: Row.Type, on db: PostgresConnection) throws -> VerificationProblem? {
        let name = Row.projection
        let stored = try db.query(
            """
            SELECT first_key, row_count, csv, cells, widths, numeric FROM projections.report_pages
            WHERE projection = $1 ORDER BY first_key
            """, [name.rawValue])
        // Rendering is most of the work (~8 % of verify's CPU over 1M events, after the scan):
        // each page's rows are read here, in order, while the pages read before are rendered
        // and compared on every core; a few pages at most are held at once.
        let differing = Mutex<Set<Int>>([])
        let rendered = DispatchGroup()
        let slots = DispatchSemaphore(value: 4)
        defer { rendered.wait() }
        for (i, row) in stored.enumerated() {
            guard let rowCount = try row.decode(Int64?.self, at: 1) else { continue }
            let firstKey = try row.decode(String.self, at: 0)
            let upper = i + 1 < stored.count ? try stored[i + 1].decode(String.self, at: 0) : nil
            let page = ReportPage(
                firstKey: firstKey, rowCount: Int(rowCount), csv: row.text(at: 2) ?? "", cells: row.text(at: 3) ?? "",
                widths: integers(row.text(at: 4)), numeric: booleans(row.text(at: 5)))
            let pageRows = try rows(Row.self, from: firstKey, below: upper, on: db)
            slots.wait()
            DispatchQueue.global().async(group: rendered) {
                if page != ReportPage(firstKey: firstKey, rows: pageRows) { differing.withLock { _ = $0.insert(i) } }
                slots.signal()
            }
        }
        rendered.wait()
        // The first page in key order that differs, whichever core found it first.
        guard let first = differing.withLock({ $0.min() }) else { return nil }
        let firstKey = try stored[first].decode(String.self, at: 0)
        return VerificationProblem(
            projection: name,
            message: "the report page from key '\(firstKey)' does not match its rows; "
                + "`ledger projections rebuild \(name)` writes it again")
    }

    /// `{t,f}` → `[true, false]`.
    static func booleans(_ text: String?) -> [Bool] {
        (text ?? "").utf8.filter { $0 == UInt8(ascii: "t") || $0 == UInt8(ascii: "f") }.map { $0 == UInt8(ascii: "t") }
    }

    /// `{12,5,3}` → `[12, 5, 3]`.
    static func integers(_ text: String?) -> [Int] {
        guard let text else { return [] }
        return text.dropFirst().dropLast().split(separator: ",").compactMap { Int($0) }
    }
}

/// A page's shape: its rows, and per table column the widest cell and the alignment.
public struct PageLayout: Sendable {
    public var rowCount: Int
    public var widths: [Int]
    public var numeric: [Bool]
}

/// A page as `ledger report` prints it: its CSV lines or its table cells (whichever was
/// read), with its layout.
public struct PrintablePage: Sendable {
    public var layout: PageLayout
    public var rowCount: Int { layout.rowCount }
    public var widths: [Int] { layout.widths }
    public var numeric: [Bool] { layout.numeric }
    enum Text: Sendable {
        /// A column of a stored page's row, read in place.
        case stored(Postgres.Row, column: Int)
        /// A stale page, rendered by the reader.
        case rendered(String)
    }
    let text: Text

    init(layout: PageLayout, text: Text) {
        self.layout = layout
        self.text = text
    }

    /// A page rendered in memory, for printing its CSV lines or its table cells.
    public init(_ page: ReportPage, _ part: ReportPages.Part) {
        self.init(layout: page.layout, text: .rendered(part == .csv ? page.csv : page.cells))
    }

    /// The page's text as UTF-8, valid inside `body` only.
    public func withText<T>(_ body: (UnsafeBufferPointer<UInt8>) throws -> T) rethrows -> T {
        switch text {
        case .stored(let row, let column):
            return try row.withBytes(at: column, body) ?? body(UnsafeBufferPointer(start: nil, count: 0))
        case .rendered(var string): return try string.withUTF8(body)
        }
    }
}
