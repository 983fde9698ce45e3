import ArgumentParser
import EventStore
import Foundation
import JSON
import Ledger
import LedgerApp
import Postgres

/// Whether this process was asked for help (`--help`, `-h`, `help …`): only then is a
/// write command's discussion shown. ArgumentParser reads the configuration of every
/// subcommand to parse any command line, and wrapping the help of all the write commands
/// took about a quarter of the CPU of a whole `ledger report labs` process.
private let helpRequested = CommandLine.arguments.dropFirst().contains {
    $0 == "--help" || $0 == "-h" || $0 == "help" || $0.hasPrefix("--experimental-dump-help")
}

/// One subcommand per write command spec (`LedgerCommand.specs`): its name, abstract,
/// usage and `--help` come from the spec, and so do its flags, which the spec's parser
/// reads (the same parser as an import line's), so a value is checked in one place with
/// one message. The global options stay ArgumentParser's.
struct WriteCommand<Spec: CommandSpec>: ParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: Spec.subcommand, abstract: Spec.abstract, usage: usageLine,
            discussion: helpRequested ? discussion : "")
    }

    @OptionGroup var global: GlobalOptions

    /// The spec's flags and their values, as given: everything ArgumentParser does not
    /// recognise as a global option.
    @Argument(parsing: .allUnrecognized, help: .private)
    var flagArguments: [String] = []

    func run() throws {
        let fields = try Self.fields(from: flagArguments)
        let today = try Day.ledgerToday()
        let command = try LedgerCommand.parse(Spec.self, fields: fields, today: today)
        let db = try global.connect()
        let handler = CommandHandler(connection: db, actor: global.resolvedActor, today: today)
        if let seconds = ProcessInfo.processInfo.environment["LEDGER_RECONNECT_TIMEOUT"].flatMap(Double.init) {
            handler.reconnectPatience = .milliseconds(Int(seconds * 1000))
        }
        let result: AppendResult
        do {
            result = try handler.handle(command, idempotencyKey: global.idempotencyKey)
        } catch let error as PostgresError where error.isServerGone {
            // The handler resolves a lost connection during the append itself (or says the
            // outcome is unknown): one that escapes here came before anything was sent.
            throw CLIError.unavailable(serverGone(error) + " — nothing was written; run the command again")
        } catch EventStoreError.database(let error) where error.isServerGone {
            throw CLIError.unavailable(serverGone(error) + " — nothing was written; run the command again")
        }
        EventListing.listing(result.events, withBodies: false).print(global.format)
    }

    /// `--flag value` and `--flag=value` pairs by flag name (a flag given twice: the last wins,
    /// as ArgumentParser does for the global options).
    static func fields(from arguments: [String]) throws(ValueError) -> [String: String] {
        var fields: [String: String] = [:]
        var i = 0
        while i < arguments.count {
            let argument = arguments[i]
            guard argument.hasPrefix("--"), argument.count > 2 else {
                throw ValueError("unexpected argument '\(argument)' — \(Spec.name) takes only --flag value pairs")
            }
            let flag = argument.dropFirst(2)
            if let equals = flag.firstIndex(of: "=") {
                fields[String(flag[..<equals])] = String(flag[flag.index(after: equals)...])
                i += 1
                continue
            }
            guard Spec.flags.contains(where: { $0.name == flag }) else {
                throw ValueError(
                    "--\(flag): not a flag of \(Spec.name) — it takes \(Spec.flags.map { "--" + $0.name }.joined(separator: ", "))")
            }
            guard i + 1 < arguments.count else { throw ValueError("--\(flag): missing a value") }
            fields[String(flag)] = arguments[i + 1]
            i += 2
        }
        return fields
    }

    static var usageLine: String {
        let flags = Spec.flags.map { flag in
            let text = "--\(flag.name) <\(flag.valueName)>"
            return flag.isRequired ? text : "[\(text)]"
        }
        return "ledger \(Spec.name.replacingOccurrences(of: ".", with: " ")) \(flags.joined(separator: " ")) [<options>]"
    }

    /// The spec's discussion, its flags with their help, and its example. Lines are
    /// wrapped here, with the help of a flag indented under it, because ArgumentParser
    /// wraps a discussion at 80 columns without keeping indentation.
    static var discussion: String {
        let names = Spec.flags.map { "  --\($0.name) <\($0.valueName)>" }
        let width = min(names.map(\.count).max() ?? 0, 26) + 2
        let flagLines = zip(names, Spec.flags).map { name, flag in
            let help = wrap(flag.help + (flag.isRequired ? "" : " (optional)"), width: 78 - width)
                .map { String(repeating: " ", count: width) + $0 }
            guard name.count + 2 <= width else { return ([name] + help).joined(separator: "\n") }
            return ([name.padding(toLength: width, withPad: " ", startingAt: 0) + help[0].dropFirst(width)]
                + help.dropFirst()).joined(separator: "\n")
        }
        var parts: [String] = []
        if !Spec.discussion.isEmpty { parts.append(wrap(Spec.discussion, width: 78).joined(separator: "\n")) }
        parts.append("Flags:\n" + flagLines.joined(separator: "\n"))
        parts.append("Example:\n" + exampleLines.joined(separator: "\n"))
        return parts.joined(separator: "\n\n")
    }

    /// The example as a shell command line of at most 78 columns: broken between words
    /// (never inside quotes or between a flag and its value), continued with `\`.
    private static var exampleLines: [String] {
        var words: [String] = []
        var word = ""
        var quoted = false
        for c in Spec.example.replacingOccurrences(of: "\\\n", with: " ") {
            if c == "\"" { quoted.toggle() }
            if c.isWhitespace && !quoted {
                if !word.isEmpty { words.append(word) }
                word = ""
            } else {
                word.append(c)
            }
        }
        if !word.isEmpty { words.append(word) }
        // A flag and its value stay on one line.
        var units: [String] = []
        for word in words {
            if let last = units.last, last.hasPrefix("--"), !last.contains(" "), !word.hasPrefix("--") {
                units[units.count - 1] += " " + word
            } else {
                units.append(word)
            }
        }
        var lines: [String] = []
        var line = "  "
        for word in units {
            if line.count > 4, line.count + 1 + word.count > 76 {
                lines.append(line + " \\")
                line = "    "
            }
            line += (line.hasSuffix(" ") ? "" : " ") + word
        }
        return lines + [line]
    }

    /// `text` in lines of at most `width` characters, broken at spaces.
    private static func wrap(_ text: String, width: Int) -> [String] {
        var lines: [String] = []
        var line = ""
        for word in text.split(separator: " ") {
            if !line.isEmpty, line.count + 1 + word.count > width {
                lines.append(line)
                line = ""
            }
            line += (line.isEmpty ? "" : " ") + word
        }
        return lines + [line]
    }
}

