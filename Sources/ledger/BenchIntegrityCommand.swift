import ArgumentParser
import EventStore
import Foundation
import JSON
import Postgres
import Projections

/// `ledger bench verify`: loads a realistic ledger, catches the projections up, then times
/// `verify` (hash chains, every rule, every projection) and the digest: its first
/// computation (storing the tree), a later one, a proof, and a digest by a reader that may
/// not write (stored tree plus the events after it).
struct BenchVerify: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify", abstract: "Load events, then time verify, digest and prove.",
        discussion: """
            Default: 200,000 events. Reports verify's events per second and the digest's \
            times; 100 more events are appended before the last digest, so it extends the tree.
            Example:
              ledger bench verify --events 1000000 --format json
            """)
    @OptionGroup var global: GlobalOptions
    @OptionGroup var bench: BenchOptions

    func run() throws {
        try bench.requireOneClient()
        let target = bench.events ?? 200_000
        try BenchDatabase.with(global: global, keep: bench.keep) { scratch in
            let file = try BenchWorkload.generate(events: target)
            defer { try? FileManager.default.removeItem(atPath: file.path) }
            let loaded = try importFile(file.path, into: scratch.url)
            say("loaded \(loaded.events) events; catching projections up")
            let db = try PostgresConnection(url: scratch.url, applicationName: "ledger-bench")
            try ProjectionRunner(connection: db).runOnce()

            func time<T>(_ body: () throws -> T) rethrows -> (T, Double) {
                let start = ContinuousClock.now
                let value = try body()
                return (value, (ContinuousClock.now - start).asSeconds)
            }
            let (result, verifySeconds) = try time { try verify(connection: db) }
            guard case .intact(let events, _, _) = result else {
                throw CLIError.failed("verify found the bench ledger damaged: \(result)")
            }
            let (_, first) = try time { try LogDigest.current(on: db) }
            let (digest, again) = try time { try LogDigest.current(on: db) }
            let position = try db.query("SELECT min(position) FROM events")[0].decode(Int64.self, at: 0)
            let (_, prove) = try time { try LogDigest.proof(ofPosition: position, on: db) }
            let (_, readOnly) = try time { try LogDigest.current(on: db, extending: false) }
            let (_, check) = try time { try digest.check(on: db) }
            let report = BenchReport(title: "verify", fields: [
                ("bench", "verify"), ("database", .string(scratch.name)), ("events", JSON(events)),
                ("seconds", number(verifySeconds, 3)),
                ("events_per_second", number(Double(events) / max(verifySeconds, 1e-9), 0)),
                ("digest_first_seconds", number(first, 3)), ("digest_seconds", number(again, 3)),
                ("digest_read_only_seconds", number(readOnly, 3)), ("prove_ms", number(prove * 1000, 1)),
                ("verify_digest_seconds", number(check, 3)),
                ("peak_rss_mb", number(peakRSSMegabytes(), 1)),
            ])
            report.print(global.format)
        }
    }
}
