/// The one rule for text people type into the ledger — names, reasons, descriptions, the
/// actor, an idempotency key.
///
/// Such text is stored in events for good and printed in one-line messages, tables and
/// terminals, so it must mean what it shows: valid UTF-8 (never decoded with replacement
/// characters), on one line, with no control characters (C0, DEL, C1 — an ESC would drive
/// the terminal of whoever prints it), no line or paragraph separators, no bidirectional
/// overrides, embeddings or isolates (U+202E makes `gpj.exe` look like `exe.jpg`), not
/// empty or made only of blanks and invisible characters, and of a sane length. Anything
/// else is refused as bad usage, never stored altered.
public enum FreeText {
    /// Longest names, reasons and descriptions, in characters.
    public static let maxLength = 1_000
    /// Longest actor or idempotency key, in characters.
    public static let maxLabelLength = 200

    /// `value` if it is acceptable text, else a `ValueError` naming `flag`.
    public static func parse(_ value: String, flag: String, maxLength: Int = FreeText.maxLength) throws(ValueError) -> String {
        if let problem = problem(in: value, maxLength: maxLength) { throw ValueError("--\(flag): \(problem)") }
        return value
    }

    /// What is wrong with `value` as text, or nil.
    public static func problem(in value: String, maxLength: Int = FreeText.maxLength) -> String? {
        if value.unicodeScalars.allSatisfy({ isBlank($0) }) {
            let visibleNothing = value.unicodeScalars.contains { !$0.properties.isWhitespace }
            return visibleNothing ? "must not be empty: it has only invisible characters" : "must not be empty"
        }
        for scalar in value.unicodeScalars {
            switch scalar.value {
            case 0x00..<0x20, 0x7F, 0x80..<0xA0:
                return "must be one line without control characters (found U+\(hex(scalar)))"
            case 0x2028, 0x2029:
                return "must be one line (found the line separator U+\(hex(scalar)))"
            case 0x202A...0x202E, 0x2066...0x2069:
                return "must not contain bidirectional overrides or isolates (found U+\(hex(scalar)))"
            case 0xFFFD:
                return "contains U+FFFD, the replacement for bytes that were not valid UTF-8 — give valid UTF-8 text"
            default:
                continue
            }
        }
        if value.count > maxLength { return "must be at most \(maxLength) characters (got \(value.count))" }
        return nil
    }

    /// Whitespace, or a character that shows nothing (format characters such as U+200B,
    /// default-ignorable code points).
    static func isBlank(_ scalar: Unicode.Scalar) -> Bool {
        let p = scalar.properties
        return p.isWhitespace || p.isDefaultIgnorableCodePoint || p.generalCategory == .format
    }

    static func hex(_ scalar: Unicode.Scalar) -> String {
        let digits = String(scalar.value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}
