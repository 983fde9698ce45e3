import EventStore
import Foundation
import JSON
import Postgres
import Synchronization
import Testing
import TestSupport

let day = SQLDate(year: 2026, month: 4, day: 1)

func event(_ stream: String, _ type: String = "test.happened", _ n: Int = 0) -> NewEvent {
    NewEvent(stream: stream, type: type, payload: ["n": JSON(n), "note": "é \"quoted\""], metadata: ["actor": "tester"], businessDate: day)
}

func eventCount(_ db: PostgresConnection) throws -> Int {
    try db.query("SELECT count(*) FROM events")[0].decode(Int.self, at: 0)
}

@Suite struct EventStoreTests {
    @Test func appendsAndReadsAStreamInVersionOrderWithAHashChain() throws {
        try TestDatabase.with { url in
            let store = EventStore(connection: try PostgresConnection(url: url))
            let first = try store.append([event("s-1", "a", 1), event("s-1", "b", 2)], expecting: ["s-1": .noStream])
            #expect(first.events.map(\.version) == [1, 2])
            #expect(!first.replayed)
            try store.append([event("s-1", "c", 3)], expecting: ["s-1": .exactly(2)])
            let read = try store.readStream("s-1")
            #expect(read.map(\.type) == ["a", "b", "c"])
            #expect(read[2].payload == ["n": 3, "note": "é \"quoted\""])
            var previous = EventHash.genesis
            for record in read {
                #expect(EventHash.hash(of: record, previous: previous) == record.hash)
                previous = record.hash
            }
        }
    }

    /// An append answers with the payload and metadata it sent rather than parsing its
    /// rows again: they must be what reading the stream returns, escapes, nesting, numbers
    /// with a scale and all — and a replay (read in full) says the same.
    @Test func anAppendsAnswerIsWhatReadingTheStreamReturns() throws {
        try TestDatabase.with { url in
            let store = EventStore(connection: try PostgresConnection(url: url))
            let payload: JSON = [
                "amount": .number("1.50"), "big": .number("12345678901234567890.000100"), "neg": .number("-0.5"),
                "text": "tab\tline\nquote\" back\\ ctl\u{01} é 𝄞", "nested": ["a": [1, "x", .null, true], "z": [:]],
                "list": [], "flag": false,
            ]
            let sent = NewEvent(
                stream: "s-1", type: "t", payload: payload, metadata: ["actor": "tester", "deep": ["k": "v\t"]],
                businessDate: day)
            let first = try store.append(
                [sent, event("s-2")], expecting: ["s-1": .noStream, "s-2": .noStream], idempotencyKey: "k", commandHash: "h")
            let read = try store.readStream("s-1") + store.readStream("s-2")
            #expect(first.events == read)
            #expect(first.events[0].payload == payload)
            var resent = sent
            resent.eventID = UUID()
            let again = try store.append(
                [resent, event("s-2")], expecting: ["s-1": .noStream, "s-2": .noStream], idempotencyKey: "k", commandHash: "h")
            #expect(again.replayed)
            #expect(again.events == read)
        }
    }

