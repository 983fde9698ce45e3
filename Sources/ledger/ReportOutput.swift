import Foundation
import JSON
import Ledger
import Postgres
import Projections

/// Bytes on their way to a file descriptor (standard output by default), gathered in a
/// buffer of its own and written a megabyte at a time; or kept in memory, a megabyte
/// chunk after another, when there is no descriptor.
///
final class ByteOutput {
    let descriptor: Int32?
    let capacity = 1 << 20
    private var base: UnsafeMutablePointer<UInt8>
    private(set) var count = 0
    /// Full chunks kept in memory, without a descriptor.
    private var chunks: [UnsafeMutableBufferPointer<UInt8>] = []

    init(descriptor: Int32? = 1) {
        self.descriptor = descriptor
        base = .allocate(capacity: capacity)
    }

    deinit {
        base.deallocate()
        for chunk in chunks { chunk.deallocate() }
    }

    /// Everything written so far, without a descriptor.
    var collected: [UInt8] {
        var bytes: [UInt8] = []
        for chunk in chunks { bytes.append(contentsOf: chunk) }
        bytes.append(contentsOf: UnsafeBufferPointer(start: base, count: count))
        return bytes
    }

    /// Writes what was kept in memory to a descriptor, and forgets it.
    func drain(to descriptor: Int32) {
        for chunk in chunks {
            Self.write(UnsafeRawBufferPointer(chunk), to: descriptor)
            chunk.deallocate()
        }
        chunks.removeAll()
        Self.write(UnsafeRawBufferPointer(start: base, count: count), to: descriptor)
        count = 0
    }

    func append(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let source = bytes.baseAddress, bytes.count > 0 else { return }
        if count + bytes.count > capacity {
            flush()
            if bytes.count > capacity { return write(UnsafeRawBufferPointer(bytes)) }
        }
        (base + count).update(from: source, count: bytes.count)
        count += bytes.count
    }

    func append(_ byte: UInt8) {
        if count == capacity { flush() }
        base[count] = byte
        count += 1
    }

    func append(_ bytes: [UInt8]) { bytes.withUnsafeBufferPointer { append($0) } }

    /// Room for `n` more bytes (flushing first when needed), nil when `n` exceeds the
    /// buffer; write them there, then `commit` how many were written.
    @inline(__always) func room(_ n: Int) -> UnsafeMutablePointer<UInt8>? {
        if count + n > capacity {
            flush()
            if n > capacity { return nil }
        }
        return base + count
    }

    @inline(__always) func commit(_ n: Int) { count += n }

    func append(_ text: String) {
        var text = text
        text.withUTF8 { append($0) }
    }

    /// `n` spaces.
    func appendSpaces(_ n: Int) {
        var n = n
        while n > 0 {
            if count == capacity { flush() }
            let run = min(n, capacity - count)
            (base + count).update(repeating: 0x20, count: run)
            count += run
            n -= run
        }
    }

    /// UTF-8 bytes as a JSON string literal, escaped as `JSON.writeString` does.
    func appendJSONString(_ utf8: UnsafeBufferPointer<UInt8>) {
        var plain = true
        for byte in utf8 where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
            plain = false
            break
        }
        guard plain else {
            var escaped: [UInt8] = []
            JSON.writeString(utf8: utf8, into: &escaped)
            return append(escaped)
        }
        append(UInt8(ascii: "\""))
        append(utf8)
        append(UInt8(ascii: "\""))
    }

    /// Drops trailing spaces and tabs still in the buffer (the end of a table line).
    func trimTrailingSpaces() {
        while count > 0, base[count - 1] == 0x20 || base[count - 1] == 0x09 { count -= 1 }
    }

    func flush() {
        guard descriptor != nil else {
            // In memory: keep the chunk, start another.
            guard count > 0 else { return }
            chunks.append(UnsafeMutableBufferPointer(start: base, count: count))
            base = .allocate(capacity: capacity)
            count = 0
            return
        }
        write(UnsafeRawBufferPointer(start: base, count: count))
        count = 0
    }

    private func write(_ bytes: UnsafeRawBufferPointer) {
        guard let descriptor else {
            let chunk = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: bytes.count)
            _ = chunk.initialize(from: bytes.bindMemory(to: UInt8.self))
            return chunks.append(chunk)
        }
        Self.write(bytes, to: descriptor)
    }

    static func write(_ bytes: UnsafeRawBufferPointer, to descriptor: Int32) {
        var offset = 0
        while offset < bytes.count {
            let n = Foundation.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                return  // a closed pipe: the reader has what it wanted
            }
            offset += n
        }
    }
}

