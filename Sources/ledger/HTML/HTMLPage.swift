import Projections

/// Self-contained HTML for reports: one page, inline CSS, no script, no external fonts or
/// images, so it can be mailed, archived and printed (A4) as it is. Every text that came
/// from the ledger goes through `escape`.
enum HTMLPage {
    /// `&`, `<`, `>`, `"` and `'` as entities: the only characters that can change the
    /// meaning of text inside an element or a quoted attribute.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// A complete document around `body`.
    static func document(title: String, body: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(escape(title))</title>
        <style>
        \(style)
        </style>
        </head>
        <body>
        \(body)
        </body>
        </html>

        """
    }

    /// System fonts only (Japanese names render with whatever CJK font the reader has).
    static let style = """
        @page { size: A4; margin: 12mm 10mm; }
        * { box-sizing: border-box; }
        :root { --ink: #1b2430; --muted: #5d6b7a; --line: #dde3ea; --head: #eef2f6; --accent: #1f3a5f; }
        body { margin: 0 auto; max-width: 1160px; padding: 28px 24px; background: #fff; color: var(--ink);
          font: 10pt/1.45 system-ui, -apple-system, "Segoe UI", "Noto Sans", "Noto Sans CJK JP", "Hiragino Sans",
          "Liberation Sans", Arial, sans-serif; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
        header { display: flex; justify-content: space-between; align-items: flex-end;
          border-bottom: 3px solid var(--accent); padding-bottom: 8px; margin-bottom: 16px; }
        header h1 { font-size: 19pt; margin: 0; letter-spacing: -0.01em; color: var(--accent); }
        header .meta { color: var(--muted); font-size: 9pt; text-align: right; }
        h2 { font-size: 12.5pt; color: var(--accent); margin: 0 0 6px; }
        h3 { font-size: 10pt; margin: 0 0 4px; color: var(--ink); }
        p.note { color: var(--muted); font-size: 8.5pt; margin: 4px 0 0; }
        section { margin: 0 0 20px; }
        section.report { break-inside: auto; }
        .kpis { display: grid; grid-template-columns: repeat(7, 1fr); gap: 8px; margin-bottom: 6px; }
        .kpi { border: 1px solid var(--line); border-top: 3px solid var(--accent); border-radius: 5px; padding: 7px 9px; }
        .kpi .label { font-size: 7.5pt; text-transform: uppercase; letter-spacing: 0.05em; color: var(--muted); }
        .kpi .value { font-size: 13pt; font-weight: 650; font-variant-numeric: tabular-nums; white-space: nowrap; }
        .kpi-currency { font-size: 9pt; color: var(--muted); margin: 6px 0 4px; }
        .charts { display: grid; grid-template-columns: 1fr 1fr; gap: 14px 18px; }
        .chart { border: 1px solid var(--line); border-radius: 5px; padding: 10px 12px; break-inside: avoid; }
        .chart svg { display: block; width: 100%; height: auto; }
        .empty { color: var(--muted); font-style: italic; font-size: 9pt; }
        table { border-collapse: collapse; width: 100%; font-size: 7.6pt; font-variant-numeric: tabular-nums; }
        thead { display: table-header-group; }
        th { background: var(--head); text-align: left; font-weight: 600; padding: 4px 6px; border-bottom: 1px solid #b9c5d1; }
        td { padding: 3px 6px; border-bottom: 1px solid #edf1f4; vertical-align: top; }
        tbody tr:nth-child(even) td { background: #fafbfc; }
        tr { break-inside: avoid; }
        .num { text-align: right; white-space: nowrap; }
        .id { white-space: nowrap; }
        tr.total td { font-weight: 650; background: #f1f4f8; border-top: 1px solid #b9c5d1; }
        @media print {
          /* Nothing may be wider than the A4 page: Chromium would shrink the whole document. */
          body { padding: 0; max-width: none; font-size: 9pt; }
          .kpi .value { font-size: 11pt; }
          .charts { gap: 8px 10px; }
          table { font-size: 6.6pt; }
          th, td { padding: 2px 3px; }
          td.id { white-space: normal; }
        }
        """

    /// A report as a table: `numeric` columns right-aligned, rows where `emphasized` is
    /// true (TOTAL rows) in bold.
    static func table(columns: [String], rows: [[String]], numeric: [Bool], emphasized: [Bool] = []) -> String {
        guard !rows.isEmpty else { return "<p class=\"empty\">No rows.</p>" }
        // The row's key (an id: no spaces anywhere in the first column) never wraps at its
        // hyphens; other columns may, so a wide report still fits the page.
        let keep = columns.indices.map { i in i == 0 && rows.allSatisfy { $0.isEmpty || !$0[0].contains(" ") } }
        var out = "<table>\n<thead><tr>"
        for (i, column) in columns.enumerated() {
            out += numeric[i] ? "<th class=\"num\">" : "<th>"
            out += escape(column) + "</th>"
        }
        out += "</tr></thead>\n<tbody>\n"
        for (r, row) in rows.enumerated() {
            out += r < emphasized.count && emphasized[r] ? "<tr class=\"total\">" : "<tr>"
            for (i, cell) in row.enumerated() where i < columns.count {
                out += numeric[i] ? "<td class=\"num\">" : keep[i] ? "<td class=\"id\">" : "<td>"
                out += escape(cell) + "</td>"
            }
            out += "</tr>\n"
        }
        return out + "</tbody>\n</table>"
    }

    /// Right-align a column whose cells are all numbers or amounts (as the text table does).
    static func numericColumns(_ columns: [String], _ rows: [[String]]) -> [Bool] {
        columns.indices.map { i in
            !rows.isEmpty && rows.allSatisfy { i >= $0.count || $0[i].isEmpty || ReportText.looksNumeric($0[i]) }
        }
    }

    /// Column headings for people: `paid_in` → `Paid in`, `dpi` → `DPI`.
    static func heading(_ column: String) -> String {
        switch column {
        case "dpi", "rvpi", "tvpi", "irr", "moic", "sku", "nav": return column.uppercased()
        default:
            let words = column.split(separator: "_").map(String.init)
            guard let first = words.first else { return column }
            return ([first.prefix(1).uppercased() + first.dropFirst()] + words.dropFirst()).joined(separator: " ")
        }
    }
}
