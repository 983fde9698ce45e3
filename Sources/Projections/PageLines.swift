import Ledger

/// One row of a report page as the page holds it: its key, its CSV line and its table-cells
/// line (each with its newline; `cells` empty when only the CSV is wanted).
struct PageLine: Sendable {
    var key: String
    var csv: [UInt8]
    var cells: [UInt8]

    /// A row rendered as `ReportPage` renders it (`ReportPage.lines(of:)`).
    init<Row: ProjectionTable>(_ row: Row) {
        let (csv, cells) = ReportPage.lines(of: row.cells)
        self.key = row.key
        self.csv = Array(csv.utf8)
        self.cells = Array(cells.utf8)
    }

    init(key: String, csv: [UInt8], cells: [UInt8]) {
        self.key = key
        self.csv = csv
        self.cells = cells
    }
}

/// Report pages taken apart into their rows' lines and put together again with some rows
/// changed, added or gone (Schema/028's copy-on-write segment pages): a page is its rows'
/// lines in key order, its widths the widest cell of each column and its alignment whether
/// every cell reads as a number, so a page put together here from lines is byte for byte
/// the page `ReportPage` renders from the same rows — and the rows that did not change are
/// never rendered again.
enum PageLines {
    /// Keys in byte order, as pages and `COLLATE "C"` sort them.
    static func precedes(_ a: String, _ b: String) -> Bool { a.utf8.lexicographicallyPrecedes(b.utf8) }

    /// A page's rows, from its CSV lines (and its table cells, when given: one line per row,
    /// in the same order). Each row's key is its first CSV field: every report's first column
    /// is its key, printed exactly (`keyIsTheFirstColumn` in the tests holds that).
    static func split(csv: UnsafeBufferPointer<UInt8>, cells: UnsafeBufferPointer<UInt8>?) throws -> [PageLine] {
        var out: [PageLine] = []
        let quote = UInt8(ascii: "\""), newline: UInt8 = 0x0A
        var scratch: [UInt8] = []
        var p = 0
        var cellStart = 0
        while p < csv.count {
            let start = p
            // The first field: the key.
            var key = ""
            CSVField.read(csv, at: &p, scratch: &scratch) { key = String(decoding: $0, as: UTF8.self) }
            p = min(p, csv.count)
            // The rest of the row, unless the key ended it: a newline outside quotes ends it.
            var quoted = false
            let keyEndedTheRow = csv[p - 1] == newline
            while !keyEndedTheRow, p < csv.count {
                let byte = csv[p]
                p += 1
                if byte == quote { quoted.toggle() } else if byte == newline, !quoted { break }
            }
            var line = PageLine(key: key, csv: Array(csv[start..<p]), cells: [])
            if let cells {
                guard cellStart < cells.count, let end = cells[cellStart...].firstIndex(of: newline) else {
                    throw StoredRowError(table: "projections.segment_pages", reason: "a page's cells have fewer lines than its CSV rows")
                }
                line.cells = Array(cells[cellStart...end])
                cellStart = end + 1
            }
            out.append(line)
        }
        if let cells, cellStart != cells.count {
            throw StoredRowError(table: "projections.segment_pages", reason: "a page's cells have more lines than its CSV rows")
        }
        return out
    }

    /// `lines` (in key order) with `changes` (in key order) put in: a change replaces the
    /// line of its key, or adds one where none was; a change without a line removes it.
    static func merge(_ lines: [PageLine], with changes: some Collection<(key: String, line: PageLine?)>) -> [PageLine] {
        var out: [PageLine] = []
        out.reserveCapacity(lines.count + changes.count)
        var i = 0
        for change in changes {
            while i < lines.count, precedes(lines[i].key, change.key) {
                out.append(lines[i])
                i += 1
            }
            if i < lines.count, lines[i].key == change.key { i += 1 }
            if let line = change.line { out.append(line) }
        }
        out.append(contentsOf: lines[i...])
        return out
    }

