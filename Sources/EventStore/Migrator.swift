import Crypto
import Foundation
import Postgres

/// Applies the numbered SQL files of `Schema/` in order, each in its own transaction, and
/// records each with a SHA-256 checksum. A file edited after it was applied is reported,
/// never re-run. Concurrent runs are serialised by an advisory lock, so two `ledger db
/// migrate` at once are safe.
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

        public var description: String {
            switch self {
            case .modified(let v, let n):
                return "migration \(String(format: "%03d", v))_\(n).sql was edited after it was applied; restore the original file and add a new numbered migration instead"
            case .missingDirectory(let path):
                return "no Schema/ directory found (looked in \(path)); run from the repository or set LEDGER_SCHEMA_DIR"
            case .badFileName(let f):
                return "Schema/\(f) is not named NNN_name.sql"
            case .failed(let v, let n, let e):
                return "migration \(String(format: "%03d", v))_\(n).sql failed: \(e)"
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

    /// Advisory lock key held while migrating ("ledger" in ASCII).
    static let lockKey: Int64 = 0x6C65_6467_6572

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
        try db.query("SELECT pg_advisory_lock($1)", [Self.lockKey])
        defer { _ = try? db.query("SELECT pg_advisory_unlock($1)", [Self.lockKey]) }
        try db.execute(script: "SET client_min_messages = warning")
        try db.execute(script: Self.createTable)
        let applied = try appliedChecksums(db)
        try checkUnmodified(applied)
        var done: [Migration] = []
        for migration in migrations where applied[migration.version] == nil {
            do {
                try db.transaction { db in
                    try db.execute(script: migration.sql)
                    try db.query(
                        "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                        [migration.version, migration.name, migration.checksum])
                }
            } catch let error as PostgresError {
                throw MigrationError.failed(version: migration.version, name: migration.name, error)
            }
            done.append(migration)
        }
        return done
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