/// An aligned text table: columns padded to their widest cell, two spaces apart, numbers
/// and amounts right-aligned, no trailing spaces.
struct TextTable {
    var widths: [Int]
    var numeric: [Bool]

    /// Appends cell `column` of the current line (`width` characters wide).
    func appendCell(_ column: Int, _ cell: UnsafeBufferPointer<UInt8>, width: Int, to out: ByteOutput) {
        let separator = column > 0 ? 2 : 0
        let pad = max(widths[column] - width, 0)
        guard let at = out.room(separator + pad + cell.count) else {
            out.appendSpaces(separator)
            if numeric[column] { out.appendSpaces(pad) }
            out.append(cell)
            if !numeric[column] { out.appendSpaces(pad) }
            return
        }
        var p = at
        if numeric[column] {
            p.initialize(repeating: 0x20, count: separator + pad)
            p += separator + pad
            if cell.count > 0 { p.initialize(from: cell.baseAddress!, count: cell.count) }
        } else {
            p.initialize(repeating: 0x20, count: separator)
            p += separator
            if cell.count > 0 { p.initialize(from: cell.baseAddress!, count: cell.count) }
            (p + cell.count).initialize(repeating: 0x20, count: pad)
        }
        out.commit(separator + pad + cell.count)
    }

    func appendCell(_ column: Int, _ cell: String, to out: ByteOutput) {
        var cell = cell
        cell.withUTF8 { appendCell(column, $0, width: Self.width(of: $0), to: out) }
    }

    /// Ends the current line without its trailing spaces.
    func endLine(_ out: ByteOutput) {
        out.trimTrailingSpaces()
        out.append(0x0A)
    }

    func appendHeader(_ columns: [String], to out: ByteOutput) {
        for (i, column) in columns.enumerated() { appendCell(i, column.uppercased(), to: out) }
        endLine(out)
    }

    /// Terminal columns of a UTF-8 cell (`ReportText.displayWidth(utf8:)`).
    static func width(of cell: UnsafeBufferPointer<UInt8>) -> Int { ReportText.displayWidth(utf8: cell) }
}

/// What comes before each value of a JSON row: `{"order":`, `,"customer":`, … back to back,
/// column i's at `bytes[ends[i]..<ends[i + 1]]`. Built once per report.
struct JSONKeys: Sendable {
    var bytes: [UInt8] = []
    var ends = [0]

    init(_ columns: [String]) {
        for (i, column) in columns.enumerated() {
            bytes.append(UInt8(ascii: i == 0 ? "{" : ","))
            JSON.writeString(column, into: &bytes)
            bytes.append(UInt8(ascii: ":"))
            ends.append(bytes.count)
        }
    }
}

/// Where the pages of a report come from: the pages the projection keeps
/// (`projections.report_pages`, streamed), or rows rendered here into one page (`--as-of`,
/// and every other listing). Both go through the same printer, so they agree by
/// construction.
enum PageSource {
    case stored(ProjectionName, PostgresConnection)
    /// A report as issued at the close at this position (`reporting.issued_pages`).
    case issued(close: Int64, ProjectionName, PostgresConnection)
    case rendered(ReportPage)
    /// Pages already read and put together in the part the format prints
    /// (`OutputFormat.pagePart`): a report known at an instant mid-log (Schema/028).
    case pages([PrintablePage])

