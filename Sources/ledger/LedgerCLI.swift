import ArgumentParser
import Foundation

/// `ledger`: the command-line tool people and scripts drive the ledger with.
@main
struct LedgerCLI: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledger",
        abstract: "An event-sourced investment ledger on PostgreSQL.",
        discussion: """
            Records startup investments, an AI research lab and GPU supply as immutable events, \
            and reports on them. Connects to $DATABASE_URL (or --database-url, or the PG* variables).

            Exit status: 0 ok, 64 bad usage, 65 rejected by a business rule, 69 database \
            unreachable, not migrated or a read-only standby, 75 concurrency conflict after \
            retries, 77 the database role may not do this, 1 anything else.

            Start with:
              ledger db migrate
              ledger startup register --startup sakana-ai --name "Sakana AI"
              ledger report portfolio
            To see it with data, run `ledger demo` on a scratch database (never on a real \
            ledger: it refuses one that holds other events).
            """,
        version: "ledger \(version)",
        subcommands: [
            StartupGroup.self, InvestGroup.self, LabGroup.self, SupplyGroup.self, OrderGroup.self, FXGroup.self,
        ] + writeCommands(in: nil) + [
            PeriodGroup.self,
            ImportCommand.self, DemoCommand.self, EventsCommand.self, ProjectionsGroup.self, ReportGroup.self,
            DigestCommand.self, ProveCommand.self, VerifyCommand.self, DatabaseGroup.self, BenchGroup.self,
        ])

    /// `ledger --version` prints `ledger <version>` (CONTRACT.md).
    static let version = "0.14.0"

    static func main() {
        if let problem = invalidUTF8Argument() { fail(.usage(problem)) }
        if let unknown = unknownCommand(in: Array(CommandLine.arguments.dropFirst())) { fail(.usage(unknown)) }
        var command: any ParsableCommand
        do {
            command = try parseAsRoot()
        } catch {
            if exitCode(for: error) == .success { exit(withError: error) }  // --help, --version
            // Argument errors: one line, status 64.
            let first = message(for: error).split(whereSeparator: \.isNewline).first.map(String.init) ?? "bad usage"
            let text = first.hasPrefix("Error: ") ? String(first.dropFirst(7)) : first
            fail(.usage(text + " — see --help"))
        }
        do {
            try command.run()
        } catch let code as ExitCode {
            Foundation.exit(code.rawValue)  // the command already said what went wrong
        } catch {
            if exitCode(for: error) == .success { exit(withError: error) }
            fail(CLIError.from(error))
        }
    }

    /// Swift decodes arguments with replacement characters, so an argument that is not valid
    /// UTF-8 would be stored altered: the raw bytes are checked first, and such an argument
    /// is bad usage (named by the flag before it).
    static func invalidUTF8Argument() -> String? {
        for i in 1..<Int(CommandLine.argc) {
            guard let raw = CommandLine.unsafeArgv[i] else { continue }
            let bytes = UnsafeBufferPointer(start: UnsafeRawPointer(raw).assumingMemoryBound(to: UInt8.self), count: strlen(raw))
            if String(validating: bytes, as: UTF8.self) == nil {
                let previous = i > 1 ? CommandLine.arguments[i - 1] : ""
                let which = previous.hasPrefix("--") ? "the value of \(previous)" : "argument \(i)"
                return "\(which) is not valid UTF-8 text — give it in UTF-8"
            }
        }
        return nil
    }

    /// Names a word that stands where a subcommand must be but is none (`ledger startup
    /// teleport --startup x`): ArgumentParser would complain about the first option instead.
    static func unknownCommand(in arguments: [String]) -> String? {
        var children: [any ParsableCommand.Type] = configuration.subcommands
        var path = "ledger"
        for word in arguments {
            if word.hasPrefix("-") || children.isEmpty || word == "help" { return nil }
            let names = children.map { $0._commandName }
            guard let index = names.firstIndex(of: word) else {
                return "unknown command '\(word)' for '\(path)' — the commands are: \(names.joined(separator: ", "))"
            }
            children = subcommands(of: children[index])
            path += " " + word
        }
        return nil
    }

    private static func subcommands<Command: ParsableCommand>(of command: Command.Type) -> [any ParsableCommand.Type] {
        command.configuration.subcommands
    }
}
