/// One write command, declared once.
///
/// Everything that must agree about a command — its name, what `--help` says, its flags and
/// their kinds, the event types it appends, how its flag values become a domain command — is
/// here, and parsing (CLI flags and import lines alike), `--help`, the import field names
/// and the canonical form used for idempotency all derive from it. Adding a command is a
/// spec (listed in `LedgerCommand.specs`), its decide/evolve in the aggregate, and tests.
///
/// ```swift
/// enum RenameStartup: CommandSpec {
///     static let name = "startup.rename"
///     static let abstract = "Rename a registered startup."
///     static let example = #"ledger startup rename --startup sakana-ai --name "Sakana AI KK""#
///     static let flags: [CommandFlag] = [
///         .required("startup", .id, "Startup id."), .required("name", .text, "New name."), .businessDate,
///     ]
///     static let events = ["startup.renamed"]
///     static func action(_ a: CommandArguments) -> LedgerCommand.Action {
///         .startup(id: a.id("startup"), .rename(name: a.text("name")), date: a.date)
///     }
/// }
/// ```
public protocol CommandSpec: Sendable {
    /// `"<group>.<subcommand>"` as in the contract (`order.place`); a command without a
    /// group is named alone (`reverse`).
    static var name: String { get }
    /// One line for `--help` and command lists.
    static var abstract: String { get }
    /// More for `--help`, shown before the flags; empty when the abstract says it all.
    static var discussion: String { get }
    /// One command line that works, shown in `--help` (and parsed by a test).
    static var example: String { get }
    /// The flags, in the order `--help` lists them: required ones first by convention,
    /// `.businessDate` last. Import lines use the same names as JSON keys.
    static var flags: [CommandFlag] { get }
    /// Every event type the command may append (the event store's list of types derives
    /// from these).
    static var events: [String] { get }
    /// The domain command from flag values already checked against `flags` (each present
    /// when required, each of its kind), so only rules across flags are left to throw.
    static func action(_ arguments: CommandArguments) throws(ValueError) -> LedgerCommand.Action
}

extension CommandSpec {
    public static var discussion: String { "" }

    /// The group (`order`), nil for a command without one.
    public static var group: String? {
        name.firstIndex(of: ".").map { String(name[..<$0]) }
    }

    /// The subcommand's own name (`place`; `reverse` for a command without a group).
    public static var subcommand: String {
        name.firstIndex(of: ".").map { String(name[name.index(after: $0)...]) } ?? name
    }
}

/// A flag of a write command: its long name (without dashes, also the import field name),
/// the kind of value it takes, what `--help` says about it, and whether it must be given.
public struct CommandFlag: Sendable {
    public let name: String
    public let kind: FlagKind
    public let help: String
    public let isRequired: Bool

    public static func required(_ name: String, _ kind: FlagKind, _ help: String) -> CommandFlag {
        CommandFlag(name: name, kind: kind, help: help, isRequired: true)
    }

    public static func optional(_ name: String, _ kind: FlagKind, _ help: String) -> CommandFlag {
        CommandFlag(name: name, kind: kind, help: help, isRequired: false)
    }

    /// `--date`, the business date (default today). Imports carry it like any other field.
    public static let businessDate = CommandFlag.optional(
        "date", .day, "Business date YYYY-MM-DD (default: today in $LEDGER_TIMEZONE, else the system time zone; never later than today).")

    /// The placeholder `--help` shows for the value: `--amount <amount>`.
    public var valueName: String { kind.valueName }
}

/// The kinds of values flags take. Each kind checks its text and gives a typed value (and
/// the canonical text of it), so a malformed value is bad usage naming the flag, before any
/// stream is read.
public enum FlagKind: Sendable {
    /// A slug (`Identifier`).
    case id
    /// Free text on one line, not blank.
    case text
    /// An amount in major units of the command's `--currency`; `positive` refuses 0.
    case money(positive: Bool)
    /// An ISO 4217 code the ledger knows the minor unit of.
    case currency
    /// A positive whole number of units.
    case quantity
    /// A `YYYY-MM-DD` date.
    case day
    /// One of a fixed set of words (`equity|safe|note`).
    case choice(any FlagChoice.Type)
    /// An ISO 3166-1 alpha-2 code, stored upper case.
    case country
    /// A percentage above 0 and at most 100, at most 4 decimals, kept as written.
    case percentage

    var valueName: String {
        switch self {
        case .id: "id"
        case .text: "text"
        case .money: "amount"
        case .currency: "code"
        case .quantity: "n"
        case .day: "date"
        case .choice(let type): type.choices.joined(separator: "|")
        case .country: "cc"
        case .percentage: "pct"
        }
    }
}

/// A fixed set of words a flag accepts (an instrument, an expense category).
public protocol FlagChoice: Sendable {
    static var choices: [String] { get }
    init(parsing text: String) throws(ValueError)
    var rawValue: String { get }
}

extension FlagChoice where Self: CaseIterable & RawRepresentable<String> {
    public static var choices: [String] { allCases.map(\.rawValue) }
}

/// A flag's value once checked: typed, and with one canonical text (what the idempotency
/// fingerprint and `LedgerCommand.fields` use, so `1250.5` and `1250.50` are one command).
public enum FlagValue: Sendable, Equatable {
    case id(String)
    case text(String)
    case money(Money)
    case currency(Currency)
    case quantity(Int64)
    case day(Day)
    case choice(String)

    var canonicalText: String {
        switch self {
        case .id(let s), .text(let s), .choice(let s): s
        case .money(let m): m.decimalString
        case .currency(let c): c.code
        case .quantity(let q): String(q)
        case .day(let d): d.description
        }
    }
}
