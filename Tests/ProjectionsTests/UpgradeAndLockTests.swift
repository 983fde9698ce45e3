import EventStore
import Foundation
import Ledger
import Postgres
@testable import Projections
import Synchronization
import Testing
import TestSupport

@Suite struct UpgradeTests {
    /// SHA-256 of the migrations of the previous release (main at 76911f7), which are never
    /// edited: a database made by that release holds exactly these.
    static let previousRelease: [Int: String] = [
        1: "41d6019185fe25c032ae37459d7994b5de71d1ce0a1fe08c48e010db5796c80a",
        2: "8f990ffa45a50bfdffd618a2a69135ddd7d9e29be503343af69cd6cd991913b5",
        3: "6622023728f4caf46d478728af04634b298c2763cb2ac0f0be32718ce03102ff",
        4: "7d1310fe5b0068e1e43f9dc5e2d848d6a82456758dafaaacab804fec810ac99a",
        5: "b1876b7bf56669eb438e3677aec9dd6e75db4f4e479dc132bffc90653174b5ff",
        6: "a842de32d39bb4e2cb600a2b92db42d03e582f613acd9f378bfa745ce8fd6d36",
    ]

    /// Every column of every event and idempotency key, as text.
    func log(_ db: PostgresConnection) throws -> [[String]] {
        let events = try db.query(
            """
            SELECT position::text, transaction_id::text, stream, version::text, type, schema_version::text,
                   payload::text, metadata::text, business_date::text, recorded_at::text, event_id::text,
                   encode(hash, 'hex')
            FROM events ORDER BY position
            """)
        let keys = try db.query("SELECT key, command_hash, positions::text, recorded_at::text FROM idempotency_keys ORDER BY key")
        return try (events.map { row in try (0..<12).map { try row.decode(String.self, at: $0) } })
            + (keys.map { row in try (0..<4).map { try row.decode(String.self, at: $0) } })
    }

    /// The projections as the previous release left them: this program runs labs, orders and
    /// supply, whose tables are as that release made them; the portfolio's rows are written
    /// with that release's columns (this program's runner also writes the columns Schema/013
    /// adds, which that schema lacks), at the same checkpoint, their pages left to render.
    func catchUpAsThePreviousRelease(_ db: PostgresConnection) throws {
        let runner = ProjectionRunner(connection: db)
        runner.keepsHistory = false  // that release kept no time-travel snapshots (Schema/015)
        let names: [ProjectionName] = [.labs, .orders, .supply]
        for _ in 0..<500 {
            try runner.runOnce(names)
            if try runner.status(names).allSatisfy({ $0.lag == 0 }) { break }
            usleep(10_000)
        }
        try db.transaction { db in
            for row in try foldedReports(db).portfolio {
                try db.query(
                    """
                    INSERT INTO projections.portfolio (investment, startup, round, instrument, currency, committed, disbursed,
                                                       fair_value, proceeds, moic, status, latest_mark)
                    VALUES ($1, $2, $3, $4, $5, $6::numeric, $7::numeric, $8::numeric, $9::numeric, $10::numeric, $11, $12::numeric)
                    """,
                    [row.investment, row.startup, row.round, row.instrument.rawValue, row.currency.code, row.committed.decimalString,
                     row.disbursed.decimalString, row.fairValue.decimalString, row.proceeds.decimalString, row.moic,
                     row.status.rawValue, row.latestMark?.decimalString])
            }
            try db.query(
                """
                UPDATE projections.checkpoints p SET transaction_id = l.transaction_id, position = l.position
                FROM projections.checkpoints l WHERE p.projection = 'portfolio' AND l.projection = 'labs'
                """)
        }
    }

    /// The portfolio's columns of the previous release, as text.
    func portfolioAsThePreviousReleaseKeptIt(_ db: PostgresConnection) throws -> [[String?]] {
        try db.query(
            """
            SELECT investment, startup, round, instrument, currency, committed::text, disbursed::text, fair_value::text,
                   proceeds::text, moic::text, status, latest_mark::text
            FROM projections.portfolio ORDER BY investment
            """
        ).map { row in try (0..<12).map { try row.decode(String?.self, at: $0) } }
    }

