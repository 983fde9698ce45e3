import Crypto
import Foundation
import Postgres

/// Applies the numbered SQL files of `Schema/` in order, each in its own transaction, and
/// records each with a SHA-256 checksum. A file edited after it was applied is reported,
/// never re-run. Each migration's transaction first locks `schema_migrations` (a lock only
/// roles with rights on that table can take, unlike a guessable advisory key) and checks
/// again that the migration is pending, so concurrent `ledger db migrate` runs apply each
/// migration once.
///
/// Roles are cluster-wide and a database owner usually may not create them: when the roles a
/// pending migration creates exist already, their creation is skipped (CREATE ROLE checks
/// CREATEROLE before it notices the duplicate); when they are missing and this login may not
/// create them, nothing is applied and `MigrationError.rolesMissing` names the SQL a DBA
/// runs.
public struct Migrator {
    /// One SQL file: `Schema/NNN_name.sql`.
    public struct Migration: Sendable, Equatable {
        public var version: Int
        public var name: String
        public var sql: String
        public init(version: Int, name: String, sql: String) {
            self.version = version
            self.name = name
            self.sql = sql
        }
        public var checksum: String { hexString(SHA256.hash(data: Data(sql.utf8))) }
    }

    /// A migration's state in a database.
    public struct Status: Sendable, Equatable {
        public enum State: String, Sendable { case applied, pending, modified }
        public var version: Int
        public var name: String
        public var state: State
        public var appliedAt: Timestamp?
    }

    public enum MigrationError: Error, CustomStringConvertible, Sendable {
        case modified(version: Int, name: String)
        case missingDirectory(String)
        case badFileName(String)
        case failed(version: Int, name: String, PostgresError)
        /// Roles the pending migrations need do not exist and `user` may not create them.
        case rolesMissing([String], user: String)

        public var description: String {
            switch self {
            case .modified(let v, let n):
                return "migration \(String(format: "%03d", v))_\(n).sql was edited after it was applied; restore the original file and add a new numbered migration instead"
            case .missingDirectory(let path):
                return "no Schema/ directory found (looked in \(path)); run from the repository or set LEDGER_SCHEMA_DIR"
            case .badFileName(let f):
                return "Schema/\(f) is not named NNN_name.sql"
            case .failed(let v, let n, let e) where e.isInsufficientPrivilege:
                return "migration \(String(format: "%03d", v))_\(n).sql failed: \(e.message) — run ledger db migrate as the owner of the database (or grant what it names)"
            case .failed(let v, let n, let e):
                return "migration \(String(format: "%03d", v))_\(n).sql failed: \(e)"
            case .rolesMissing(let roles, let user):
                let sql = roles.map { "CREATE ROLE \($0) NOLOGIN;" }.joined(separator: " ")
                return "role \(roles.joined(separator: " and ")) does not exist and \(user) may not create roles (no CREATEROLE); have a DBA run: \(sql) — then run ledger db migrate again"
            }
        }

        /// True when the database role lacks a right (exit 77), rather than the migration
        /// being wrong.
        public var isPermissionProblem: Bool {
            switch self {
            case .rolesMissing: true
            case .failed(_, _, let e): e.isInsufficientPrivilege
            default: false
            }
        }
    }

    public let migrations: [Migration]

    public init(migrations: [Migration]) {
        self.migrations = migrations.sorted { $0.version < $1.version }
    }

    /// Reads `*.sql` files from a directory.
    public init(directory: URL) throws {
        let files: [String]
        do {
            files = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        } catch {
            throw MigrationError.missingDirectory(directory.path)
        }
        var found: [Migration] = []
        for file in files where file.hasSuffix(".sql") {
            let stem = file.dropLast(4)
            guard let underscore = stem.firstIndex(of: "_"), let version = Int(stem[..<underscore]) else {
                throw MigrationError.badFileName(file)
            }
            let sql = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
            found.append(Migration(version: version, name: String(stem[stem.index(after: underscore)...]), sql: sql))
        }
        self.init(migrations: found)
    }

    /// The `Schema/` directory: `$LEDGER_SCHEMA_DIR`, else the nearest `Schema/` above the
    /// executable or above the current directory.
    public static func locateSchemaDirectory() throws -> URL {
        if let dir = ProcessInfo.processInfo.environment["LEDGER_SCHEMA_DIR"], !dir.isEmpty {
            return URL(fileURLWithPath: dir)
        }
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        let starts = [executable.deletingLastPathComponent(), URL(fileURLWithPath: FileManager.default.currentDirectoryPath)]
        for start in starts {
            var dir = start.standardizedFileURL
            while true {
                let candidate = dir.appendingPathComponent("Schema")
                if FileManager.default.fileExists(atPath: candidate.appendingPathComponent("001_event_store.sql").path) {
                    return candidate
                }
                let parent = dir.deletingLastPathComponent()
                if parent.path == dir.path { break }
                dir = parent
            }
        }
        throw MigrationError.missingDirectory(starts.map(\.path).joined(separator: ", "))
    }

    static let createTable = """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            version    integer     PRIMARY KEY,
            name       text        NOT NULL,
            checksum   text        NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now()
        )
        """

