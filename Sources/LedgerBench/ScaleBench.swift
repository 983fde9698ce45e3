import EventStore
import Foundation
import JSON
import LedgerApp
import Postgres
import Projections

extension Bench {
    /// What the scale bench measures at each size, and how much of it.
    public struct ScalePlan: Sendable {
        /// Log sizes, ascending: the ledger is grown to each in turn (one database).
        public var sizes: [Int]
        /// Commands timed per append run (1 client; 8 clients time twice as many).
        public var appendEvents = 2_000
        /// Timed runs per current-state report (median).
        public var reportRuns = 5
        /// Whether to time a whole `verify` at each size (the slowest measure).
        public var verifies = true
        /// Up to this size the ledger grows by importing generated commands (the import's
        /// rate and memory are measured, idempotency keys stored as imports store them);
        /// beyond it by `SyntheticLedger`'s COPY, which is many times faster, so that a
        /// 10M-event ledger can be built within a bench run.
        public var importsUpTo = 1_000_000

        public init(sizes: [Int]) { self.sizes = sizes }
    }

    /// How cost grows with the log. Grows one ledger to each size of `plan` (importing
    /// generated files up to `importsUpTo`, so the log carries what imports store: events,
    /// idempotency keys; beyond it with synthetic events), then measures at that size: appends (1 and
    /// 8 clients, p50/p99), a full rebuild, current-state reports and `--as-of` folds,
    /// `verify`, the digest (extending the stored tree, then as a reader sees it), a proof,
    /// and bytes on disk per event next to a raw event-shaped table holding the same rows.
    /// `report(figures)` is called after each size with that size's figures.
    public static func scale(
        in scratch: BenchDatabase, plan: ScalePlan, actor: String, printing: ReportPrinting,
        progress: ProgressLine? = nil, report: (BenchReport) -> Void
    ) throws {
        let db = try PostgresConnection(url: scratch.url, applicationName: "ledger-bench")
        func count() throws -> Int { Int(try db.query("SELECT count(*) FROM events")[0].decode(Int64.self, at: 0)) }
        for (step, size) in plan.sizes.enumerated() {
            var fields: [(String, JSON)] = [("bench", "scale"), ("database", .string(scratch.name)), ("size", JSON(size))]
            // Grow the ledger.
            let before = try count()
            let imported = min(size, plan.importsUpTo)
            if imported > before {
                let file = try BenchWorkload.generate(events: imported - before, prefix: "s\(step)-")
                defer { try? FileManager.default.removeItem(atPath: file.path) }
                let (summary, seconds) = try timed {
                    try importFile(file.path, into: scratch.url, progress: progress)
                }
                fields.append(("import_events_per_second", number(Double(summary.events) / max(seconds, 1e-9), 0)))
                fields.append(("import_peak_rss_mb", number(peakRSSMegabytes(), 1)))
            }
            let grown = try count()
            if size > grown {
                benchSay("scale: \(grown) events; appending \(size - grown) synthetic events (COPY)")
                let (_, seconds) = try timed {
                    try SyntheticLedger.append(events: size - grown, to: db, seed: UInt64(step + 1)) { done in
                        progress?.show("synthetic: \(done) of \(size - grown) events")
                    }
                }
                progress?.finish()
                fields.append(("synthetic_events_per_second", number(Double(size - grown) / max(seconds, 1e-9), 0)))
            }
            try db.execute(script: "VACUUM ANALYZE")
            let events = try count()
            fields.append(("events", JSON(events)))
            benchSay("scale: \(events) events; measuring")

            // Appends, on streams of their own, against the grown log.
            for clients in [1, 8] {
                let run = try append(
                    in: scratch, clients: clients, events: plan.appendEvents * (clients == 1 ? 1 : 2), actor: actor)
                for key in ["events_per_second", "p50_ms", "p99_ms"] {
                    fields.append(("append\(clients)_\(key)", run[key] ?? .null))
                }
            }

            // A full rebuild (child process, as `ledger projections rebuild` runs).
            let child = try runChild(["projections", "rebuild", "--format", "json"], databaseURL: scratch.url)
            guard child.status == 0 else {
                throw BenchError.failed("ledger projections rebuild exited with status \(child.status): \(child.stderr)")
            }
            let rebuilt = (try? JSON.parse(child.stdout))?.arrayValue?.first
            fields.append(("rebuild_events_per_second", rebuilt?["events_per_second"] ?? .null))
            fields.append(("rebuild_peak_rss_mb", rebuilt?["peak_rss_mb"] ?? .null))

            // Current-state reports (stored pages) and folds with --as-of.
            for name in ProjectionName.allCases {
                var times: [Double] = []
                for _ in 0..<plan.reportRuns {
                    let (_, s) = try timed { try printing.print(name, "table", db) }
                    times.append(s * 1000)
                }
                fields.append(("\(name)_ms", number(percentile(times.sorted(), 0.5), 1)))
            }
            for name in ProjectionName.allCases {
                let (_, s) = try timed { try printing.fold(name, db) }
                fields.append(("\(name)_as_of_ms", number(s * 1000, 1)))
            }

            let (_, extend) = try timed { try LogDigest.current(on: db) }
            let (_, digest) = try timed { try LogDigest.current(on: db) }
            let position = try db.query("SELECT min(position) FROM events")[0].decode(Int64.self, at: 0)
            let (_, prove) = try timed { try LogDigest.proof(ofPosition: position, on: db) }
            fields.append(("digest_extend_seconds", number(extend, 3)))
            fields.append(("digest_seconds", number(digest, 3)))
            fields.append(("prove_ms", number(prove * 1000, 1)))

            fields += try diskBytes(db, events: events)
            fields.append(("peak_rss_mb", number(peakRSSMegabytes(), 1)))
            report(BenchReport(title: "scale \(size)", fields: fields))
            // Last, on its own line (the slowest measure: a cut-off run keeps the rest).
            if plan.verifies {
                let (result, seconds) = try timed { try verify(connection: db) }
                guard case .intact(let verified, _, _) = result else {
                    throw BenchError.failed("verify found the bench ledger damaged: \(result)")
                }
                report(BenchReport(title: "scale verify \(size)", fields: [
                    ("bench", "scale_verify"), ("size", JSON(size)), ("events", JSON(verified)),
                    ("verify_seconds", number(seconds, 3)),
                    ("verify_events_per_second", number(Double(verified) / max(seconds, 1e-9), 0)),
                ]))
            }
        }
    }

