import EventStore
import Foundation
import Postgres
import LedgerApp

/// Integration tests run against a real PostgreSQL server: `DATABASE_URL` names a server
/// where the test user may create databases (`scripts/test` starts a private one). Each test
/// gets a fresh database, migrated, and drops it afterwards, so tests never touch user data
/// and run in parallel.
public enum TestDatabase {
    public struct Missing: Error, CustomStringConvertible {
        public var description: String {
            "DATABASE_URL is not set: integration tests need a PostgreSQL server; run scripts/test, which starts a private one"
        }
    }

    public static var adminURL: String {
        get throws {
            guard let url = ProcessInfo.processInfo.environment["DATABASE_URL"], !url.isEmpty else { throw Missing() }
            return url
        }
    }

    /// The repository's `Schema/` directory.
    public static let schemaDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Schema")

    /// The repository root.
    public static let repositoryRoot = schemaDirectory.deletingLastPathComponent()

    /// `url` with its database name replaced.
    public static func url(_ url: String, database: String) -> String {
        if url.hasPrefix("postgres://") || url.hasPrefix("postgresql://"), var components = URLComponents(string: url) {
            components.path = "/" + database
            return components.string!
        }
        return url + " dbname=\(database)"
    }

    /// Creates a fresh database (migrated unless `migrated` is false), runs `body` with its
    /// URL, and drops it.
    public static func with<T>(migrated: Bool = true, _ body: (String) throws -> T) throws -> T {
        let admin = try PostgresConnection(url: try adminURL)
        let name = "ledger_test_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
        try admin.execute(script: "CREATE DATABASE \(name)")
        defer { _ = try? admin.execute(script: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)") }
        let url = url(try adminURL, database: name)
        if migrated {
            let db = try PostgresConnection(url: url)
            try Migrator(directory: schemaDirectory).migrate(db)
        }
        return try body(url)
    }
}

/// Runs `body` on `count` OS threads at once (each should open its own connection) and
/// waits for all of them: see `runOnThreads`. `beforeStart` runs on the calling thread
/// meanwhile, once they are all spawned.
public func runConcurrently<T: Sendable>(
    _ count: Int, _ body: @escaping @Sendable (Int) throws -> T, beforeStart: () -> Void = {}
) -> [Result<T, any Error>] {
    runOnThreads(count, body, beforeStart: beforeStart)
}

extension TestDatabase {
    /// Runs `body` with the URL of `url`'s database for a new LOGIN role of its own, created
    /// with `attributes` (e.g. `IN ROLE ledger_app`), dropped afterwards. Roles are
    /// cluster-wide, so each test makes its own under a random name.
    public static func withLogin<T>(_ url: String, _ attributes: String = "", _ body: (String) throws -> T) throws -> T {
        let admin = try PostgresConnection(url: url)
        let name = "login_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12).lowercased()
        try admin.execute(script: "CREATE ROLE \(name) LOGIN \(attributes)")
        defer { _ = try? admin.execute(script: "DROP OWNED BY \(name); DROP ROLE \(name)") }
        var components = URLComponents(string: url)!
        components.user = name
        return try body(components.string!)
    }
}
