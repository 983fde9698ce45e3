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

    static func plain(_ value: JSON?) -> String {
        switch value {
        case nil, .null?: return ""
        case .string(let s)?: return s
        case .number(let n)?: return n
        case .bool(let b)?: return b ? "true" : "false"
        case let other?: return other.canonicalString
        }
    }

    /// One CSV field, quoted when it must be (RFC 4180).
    static func csvField(_ s: String) -> String {
        guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return s }
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    func renderCSV() -> String {
        let field = Self.csvField
        var out = columns.map(field).joined(separator: ",") + "\n"
        for row in rows {
            out += columns.map { field(Self.plain(row[$0])) }.joined(separator: ",") + "\n"
        }
        return out
    }

    /// `42`, `-3.5`, `¥4,500,000`, `$1,250.50`, `1,250.50 CNY`.
    static func looksNumeric(_ cell: String) -> Bool {
        var scalars = Substring(cell).unicodeScalars[...]
        if scalars.first == "-" { scalars = scalars.dropFirst() }
        if let first = scalars.first, "¥$€£".unicodeScalars.contains(first) { scalars = scalars.dropFirst() }
        guard let first = scalars.first, ("0"..."9").contains(first) else { return false }
        // Digits with grouping commas, an optional fraction, an optional " CUR" suffix.
        var sawPoint = false
        var rest = scalars
        while let c = rest.first {
            if ("0"..."9").contains(c) || (c == "," && !sawPoint) {
                rest = rest.dropFirst()
            } else if c == "." && !sawPoint {
                sawPoint = true
                rest = rest.dropFirst()
            } else {
                break
            }
        }
        if rest.isEmpty { return true }
        let suffix = String(String.UnicodeScalarView(rest))
        return suffix.count == 4 && suffix.first == " " && suffix.dropFirst().allSatisfy { $0.isUppercase && $0.isASCII }
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
