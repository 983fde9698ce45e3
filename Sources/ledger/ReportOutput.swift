import Foundation
import JSON
import Ledger
import Postgres
import Projections

/// Bytes on their way to a file descriptor (standard output by default), written in
/// large chunks.
struct ByteOutput {
    let descriptor: Int32
    var buffer: [UInt8] = []
    static let chunk = 1 << 20

    init(descriptor: Int32 = 1) {
        self.descriptor = descriptor
        buffer.reserveCapacity(Self.chunk + (64 << 10))
    }

    mutating func append(_ text: String) { buffer.append(contentsOf: text.utf8) }

    mutating func flushIfFull() { if buffer.count >= Self.chunk { flush() } }

    mutating func flush() {
        buffer.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Foundation.write(descriptor, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    return  // a closed pipe: the reader has what it wanted
                }
                offset += n
            }
        }
        buffer.removeAll(keepingCapacity: true)
    }
}

/// An aligned text table: columns padded to their widest cell, two spaces apart, numbers
/// and amounts right-aligned, no trailing spaces.
struct TextTable {
    var widths: [Int]
    var numeric: [Bool]
    static let spaces = [UInt8](repeating: 0x20, count: 256)

    /// Appends cell `column` of the current line (`width` characters wide).
    func appendCell(_ column: Int, _ cell: UnsafeBufferPointer<UInt8>, width: Int, into out: inout [UInt8]) {
        if column > 0 { out.append(contentsOf: Self.spaces[0..<2]) }
        var pad = max(widths[column] - width, 0)
        if !numeric[column] { out.append(contentsOf: cell) }
        while pad > 0 {
            let n = min(pad, Self.spaces.count)
            out.append(contentsOf: Self.spaces[0..<n])
            pad -= n
        }
        if numeric[column] { out.append(contentsOf: cell) }
    }

    func appendCell(_ column: Int, _ cell: String, into out: inout [UInt8]) {
        var cell = cell
        cell.withUTF8 { appendCell(column, $0, width: Self.width(of: $0), into: &out) }
    }

    /// Ends the current line without its trailing spaces.
    func endLine(into out: inout [UInt8]) {
        while let last = out.last, last == 0x20 || last == 0x09 { out.removeLast() }
        out.append(0x0A)
    }

    func appendHeader(_ columns: [String], into out: inout [UInt8]) {
        for (i, column) in columns.enumerated() { appendCell(i, column.uppercased(), into: &out) }
        endLine(into: &out)
    }

    /// Characters (grapheme clusters) in a UTF-8 cell; ASCII is counted by bytes.
    static func width(of cell: UnsafeBufferPointer<UInt8>) -> Int {
        var high: UInt8 = 0
        for byte in cell { high |= byte }
        return high < 0x80 ? cell.count : String(decoding: cell, as: UTF8.self).count
    }
}

/// `ledger report NAME` without `--as-of`: prints the report's pages (see `ReportPage`),
/// in any format, without building a row object per row.
enum ReportPrinter {
    static func print(
        _ name: ProjectionName, _ format: OutputFormat, from db: PostgresConnection, to out: inout ByteOutput
    ) throws {
        switch format {
        case .csv:
            let pages = try ReportPages.read(name, .csv, on: db)
            out.append(name.columns.joined(separator: ",") + "\n")
            for page in pages {
                out.append(page.csv)
                out.flushIfFull()
            }
        case .json: writeJSON(try ReportPages.read(name, .csv, on: db), name, into: &out)
        case .table: writeTable(try ReportPages.read(name, .table, on: db), name, into: &out)
        }
        out.flush()
    }

    /// JSON rows from the pages' CSV lines: the same bytes as `Listing` prints for the
    /// domain rows (a test holds them together).
    static func writeJSON(_ pages: [ReportPage], _ name: ProjectionName, into out: inout ByteOutput) {
        let kinds = name.columnKinds
        let prefixes: [[UInt8]] = name.columns.enumerated().map { i, column in
            var bytes: [UInt8] = [UInt8(ascii: i == 0 ? "{" : ",")]
            JSON.writeString(column, into: &bytes)
            bytes.append(UInt8(ascii: ":"))
            return bytes
        }
        var first = true
        var scratch: [UInt8] = []
        out.buffer.append(UInt8(ascii: "["))
        for page in pages {
            var csv = page.csv
            csv.withUTF8 { bytes in
                var p = 0
                while p < bytes.count {
                    out.buffer.append(contentsOf: (first ? "\n" : ",\n").utf8)
                    first = false
                    for (i, kind) in kinds.enumerated() {
                        out.buffer.append(contentsOf: prefixes[i])
                        Self.field(bytes, at: &p, scratch: &scratch) { value in
                            switch kind {
                            case .integer, .json: out.buffer.append(contentsOf: value)
                            case .optionalText where value.isEmpty: out.buffer.append(contentsOf: "null".utf8)
                            case .text, .optionalText, .money: JSON.writeString(utf8: value, into: &out.buffer)
                            }
                        }
                    }
                    out.buffer.append(UInt8(ascii: "}"))
                }
            }
            out.flushIfFull()
        }
        out.append(first ? "]\n" : "\n]\n")
    }

    /// Reads the CSV field at `p` (quoted or not), hands its value to `body`, and moves `p`
    /// past the comma or newline after it.
    static func field(
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

    /// The table from the pages' cells, widths and alignment.
    static func writeTable(_ pages: [ReportPage], _ name: ProjectionName, into out: inout ByteOutput) {
        let columns = name.columns
        var widths = columns.map(\.count)
        var numeric = Array(repeating: true, count: columns.count)
        var rows = 0
        for page in pages where page.rowCount > 0 && page.widths.count == columns.count {
            rows += page.rowCount
            for i in columns.indices {
                widths[i] = max(widths[i], page.widths[i])
                numeric[i] = numeric[i] && page.numeric[i]
            }
        }
        if rows == 0 { numeric = Array(repeating: false, count: columns.count) }
        let table = TextTable(widths: widths, numeric: numeric)
        table.appendHeader(columns, into: &out.buffer)
        for page in pages {
            var cells = page.cells
            cells.withUTF8 { bytes in
                var p = 0
                var column = 0
                var start = 0
                var high: UInt8 = 0
                while p < bytes.count {
                    let byte = bytes[p]
                    if byte == ReportPage.cellSeparator || byte == 0x0A {
                        let cell = UnsafeBufferPointer(rebasing: bytes[start..<p])
                        let width = high < 0x80 ? cell.count : String(decoding: cell, as: UTF8.self).count
                        if column < columns.count { table.appendCell(column, cell, width: width, into: &out.buffer) }
                        column += 1
                        high = 0
                        start = p + 1
                        if byte == 0x0A {
                            table.endLine(into: &out.buffer)
                            column = 0
                        }
                    } else {
                        high |= byte
                    }
                    p += 1
                }
            }
            out.flushIfFull()
        }
        if rows == 0 { out.append("(no rows)\n") }
    }
}
