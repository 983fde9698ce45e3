import Foundation
import JSON
import Ledger
import Projections

/// Rows to print in the chosen format, through the one report printer (`ReportPrinter`):
/// rendered into a page of typed cells, then printed as an aligned table for people, a JSON
/// array of row objects or CSV with a header for scripts. JSON and CSV carry exact values
/// (amounts as decimal strings); the table shows friendlier cells (¥4,500,000).
struct Listing {
    var columns: [ReportColumn]
    var rows: [[ReportCell]]

    init(columns: [ReportColumn], rows: [[ReportCell]]) {
        self.columns = columns
        self.rows = rows
    }

    /// Rows that are JSON objects (a command's result: a status, a summary, events): each
    /// column's kind is what its values are — text when every value is a string, text or
    /// null when some are null, a JSON value otherwise (kept as JSON in a CSV cell).
    init(columns names: [String], rows objects: [JSON]) {
        let kinds: [ReportColumnKind] = names.map { name in
            let values = objects.map { $0[name] ?? .null }
            if values.allSatisfy({ $0.stringValue != nil }) { return .text }
            if values.allSatisfy({ $0.stringValue != nil || $0 == .null }) { return .optionalText }
            return .value
        }
        columns = zip(names, kinds).map { ReportColumn($0, $1) }
        rows = objects.map { object in
            zip(names, kinds).map { name, kind in
                let value = object[name] ?? .null
                switch kind {
                case .text, .optionalText: return .optionalText(value.stringValue)
                default: return .value(value)
                }
            }
        }
    }

    /// The rows as JSON objects.
    var objects: [JSON] {
        rows.map { cells in .object(Dictionary(uniqueKeysWithValues: zip(columns.map(\.name), cells.map(\.json)))) }
    }

    func render(_ format: OutputFormat, heading: ReportHeading? = nil) -> String {
        let out = ByteOutput(descriptor: nil)
        let page = ReportPage(firstKey: "", columnCount: columns.count, cells: rows)
        // Rendered rows cannot fail to stream.
        try! ReportPrinter.print(columns, format, from: .rendered(page), to: out, heading: heading)
        return String(decoding: out.collected, as: UTF8.self)
    }

    /// One object with its keys in column order (then any others, sorted), for commands that
    /// print a single object rather than rows (`digest`, `prove`).
    static func write(_ object: JSON, columns: [String], into out: inout [UInt8]) {
        guard case .object(let members) = object else { return object.write(into: &out) }
        out.append(UInt8(ascii: "{"))
        var first = true
        let listed = Set(columns)
        for key in columns.filter({ members[$0] != nil }) + members.keys.sorted().filter({ !listed.contains($0) }) {
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            JSON.writeString(key, into: &out)
            out.append(UInt8(ascii: ":"))
            members[key]!.write(into: &out)
        }
        out.append(UInt8(ascii: "}"))
    }

    /// Prints through standard output's own buffer, in order with `print` around it.
    func print(_ format: OutputFormat, heading: ReportHeading? = nil) {
        Swift.print(render(format, heading: heading), terminator: "")
    }
}
