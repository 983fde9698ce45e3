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
            unreachable or not migrated, 75 concurrency conflict after retries, 1 anything else.

            Start with:
              ledger db migrate
              ledger demo
              ledger report portfolio
            """,
        subcommands: [
            StartupGroup.self, InvestGroup.self, LabGroup.self, SupplyGroup.self, OrderGroup.self,
        ] + writeCommands(in: nil) + [
            PeriodGroup.self,
            ImportCommand.self, DemoCommand.self, EventsCommand.self, ProjectionsGroup.self, ReportGroup.self,
            DigestCommand.self, ProveCommand.self, VerifyCommand.self, DatabaseGroup.self, BenchGroup.self,
        ])

    static func main() {
        if let problem = invalidUTF8Argument() { fail(.usage(problem)) }
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
}
