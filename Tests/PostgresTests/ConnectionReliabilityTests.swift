import Foundation
import Postgres
import Testing
import TestSupport

@Suite struct ConnectionReliabilityTests {
    /// `options` in the URL used to be replaced by the connection's own (#16 item 4).
    @Test func optionsInTheURLAreMergedWithTheSessionsOwn() throws {
        try TestDatabase.with(migrated: false) { url in
            let withOptions = url + (url.contains("?") ? "&" : "?") + "options=-c%20lock_timeout%3D1234ms%20-c%20work_mem%3D7MB"
            let db = try PostgresConnection(url: withOptions)
            #expect(try db.query("SHOW lock_timeout")[0].decode(String.self, at: 0) == "1234ms")
            #expect(try db.query("SHOW work_mem")[0].decode(String.self, at: 0) == "7MB")
            #expect(try db.query("SHOW TimeZone")[0].decode(String.self, at: 0) == "UTC")
            let set = try PostgresConnection(url: withOptions, settings: [("lock_timeout", "5s")])
            #expect(try set.query("SHOW lock_timeout")[0].decode(String.self, at: 0) == "5s")
            #expect(try set.query("SHOW work_mem")[0].decode(String.self, at: 0) == "7MB")
        }
    }

    @Test func passwordsAreRedactedFromURLsAndMessages() {
        #expect(PostgresConnection.redacted("postgresql://a:pw%21x@h/db") == "postgresql://a:***@h/db")
        #expect(PostgresConnection.redacted("postgresql://h/db?password=pw1&user=a") == "postgresql://h/db?password=***&user=a")
        #expect(PostgresConnection.redacted("host=h password='p w' user=a") == "host=h password='***' user=a")
        #expect(PostgresConnection.redacted("postgresql://a@h/db") == "postgresql://a@h/db")
        #expect(PostgresConnection.redactingSecrets(of: "postgresql://a:pw%21x@h/db", in: "bad pw!x and pw%21x") == "bad *** and ***")
    }

    /// A segment that ended at its sync point stands when the connection dies in a later one:
    /// the append committed even though the wake-up after it was cut off (#16 item 1).
    @Test func aPipelineKeepsTheOutcomesOfSegmentsThatCompletedBeforeTheConnectionDied() throws {
        try TestDatabase.with(migrated: false) { url in
            let db = try PostgresConnection(url: url)
            try db.execute(script: "CREATE TABLE t (x int)")
            let pid = db.backendPID
            let thread = Thread {
                guard let killer = try? PostgresConnection(url: url) else { return }
                for _ in 0..<400 {
                    let gone = (try? killer.query(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = $1 AND wait_event = 'PgSleep'",
                        [Int(pid)]).first) ?? nil
                    if gone != nil { return }
                    usleep(25_000)
                }
            }
            thread.start()
            let outcomes = try db.pipeline(segments: [
                [.init("INSERT INTO t VALUES (1) RETURNING x")], [.init("SELECT pg_sleep(60)")],
            ])
            #expect(outcomes.count == 2)
            #expect((try? outcomes[0].get())?.first?.count == 1)
            guard case .failure(let lost) = outcomes[1] else {
                Issue.record("the second segment should have failed")
                return
            }
            #expect(lost.isServerGone)
            #expect(!db.isOpen)
            try db.reset()
            #expect(try db.query("SELECT count(*)::int FROM t")[0].decode(Int.self, at: 0) == 1)
        }
    }
}
