import ArgumentParser
import Foundation
import Ledger
import Postgres

/// Output formats of every command. `html` is one self-contained page with the rows as a
/// table (for reports; other listings print the same way).
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case table, json, csv, html
}

/// The options every subcommand accepts (CONTRACT.md, "The program"), declared once.
/// Write commands list all of them (`GlobalOptions`); commands that only read (reports,
/// events, projections status, digest, prove, verify) use `ReadOptions`, where --actor and
/// --idempotency-key are still accepted, as on every command, but not listed in --help,
/// where they would only mislead. Only those two differ, so they are the one parameter;
/// the group keeps them between --format and --lock-timeout, the order --help lists.
struct CommandOptions<Identity: IdentityOptions>: ParsableArguments {
    @Option(
        name: .customLong("database-url"),
        help: ArgumentHelp(
            "libpq connection URI (default: $DATABASE_URL, then PGHOST, PGPORT, PGUSER, PGDATABASE…).",
            valueName: "url"))
    var databaseURL: String?

    @Option(help: ArgumentHelp("Output format: table, json, csv or html (reports: one self-contained page)."))
    var format: OutputFormat = .table

    @OptionGroup var identity: Identity

    @Option(
        name: .customLong("lock-timeout"),
        help: ArgumentHelp(
            "Give up (exit 1) when a lock is not granted within this time, e.g. 5s or 500ms (PostgreSQL lock_timeout).",
            valueName: "duration"))
    var lockTimeout: String?

    var actor: String? { identity.actor }
    var idempotencyKey: String? { identity.idempotencyKey }

    func validate() throws { try validateOptions() }
}

typealias GlobalOptions = CommandOptions<WriterIdentity>
typealias ReadOptions = CommandOptions<ReaderIdentity>

/// --actor and --idempotency-key: the options whose help depends on whether the command writes.
protocol IdentityOptions: ParsableArguments {
    var actor: String? { get }
    var idempotencyKey: String? { get }
}

/// On write commands both are listed: they are stored with the events.
struct WriterIdentity: IdentityOptions {
    @Option(help: ArgumentHelp("Who issued the command, stored with its events (default: $USER).", valueName: "name"))
    var actor: String?

    @Option(
        name: .customLong("idempotency-key"),
        help: ArgumentHelp(
            "On write commands: the same key with the same command writes nothing new and prints the original result.",
            valueName: "key"))
    var idempotencyKey: String?
}

/// On read commands both are accepted and hidden.
struct ReaderIdentity: IdentityOptions {
    @Option(help: ArgumentHelp("Ignored: a read stores nothing.", valueName: "name", visibility: .hidden))
    var actor: String?

    @Option(
        name: .customLong("idempotency-key"),
        help: ArgumentHelp("Ignored: a read stores nothing.", valueName: "key", visibility: .hidden))
    var idempotencyKey: String?
}

extension CommandOptions {
    /// The text rule (`FreeText`) for the actor and the key, checked before anything runs.
    func validateOptions() throws {
        if let problem = FreeText.problem(in: resolvedActor, maxLength: FreeText.maxLabelLength) {
            throw ValidationError(actor == nil ? "$USER (the default actor): \(problem) — give --actor" : "--actor: \(problem)")
        }
        if let idempotencyKey, let problem = FreeText.problem(in: idempotencyKey, maxLength: FreeText.maxLabelLength) {
            throw ValidationError("--idempotency-key: \(problem)")
        }
        if let lockTimeout, !Self.isDuration(lockTimeout) {
            throw ValidationError("--lock-timeout: expected a duration such as 5s, 500ms or 2min, got '\(lockTimeout)'")
        }
    }

    /// Session settings the options ask for.
    var sessionSettings: [(String, String)] {
        lockTimeout.map { [("lock_timeout", $0)] } ?? []
    }

    /// `--actor`, else `$USER` or `$LOGNAME`, else the OS account running the command, else
    /// (a container's uid with no passwd entry) the database role it connected as: events
    /// always name someone who can be asked about them.
    var resolvedActor: String {
        if let actor { return actor }
        let env = ProcessInfo.processInfo.environment
        for name in ["USER", "LOGNAME"] {
            if let value = env[name], !value.isEmpty { return value }
        }
        if let entry = getpwuid(geteuid()), let name = entry.pointee.pw_name, name.pointee != 0 {
            return String(cString: name)
        }
        if let login = connectedLogin.withLock({ $0 }), !login.isEmpty { return login }
        return "unknown"
    }

    /// The URL to connect with; nil lets libpq read the standard PG* variables.
    var resolvedURL: String? {
        if let databaseURL, !databaseURL.isEmpty { return databaseURL }
        if let env = ProcessInfo.processInfo.environment["DATABASE_URL"], !env.isEmpty { return env }
        return nil
    }

    func connect() throws -> PostgresConnection {
        do {
            let connection = try PostgresConnection(url: resolvedURL, settings: sessionSettings)
            // A command blocked by a lock says what it waits for (after a second; quick
            // commands never open the watch's connection).
            _ = LockWatch(url: resolvedURL, pid: connection.backendPID) { say("note: \($0)") }
            connectedLogin.withLock { $0 = connection.user }
            return connection
        } catch {
            throw CLIError.unavailable(
                "cannot connect to PostgreSQL: \(error.message) — check that the server is running and --database-url, DATABASE_URL or the PG* variables")
        }
    }
}

extension CommandOptions {
    /// A PostgreSQL duration setting: digits and an optional unit.
    static func isDuration(_ text: String) -> Bool {
        let digits = text.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty else { return false }
        return ["", "ms", "s", "min", "h", "d"].contains(String(text.dropFirst(digits.count)))
    }
}