    func stream(
        _ part: ReportPages.Part, layout: ([PageLayout]) throws -> Void, page: (Int, PrintablePage) throws -> Void
    ) throws {
        switch self {
        case .stored(let name, let db):
            // Through schema reporting: a ledger_reporting login prints reports too.
            try ReportPages.stream(name, part, on: db, readable: true, layout: layout, page: page)
        case .issued(let close, let name, let db):
            guard try ReportPages.streamIssued(close: close, name, part, on: db, layout: layout, page: page) else {
                throw CLIError.failed("the report \(name.rawValue) as issued at position \(close) has no pages")
            }
        case .rendered(let rendered):
            try layout([rendered.layout])
            try page(0, PrintablePage(rendered, part))
        case .pages(let pages):
            try layout(pages.map(\.layout))
            for (i, p) in pages.enumerated() { try page(i, p) }
        }
    }
}

extension OutputFormat {
    /// What `ReportPrinter.print` reads of each page for this format: CSV lines for CSV and
    /// JSON, table cells for the table and HTML.
    var pagePart: ReportPages.Part {
        switch self {
        case .csv, .json: .csv
        case .table, .html: .table
        }
    }
}

/// What a printed report says about itself: its title (`portfolio`) and, for a report
/// folded from the log, the caption line naming what it shows (`portfolio as of 2026-06-30
/// — log through position 812`). The table prints the caption above the header, the HTML
/// page in its heading; JSON and CSV stay plain data.
struct ReportHeading {
    var title: String
    var caption: String?
}

/// The one printer of reports and listings: one function per format (CSV, JSON, table,
/// HTML) over pages of typed cells rendered once (`ReportPage`), whatever the pages come
/// from. A new format is one more case here.
enum ReportPrinter {
    static func print(
        _ columns: [ReportColumn], _ format: OutputFormat, from source: PageSource, to out: ByteOutput,
        heading: ReportHeading? = nil
    ) throws {
        let names = columns.map(\.name)
        switch format {
        case .csv:
            out.append(names.joined(separator: ",") + "\n")
            let kinds = columns.map(\.kind)
            let flattens = kinds.contains(.json)
            try source.stream(.csv, layout: { _ in }, page: { _, page in writeCSV(page, kinds: kinds, flattens: flattens, to: out) })
        case .html:
            // The table's cells (amounts with their currency), aligned as the text table
            // aligns them, as one self-contained page (`HTMLPage`).
            var numeric = Array(repeating: true, count: names.count)
            var rows: [[String]] = []
            try source.stream(
                .table,
                layout: { layouts in
                    for page in layouts where page.rowCount > 0 && page.numeric.count == names.count {
                        for i in names.indices { numeric[i] = numeric[i] && page.numeric[i] }
                    }
                },
                page: { _, page in
                    page.withText { bytes in
                        for line in bytes.split(separator: 0x0A, omittingEmptySubsequences: false).dropLast() {
                            rows.append(
                                line.split(separator: ReportPage.cellSeparator, omittingEmptySubsequences: false)
                                    .map { String(decoding: $0, as: UTF8.self) })
                        }
                    }
                })
            if rows.isEmpty { numeric = Array(repeating: false, count: names.count) }
            let title = heading?.title ?? "ledger"
            let body = """
                <header><h1>\(HTMLPage.escape(HTMLPage.heading(title)))</h1>\
                <div class="meta">\(HTMLPage.escape(heading?.caption ?? "current state"))<br>\
                \(rows.count) \(rows.count == 1 ? "row" : "rows")</div></header>
                <section class="report">
                \(HTMLPage.table(columns: names.map(HTMLPage.heading), rows: rows, numeric: numeric, emphasized: rows.map { $0.first == "TOTAL" }))
                </section>
                """
            out.append(HTMLPage.document(title: heading?.caption ?? title, body: body))
        case .json:
            let keys = JSONKeys(names)
            let kinds = columns.map(\.kind)
            var anyRows = false
            out.append(UInt8(ascii: "["))
            try printPages(source, .csv, to: out) { layouts in
                anyRows = layouts.contains { $0.rowCount > 0 }
                return { page, out, afterRows in writeJSON(page, keys: keys, kinds: kinds, afterRows: afterRows, to: out) }
            }
            out.append(anyRows ? "\n]\n" : "]\n")
        case .table:
            if let caption = heading?.caption { out.append(caption + "\n") }
            var rows = 0
            try printPages(source, .table, to: out) { layouts in
                var widths = names.map(\.count)
                var numeric = Array(repeating: true, count: names.count)
                for page in layouts where page.rowCount > 0 && page.widths.count == names.count {
                    rows += page.rowCount
                    for i in names.indices {
                        widths[i] = max(widths[i], page.widths[i])
                        numeric[i] = numeric[i] && page.numeric[i]
                    }
                }
                if rows == 0 { numeric = Array(repeating: false, count: names.count) }
                let table = TextTable(widths: widths, numeric: numeric)
                table.appendHeader(names, to: out)
                return { page, out, _ in writeTable(page, table, to: out) }
            }
            if rows == 0 { out.append("(no rows)\n") }
        }
        out.flush()
    }