    /// Whatever migrations come after the previous release (this test names none of them).
    @Test func aDatabaseOfThePreviousReleaseMigratesToTheHeadWithEveryEventAndReportIntact() throws {
        try TestDatabase.with(migrated: false) { url in
            let db = try PostgresConnection(url: url)
            let head = try Migrator(directory: TestDatabase.schemaDirectory)
            let previous = Migrator(migrations: head.migrations.filter { Self.previousRelease[$0.version] != nil })
            #expect(Dictionary(uniqueKeysWithValues: previous.migrations.map { ($0.version, $0.checksum) }) == Self.previousRelease)
            try previous.migrate(db)

            // The previous release's data: events appended through its append_events (with
            // idempotency keys), projections run, report pages rendered.
            let driver = LedgerDriver(connection: db)
            try driver.loadReferenceScenario()
            var rng = SeededGenerator(seed: 12)
            try driver.loadRandom(150, rng: &rng)
            let store = EventStore(connection: db)
            try store.append(
                [NewEvent(stream: "supply-upgrade", type: "supply.received", payload: ["sku": "upgrade", "quantity": 5],
                          businessDate: SQLDate(year: 2024, month: 3, day: 1))],
                idempotencyKey: "before-upgrade", commandHash: "h")
            try catchUpAsThePreviousRelease(db)
            let logBefore = try log(db)
            let pagesBefore = try [ProjectionName.labs, .orders, .supply].map { try PagesText($0, db) }
            let portfolioBefore = try portfolioAsThePreviousReleaseKeptIt(db)
            #expect(!portfolioBefore.isEmpty)

            let applied = try head.migrate(db)
            #expect(applied.map(\.version) == head.migrations.map(\.version).filter { Self.previousRelease[$0] == nil })
            try head.checkUpToDate(db)
            #expect(try log(db) == logBefore)
            #expect(try [ProjectionName.labs, .orders, .supply].map { try PagesText($0, db) } == pagesBefore)
            #expect(try portfolioAsThePreviousReleaseKeptIt(db) == portfolioBefore)
            // The columns the migrations add are filled from the events (no rebuild needed):
            // the stored rows, and the pages readers print, are what a fold of the log gives.
            let upgraded = try StoredReports(db)
            #expect(upgraded == StoredReports(try foldedReports(db)))
            #expect(upgraded.portfolio.allSatisfy { $0.startupName != nil })
            let sakana = try #require(upgraded.portfolio.first { $0.investment == "sakana-seed" })
            #expect(sakana.startupName == "Sakana AI" && sakana.ownership == "3.5" && sakana.postMoney?.decimalString == "14000000000")
            let view = try db.query(
                "SELECT startup_name, ownership::text, post_money::text FROM reporting.portfolio WHERE investment = 'sakana-seed'")
            #expect(try view.first.map { try [$0.decode(String?.self, at: 0), $0.decode(String?.self, at: 1), $0.decode(String?.self, at: 2)] }
                == ["Sakana AI", "3.5", "14000000000"])
            #expect(try verify(connection: db).isIntact)
            // No time-travel snapshots yet: --as-of folds the log.
            func historyCheckpoint() throws -> Int64 {
                try db.query("SELECT position FROM projections.history_checkpoint")[0].decode(Int64.self, at: 0)
            }
            let february = ReportView(asOf: try Day("2024-02-29"))
            #expect(try historyCheckpoint() == 0)
            #expect(try ReportReader(connection: db).orders(february) == ReportReader(connection: db, useSnapshots: false).orders(february))

            // And the upgraded ledger carries on: appends chain from the old heads, the
            // old key still replays, projections follow.
            try driver.loadRandom(50, rng: &rng)
            let replay = try store.append(
                [NewEvent(stream: "supply-upgrade", type: "supply.received", payload: ["sku": "upgrade", "quantity": 5],
                          businessDate: SQLDate(year: 2024, month: 3, day: 1))],
                idempotencyKey: "before-upgrade", commandHash: "h")
            #expect(replay.replayed)
            try catchUp(db)
            #expect(try StoredReports(db) == StoredReports(try foldedReports(db)))
            #expect(try verify(connection: db).isIntact)
            // The next run made the snapshots, and they give the same reports.
            #expect(try historyCheckpoint() > 0)
            for view in [february, ReportView(asOf: try Day("2024-03-15")), ReportView(asOf: try Day("2099-12-31"))] {
                let fast = ReportReader(connection: db), slow = ReportReader(connection: db, useSnapshots: false)
                #expect(try fast.portfolio(view) == slow.portfolio(view))
                #expect(try fast.labs(view) == slow.labs(view))
                #expect(try fast.orders(view) == slow.orders(view))
                #expect(try fast.supply(view) == slow.supply(view))
            }
        }
    }
}

