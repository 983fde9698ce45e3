/// The flag values of one write command after each was checked against its spec's kind:
/// what a spec's `action(_:)` builds the domain command from. Reading a flag the spec does
/// not declare, or of another kind, is a programming error caught by the first test that
/// parses the spec's example.
public struct CommandArguments: Sendable, Equatable {
    /// Checked values by flag name; `date` is always there when the spec declares it.
    public let values: [String: FlagValue]
    /// The business date: `--date`, else today (also for a command without `--date`).
    public let date: Day

    /// Checks `fields` (long flag names without dashes → text) against `spec`: no unknown
    /// flag, every required one present, each value of its kind. The first problem found is
    /// bad usage naming the flag and how to fix it.
    init(_ spec: any CommandSpec.Type, fields: [String: String], today: Day) throws(ValueError) {
        let flags = spec.flags
        // Checked without sorting or copying anything unless a flag is wrong (verify's audit
        // parses every event of the log this way); the error names the first in order.
        if fields.keys.contains(where: { key in !flags.contains(where: { $0.name == key }) }) {
            for key in fields.keys.sorted() where !flags.contains(where: { $0.name == key }) {
                throw ValueError(
                    "--\(key): not a flag of \(spec.name) — it takes \(flags.map { "--" + $0.name }.joined(separator: ", "))")
            }
        }
        for flag in flags where flag.isRequired && fields[flag.name] == nil {
            let required = flags.filter(\.isRequired)
            throw ValueError(
                "--\(flag.name): missing — \(spec.name) needs \(required.map { "--" + $0.name }.joined(separator: ", "))")
        }
        var values: [String: FlagValue] = [:]
        values.reserveCapacity(flags.count)
        // The currency is checked before any amount in it, once.
        var currency: Currency?
        func currencyFlag() throws(ValueError) -> Currency {
            if let currency { return currency }
            guard let text = fields["currency"] else { throw ValueError("--currency: missing") }
            do { currency = try Currency(code: text) } catch { throw error.naming(flag: "currency") }
            return currency!
        }
        for flag in flags {
            guard let text = fields[flag.name] else {
                if flag.name == "date", case .day = flag.kind { values["date"] = .day(today) }
                continue
            }
            // The currency names its own flag; every other error is named after this one.
            if case .currency = flag.kind {
                if flag.name == "currency" {
                    values[flag.name] = .currency(try currencyFlag())
                } else {
                    // A currency that is not the amounts' (an FX rate's --base and --quote).
                    do { values[flag.name] = .currency(try Currency(code: text)) } catch { throw error.naming(flag: flag.name) }
                }
                continue
            }
            let currency: Currency? = if case .money = flag.kind { try currencyFlag() } else { nil }
            do throws(ValueError) {
                switch flag.kind {
                case .id:
                    values[flag.name] = .id(try Identifier(text).rawValue)
                case .text:
                    values[flag.name] = .text(try Self.checkedText(text))
                case .money(let positive):
                    let amount = try Money.parse(text, currency: currency!)
                    if positive, amount.isZero { throw ValueError("must be greater than 0") }
                    values[flag.name] = .money(amount)
                case .currency:
                    break
                case .quantity:
                    values[flag.name] = .quantity(try Quantity(text).units)
                case .day:
                    values[flag.name] = .day(try Day(text))
                case .choice(let type):
                    values[flag.name] = .choice(try type.init(parsing: text).rawValue)
                case .country:
                    values[flag.name] = .text(try Self.countryCode(text))
                case .percentage:
                    values[flag.name] = .text(try Self.percentage(text))
                }
            } catch {
                throw error.naming(flag: flag.name)
            }
        }
        self.values = values
        if case .day(let day)? = values["date"] { date = day } else { date = today }
    }

    /// The canonical text of every value given (and of the business date), by flag name.
    public var fields: [String: String] { values.mapValues(\.canonicalText) }

    /// Whether `fields` are exactly these values' canonical texts (`self.fields == fields`,
    /// without building the dictionary: verify's audit asks it of every event).
    public func hasFields(_ fields: [String: String]) -> Bool {
        values.count == fields.count && values.allSatisfy { fields[$0.key] == $0.value.canonicalText }
    }

    // MARK: Typed reads for `CommandSpec.action(_:)`

    public func id(_ flag: String) -> String { string(flag) }
    public func text(_ flag: String) -> String { string(flag) }
    public func optionalText(_ flag: String) -> String? { values[flag] == nil ? nil : string(flag) }

    public func money(_ flag: String) -> Money {
        guard case .money(let m) = values[flag] else { preconditionFailure("--\(flag) is not a declared money flag") }
        return m
    }

    public func optionalMoney(_ flag: String) -> Money? { values[flag] == nil ? nil : money(flag) }

    public func currency(_ flag: String) -> Currency {
        guard case .currency(let c) = values[flag] else { preconditionFailure("--\(flag) is not a declared currency flag") }
        return c
    }

    public func quantity(_ flag: String = "quantity") -> Int64 {
        guard case .quantity(let q) = values[flag] else { preconditionFailure("--\(flag) is not a declared quantity flag") }
        return q
    }

    public func day(_ flag: String) -> Day {
        guard case .day(let d) = values[flag] else { preconditionFailure("--\(flag) is not a declared day flag") }
        return d
    }

    public func choice<T: FlagChoice & RawRepresentable<String>>(_ flag: String, as type: T.Type = T.self) -> T {
        guard case .choice(let raw) = values[flag], let value = T(rawValue: raw) else {
            preconditionFailure("--\(flag) is not a declared \(T.self) flag")
        }
        return value
    }

    private func string(_ flag: String) -> String {
        switch values[flag] {
        case .id(let s), .text(let s): return s
        default: preconditionFailure("--\(flag) is not a declared id or text flag, or optional")
        }
    }

    // MARK: Checks of the kinds that have no value type of their own

    /// Free text (names, reasons): the one rule for text (`FreeText`).
    static func checkedText(_ v: String) throws(ValueError) -> String {
        if let problem = FreeText.problem(in: v) { throw ValueError(problem) }
        return v
    }

    /// ISO 3166-1 alpha-2, stored upper case (`jp` → `JP`).
    static func countryCode(_ v: String) throws(ValueError) -> String {
        let letters = Array(v.utf8)
        guard letters.count == 2, letters.allSatisfy({ (65...90).contains($0) || (97...122).contains($0) }) else {
            throw ValueError("'\(v)' is not a country code — use two letters (ISO 3166-1), e.g. JP")
        }
        return String(decoding: letters.map { (97...122).contains($0) ? $0 - 32 : $0 }, as: UTF8.self)
    }

    /// A percentage as exact decimal text, more than 0 and at most 100, at most 4 decimals.
    static func percentage(_ v: String) throws(ValueError) -> String {
        let bad = ValueError("'\(v)' is not a percentage — write a number above 0 and at most 100, e.g. 12.5")
        let parts = v.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2, let whole = parts.first, !whole.isEmpty, whole.count <= 3,
            whole.utf8.allSatisfy({ (48...57).contains($0) }),
            parts.count == 1 || (1...4).contains(parts[1].count) && parts[1].utf8.allSatisfy({ (48...57).contains($0) }),
            let wholeValue = Int(whole)
        else { throw bad }
        let fractionIsZero = parts.count == 1 || parts[1].utf8.allSatisfy { $0 == 48 }
        guard wholeValue < 100 || (wholeValue == 100 && fractionIsZero), wholeValue > 0 || !fractionIsZero else { throw bad }
        return v
    }
}