    typealias PageConverter = @Sendable (PrintablePage, ByteOutput, _ afterRows: Bool) -> Void

    /// Reports of at least this many rows are converted on two threads: 20,000, or
    /// `$LEDGER_REPORT_PARALLEL_ROWS` (tests set 1 to run the threaded path on small data).
    static var parallelRows: Int {
        ProcessInfo.processInfo.environment["LEDGER_REPORT_PARALLEL_ROWS"].flatMap(Int.init) ?? 20_000
    }

    /// Streams a report's pages and prints each with the converter `prepare` makes from
    /// their layouts. A large report is converted by two threads taking pages in turn while
    /// the rest still arrive (`PageWorkers`); a small one here, page by page.
    static func printPages(
        _ source: PageSource, _ part: ReportPages.Part, to out: ByteOutput, _ prepare: ([PageLayout]) -> PageConverter
    ) throws {
        var convert: PageConverter?
        var workers: PageWorkers?
        var rowsBefore: [Bool] = []
        do {
            try source.stream(
                part,
                layout: { layouts in
                    let converter = prepare(layouts)
                    convert = converter
                    var seen = 0
                    for page in layouts {
                        rowsBefore.append(seen > 0)
                        seen += page.rowCount
                    }
                    if seen >= parallelRows, let descriptor = out.descriptor {
                        out.flush()
                        workers = PageWorkers(
                            pages: layouts.count, descriptor: descriptor, rowsBefore: rowsBefore, convert: converter)
                    }
                },
                page: { i, page in
                    if let workers { workers.deliver(i, page) } else { convert?(page, out, rowsBefore[i]) }
                })
        } catch {
            workers?.stop()
            throw error
        }
        workers?.finish()
    }

