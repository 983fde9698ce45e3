import EventStore
import Foundation
import Ledger
import Postgres
@testable import Projections
import Synchronization
import Testing
import TestSupport

struct Killed: Error {}

@Suite struct ProjectionRunnerTests {
    @Test func runAppliesEveryEventOnceAndEqualsAFoldAfterRandomInterleavings() throws {
        for seed in [1, 2, 3] as [UInt64] {
            try TestDatabase.with { url in
                let db = try PostgresConnection(url: url)
                let driver = LedgerDriver(connection: db)
                var rng = SeededGenerator(seed: seed)
                let runner = ProjectionRunner(connection: db, batchSize: 7)
                // Pages of 2 rows: pages split, go stale and are rendered again all the time.
                runner.pageRows = 2
                for _ in 0..<12 {
                    try driver.loadRandom(Int.random(in: 0...40, using: &rng), rng: &rng)
                    if rng.next() % 2 == 0 { try runner.runOnce() }
                    // Readers between runs see the pages as of the last run.
                    #expect(try StoredReports(db).pages == StoredReports(db).pagesFromRows, "seed \(seed)")
                }
                try catchUp(db)
                #expect(try StoredReports(db) == StoredReports(try foldedReports(db)), "seed \(seed)")
                let pages = try db.query("SELECT count(*) FROM projections.report_pages WHERE projection = 'orders'")
                #expect(try pages[0].decode(Int64.self, at: 0) > 1, "seed \(seed)")
                #expect(try runner.status().allSatisfy { $0.lag == 0 })
                #expect(try runner.runOnce() == 0)
            }
        }
    }

    @Test func statusShowsCheckpointAndLag() throws {
        try TestDatabase.with { url in
            let db = try PostgresConnection(url: url)
            try LedgerDriver(connection: db).loadReferenceScenario()
            let runner = ProjectionRunner(connection: db)
            let total = try db.query("SELECT count(*), max(position) FROM events")[0]
            let count = try total.decode(Int64.self, at: 0)
            #expect(try runner.status().map(\.lag) == [count, count, count, count])
            try catchUp(db)
            let status = try runner.status()
            #expect(status.map(\.projection) == ProjectionName.allCases)
            #expect(status.allSatisfy { $0.lag == 0 && $0.checkpoint == (try? total.decode(Int64.self, at: 1)) })
        }
    }

    @Test func aRunKilledBeforeCommitLeavesRowsAndCheckpointConsistent() throws {
        try TestDatabase.with { url in
            let db = try PostgresConnection(url: url)
            try LedgerDriver(connection: db).loadReferenceScenario()
            for victim in ProjectionName.allCases {
                let runner = ProjectionRunner(connection: db, batchSize: 5)
                var commits = 0
                runner.beforeCommit = { name, _ in
                    if name == victim {
                        commits += 1
                        if commits == 3 { throw Killed() }
                    }
                }
                #expect(throws: Killed.self) { try runner.runOnce() }
                // A fresh runner (the process restarted) finishes the job.
                try ProjectionRunner(connection: db, batchSize: 5).runOnce()
                try catchUp(db)
                #expect(try StoredReports(db) == StoredReports(try foldedReports(db)))
                // Start over for the next victim.
                try db.execute(script: "UPDATE projections.checkpoints SET transaction_id = 0, position = 0; DELETE FROM projections.portfolio; DELETE FROM projections.labs; DELETE FROM projections.orders; DELETE FROM projections.supply")
            }
        }
    }

