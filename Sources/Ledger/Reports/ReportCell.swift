import JSON

/// One value of a report row, typed, so its JSON value, CSV field and table cell all come
/// from the same figure without parsing it back from text.
public enum ReportCell: Sendable, Equatable {
    case text(String)
    /// Null when absent (MOIC before any disbursement).
    case optionalText(String?)
    case money(Money)
    /// An amount or null (a post-money valuation not recorded).
    case optionalMoney(Money?)
    case integer(Int64)
    /// A list or an object of a report (partners, milestones, spending by category), with
    /// what a table shows for it (`RIKEN; University of Tokyo`, `compute ¥1,250,000; …`).
    case json(JSON, display: String)
    /// Any other JSON value (an event's payload, a figure of a bench run), shown as its
    /// canonical text.
    case value(JSON)

    /// The value in the JSON report.
    public var json: JSON {
        switch self {
        case .text(let s): .string(s)
        case .optionalText(let s): s.map(JSON.string) ?? .null
        case .money(let m): .string(m.decimalString)
        case .optionalMoney(let m): m.map { .string($0.decimalString) } ?? .null
        case .integer(let n): JSON(n)
        case .json(let value, _), .value(let value): value
        }
    }

    /// The exact value as text (a CSV field before quoting): amounts as decimal strings,
    /// lists, objects and other JSON values as canonical JSON, nothing for null.
    public var exact: String {
        switch self {
        case .text(let s): s
        case .optionalText(let s): s ?? ""
        case .money(let m): m.decimalString
        case .optionalMoney(let m): m?.decimalString ?? ""
        case .integer(let n): String(n)
        case .json(let value, _): value.canonicalString
        case .value(let value): value == .null ? "" : value.canonicalString
        }
    }

    /// For people: amounts with their currency (`¥4,500,000`), lists and objects as their
    /// row says.
    public var display: String {
        switch self {
        case .text(let s): return s
        case .optionalText(let s): return s ?? ""
        case .money(let m): return m.formatted
        case .optionalMoney(let m): return m?.formatted ?? ""
        case .integer(let n): return String(n)
        case .json(_, let display): return display
        case .value(let value): return Self.plain(value)
        }
    }

    /// A value as a bare cell: strings as they are, lists and objects as canonical JSON.
    public static func plain(_ value: JSON?) -> String {
        switch value {
        case nil, .null?: return ""
        case .string(let s)?: return s
        case .number(let n)?: return n
        case .bool(let b)?: return b ? "true" : "false"
        case let other?: return other.canonicalString
        }
    }
}
