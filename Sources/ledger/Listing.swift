import Foundation
import JSON
import Projections

/// Rows to print in the chosen format: an aligned table for people, a JSON array of row
/// objects or CSV with a header for scripts. JSON and CSV carry exact values (amounts as
/// decimal strings); the table may show friendlier cells (¥4,500,000).
struct Listing {
    var columns: [String]
    var rows: [JSON]
    /// Table cells per row, when they differ from the JSON values.
    var display: [[String]]? = nil

    func render(_ format: OutputFormat) -> String {
        switch format {
        case .json: return renderJSON()
        case .csv: return renderCSV()
        case .table: return renderTable()
        }
    }

    func print(_ format: OutputFormat) {
        Swift.print(render(format), terminator: "")
    }

    func renderJSON() -> String {
        guard !rows.isEmpty else { return "[]\n" }
        var out: [UInt8] = Array("[\n".utf8)
        for (i, row) in rows.enumerated() {
            Self.write(row, columns: columns, into: &out)
            out.append(contentsOf: Array((i + 1 < rows.count ? ",\n" : "\n").utf8))
        }
        out.append(contentsOf: Array("]\n".utf8))
        return String(decoding: out, as: UTF8.self)
    }

    /// A row object with its keys in column order (then any others, sorted): the order
    /// people read, and the same on every run.
    static func write(_ row: JSON, columns: [String], into out: inout [UInt8]) {
        guard case .object(let members) = row else { return row.write(into: &out) }
        out.append(UInt8(ascii: "{"))
        var first = true
        func member(_ key: String, _ value: JSON) {
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            JSON.writeString(key, into: &out)
            out.append(UInt8(ascii: ":"))
            value.write(into: &out)
        }
        for key in columns { if let value = members[key] { member(key, value) } }
        let listed = Set(columns)
        for key in members.keys.sorted() where !listed.contains(key) { member(key, members[key]!) }
        out.append(UInt8(ascii: "}"))
    }

    func renderCSV() -> String {
        let field = ReportText.csvField
        var out = columns.map(field).joined(separator: ",") + "\n"
        for row in rows {
            out += columns.map { field(ReportText.plain(row[$0])) }.joined(separator: ",") + "\n"
        }
        return out
    }

    func renderTable() -> String {
        let cells: [[String]] = (display ?? rows.map { row in columns.map { ReportText.plain(row[$0]) } })
            .map { $0.map(ReportText.terminalSafe) }
        var widths = columns.map(\.count)
        for row in cells {
            for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], ReportText.displayWidth(cell)) }
        }
        // Right-align columns whose cells are all numbers or amounts.
        let numeric = columns.indices.map { i in
            !cells.isEmpty && cells.allSatisfy { $0[i].isEmpty || ReportText.looksNumeric($0[i]) }
        }
        let table = TextTable(widths: widths, numeric: numeric)
        let out = ByteOutput(descriptor: nil)
        table.appendHeader(columns, to: out)
        for row in cells {
            for (i, cell) in row.enumerated() where i < widths.count { table.appendCell(i, cell, to: out) }
            table.endLine(out)
        }
        if cells.isEmpty { out.append("(no rows)\n") }
        out.flush()
        return String(decoding: out.collected, as: UTF8.self)
    }
}
