import JSON
import Ledger

extension ProjectionName {
    /// The report's columns, in the contract's order (the JSON keys), with their kinds.
    public var columns: [ReportColumn] {
        func columns<Row: ProjectionTable>(_ type: Row.Type) -> [ReportColumn] { Row.report.columns }
        return columns(rowType)
    }
}

/// The text forms of report rows, shared by the CLI and the report pages so every path
/// prints the same bytes: CSV fields (RFC 4180) and table cells.
public enum ReportText {
    /// A value as a bare cell: strings as they are, lists and objects as canonical JSON.
    public static func plain(_ value: JSON?) -> String { ReportCell.plain(value) }

    /// One CSV field, quoted when it must be (RFC 4180).
    public static func csvField(_ s: String) -> String {
        guard s.utf8.contains(where: { $0 == 0x2C || $0 == 0x22 || $0 == 0x0A || $0 == 0x0D }) else {
            return s
        }
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// A row's cells as one CSV line (with its newline): the exact values, as in JSON.
    public static func csvLine(_ cells: [ReportCell]) -> String {
        var line = ""
        for (i, cell) in cells.enumerated() {
            if i > 0 { line += "," }
            line += csvField(cell.exact)
        }
        return line + "\n"
    }

    /// Whether a spreadsheet would take a text cell for a formula: it starts with `=`, `+`,
    /// `-` or `@`, or with a tab or carriage return (which some strip first) — Excel,
    /// LibreOffice and Google Sheets then evaluate it, so a customer named `=HYPERLINK(…)`
    /// would run when the file is opened. A leading apostrophe is guarded too, so that one
    /// leading apostrophe is always the guard's and the text reads back exactly. A text
    /// column's decimal number (an IRR of `-0.1256`) is a number, not a formula: left alone.
    public static func needsFormulaGuard(_ text: some Collection<UInt8>) -> Bool {
        guard let first = text.first else { return false }
        switch first {
        case UInt8(ascii: "="), UInt8(ascii: "+"), UInt8(ascii: "@"), 0x09, 0x0D, UInt8(ascii: "'"): return true
        case UInt8(ascii: "-"): return !isDecimalNumber(text)
        default: return false
        }
    }

    /// `-12`, `0.1256`, `-0.50`: an optional minus, digits, an optional fraction.
    static func isDecimalNumber(_ text: some Collection<UInt8>) -> Bool {
        var digits = 0, point = false, afterPoint = 0
        for (i, byte) in text.enumerated() {
            switch byte {
            case UInt8(ascii: "-") where i == 0: continue
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                if point { afterPoint += 1 } else { digits += 1 }
            case UInt8(ascii: ".") where !point && digits > 0: point = true
            default: return false
            }
        }
        return digits > 0 && (!point || afterPoint > 0)
    }

    /// Text as a spreadsheet shows it, never as a formula: with the OWASP guard, a leading
    /// apostrophe (the spreadsheets' own mark for "this is text"), when `needsFormulaGuard`.
    public static func formulaGuarded(_ text: String) -> String {
        needsFormulaGuard(text.utf8) ? "'" + text : text
    }

    /// A report's list or object as one flat, formula-guarded CSV cell, never JSON: a list
    /// as its items joined by `; ` (a milestone as `name (date)`), an object as `key value`
    /// pairs joined by `; ` in key order (`compute 1250000; equipment 620000000`). Amounts
    /// inside stay plain decimal strings.
    public static func flatCell(_ value: JSON) -> String {
        let flat: String
        switch value {
        case .array(let items):
            flat = items.map { item in
                if let name = item["name"]?.stringValue, let date = item["date"]?.stringValue { return "\(name) (\(date))" }
                return plain(item)
            }.joined(separator: "; ")
        case .object(let members):
            flat = members.keys.sorted().map { "\($0) \(plain(members[$0]))" }.joined(separator: "; ")
        default:
            flat = plain(value)
        }
        return formulaGuarded(flat)
    }

    /// A row's cells as table cells, each on one line.
    public static func tableCells(_ cells: [ReportCell]) -> [String] { cells.map { oneLine($0.display) } }

    /// A table cell on one line: line breaks and the cell separator of report pages
    /// (U+001F) become spaces, and other characters a terminal would act on are escaped
    /// (`terminalSafe`).
    static func oneLine(_ cell: String) -> String {
        func odd(_ c: Unicode.Scalar) -> Bool { c == "\n" || c == "\r" || c == "\u{1F}" }
        guard cell.unicodeScalars.contains(where: { odd($0) || isUnsafe($0) }) else { return cell }
        return terminalSafe(String(String.UnicodeScalarView(cell.unicodeScalars.map { odd($0) ? " " : $0 })))
    }

    /// Text as it may be shown on a terminal: control characters (C0, DEL, C1 — ESC starts
    /// the sequences that recolour, move the cursor or retitle the window), line separators
    /// and bidirectional overrides are written as JSON-style escapes (`\u001b`), as
    /// `ledger events` shows them inside its JSON. Text from before the ledger refused such
    /// characters, and text echoed in error messages, goes through here.
    public static func terminalSafe(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: isUnsafe) else { return text }
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            guard isUnsafe(scalar) else {
                out.append(scalar)
                continue
            }
            let digits = String(scalar.value, radix: 16)
            let escaped = "\\u" + String(repeating: "0", count: max(0, 4 - digits.count)) + digits
            out.append(contentsOf: escaped.unicodeScalars)
        }
        return String(out)
    }

    static func isUnsafe(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00..<0x20, 0x7F..<0xA0, 0x2028, 0x2029, 0x202A...0x202E, 0x2066...0x2069: true
        default: false
        }
    }

    /// Terminal columns a table cell takes: one per character, two for East Asian wide and
    /// full-width characters (ソフトバンク is 12 columns, as a terminal shows it).
    public static func displayWidth(_ cell: String) -> Int {
        var width = 0
        for character in cell {
            guard let scalar = character.unicodeScalars.first else { continue }
            width += isWide(scalar.value) ? 2 : 1
        }
        return width
    }

    /// `displayWidth` of a cell's UTF-8 bytes. Below U+0300 every scalar is one character
    /// one column wide (cells hold no line breaks or control characters), so those are
    /// counted from the bytes; anything else goes through `displayWidth`.
    public static func displayWidth(utf8 cell: UnsafeBufferPointer<UInt8>) -> Int {
        var continuation = 0
        for byte in cell where byte >= 0x80 {
            if byte < 0xC0 {
                continuation += 1
            } else if byte >= 0xCC {
                return displayWidth(String(decoding: cell, as: UTF8.self))
            }
        }
        return cell.count - continuation
    }

    /// East Asian Wide (W) and Fullwidth (F) ranges of Unicode's EastAsianWidth.txt, merged.
    static func isWide(_ v: UInt32) -> Bool {
        guard v >= 0x1100 else { return false }
        return (0x1100...0x115F).contains(v) || (0x231A...0x231B).contains(v) || (0x2329...0x232A).contains(v)
            || (0x23E9...0x23EC).contains(v) || (0x25FD...0x25FE).contains(v) || (0x2614...0x2615).contains(v)
            || (0x2E80...0x303E).contains(v) || (0x3041...0x33FF).contains(v) || (0x3400...0x4DBF).contains(v)
            || (0x4E00...0x9FFF).contains(v) || (0xA000...0xA4CF).contains(v) || (0xA960...0xA97F).contains(v)
            || (0xAC00...0xD7A3).contains(v) || (0xF900...0xFAFF).contains(v) || (0xFE10...0xFE19).contains(v)
            || (0xFE30...0xFE6F).contains(v) || (0xFF00...0xFF60).contains(v) || (0xFFE0...0xFFE6).contains(v)
            || (0x16FE0...0x18CFF).contains(v) || (0x1B000...0x1B2FF).contains(v) || (0x1F300...0x1F64F).contains(v)
            || (0x1F900...0x1F9FF).contains(v) || (0x20000...0x3FFFD).contains(v)
    }

    /// `looksNumeric` of a cell's UTF-8 bytes, without making a `String`: the same test on
    /// the encoded scalars (every scalar it compares with is ASCII but the currency signs,
    /// matched by their encodings, so any other byte ≥ 0x80 fails wherever `looksNumeric`
    /// would fail; its suffix of four characters, a space and three ASCII capitals, is four bytes).
    public static func looksNumeric(utf8 c: UnsafeBufferPointer<UInt8>) -> Bool {
        let n = c.count
        var i = 0
        if i < n, c[i] == UInt8(ascii: "-") { i += 1 }
        if i + 1 < n, c[i] == 0xC2, c[i + 1] == 0xA5 || c[i + 1] == 0xA3 {
            i += 2  // ¥ £
        } else if i + 2 < n, c[i] == 0xE2, c[i + 1] == 0x82, c[i + 2] == 0xAC {
            i += 3  // €
        } else if i < n, c[i] == UInt8(ascii: "$") {
            i += 1
        }
        func digit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }
        guard i < n, digit(c[i]) else { return false }
        var sawPoint = false
        while i < n {
            let b = c[i]
            if digit(b) || (b == UInt8(ascii: ",") && !sawPoint) {
                i += 1
            } else if b == UInt8(ascii: "."), !sawPoint {
                sawPoint = true
                i += 1
            } else {
                break
            }
        }
        if i == n { return true }
        func capital(_ b: UInt8) -> Bool { b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z") }
        return n - i == 4 && c[i] == 0x20 && capital(c[i + 1]) && capital(c[i + 2]) && capital(c[i + 3])
    }

    /// Whether a table cell reads as a number, so its column is right-aligned:
    /// `42`, `-3.5`, `¥4,500,000`, `$1,250.50`, `1,250.50 CNY`.
    public static func looksNumeric(_ cell: String) -> Bool {
        var scalars = Substring(cell).unicodeScalars[...]
        if scalars.first == "-" { scalars = scalars.dropFirst() }
        if let first = scalars.first, "¥$€£".unicodeScalars.contains(first) {
            scalars = scalars.dropFirst()
        }
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
        return suffix.count == 4 && suffix.first == " "
            && suffix.dropFirst().allSatisfy { $0.isUppercase && $0.isASCII }
    }
}