    /// JSON rows from the pages' CSV lines, each value written as its column's kind says.
    /// One pass over the bytes, no value built.
    static func writeJSON(
        _ page: PrintablePage, keys: JSONKeys, kinds: [ReportColumnKind], afterRows: Bool, to out: ByteOutput
    ) {
        let (prefixBytes, ends) = (keys.bytes, keys.ends)
        let null = Array("null".utf8)
        let comma = UInt8(ascii: ","), newline: UInt8 = 0x0A, quote = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\")
        var first = !afterRows
        var scratch: [UInt8] = []
        prefixBytes.withUnsafeBufferPointer { prefixes in
            page.withText { bytes in
                var p = 0
                while p < bytes.count {
                    if !first { out.append(comma) }
                    out.append(newline)
                    first = false
                    for (i, kind) in kinds.enumerated() {
                        out.append(UnsafeBufferPointer(rebasing: prefixes[ends[i]..<ends[i + 1]]))
                        if bytes[p] == quote {
                            CSVField.read(bytes, at: &p, scratch: &scratch) { value in
                                if kind == .integer || kind == .json || kind == .value { out.append(value) } else { out.appendJSONString(value) }
                            }
                            continue
                        }
                        // An unquoted field: no quote, comma or newline inside.
                        let start = p
                        var special = false
                        while p < bytes.count {
                            let byte = bytes[p]
                            if byte == comma || byte == newline { break }
                            if byte < 0x20 || byte == backslash { special = true }
                            p += 1
                        }
                        let value = UnsafeBufferPointer(rebasing: bytes[start..<p])
                        p += 1
                        switch kind {
                        case .integer where value.isEmpty, .json where value.isEmpty, .value where value.isEmpty:
                            out.append(null)
                        case .integer, .json, .value: out.append(value)
                        case .optionalText where value.isEmpty, .optionalMoney where value.isEmpty: out.append(null)
                        case .text, .optionalText, .money, .optionalMoney:
                            if !special, let at = out.room(value.count + 2) {
                                at[0] = quote
                                if value.count > 0 { (at + 1).initialize(from: value.baseAddress!, count: value.count) }
                                at[value.count + 1] = quote
                                out.commit(value.count + 2)
                            } else {
                                out.appendJSONString(value)
                            }
                        }
                    }
                    out.append(UInt8(ascii: "}"))
                }
            }
        }
    }

    /// Spreadsheet-safe CSV lines from a page's lines of exact values: text a spreadsheet
    /// would take for a formula gets its leading apostrophe (`ReportText.needsFormulaGuard`),
    /// a list or an object becomes one flat cell (`ReportText.flatCell`); amounts, counts
    /// and everything else are copied as they are, in runs between the cells that change.
    /// A page with no list or object column and no field that starts like a formula (or a
    /// quoted field, which might) is copied as it is: most pages, at the speed of a copy.
    static func writeCSV(_ page: PrintablePage, kinds: [ReportColumnKind], flattens: Bool, to out: ByteOutput) {
        let quote = UInt8(ascii: "\""), comma = UInt8(ascii: ","), newline: UInt8 = 0x0A
        var scratch: [UInt8] = []
        page.withText { bytes in
            if !flattens, !Self.mayStartLikeAFormula(bytes) { return out.append(bytes) }
            var copied = 0
            var p = 0
            var column = 0
            func copy(upTo end: Int) {
                if end > copied { out.append(UnsafeBufferPointer(rebasing: bytes[copied..<end])) }
                copied = end
            }
            while p < bytes.count {
                let start = p
                let kind = column < kinds.count ? kinds[column] : .value
                switch kind {
                case .text, .optionalText:
                    let valueStart = bytes[p] == quote ? p + 1 : p
                    var needsGuard = false
                    CSVField.read(bytes, at: &p, scratch: &scratch) { needsGuard = ReportText.needsFormulaGuard($0) }
                    if needsGuard {
                        copy(upTo: valueStart)
                        out.append(UInt8(ascii: "'"))
                    }
                case .json where bytes[p] != comma && bytes[p] != newline:
                    var flat = ""
                    CSVField.read(bytes, at: &p, scratch: &scratch) { value in
                        flat = (try? JSON.parse(value)).map(ReportText.flatCell) ?? String(decoding: value, as: UTF8.self)
                    }
                    copy(upTo: start)
                    out.append(ReportText.csvField(flat))
                    copied = p - 1  // the comma or newline after the field
                default:
                    CSVField.read(bytes, at: &p, scratch: &scratch) { _ in }
                }
                column = bytes[p - 1] == newline ? 0 : column + 1
            }
            copy(upTo: bytes.count)
        }
    }