    /// While one connection appends and another runs the projections (pages of 2 rows, so
    /// pages go stale and split all the time), every report a reader prints equals what the
    /// rows of its own snapshot render to.
    @Test func readersPrintPagesThatMatchTheirSnapshotsRowsWhileWritersAndARunnerWork() throws {
        try TestDatabase.with { url in
            let db = try PostgresConnection(url: url)
            try LedgerDriver(connection: db).loadReferenceScenario()
            let stop = Mutex(false)
            // Snapshots the reader checked with every page fresh, and with some stale.
            let seen = Mutex((fresh: 0, stale: 0))
            let results = runConcurrently(3) { role -> Int in
                let c = try PostgresConnection(url: url)
                switch role {
                case 0:
                    // Keeps writing until the reader has checked both kinds of snapshot a
                    // few times (at most 2,000 rounds).
                    defer { stop.withLock { $0 = true } }
                    var rng = SeededGenerator(seed: 7)
                    let driver = LedgerDriver(connection: c)
                    for round in 0..<2000 {
                        try driver.loadRandom(5, rng: &rng)
                        let (fresh, stale) = seen.withLock { ($0.fresh, $0.stale) }
                        if round >= 10, fresh >= 5, stale >= 5 { break }
                        usleep(2_000)
                    }
                    return 0
                case 1:
                    let runner = ProjectionRunner(connection: c, batchSize: 5)
                    runner.pageRows = 2
                    // Renders stale pages between batches too, not only once caught up.
                    runner.pageRefreshInterval = .zero
                    var runs = 0
                    while !stop.withLock({ $0 }) {
                        try runner.runOnce(shouldStop: { stop.withLock { $0 } })
                        runs += 1
                    }
                    return runs
                default:
                    var checks = 0
                    while !stop.withLock({ $0 }) {
                        try c.transaction(.repeatableRead) { c in
                            let stale = try c.query("SELECT count(*) FROM projections.report_pages WHERE csv IS NULL")[0]
                                .decode(Int64.self, at: 0)
                            for name in ProjectionName.allCases {
                                let printed = try PagesText(name, c)
                                #expect(printed == (try PagesText(renderingRowsOf: name, c)), "\(name)")
                            }
                            seen.withLock { if stale == 0 { $0.fresh += 1 } else { $0.stale += 1 } }
                        }
                        checks += 1
                    }
                    return checks
                }
            }
            for result in results { _ = try result.get() }
            let (fresh, stale) = seen.withLock { ($0.fresh, $0.stale) }
            #expect(fresh >= 5 && stale >= 5, "fresh \(fresh), stale \(stale)")
            try catchUp(db)
            #expect(try StoredReports(db) == StoredReports(try foldedReports(db)))
        }
    }

    @Test func twoConcurrentRunnersNeverDoubleApply() throws {
        try TestDatabase.with { url in
            let db = try PostgresConnection(url: url)
            let driver = LedgerDriver(connection: db)
            var rng = SeededGenerator(seed: 42)
            try driver.loadReferenceScenario()
            try driver.loadRandom(300, rng: &rng)
            let results = runConcurrently(4) { _ in
                let c = try PostgresConnection(url: url)
                return try ProjectionRunner(connection: c, batchSize: 3).runOnce()
            }
            for r in results { _ = try r.get() }
            try catchUp(db)
            #expect(try StoredReports(db) == StoredReports(try foldedReports(db)))
        }
    }

    @Test func aSecondRunnerWaitsAndNamesTheHolder() throws {
        try TestDatabase.with { url in
            let db = try PostgresConnection(url: url)
            try LedgerDriver(connection: db).loadReferenceScenario()
            let holder = try PostgresConnection(url: url)
            try holder.execute(script: "BEGIN")
            try holder.query("SELECT 1 FROM projections.checkpoints WHERE projection = 'orders' FOR UPDATE")
            let told = Mutex<[Int32?]>([])
            let failure = Mutex<String?>(nil)
            let holderPID = holder.backendPID
            // The test waits for the waiter to finish before its database is dropped (a
            // runner may still render pages after its checkpoint shows no lag).
            let finished = DispatchSemaphore(value: 0)
            let waiter = Thread {
                defer { finished.signal() }
                let c = try! PostgresConnection(url: url)
                let runner = ProjectionRunner(connection: c)
                runner.onLockWait = { name, pid in told.withLock { $0.append(pid) }; _ = name }
                do { _ = try runner.runOnce() } catch { failure.withLock { $0 = "\(error)" } }
            }
            waiter.start()
            var waited = 0
            while told.withLock({ $0.isEmpty }) && waited < 100 {
                usleep(50_000)
                waited += 1
            }
            #expect(told.withLock { $0 } == [holderPID])
            try holder.execute(script: "COMMIT")
            waited = 0
            while (try ProjectionRunner(connection: db).status().contains { $0.lag > 0 }) && waited < 100 {
                usleep(50_000)
                waited += 1
            }
            #expect(finished.wait(timeout: .now() + 60) == .success)
            #expect(failure.withLock { $0 } == nil)
            #expect(try StoredReports(db) == StoredReports(try foldedReports(db)))
        }
    }