    /// Bytes on disk per event: the events table with its indexes, the idempotency keys, the
    /// digest tree; and a raw event-shaped table holding the same rows with only a primary
    /// key and the (stream, version) key — what a bare log would cost.
    static func diskBytes(_ db: PostgresConnection, events: Int) throws -> [(String, JSON)] {
        try db.execute(
            script: """
                DROP TABLE IF EXISTS bench_raw_events;
                CREATE TABLE bench_raw_events (
                    position bigint PRIMARY KEY, transaction_id xid8 NOT NULL, stream text NOT NULL,
                    version bigint NOT NULL, type text NOT NULL, schema_version integer NOT NULL,
                    payload jsonb NOT NULL, metadata jsonb NOT NULL, business_date date NOT NULL,
                    recorded_at timestamptz NOT NULL, event_id uuid NOT NULL, hash bytea NOT NULL,
                    UNIQUE (stream, version));
                INSERT INTO bench_raw_events SELECT position, transaction_id, stream, version, type, schema_version,
                    payload, metadata, business_date, recorded_at, event_id, hash FROM events ORDER BY position;
                """)
        try db.execute(script: "VACUUM ANALYZE bench_raw_events")
        let row = try db.query(
            """
            SELECT pg_table_size('events'), pg_indexes_size('events'), pg_total_relation_size('idempotency_keys'),
                   pg_total_relation_size('log_blocks') + pg_total_relation_size('log_nodes') + pg_total_relation_size('log_tail'),
                   pg_total_relation_size('bench_raw_events')
            """)[0]
        let table = try row.decode(Int64.self, at: 0), indexes = try row.decode(Int64.self, at: 1)
        let keys = try row.decode(Int64.self, at: 2), tree = try row.decode(Int64.self, at: 3)
        let raw = try row.decode(Int64.self, at: 4)
        try db.execute(script: "DROP TABLE bench_raw_events")
        let keyed = try db.query("SELECT count(*) FROM idempotency_keys")[0].decode(Int64.self, at: 0)
        let n = Double(max(events, 1))
        return [
            ("events_table_bytes_per_event", number(Double(table) / n, 0)),
            ("events_index_bytes_per_event", number(Double(indexes) / n, 0)),
            ("idempotency_bytes_per_event", number(Double(keys) / n, 0)),
            ("idempotency_keys", JSON(keyed)),
            ("digest_bytes_per_event", number(Double(tree) / n, 0)),
            ("bytes_per_event", number(Double(table + indexes + keys + tree) / n, 0)),
            ("raw_bytes_per_event", number(Double(raw) / n, 0)),
        ]
    }
}