/// Schema/018 keeps the digest tree in blocks of 256 leaves instead of a row per leaf and
/// per node (008). An existing tree is converted, not recomputed from the events as they
/// are at the upgrade: a digest issued before still verifies after, with the same root and
/// proofs, and a change made later is named from the leaves as they were digested.
@Suite struct DigestTreeUpgradeTests {
    @Test func aTreeStoredBySchema008IsConvertedAndStillChecksTheDigestsItIssued() throws {
        try TestDatabase.with(migrated: false) { url in
            let db = try PostgresConnection(url: url)
            let head = try Migrator(directory: TestDatabase.schemaDirectory)
            try Migrator(migrations: head.migrations.filter { $0.version < 18 }).migrate(db)
            // 700 events (2 complete blocks and 188 leaves), written as the owner: only the
            // digest is looked at here, not the chains.
            func insert(_ range: ClosedRange<Int>) throws {
                try db.execute(
                    script: """
                        SET session_replication_role = replica;
                        INSERT INTO events (stream, version, type, schema_version, payload, metadata, business_date, event_id, hash)
                        SELECT 's-' || (g % 7), g, 'supply.received', 1, '{}', '{}', '2026-01-01', gen_random_uuid(), sha256(int8send(g))
                        FROM generate_series(\(range.lowerBound), \(range.upperBound)) g;
                        SET session_replication_role = origin;
                        """)
            }
            try insert(1...700)
            // The digest as the previous schema issued it: its tree stored by its own
            // extend_log_digest(), and the root of the event hashes in log order.
            #expect(try db.query("SELECT extend_log_digest()")[0].decode(Int64.self, at: 0) == 700)
            func logOrder() throws -> [(position: Int64, hash: [UInt8])] {
                try db.query("SELECT position, hash FROM events ORDER BY transaction_id, position").map {
                    (try $0.decode(Int64.self, at: 0), try $0.decode(Bytes.self, at: 1).bytes)
                }
            }
            let log = try logOrder()
            let hashes = log.map(\.hash)
            let issued = LogDigest(size: 700, root: MerkleHash.root(hashes[...]), position: log.last!.position, recordedAt: nil)

            try head.migrate(db)
            #expect(try db.query("SELECT count(*) FROM log_blocks")[0].decode(Int64.self, at: 0) == 2)
            #expect(try db.query("SELECT count(*) FROM log_tail")[0].decode(Int64.self, at: 0) == 188)
            // What was converted is what Schema/018 stores: each block's leaves (position and
            // hash prefix) and its root, and every node above.
            for row in try db.query("SELECT index, position, leaves FROM log_blocks ORDER BY index") {
                let block = Int(try row.decode(Int64.self, at: 0))
                var expected: [UInt8] = []
                for (position, hash) in log[block * 256..<(block + 1) * 256] {
                    expected += withUnsafeBytes(of: UInt64(position).bigEndian, Array.init) + hash.prefix(8)
                }
                #expect(try row.decode(Bytes.self, at: 2).bytes == expected)
                #expect(try row.decode(Int64.self, at: 1) == log[block * 256 + 255].position)
            }
            for row in try db.query("SELECT level, index, hash FROM log_nodes") {
                let level = try row.decode(Int.self, at: 0), index = Int(try row.decode(Int64.self, at: 1))
                #expect(try row.decode(Bytes.self, at: 2).bytes == MerkleHash.root(hashes[(index << level)..<((index + 1) << level)]))
            }
            #expect(try db.query("SELECT count(*) FROM log_nodes WHERE level < 8")[0].decode(Int64.self, at: 0) == 0)

            let digest = try LogDigest.current(on: db)
            #expect(digest.size == 700 && digest.root == issued.root && digest.position == issued.position)
            #expect(try issued.check(on: db) == .holds)
            let proof = try #require(try LogDigest.proof(ofPosition: log[300].position, on: db))
            #expect(MerkleHash.verifyInclusion(eventHash: hashes[300], index: 300, size: 700, path: proof.path, root: issued.root))

            // It grows on from the converted tree as if 018 had stored it all.
            try insert(701...1100)
            let grown = try LogDigest.current(on: db)
            #expect(grown.root == MerkleHash.root(try logOrder().map(\.hash)[...]))
            #expect(try db.query("SELECT count(*) FROM log_blocks")[0].decode(Int64.self, at: 0) == 4)

            // A change after the upgrade, in a converted block, is named.
            try db.execute(
                script: """
                    SET session_replication_role = replica;
                    UPDATE events SET hash = sha256(hash) WHERE position = \(log[40].position);
                    SET session_replication_role = origin;
                    """)
            guard case .differs(let position, let message) = try issued.check(on: db) else {
                Issue.record("the digest still holds")
                return
            }
            #expect(position == log[40].position && message.contains("changed"), "\(message)")
        }
    }
}

