import ArgumentParser
import EventStore
import JSON

struct DatabaseGroup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db", abstract: "Apply or inspect the schema migrations in Schema/.",
        subcommands: [DatabaseMigrate.self, DatabaseStatus.self])
}

struct DatabaseMigrate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate", abstract: "Apply pending migrations, each in its own transaction.",
        discussion: """
            Safe to run again (applies nothing) and concurrently (each migration locks schema_migrations and applies once). \
            A migration edited after it was applied is reported, never re-run. Migrations come \
            from Schema/ next to the binary's repository, or $LEDGER_SCHEMA_DIR.
            Run it as the database's owner. It needs CREATEROLE only when the roles ledger_app \
            and ledger_reporting do not exist yet; without it, it exits 77 and prints the \
            CREATE ROLE statements for a DBA to run.
            Example:
              DATABASE_URL=postgresql://localhost/ledger ledger db migrate
            """)
    @OptionGroup var global: GlobalOptions

    func run() throws {
        let migrator = try Migrator(directory: try Migrator.locateSchemaDirectory())
        let db = try global.connect()
        let applied = try migrator.migrate(db)
        let rows: [JSON] = applied.map { ["version": JSON($0.version), "name": .string($0.name), "state": "applied now"] }
        if global.format == .table {
            print(applied.isEmpty ? "schema up to date (\(migrator.migrations.count) migrations)" :
                applied.map { "applied \(String(format: "%03d", $0.version))_\($0.name).sql" }.joined(separator: "\n"))
        } else {
            Listing(columns: ["version", "name", "state"], rows: rows).print(global.format)
        }
    }
}

struct DatabaseStatus: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "List applied, pending and modified migrations.",
        discussion: "Exits 69 when a migration is pending, 1 when an applied one was modified.")
    @OptionGroup var global: ReadOptions

    func run() throws {
        let migrator = try Migrator(directory: try Migrator.locateSchemaDirectory())
        let statuses = try migrator.status(try global.connect())
        let rows: [JSON] = statuses.map {
            [
                "version": JSON($0.version), "name": .string($0.name), "state": .string($0.state.rawValue),
                "applied_at": $0.appliedAt.map { .string($0.description) } ?? .null,
            ]
        }
        Listing(columns: ["version", "name", "state", "applied_at"], rows: rows).print(global.format)
        if statuses.contains(where: { $0.state == .modified }) {
            throw CLIError.failed("an applied migration was modified; restore it and add a new migration")
        }
        if statuses.contains(where: { $0.state == .pending }) {
            throw CLIError.unavailable("migrations are pending; run `ledger db migrate`")
        }
    }
}
