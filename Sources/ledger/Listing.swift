import Foundation
import JSON

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
            row.write(into: &out)
            out.append(contentsOf: Array((i + 1 < rows.count ? ",\n" : "\n").utf8))
        }
        out.append(contentsOf: Array("]\n".utf8))
        return String(decoding: out, as: UTF8.self)
    }

    static func plain(_ value: JSON?) -> String {
        switch value {
        case nil, .null?: return ""
        case .string(let s)?: return s
        case .number(let n)?: return n
        case .bool(let b)?: return b ? "true" : "false"
        case let other?: return other.canonicalString
        }
    }

    func renderCSV() -> String {
        func field(_ s: String) -> String {
            guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return s }
            return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }
        var out = columns.map(field).joined(separator: ",") + "\n"
        for row in rows {
            out += columns.map { field(Self.plain(row[$0])) }.joined(separator: ",") + "\n"
        }
        return out
    }

    /// `42`, `-3.5`, `¥4,500,000`, `$1,250.50`, `1,250.50 CNY`.
    static func looksNumeric(_ cell: String) -> Bool {
        cell.range(of: #"^-?[¥$€£]?[0-9][0-9,]*(\.[0-9]+)?( [A-Z]{3})?$"#, options: .regularExpression) != nil
    }

    func renderTable() -> String {
        let cells: [[String]] = display ?? rows.map { row in columns.map { Self.plain(row[$0]) } }
        let header = columns.map { $0.uppercased() }
        var widths = header.map(\.count)
        for row in cells {
            for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) }
        }
        // Right-align columns whose cells are all numbers or amounts.
        let numeric = columns.indices.map { i in
            !cells.isEmpty && cells.allSatisfy { $0[i].isEmpty || Self.looksNumeric($0[i]) }
        }
        func line(_ row: [String]) -> String {
            row.enumerated().map { i, cell in
                let pad = String(repeating: " ", count: widths[i] - cell.count)
                return numeric[i] ? pad + cell : cell + pad
            }.joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
        }
        var out = line(header) + "\n"
        for row in cells { out += line(row) + "\n" }
        if cells.isEmpty { out += "(no rows)\n" }
        return out
    }
}