@Suite struct LedgerLockTests {
    @Test func aLoginWithNoGrantsCannotTakeOrStallTheProjectionLocks() throws {
        try TestDatabase.with { url in
            let db = try PostgresConnection(url: url)
            try LedgerDriver(connection: db).loadReferenceScenario()
            try TestDatabase.withLogin(url) { strangerURL in
                let stranger = try PostgresConnection(url: strangerURL)
                #expect {
                    try stranger.transaction { db in
                        try db.query("SELECT 1 FROM projections.checkpoints WHERE projection = 'orders' FOR UPDATE")
                    }
                } throws: { ($0 as? PostgresError)?.isInsufficientPrivilege == true }
                #expect {
                    try stranger.transaction { db in try db.query("LOCK TABLE projections.checkpoints") }
                } throws: { ($0 as? PostgresError)?.isInsufficientPrivilege == true }
                // The advisory keys the previous release used stall nothing now.
                try stranger.execute(script: "BEGIN")
                for name in ProjectionName.allCases {
                    var hash: UInt32 = 2_166_136_261
                    for byte in name.rawValue.utf8 {
                        hash ^= UInt32(byte)
                        hash = hash &* 16_777_619
                    }
                    try stranger.query(
                        "SELECT pg_advisory_xact_lock($1::int4, $2::int4)", [Int32(0x4C45_4447), Int32(bitPattern: hash & 0x7FFF_FFFF)])
                }
                let told = Mutex<[ProjectionName]>([])
                let runner = ProjectionRunner(connection: db)
                runner.onLockWait = { name, _ in told.withLock { $0.append(name) } }
                #expect(try runner.runOnce() > 0)
                try ProjectionRebuilder(connection: db).rebuild()
                #expect(told.withLock { $0 }.isEmpty)
                try stranger.execute(script: "ROLLBACK")
            }
            #expect(try StoredReports(db) == StoredReports(try foldedReports(db)))
        }
    }
}