    @Test func anEventWhoseTransactionCommitsLateIsAppliedAfterItCommits() throws {
        try TestDatabase.with { url in
            let db = try PostgresConnection(url: url)
            let driver = LedgerDriver(connection: db)
            try driver.loadReferenceScenario()
            let runner = ProjectionRunner(connection: db)
            try runner.runOnce()

            // A writer takes an earlier position, then commits after a later one.
            let slow = try PostgresConnection(url: url)
            try slow.execute(script: "BEGIN")
            let late = LedgerDriver(connection: slow)
            late.world = driver.world
            try late.run("supply.receive", ["sku": "l40s", "quantity": "7"])
            try driver.run("supply.receive", ["sku": "h100-sxm5-80gb", "quantity": "3"])
            runner.settleTimeout = .zero  // stop behind it rather than wait for it
            try runner.runOnce()
            try slow.execute(script: "COMMIT")
            try catchUp(db)

            let supply = try ReportReader(connection: db).supply()
            #expect(supply.first { $0.sku == "l40s" }?.received == 7)
            #expect(supply.first { $0.sku == "h100-sxm5-80gb" }?.received == 103)
            #expect(try StoredReports(db) == StoredReports(try foldedReports(db)))
        }
    }

    @Test func aRunWaitsAMomentForCommittedEventsThatATransactionStillHoldsBack() throws {
        // `projections run` means caught up with what had committed when it started: a
        // transaction that holds committed events back and ends a moment later is waited
        // for (up to `settleTimeout`), not left for the next run.
        try TestDatabase.with { url in
            let db = try PostgresConnection(url: url)
            let driver = LedgerDriver(connection: db)
            try driver.loadReferenceScenario()
            let runner = ProjectionRunner(connection: db)
            try runner.runOnce()
            func received(_ sku: String) throws -> Int64? {
                try ReportReader(connection: db).supply().first { $0.sku == sku }?.received
            }

            let slow = try PostgresConnection(url: url)
            try slow.execute(script: "BEGIN")
            let late = LedgerDriver(connection: slow)
            late.world = driver.world
            try late.run("supply.receive", ["sku": "l40s", "quantity": "7"])
            try driver.run("supply.receive", ["sku": "h100-sxm5-80gb", "quantity": "3"])
            // Without waiting, the run stops behind the open transaction: both held back.
            runner.settleTimeout = .zero
            try runner.runOnce()
            #expect(try received("h100-sxm5-80gb") == 100)

            // Only the committer thread uses the connection from here on.
            nonisolated(unsafe) let holder = slow
            let committer = Thread {
                usleep(300_000)
                try! holder.execute(script: "COMMIT")
            }
            runner.settleTimeout = .seconds(60)
            committer.start()
            try runner.runOnce()
            #expect(try received("l40s") == 7)
            #expect(try received("h100-sxm5-80gb") == 103)
            #expect(try StoredReports(db) == StoredReports(try foldedReports(db)))
        }
    }

    @Test func followAppliesNewEventsAndStopsWhenAsked() throws {
        try TestDatabase.with { url in
            let db = try PostgresConnection(url: url)
            let driver = LedgerDriver(connection: db)
            try driver.loadReferenceScenario()
            let stop = Atomic<Bool>(false)
            let finished = Atomic<Bool>(false)
            let thread = Thread {
                try? ProjectionRunner.follow(
                    databaseURL: url, pollInterval: .seconds(1), shouldStop: { stop.load(ordering: .relaxed) })
                finished.store(true, ordering: .relaxed)
            }
            thread.start()
            func caughtUp() throws -> Bool {
                // Other tests' open transactions (in other databases) hold the log's readable
                // end back for a while: allow for that.
                for _ in 0..<500 {
                    if try ProjectionRunner(connection: db).status().allSatisfy({ $0.lag == 0 }) { return true }
                    usleep(20_000)
                }
                return false
            }
            #expect(try caughtUp())
            try driver.run("supply.receive", ["sku": "l40s", "quantity": "9"])
            #expect(try caughtUp())
            #expect(try StoredReports(db) == StoredReports(try foldedReports(db)))
            stop.store(true, ordering: .relaxed)
            for _ in 0..<100 where !finished.load(ordering: .relaxed) { usleep(20_000) }
            let done = finished.load(ordering: .relaxed)
            #expect(done)
        }
    }
}