    @Test func aStaleExpectedVersionIsAConflictAndWritesNothing() throws {
        try TestDatabase.with { url in
            let db = try PostgresConnection(url: url)
            let store = EventStore(connection: db)
            try store.append([event("s-1")], expecting: ["s-1": .noStream])
            #expect {
                try store.append([event("s-1")], expecting: ["s-1": .noStream])
            } throws: { error in
                guard case .conflict(let stream, let expected, let actual) = error as? EventStoreError else { return false }
                return stream == "s-1" && expected == 0 && actual == 1
            }
            // A stale head passed by the caller is caught by the server.
            #expect(throws: EventStoreError.self) {
                try store.append([event("s-1")], expecting: ["s-1": .exactly(0)], heads: ["s-1": .empty])
            }
            #expect(try eventCount(db) == 1)
        }
    }

    @Test func aMultiStreamAppendIsAtomic() throws {
        try TestDatabase.with { url in
            let db = try PostgresConnection(url: url)
            let store = EventStore(connection: db)
            try store.append([event("supply-h100")], expecting: ["supply-h100": .noStream])
            // order-1 is new, but supply-h100 is not at version 0: nothing of the batch may land.
            #expect(throws: EventStoreError.self) {
                try store.append(
                    [event("order-1"), event("supply-h100")],
                    expecting: ["order-1": .noStream, "supply-h100": .exactly(0)], heads: ["supply-h100": .empty])
            }
            #expect(try store.readStream("order-1").isEmpty)
            #expect(try eventCount(db) == 1)
            let ok = try store.append(
                [event("order-1"), event("supply-h100")], expecting: ["order-1": .noStream, "supply-h100": .exactly(1)])
            #expect(ok.events.map(\.stream) == ["order-1", "supply-h100"])
            #expect(ok.events.map(\.version) == [1, 2])
        }
    }

    @Test func concurrentWritersExpectingTheSameVersionLetExactlyOneWin() throws {
        try TestDatabase.with { url in
            let results = runConcurrently(8) { i in
                let store = EventStore(connection: try PostgresConnection(url: url))
                return try store.append([event("hot", "x", i), event("other-\(i)")], expecting: ["hot": .noStream, "other-\(i)": .noStream])
            }
            let wins = results.filter { if case .success = $0 { true } else { false } }
            #expect(wins.count == 1)
            for case .failure(let error) in results {
                guard case .conflict = error as? EventStoreError else {
                    Issue.record("expected a conflict, got \(error)")
                    continue
                }
            }
            let db = try PostgresConnection(url: url)
            #expect(try eventCount(db) == 2)
        }
    }

    @Test func anIdempotencyKeyReplaysTheFirstResultAndRejectsAnotherCommand() throws {
        try TestDatabase.with { url in
            let db = try PostgresConnection(url: url)
            let store = EventStore(connection: db)
            let first = try store.append([event("s-1")], expecting: ["s-1": .noStream], idempotencyKey: "k-1", commandHash: "h-a")
            let again = try store.append([event("s-1")], expecting: ["s-1": .any], idempotencyKey: "k-1", commandHash: "h-a")
            #expect(again.replayed)
            #expect(again.events.map(\.position) == first.events.map(\.position))
            #expect(try eventCount(db) == 1)
            #expect {
                try store.append([event("s-2")], expecting: ["s-2": .noStream], idempotencyKey: "k-1", commandHash: "h-b")
            } throws: { error in
                guard case .idempotencyKeyReused(let key) = error as? EventStoreError else { return false }
                return key == "k-1"
            }
            #expect(try eventCount(db) == 1)
        }
    }

    /// LE002 says which key and which fingerprints in a JSON DETAIL (Schema/014), so the key
    /// is read whole — a key with spaces used to be cut at its first space, sliced out of
    /// the message text.
    @Test func aReusedKeyIsNamedFromLE002sDetailNotItsMessage() throws {
        try TestDatabase.with { url in
            let db = try PostgresConnection(url: url)
            let store = EventStore(connection: db)
            let key = "nightly run 7"
            try store.append([event("s-1")], expecting: ["s-1": .noStream], idempotencyKey: key, commandHash: "h-a")
            #expect {
                try store.append([event("s-2")], expecting: ["s-2": .noStream], idempotencyKey: key, commandHash: "h-b")
            } throws: { error in
                guard case .idempotencyKeyReused(let named) = error as? EventStoreError else { return false }
                return named == key
            }
            // The DETAIL itself, as any client of append_events sees it.
            #expect {
                try db.query("SELECT * FROM append_events('[]', '[]', $1, 'h-b')", [key])
            } throws: { error in
                guard let error = error as? PostgresError, error.sqlState == PostgresError.Code.ledgerIdempotencyKeyReused,
                    let detail = error.detail.flatMap({ try? JSON.parse($0) })
                else { return false }
                return detail == ["key": .string(key), "recorded_command_hash": "h-a", "command_hash": "h-b"]
            }
            #expect(try eventCount(db) == 1)
        }
    }

    /// Two writers for the same version, the second sent while the first is still open: the
    /// second waits, then gets a conflict naming the stream and both versions, from LE001's
    /// DETAIL — not a unique violation whose stream was sliced out of its message text.
    @Test func aVersionTakenConcurrentlyIsAConflictNamingItsStream() throws {
        try TestDatabase.with { url in
            let outcome = try Self.raceAgainstAnOpenAppend(url: url) { second, _ in
                try second.append([event("s-1"), event("s-2")], expecting: ["s-1": .exactly(1), "s-2": .noStream])
            }
            #expect(outcome == EventStoreError.conflict(stream: "s-1", expected: 1, actual: 2).description)
            let db = try PostgresConnection(url: url)
            #expect(try eventCount(db) == 2)
            #expect(try db.query("SELECT count(*)::int FROM events WHERE stream = 's-2'")[0].decode(Int.self, at: 0) == 0)
        }
    }

    /// The same race for an import batch: the batch waits for the writer that took the
    /// version, then fails whole as a conflict naming the stream (LE001's DETAIL), and
    /// neither its events nor its keys are kept.
    @Test func aVersionTakenConcurrentlyFailsABulkAppendAsAConflictNamingItsStream() throws {
        try TestDatabase.with { url in
            let outcome = try Self.raceAgainstAnOpenAppend(url: url) { second, head in
                try second.appendInBulk(
                    [
                        BulkCommand(events: [event("s-2")], idempotencyKey: "k-2", commandHash: "h-2"),
                        BulkCommand(events: [event("s-1")], idempotencyKey: "k-1", commandHash: "h-1"),
                    ],
                    heads: ["s-1": StreamHead(version: head.version, hash: head.hash), "s-2": .empty])
            }
            #expect(outcome == EventStoreError.conflict(stream: "s-1", expected: 1, actual: 2).description)
            let db = try PostgresConnection(url: url)
            #expect(try eventCount(db) == 2)
            #expect(try db.query("SELECT count(*)::int FROM events WHERE stream = 's-2'")[0].decode(Int.self, at: 0) == 0)
            #expect(try db.query("SELECT count(*)::int FROM idempotency_keys")[0].decode(Int.self, at: 0) == 0)
        }
    }

    /// Two writers sending the same command under the same key at once (a retried command
    /// racing its first attempt): the second waits for the first's key (Schema/024 inserts
    /// the key's row first), then answers with the first's events, replayed; nothing is
    /// appended twice.
    @Test func theSameKeySentConcurrentlyIsReplayedOnceTheFirstCommits() throws {
        try TestDatabase.with { url in
            let db = try PostgresConnection(url: url)
            nonisolated(unsafe) let first = try PostgresConnection(url: url)
            try first.execute(script: "BEGIN")
            let firstResult = try EventStore(connection: first).append(
                [event("s-3")], expecting: ["s-3": .noStream], idempotencyKey: "k-race", commandHash: "h")
            let results = runConcurrently(2) { i -> AppendResult? in
                if i == 0 {
                    let second = EventStore(connection: try PostgresConnection(url: url, applicationName: "second"))
                    return try second.append(
                        [event("s-4")], expecting: ["s-4": .noStream], idempotencyKey: "k-race", commandHash: "h")
                }
                let watcher = try PostgresConnection(url: url)
                for _ in 0..<400 {
                    let waiting = try watcher.query(
                        """
                        SELECT count(*)::int FROM pg_stat_activity
                        WHERE datname = current_database() AND application_name = 'second' AND wait_event_type = 'Lock'
                        """)[0].decode(Int.self, at: 0)
                    if waiting > 0 { break }
                    usleep(25_000)
                }
                try first.execute(script: "COMMIT")
                return nil
            }
            _ = try results[1].get()
            let second = try #require(try results[0].get())
            #expect(second.replayed)
            #expect(second.events.map(\.position) == firstResult.events.map(\.position))
            #expect(try db.query("SELECT count(*)::int FROM events WHERE stream IN ('s-3', 's-4')")[0].decode(Int.self, at: 0) == 1)
            #expect(try db.query("SELECT count(*)::int FROM idempotency_keys WHERE key = 'k-race'")[0].decode(Int.self, at: 0) == 1)
        }
    }

    /// Races `append` (on a connection named "second") against a writer that holds version 2
    /// of `s-1` in an open transaction, and commits that writer once `append` waits for it.
    /// `append` gets `s-1`'s head before the race (version 1); returns "appended" or the
    /// description of the error `append` threw.
    static func raceAgainstAnOpenAppend(
        url: String, _ append: @escaping @Sendable (EventStore, EventRecord) throws -> Void
    ) throws -> String {
        // Used by one thread at a time: here, then by the thread that commits it.
        nonisolated(unsafe) let first = try PostgresConnection(url: url)
        try EventStore(connection: first).append([event("s-1")], expecting: ["s-1": .noStream])
        let head = try EventStore(connection: first).readStream("s-1").last!
        try first.execute(script: "BEGIN")
        try EventStore(connection: first).append([event("s-1")], expecting: ["s-1": .exactly(1)])
        let results = runConcurrently(2) { i -> String in
            if i == 0 {
                let second = EventStore(connection: try PostgresConnection(url: url, applicationName: "second"))
                do {
                    try append(second, head)
                    return "appended"
                } catch {
                    return "\(error)"
                }
            }
            // Once the second waits for the first (its insert of version 2), let the first commit.
            let watcher = try PostgresConnection(url: url)
            for _ in 0..<400 {
                let waiting = try watcher.query(
                    """
                    SELECT count(*)::int FROM pg_stat_activity
                    WHERE datname = current_database() AND application_name = 'second' AND wait_event_type = 'Lock'
                    """)[0].decode(Int.self, at: 0)
                if waiting > 0 { break }
                usleep(25_000)
            }
            try first.execute(script: "COMMIT")
            return ""
        }
        _ = try results[1].get()
        return try results[0].get()
    }

    /// Each key of a bulk append names exactly its own command's events, however many each
    /// command appended; a command without a key gets no row.
    @Test func aBulkAppendKeysEachCommandWithItsOwnPositions() throws {
        try TestDatabase.with { url in
            let db = try PostgresConnection(url: url)
            let store = EventStore(connection: db)
            try store.append([event("s-0")])
            try store.appendInBulk(
                [
                    BulkCommand(events: [event("s-1")], idempotencyKey: "k-1", commandHash: "h-1"),
                    BulkCommand(events: [event("s-2"), event("s-3"), event("s-2")], idempotencyKey: "k-2", commandHash: "h-2"),
                    BulkCommand(events: [event("s-4")]),
                    BulkCommand(events: [event("s-1"), event("s-4")], idempotencyKey: "k-3", commandHash: "h-3"),
                ],
                heads: [:])
            let keys = try db.query("SELECT key, command_hash, positions::text FROM idempotency_keys ORDER BY key").map {
                [try $0.decode(String.self, at: 0), try $0.decode(String.self, at: 1), try $0.decode(String.self, at: 2)]
            }
            #expect(keys == [["k-1", "h-1", "{2}"], ["k-2", "h-2", "{3,4,5}"], ["k-3", "h-3", "{7,8}"]])
            // A retried command finds its events by its key.
            let again = try store.append([event("s-9")], idempotencyKey: "k-2", commandHash: "h-2")
            #expect(again.replayed && again.events.map(\.position) == [3, 4, 5])
        }
    }

    @Test func concurrentRetriesWithOneIdempotencyKeyAppendOnce() throws {
        try TestDatabase.with { url in
            let results = runConcurrently(6) { i in
                let store = EventStore(connection: try PostgresConnection(url: url))
                for _ in 0..<5 {
                    do {
                        return try store.append([event("s-\(i)")], expecting: ["s-\(i)": .any], idempotencyKey: "same", commandHash: "h")
                    } catch EventStoreError.database(let e) where e.isUniqueViolation {
                        continue  // the other writer's key landed first: retry reads it
                    }
                }
                throw EventStoreError.notMigrated
            }
            let positions = Set(results.compactMap { try? $0.get().events.map(\.position) })
            #expect(positions.count == 1)
            let db = try PostgresConnection(url: url)
            #expect(try eventCount(db) == 1)
        }
    }

    @Test func aReaderNeverPassesOverAnEventThatCommitsLate() throws {
        try TestDatabase.with { url in
            let slow = try PostgresConnection(url: url)
            let fast = EventStore(connection: try PostgresConnection(url: url))
            let reader = EventStore(connection: try PostgresConnection(url: url))
            try fast.append([event("before")])

            // The slow writer takes its position first and holds its transaction open.
            try slow.execute(script: "BEGIN")
            let slowStore = EventStore(connection: slow)
            let held = try slowStore.append([event("late")])
            // Others take later positions and commit.
            let committed = try fast.append([event("after-1"), event("after-2")])
            #expect(committed.events[0].position > held.events[0].position)

            var checkpoint = Checkpoint.start
            var seen: [String] = []
            for record in try reader.readAll(after: checkpoint, settleTimeout: .milliseconds(50)) {
                seen.append(record.stream)
                checkpoint = record.checkpoint
            }
            #expect(seen == ["before"], "the reader must stop before the open transaction")

            try slow.execute(script: "COMMIT")
            for record in try reader.readAll(after: checkpoint) {
                seen.append(record.stream)
                checkpoint = record.checkpoint
            }
            #expect(seen == ["before", "late", "after-1", "after-1"].dropLast() + ["after-2"])
            #expect(try reader.readAll(after: checkpoint).isEmpty)
        }
    }

    @Test func aTransactionLeftOpenInAnotherDatabaseDoesNotHoldThisLogBack() throws {
        try TestDatabase.with { other in
            try TestDatabase.with { url in
                let elsewhere = try PostgresConnection(url: other)
                try elsewhere.execute(script: "BEGIN")
                try EventStore(connection: elsewhere).append([event("elsewhere")])  // holds an xid, uncommitted
                defer { _ = try? elsewhere.execute(script: "ROLLBACK") }
                let store = EventStore(connection: try PostgresConnection(url: url))
                try store.append([event("here")])
                let read = try store.readAll(after: .start, settleTimeout: .zero)
                #expect(read.map(\.stream) == ["here"])
            }
        }
    }

    /// The horizon 004 computed for `snapshot`: a transaction of the snapshot counted as
    /// possibly ours unless pg_stat_activity showed it running in another database *now*.
    /// Kept here to show that each case below is one 004 got wrong.
    static let horizonOf004 = """
        SELECT coalesce(min(x), pg_snapshot_xmax($1::pg_snapshot))::text
        FROM pg_snapshot_xip($1::pg_snapshot) AS x
        WHERE NOT EXISTS (
            SELECT 1 FROM pg_stat_get_activity(NULL) AS a
            WHERE a.backend_xid = xid(x)
              AND a.datid IS DISTINCT FROM (SELECT oid FROM pg_database WHERE datname = current_database())
              AND pg_xact_status(x) = 'in progress')
        """

    static func transactionID(of record: EventRecord) -> UInt64 { record.checkpoint.transactionID }

    @Test func aTransactionOfAnotherDatabaseThatEndsAfterTheReadersSnapshotDoesNotHoldTheLogBack() throws {
        // The race that let `projections run` stop before it had caught up: another
        // database's transaction is in the reader's snapshot and ends before the horizon
        // looks at pg_stat_activity. Taking the snapshot first and asking afterwards makes
        // the moment happen every time.
        try TestDatabase.with { other in
            try TestDatabase.with { url in
                for ending in ["COMMIT", "ROLLBACK"] {
                    let elsewhere = try PostgresConnection(url: other)
                    try elsewhere.execute(script: "BEGIN")
                    try EventStore(connection: elsewhere).append([event("elsewhere")])  // takes an xid
                    let store = EventStore(connection: try PostgresConnection(url: url))
                    let here = try store.append([event("here-\(ending)")]).events[0]
                    let reader = try PostgresConnection(url: url)
                    let snapshot = try reader.query("SELECT pg_current_snapshot()::text")[0].decode(String.self, at: 0)
                    try elsewhere.execute(script: ending)

                    let old = UInt64(try reader.query(Self.horizonOf004, [snapshot])[0].decode(String.self, at: 0))!
                    #expect(old <= Self.transactionID(of: here), "004 held the log back here (\(ending))")
                    let now = UInt64(
                        try reader.query("SELECT log_horizon_of($1::pg_snapshot)::text", [snapshot])[0].decode(String.self, at: 0))!
                    #expect(now > Self.transactionID(of: here), "an ended transaction of another database must not hold this log (\(ending))")
                }
            }
        }
    }

    @Test func aTransactionOfThisDatabaseThatCommitsAfterTheReadersSnapshotStillHoldsTheLog() throws {
        // The other way: its events are not in the reader's snapshot, so passing them would
        // skip them for good. One that rolled back left nothing to skip.
        try TestDatabase.with { url in
            for (ending, holds) in [("COMMIT", true), ("ROLLBACK", false)] {
                let slow = try PostgresConnection(url: url)
                try slow.execute(script: "BEGIN")
                let held = try EventStore(connection: slow).append([event("late-\(ending)")]).events[0]
                let store = EventStore(connection: try PostgresConnection(url: url))
                let after = try store.append([event("after-\(ending)")]).events[0]
                let reader = try PostgresConnection(url: url)
                let snapshot = try reader.query("SELECT pg_current_snapshot()::text")[0].decode(String.self, at: 0)
                try slow.execute(script: ending)
                let horizon = UInt64(
                    try reader.query("SELECT log_horizon_of($1::pg_snapshot)::text", [snapshot])[0].decode(String.self, at: 0))!
                if holds {
                    #expect(horizon == Self.transactionID(of: held), "a committed writer of this log must hold it")
                } else {
                    #expect(horizon > Self.transactionID(of: after), "a rolled-back writer left nothing to wait for")
                }
            }
        }
    }

    @Test func busyOtherDatabasesAndAutovacuumNeverMakeAReaderStopShort() throws {
        // Concurrent writers in another database commit all the time while this ledger
        // appends and reads after each append: every read must return the event just
        // committed, without waiting for anything. With 004's horizon about one run in two
        // had a read stop short: mostly behind an autovacuum worker's ANALYZE of this
        // freshly made database (pg_attribute), seen by a probe in the same statement.
        try TestDatabase.with { other in
            try TestDatabase.with { url in
                let stop = Mutex(false)
                var short = 0
                var failure: (any Error)?
                let churners = runConcurrently(2, { i in
                    let store = EventStore(connection: try PostgresConnection(url: other))
                    var n = 0
                    while !stop.withLock({ $0 }) {
                        try store.append([event("churn-\(i)", "x", n)])
                        n += 1
                    }
                }, beforeStart: {
                    defer { stop.withLock { $0 = true } }
                    do {
                        let store = EventStore(connection: try PostgresConnection(url: url))
                        var checkpoint = Checkpoint.start
                        for n in 0..<300 {
                            try store.append([event("here", "x", n)])
                            let read = try store.readAll(after: checkpoint, settleTimeout: .zero)
                            if read.count != 1 { short += 1 }
                            if let last = read.last { checkpoint = last.checkpoint }
                        }
                    } catch { failure = error }
                })
                for churner in churners { _ = try churner.get() }
                if let failure { throw failure }
                #expect(short == 0, "\(short) of 300 reads stopped short of an event that had committed")
            }
        }
    }

    @Test func aTransactionPreparedInAnotherDatabaseDoesNotHoldThisLogBackButOnePreparedHereDoes() throws {
        // A prepared transaction (two-phase commit) has no session in pg_stat_activity: 004
        // counted one prepared in another database as possibly ours for as long as it
        // stayed prepared. pg_prepared_xacts names its database.
        try TestDatabase.with { other in
            try TestDatabase.with { url in
                let reader = try PostgresConnection(url: url)
                let allowed = try reader.query("SELECT current_setting('max_prepared_transactions')::int")[0].decode(Int.self, at: 0)
                try #require(allowed > 0, "the server needs max_prepared_transactions > 0 (scripts/pg sets it): restart it with scripts/pg")
                let store = EventStore(connection: reader)

                let elsewhere = try PostgresConnection(url: other)
                let gidElsewhere = "ledger-test-" + UUID().uuidString
                try elsewhere.execute(script: "BEGIN")
                try EventStore(connection: elsewhere).append([event("elsewhere")])
                try elsewhere.execute(script: "PREPARE TRANSACTION '\(gidElsewhere)'")
                defer { _ = try? elsewhere.execute(script: "ROLLBACK PREPARED '\(gidElsewhere)'") }
                try store.append([event("here")])
                let first = try store.readAll(after: .start, settleTimeout: .zero)
                #expect(first.map(\.stream) == ["here"], "a transaction prepared in another database must not hold this log")

                let mine = try PostgresConnection(url: url)
                let gidHere = "ledger-test-" + UUID().uuidString
                try mine.execute(script: "BEGIN")
                try EventStore(connection: mine).append([event("prepared")])
                try mine.execute(script: "PREPARE TRANSACTION '\(gidHere)'")
                var prepared = true
                defer { if prepared { _ = try? mine.execute(script: "ROLLBACK PREPARED '\(gidHere)'") } }
                try store.append([event("after")])
                let cursor = try #require(first.last).checkpoint
                #expect(try store.readAll(after: cursor, settleTimeout: .zero).isEmpty, "one prepared here may have written events: it holds")
                try mine.execute(script: "COMMIT PREPARED '\(gidHere)'")
                prepared = false
                #expect(try store.readAll(after: cursor, settleTimeout: .zero).map(\.stream) == ["prepared", "after"])
            }
        }
    }

    @Test func followersAreNotifiedAfterEachCommittedAppend() throws {
        try TestDatabase.with { url in
            let listener = try PostgresConnection(url: url, applicationName: EventStore.followerApplicationName)
            try listener.listen(EventStore.notificationChannel)
            let writer = try PostgresConnection(url: url)
            let store = EventStore(connection: writer)
            try store.append([event("s-1")])
            #expect(try listener.waitForNotifications(timeout: .seconds(5)).count == 1)
            // Inside a caller's transaction the notification waits for its commit.
            try writer.execute(script: "BEGIN")
            try store.append([event("s-2")])
            #expect(try listener.waitForNotifications(timeout: .milliseconds(200)).isEmpty)
            try writer.execute(script: "COMMIT")
            #expect(try listener.waitForNotifications(timeout: .seconds(5)).count == 1)
            try store.appendInBulk([BulkCommand(events: [event("s-3")])], heads: [:])
            #expect(try listener.waitForNotifications(timeout: .seconds(5)).count == 1)
        }
    }

    @Test func withNoFollowerConnectedAppendsNotifyNobody() throws {
        try TestDatabase.with { url in
            let stranger = try PostgresConnection(url: url)
            try stranger.listen(EventStore.notificationChannel)
            try EventStore(connection: try PostgresConnection(url: url)).append([event("s-1")])
            #expect(try stranger.waitForNotifications(timeout: .milliseconds(300)).isEmpty)
        }
    }

    @Test func manyConcurrentWritersAndAReaderLoseNothing() throws {
        try TestDatabase.with { url in
            let writers = 6
            let perWriter = 60
            let results = runConcurrently(writers + 1) { i -> [Int64] in
                let store = EventStore(connection: try PostgresConnection(url: url))
                if i < writers {
                    for n in 0..<perWriter { try store.append([event("w-\(i)", "x", n)], expecting: ["w-\(i)": n == 0 ? .noStream : .exactly(Int64(n))]) }
                    return []
                }
                var checkpoint = Checkpoint.start
                var positions: [Int64] = []
                let deadline = Date().addingTimeInterval(60)
                while positions.count < writers * perWriter && Date() < deadline {
                    for record in try store.readAll(after: checkpoint, limit: 17) {
                        positions.append(record.position)
                        checkpoint = record.checkpoint
                    }
                }
                return positions
            }
            let read = try results[writers].get()
            #expect(read.count == writers * perWriter)
            #expect(Set(read).count == read.count)
        }
    }

    @Test func eventsCannotBeChangedByTheApplicationRoleOrEvenTheOwner() throws {
        try TestDatabase.with { url in
            let owner = try PostgresConnection(url: url)
            try EventStore(connection: owner).append([event("s-1")])
            let role = "ledger_app_test_\(UInt32.random(in: 0...UInt32.max))"
            try owner.execute(script: "CREATE ROLE \(role) LOGIN IN ROLE ledger_app")
            defer { _ = try? owner.execute(script: "DROP OWNED BY \(role); DROP ROLE \(role)") }
            let app = try PostgresConnection(url: TestDatabase.url(url, database: try owner.query("SELECT current_database()")[0].decode(String.self, at: 0)) + "", applicationName: "t")
            try app.execute(script: "SET ROLE \(role)")
            // The application role may append and read.
            try EventStore(connection: app).append([event("s-2")], expecting: ["s-2": .noStream])
            #expect(try eventCount(app) == 2)
            for sql in ["UPDATE events SET type = 'x'", "DELETE FROM events", "TRUNCATE events"] {
                #expect(throws: PostgresError.self) { try app.query(sql) }
                #expect {
                    try owner.query(sql)
                } throws: { error in
                    (error as? PostgresError)?.sqlState == "LE010"
                }
            }
            #expect(try eventCount(owner) == 2)
        }
    }
}

