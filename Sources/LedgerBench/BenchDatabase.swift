import EventStore
import Foundation
import Postgres

/// A database created for one bench run (`ledger_bench_<random>`), so user data is never
/// touched.
public struct BenchDatabase: Sendable {
    public var name: String
    public var url: String
    public var runID: String

    /// Creates and migrates `ledger_bench_<random>` on the server `admin` is connected to
    /// (`baseURL` names it, or libpq's PG* defaults when nil), runs `body`, drops it unless
    /// `keep`.
    public static func with(
        admin: PostgresConnection, baseURL: String?, keep: Bool, _ body: (BenchDatabase) throws -> Void
    ) throws {
        let runID = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        let name = "ledger_bench_" + runID
        do {
            try admin.query("CREATE DATABASE \(admin.quoteIdentifier(name))")
        } catch {
            throw BenchError.unavailable(
                "cannot create the scratch database \(name): \(error.message) — bench needs a role with CREATEDB")
        }
        let url = Self.url(baseURL, database: name)
        benchSay("bench database: \(name)")
        var failure: (any Error)?
        do {
            let db = try PostgresConnection(url: url, applicationName: "ledger-bench")
            _ = try Migrator(directory: Migrator.locateSchemaDirectory()).migrate(db)
            try body(BenchDatabase(name: name, url: url, runID: runID))
        } catch {
            failure = error
        }
        if keep {
            benchSay("kept bench database \(name): \(PostgresConnection.redacted(url))")
        } else {
            do {
                try admin.query("DROP DATABASE IF EXISTS \(admin.quoteIdentifier(name)) WITH (FORCE)")
            } catch {
                benchSay("could not drop bench database \(name): \(error.message)")
            }
        }
        if let failure { throw failure }
    }

    /// The given URL (or libpq's PG* defaults) pointing at `database` instead.
    public static func url(_ base: String?, database: String) -> String {
        guard let base, !base.isEmpty else { return "dbname=\(database)" }
        if base.hasPrefix("postgres://") || base.hasPrefix("postgresql://"),
            var parts = URLComponents(string: base)
        {
            parts.path = "/" + database
            if let s = parts.string { return s }
        }
        // Key/value form: a later keyword wins.
        return base + " dbname=\(database)"
    }
}