    /// The page of these lines: their CSV lines and table cells one after another, and, when
    /// `withCells`, each column's widest cell and whether every cell reads as a number —
    /// measured from the cells' bytes as `ReportPage` measures each rendered cell.
    static func page(firstKey: String, lines: ArraySlice<PageLine>, columnCount: Int, withCells: Bool = true) -> ReportPage {
        var csv: [UInt8] = []
        var cells: [UInt8] = []
        csv.reserveCapacity(lines.reduce(0) { $0 + $1.csv.count })
        var widths = Array(repeating: 0, count: columnCount)
        var numeric = Array(repeating: true, count: columnCount)
        if withCells { cells.reserveCapacity(lines.reduce(0) { $0 + $1.cells.count }) }
        for line in lines {
            csv.append(contentsOf: line.csv)
            guard withCells else { continue }
            cells.append(contentsOf: line.cells)
            line.cells.withUnsafeBufferPointer { bytes in
                var column = 0
                var start = 0
                for p in 0..<bytes.count where bytes[p] == ReportPage.cellSeparator || bytes[p] == 0x0A {
                    if column < columnCount {
                        let cell = UnsafeBufferPointer(rebasing: bytes[start..<p])
                        widths[column] = max(widths[column], ReportText.displayWidth(utf8: cell))
                        if numeric[column], !cell.isEmpty, !ReportText.looksNumeric(utf8: cell) { numeric[column] = false }
                    }
                    column += 1
                    start = p + 1
                }
            }
        }
        return ReportPage(
            firstKey: firstKey, rowCount: lines.count, csv: String(decoding: csv, as: UTF8.self),
            cells: String(decoding: cells, as: UTF8.self), widths: widths, numeric: numeric)
    }

    /// The page at `firstKey` with `changes` put in, as pages of at most twice `pageRows`
    /// rows: a longer one is split into pages of `pageRows` (the last takes the rest), as
    /// `ReportPages.refresh` splits; the first keeps `firstKey`, each other starts at its
    /// first row's key.
    static func pages(
        firstKey: String, lines: [PageLine], changes: some Collection<(key: String, line: PageLine?)>, pageRows: Int,
        columnCount: Int
    ) -> [ReportPage] {
        let merged = merge(lines, with: changes)
        let pageRows = max(pageRows, 1)
        var out: [ReportPage] = []
        var start = 0
        repeat {
            let count = merged.count - start <= 2 * pageRows ? merged.count - start : pageRows
            let slice = merged[start..<(start + count)]
            out.append(page(firstKey: start == 0 ? firstKey : slice.first!.key, lines: slice, columnCount: columnCount))
            start += count
        } while start < merged.count
        return out
    }
}

/// A CSV field as the report pages write it (RFC 4180 quoting), read in place: the printers
/// (`ReportOutput`) and the segment pages' row splitter read fields the same way.
public enum CSVField {
    /// Reads the CSV field at `p` (quoted or not), hands its value to `body`, and moves `p`
    /// past the comma or newline after it.
    public static func read(
        _ bytes: UnsafeBufferPointer<UInt8>, at p: inout Int, scratch: inout [UInt8],
        _ body: (UnsafeBufferPointer<UInt8>) -> Void
    ) {
        let quote = UInt8(ascii: "\"")
        if p < bytes.count, bytes[p] == quote {
            scratch.removeAll(keepingCapacity: true)
            p += 1
            while p < bytes.count {
                if bytes[p] == quote {
                    if p + 1 < bytes.count, bytes[p + 1] == quote {
                        scratch.append(quote)
                        p += 2
                        continue
                    }
                    p += 1
                    break
                }
                scratch.append(bytes[p])
                p += 1
            }
            p += 1  // the comma or newline
            scratch.withUnsafeBufferPointer(body)
            return
        }
        let start = p
        while p < bytes.count, bytes[p] != UInt8(ascii: ","), bytes[p] != 0x0A { p += 1 }
        body(UnsafeBufferPointer(rebasing: bytes[start..<p]))
        p += 1
    }
}