@Suite struct MigratorTests {
    @Test func migratingTwiceAppliesNothingTheSecondTime() throws {
        try TestDatabase.with(migrated: false) { url in
            let db = try PostgresConnection(url: url)
            let migrator = try Migrator(directory: TestDatabase.schemaDirectory)
            #expect(try migrator.status(db).allSatisfy { $0.state == .pending })
            let applied = try migrator.migrate(db)
            #expect(applied.count == migrator.migrations.count)
            #expect(try migrator.migrate(db).isEmpty)
            #expect(try migrator.status(db).allSatisfy { $0.state == .applied })
            try migrator.checkUpToDate(db)
        }
    }

    @Test func anEditedMigrationIsReportedAndNotRerun() throws {
        try TestDatabase.with(migrated: false) { url in
            let db = try PostgresConnection(url: url)
            let original = try Migrator(directory: TestDatabase.schemaDirectory)
            try original.migrate(db)
            var edited = original.migrations
            edited[0].sql += "\n-- edited later\n"
            let migrator = Migrator(migrations: edited)
            #expect(try migrator.status(db)[0].state == .modified)
            #expect {
                try migrator.migrate(db)
            } throws: { error in
                "\(error)".contains("was edited after it was applied")
            }
        }
    }

    @Test func aFailingMigrationLeavesNoTrace() throws {
        try TestDatabase.with(migrated: false) { url in
            let db = try PostgresConnection(url: url)
            let migrator = Migrator(migrations: [
                .init(version: 1, name: "good", sql: "CREATE TABLE good (id int)"),
                .init(version: 2, name: "bad", sql: "CREATE TABLE half (id int); SELECT 1/0;"),
            ])
            #expect(throws: Migrator.MigrationError.self) { try migrator.migrate(db) }
            #expect(try db.query("SELECT to_regclass('half') IS NULL")[0].decode(Bool.self, at: 0))
            #expect(try migrator.status(db).map(\.state) == [.applied, .pending])
        }
    }

    @Test func concurrentMigrationsAreSafe() throws {
        try TestDatabase.with(migrated: false) { url in
            let results = runConcurrently(4) { _ in
                try Migrator(directory: TestDatabase.schemaDirectory).migrate(try PostgresConnection(url: url)).count
            }
            let counts = try results.map { try $0.get() }
            let total = try Migrator(directory: TestDatabase.schemaDirectory).migrations.count
            // Each migration is applied once, by whichever run locked it first.
            #expect(counts.reduce(0, +) == total)
            #expect(try Migrator(directory: TestDatabase.schemaDirectory).status(try PostgresConnection(url: url))
                .allSatisfy { $0.state == .applied })
        }
    }
}
