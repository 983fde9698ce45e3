import ArgumentParser
import Foundation
import Postgres

/// Output formats of every command.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case table, json, csv
}

/// The options every subcommand accepts (CONTRACT.md, "The program").
struct GlobalOptions: ParsableArguments {
    @Option(
        name: .customLong("database-url"),
        help: ArgumentHelp(
            "libpq connection URI (default: $DATABASE_URL, then PGHOST, PGPORT, PGUSER, PGDATABASE…).",
            valueName: "url"))
    var databaseURL: String?

    @Option(help: "Output format: table, json or csv.")
    var format: OutputFormat = .table

    @Option(help: ArgumentHelp("Who issued the command, stored with its events (default: $USER).", valueName: "name"))
    var actor: String?

    @Option(
        name: .customLong("idempotency-key"),
        help: ArgumentHelp(
            "On write commands: the same key with the same command writes nothing new and prints the original result.",
            valueName: "key"))
    var idempotencyKey: String?

    var resolvedActor: String {
        if let actor, !actor.isEmpty { return actor }
        let env = ProcessInfo.processInfo.environment
        return env["USER"] ?? env["LOGNAME"] ?? "unknown"
    }

    /// The URL to connect with; nil lets libpq read the standard PG* variables.
    var resolvedURL: String? {
        if let databaseURL, !databaseURL.isEmpty { return databaseURL }
        if let env = ProcessInfo.processInfo.environment["DATABASE_URL"], !env.isEmpty { return env }
        return nil
    }

    func connect() throws -> PostgresConnection {
        do {
            return try PostgresConnection(url: resolvedURL)
        } catch {
            throw CLIError.unavailable(
                "cannot connect to PostgreSQL: \(error.message) — check --database-url or DATABASE_URL (scripts/pg start gives a private server)")
        }
    }
}