/// The write subcommands of a group (`order`), or those without a group (nil), in the order
/// of `LedgerCommand.specs`.
func writeCommands(in group: String?) -> [any ParsableCommand.Type] {
    func command<S: CommandSpec>(_ spec: S.Type) -> any ParsableCommand.Type { WriteCommand<S>.self }
    return LedgerCommand.specs.filter { $0.group == group }.map { command($0) }
}

extension Day {
    /// Today in `$LEDGER_TIMEZONE`, else the system's zone: the default business date (an
    /// unknown zone name is reported by the write commands, which call `ledgerToday()`).
    static var today: Day {
        if let day = Day.todayOrNil() { return day }
        var now = time(nil)
        var parts = tm()
        gmtime_r(&now, &parts)
        return try! Day(year: Int(parts.tm_year) + 1900, month: Int(parts.tm_mon) + 1, day: Int(parts.tm_mday))
    }
}

// MARK: - Groups: the nouns write commands are filed under

struct StartupGroup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "startup", abstract: "Register the startups the programme invests in.",
        subcommands: writeCommands(in: "startup"))
}

struct InvestGroup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "invest", abstract: "Commit to, fund, mark, exit or write off startup investments.",
        subcommands: writeCommands(in: "invest"))
}

struct LabGroup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lab", abstract: "Plan, staff, fund and open the AI research lab.",
        subcommands: writeCommands(in: "lab"))
}

struct SupplyGroup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "supply", abstract: "Receive GPU stock per SKU.", subcommands: writeCommands(in: "supply"))
}

struct OrderGroup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "order", abstract: "Customer GPU orders: place, allocate scarce stock, ship, bill, cancel.",
        subcommands: writeCommands(in: "order"))
}