    /// Whether any field of these CSV lines starts with a byte `ReportText.needsFormulaGuard`
    /// looks at (`=`, `+`, `-`, `@`, tab, CR, `'`) or with a quote (a quoted field's value
    /// might): one branch-free pass over the bytes through a table of byte classes, no field
    /// parsed (about twice as fast as testing each field's first byte).
    static func mayStartLikeAFormula(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        byteClasses.withUnsafeBufferPointer { classes in
            var previous: UInt8 = 1  // the text starts a field
            var hit: UInt8 = 0
            for byte in bytes {
                let kind = classes[Int(byte)]
                hit |= previous & (kind >> 1)
                previous = kind & 1
            }
            return hit != 0
        }
    }

    /// Per byte: 1 when it ends a field (`,`, newline), 2 when a field starting with it may
    /// need the formula guard.
    static let byteClasses: [UInt8] = (0..<256).map { value in
        switch UInt8(value) {
        case UInt8(ascii: ","), 0x0A: 1
        case UInt8(ascii: "="), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "@"), 0x09, 0x0D, UInt8(ascii: "'"),
            UInt8(ascii: "\""):
            2
        default: 0
        }
    }

    /// Table lines from the pages' cells.
    static func writeTable(_ page: PrintablePage, _ table: TextTable, to out: ByteOutput) {
        let columns = table.widths.count
        page.withText { bytes in
            var column = 0
            var start = 0
            for p in 0..<bytes.count {
                let byte = bytes[p]
                if byte == ReportPage.cellSeparator || byte == 0x0A {
                    let cell = UnsafeBufferPointer(rebasing: bytes[start..<p])
                    if column < columns {
                        table.appendCell(column, cell, width: TextTable.width(of: cell), to: out)
                    }
                    column += 1
                    start = p + 1
                    if byte == 0x0A {
                        table.endLine(out)
                        column = 0
                    }
                }
            }
        }
    }
}

/// Two threads converting a report's pages as they arrive: thread t takes pages t, t+2, …,
/// converts each into its own reused buffer, waits for its turn and writes it, so the
/// output is in page order and no fresh memory is touched.
final class PageWorkers: @unchecked Sendable {
    private let condition = NSCondition()
    // Guarded by `condition`:
    private var pages: [PrintablePage?]
    private var nextToWrite = 0
    private var stopped = false

    private let descriptor: Int32
    private let rowsBefore: [Bool]
    private let convert: ReportPrinter.PageConverter
    private let group = DispatchGroup()

    init(pages count: Int, descriptor: Int32, rowsBefore: [Bool], convert: @escaping ReportPrinter.PageConverter) {
        pages = Array(repeating: nil, count: count)
        self.descriptor = descriptor
        self.rowsBefore = rowsBefore
        self.convert = convert
        for thread in 0..<2 {
            group.enter()
            Thread {
                self.work(thread)
                self.group.leave()
            }.start()
        }
    }

    /// Page `i` has arrived.
    func deliver(_ i: Int, _ page: PrintablePage) {
        condition.lock()
        pages[i] = page
        condition.broadcast()
        condition.unlock()
    }

    /// Waits until every page is written.
    func finish() { group.wait() }

    /// Stops the threads (the stream failed) and waits for them.
    func stop() {
        condition.lock()
        stopped = true
        condition.broadcast()
        condition.unlock()
        group.wait()
    }

    private func work(_ thread: Int) {
        let own = ByteOutput(descriptor: nil)
        for i in stride(from: thread, to: rowsBefore.count, by: 2) {
            condition.lock()
            while pages[i] == nil, !stopped { condition.wait() }
            let page = pages[i]
            pages[i] = nil
            condition.unlock()
            guard let page else { return }
            convert(page, own, rowsBefore[i])
            condition.lock()
            while nextToWrite != i, !stopped { condition.wait() }
            let go = !stopped
            condition.unlock()
            guard go else { return }
            own.drain(to: descriptor)
            condition.lock()
            nextToWrite = i + 1
            condition.broadcast()
            condition.unlock()
        }
    }
}
