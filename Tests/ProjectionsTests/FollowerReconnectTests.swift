import EventStore
import Foundation
import Ledger
import Postgres
@testable import Projections
import Synchronization
import Testing
import TestSupport

@Suite struct FollowerReconnectTests {
    /// #16 item 3: a follower whose session is ended by the server in the middle of the COPY
    /// of projection rows (SQLSTATE 57P01, as pg_terminate_backend and a fast shutdown send)
    /// reconnects, carries on, and projects what is appended after; it used to exit, since
    /// only class 08 counted as a lost connection.
    ///
    /// Why the COPY: there libpq hands over the server's own error, SQLSTATE 57P01 and all,
    /// before it notices the connection closing. A statement run by PQexec (a lock wait, say)
    /// reports the same termination as a lost connection without a SQLSTATE, which counted
    /// as lost before the fix too — the first version of this test was killed there and
    /// could not fail.
    @Test func followReconnectsWhenTheServerEndsItsSessionMidCopy() throws {
        try TestDatabase.with { url in
            let db = try PostgresConnection(url: url)
            let driver = LedgerDriver(connection: db)
            try driver.loadReferenceScenario()
            // The first COPY into the portfolio table sleeps (test-only SQL, this database only).
            try db.execute(
                script: """
                    CREATE SEQUENCE test_slept;
                    CREATE FUNCTION test_sleep_once() RETURNS trigger LANGUAGE plpgsql AS $$
                    BEGIN IF nextval('test_slept') = 1 THEN PERFORM pg_sleep(60); END IF; RETURN NULL; END $$;
                    CREATE TRIGGER test_sleep_once BEFORE INSERT ON projections.portfolio
                        FOR EACH STATEMENT EXECUTE FUNCTION test_sleep_once();
                    """)
            let stop = Atomic<Bool>(false)
            let outcome = Mutex<(reconnects: [String], failure: String?, finished: Bool)>(([], nil, false))
            let thread = Thread {
                do {
                    try ProjectionRunner.follow(
                        databaseURL: url, pollInterval: .milliseconds(200), shouldStop: { stop.load(ordering: .relaxed) },
                        onReconnect: { error, _ in outcome.withLock { $0.reconnects.append("\(error)") } })
                } catch {
                    outcome.withLock { $0.failure = "\(error)" }
                }
                outcome.withLock { $0.finished = true }
            }
            thread.start()
            defer {
                stop.store(true, ordering: .relaxed)
                for _ in 0..<200 where !outcome.withLock({ $0.finished }) { usleep(20_000) }
            }
            var terminated = false
            for _ in 0..<400 where !terminated {
                terminated = try db.query(
                    """
                    SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity
                    WHERE datname = current_database() AND application_name = $1 AND wait_event = 'PgSleep'
                      AND query LIKE 'COPY projections.portfolio%'
                    """, [EventStore.followerApplicationName]
                ).first.map { try $0.decode(Bool.self, at: 0) } ?? false
                if !terminated { usleep(25_000) }
            }
            #expect(terminated)
            // Appended after the termination: the follower must still be there to project it.
            let appended = try driver.run(
                "invest.mark", ["investment": "sakana-seed", "fair-value": "350000000", "currency": "JPY", "date": "2024-03-20"])
            let position = try #require(appended.last?.position)
            var caughtUp = false
            for _ in 0..<500 where !caughtUp {
                caughtUp = try ProjectionRunner(connection: db).status().allSatisfy { $0.lag == 0 && $0.checkpoint >= position }
                if !caughtUp { usleep(20_000) }
            }
            #expect(caughtUp)
            stop.store(true, ordering: .relaxed)
            for _ in 0..<200 where !outcome.withLock({ $0.finished }) { usleep(20_000) }
            let seen = outcome.withLock { $0 }
            #expect(seen.failure == nil, "follow exited: \(seen.failure ?? "")")
            #expect(seen.reconnects.contains { $0.contains("SQLSTATE 57P01") }, "reconnects: \(seen.reconnects)")
            #expect(seen.finished)
        }
    }

    /// The classification itself: a session the server ended (57P01 fast shutdown or
    /// pg_terminate_backend, 57P02 crash, 57P03 starting up) is a lost connection, as the
    /// COPY of projection rows reports it; other server errors are not.
    @Test func aSessionTheServerEndedCountsAsALostConnection() {
        for code in ["57P01", "57P02", "57P03", "08006"] {
            let error = PostgresError(kind: .server, sqlState: code, message: "terminating connection")
            #expect(ProjectionRunner.isLostConnection(error), "\(code)")
            #expect(ProjectionRunner.isLostConnection(EventStoreError.database(error)), "\(code)")
        }
        #expect(!ProjectionRunner.isLostConnection(PostgresError(kind: .server, sqlState: "23505", message: "duplicate")))
        #expect(!ProjectionRunner.isLostConnection(PostgresError(kind: .server, sqlState: "57014", message: "canceled")))
    }
}