    /// Applies every pending migration; returns the ones it applied.
    @discardableResult
    public func migrate(_ db: PostgresConnection) throws -> [Migration] {
        try db.execute(script: "SET client_min_messages = warning")
        do {
            try db.execute(script: Self.createTable)
        } catch {
            // Another run created it at the same instant: it exists now. PostgreSQL reports
            // that as a unique violation, a duplicate table, or (when the two collide on the
            // table's row type) a duplicate object — seen once in the full suite under load.
            guard
                error.isUniqueViolation || error.sqlState == PostgresError.Code.duplicateTable
                    || error.sqlState == PostgresError.Code.duplicateObject
            else { throw error }
        }
        let applied = try appliedChecksums(db)
        try checkUnmodified(applied)
        let pending = migrations.filter { applied[$0.version] == nil }
        guard !pending.isEmpty else { return [] }
        let existingRoles = try checkRoles(for: pending, db)
        var done: [Migration] = []
        for migration in pending {
            do {
                let ran = try db.transaction { db -> Bool in
                    // SHARE ROW EXCLUSIVE conflicts with itself and needs UPDATE, DELETE or
                    // TRUNCATE on the table: only the ledger's owner can take it, and a second
                    // run waits here, then finds the migration applied.
                    try db.query("LOCK TABLE schema_migrations IN SHARE ROW EXCLUSIVE MODE")
                    if let row = try db.query(
                        "SELECT checksum FROM schema_migrations WHERE version = $1", [migration.version]
                    ).first {
                        guard try row.decode(String.self, at: 0) == migration.checksum else {
                            throw MigrationError.modified(version: migration.version, name: migration.name)
                        }
                        return false
                    }
                    try db.execute(script: Self.skippingCreation(of: existingRoles, in: migration.sql))
                    try db.query(
                        "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                        [migration.version, migration.name, migration.checksum])
                    return true
                }
                if ran { done.append(migration) }
            } catch let error as PostgresError {
                throw MigrationError.failed(version: migration.version, name: migration.name, error)
            }
        }
        return done
    }

    /// The roles the released migrations create, each in a block that tolerates a duplicate
    /// but not a login without CREATEROLE (Schema/001 and 003):
    /// `DO $$ BEGIN CREATE ROLE name NOLOGIN; EXCEPTION WHEN duplicate_object … END $$;`.
    /// Later migrations look in pg_roles before they create a role.
    nonisolated(unsafe) static let roleCreation = try! Regex(
        #"DO \$\$\s*BEGIN\s*CREATE ROLE ([a-z_][a-z0-9_]*) NOLOGIN;\s*EXCEPTION WHEN duplicate_object OR unique_violation THEN\s*NULL;\s*END\s*\$\$;"#
    )

    /// The roles `sql` creates.
    static func rolesCreated(by sql: String) -> [String] {
        sql.matches(of: roleCreation).compactMap { $0.output[1].substring.map(String.init) }
    }

    /// `sql` without the creation of roles that exist already: the text applied, while the
    /// checksum stays the file's.
    static func skippingCreation(of roles: Set<String>, in sql: String) -> String {
        sql.replacing(roleCreation) { match in
            guard let role = match.output[1].substring.map(String.init), roles.contains(role) else {
                return String(match.output[0].substring ?? "")
            }
            return "-- role \(role) exists: not created again"
        }
    }

    /// The roles the pending migrations create that exist; throws `rolesMissing` when some do
    /// not and this login may not create them.
    func checkRoles(for pending: [Migration], _ db: PostgresConnection) throws -> Set<String> {
        var wanted: [String] = []
        for migration in pending {
            for role in Self.rolesCreated(by: migration.sql) where !wanted.contains(role) { wanted.append(role) }
        }
        guard !wanted.isEmpty else { return [] }
        let existing = Set(
            try db.query("SELECT rolname::text FROM pg_roles WHERE rolname = ANY ($1::text[])", [PostgresArray(wanted)])
                .map { try $0.decode(String.self, at: 0) })
        let missing = wanted.filter { !existing.contains($0) }
        if !missing.isEmpty {
            let me = try db.query(
                "SELECT current_user::text, rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user")[0]
            if try !me.decode(Bool.self, at: 1) {
                throw MigrationError.rolesMissing(missing, user: try me.decode(String.self, at: 0))
            }
        }
        return existing
    }

    /// Applied, pending and modified migrations, in order.
    public func status(_ db: PostgresConnection) throws -> [Status] {
        let exists = try db.query("SELECT to_regclass('schema_migrations') IS NOT NULL")[0].decode(Bool.self, at: 0)
        var rows: [Int: (checksum: String, at: Timestamp)] = [:]
        if exists {
            for row in try db.query("SELECT version, checksum, applied_at FROM schema_migrations") {
                rows[try row.decode(Int.self, at: 0)] = (try row.decode(String.self, at: 1), try row.decode(Timestamp.self, at: 2))
            }
        }
        return migrations.map { m in
            guard let applied = rows[m.version] else {
                return Status(version: m.version, name: m.name, state: .pending, appliedAt: nil)
            }
            return Status(
                version: m.version, name: m.name, state: applied.checksum == m.checksum ? .applied : .modified,
                appliedAt: applied.at)
        }
    }

    /// Throws unless every migration is applied unmodified: commands refuse to run on a
    /// database that is behind.
    public func checkUpToDate(_ db: PostgresConnection) throws {
        for status in try status(db) {
            switch status.state {
            case .applied: continue
            case .modified: throw MigrationError.modified(version: status.version, name: status.name)
            case .pending: throw EventStoreError.notMigrated
            }
        }
    }

    func appliedChecksums(_ db: PostgresConnection) throws -> [Int: String] {
        var out: [Int: String] = [:]
        for row in try db.query("SELECT version, checksum FROM schema_migrations") {
            out[try row.decode(Int.self, at: 0)] = try row.decode(String.self, at: 1)
        }
        return out
    }

    func checkUnmodified(_ applied: [Int: String]) throws {
        for m in migrations {
            if let checksum = applied[m.version], checksum != m.checksum {
                throw MigrationError.modified(version: m.version, name: m.name)
            }
        }
    }
}
