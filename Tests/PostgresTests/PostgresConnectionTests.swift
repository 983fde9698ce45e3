import Foundation
import JSON
import Postgres
import Testing
import TestSupport

@Suite struct PostgresConnectionTests {
    @Test func unreachableServerGivesAConnectionErrorWithoutThePassword() throws {
        do {
            _ = try PostgresConnection(url: "postgresql://alice:s3cret-pw@127.0.0.1:1/nowhere?connect_timeout=2")
            Issue.record("connected to a closed port")
        } catch {
            #expect(error.kind == .connection)
            #expect(!error.message.contains("s3cret-pw"))
            #expect(error.message.contains("127.0.0.1"))
        }
    }

    @Test func decodesEveryColumnType() throws {
        try TestDatabase.with(migrated: false) { url in
            let db = try PostgresConnection(url: url)
            let row = try db.query(
                """
                SELECT 'héllo'::text, 42::int4, 9007199254740993::int8, true, false,
                       '\\x00ff10'::bytea, 12345678901234567890.123456789::numeric,
                       '2024-02-29 13:45:06.123456+09'::timestamptz, '2023-12-31'::date,
                       'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid,
                       '{"b": [1, 2.50, "x"], "a": null}'::jsonb, NULL::text
                """)[0]
            #expect(try row.decode(String.self, at: 0) == "héllo")
            #expect(try row.decode(Int32.self, at: 1) == 42)
            #expect(try row.decode(Int64.self, at: 2) == 9_007_199_254_740_993)
            #expect(try row.decode(Bool.self, at: 3) == true)
            #expect(try row.decode(Bool.self, at: 4) == false)
            #expect(try row.decode(Bytes.self, at: 5) == Bytes([0x00, 0xFF, 0x10]))
            #expect(try row.decode(Numeric.self, at: 6) == Numeric("12345678901234567890.123456789"))
            #expect(try row.decode(Timestamp.self, at: 7).description == "2024-02-29T04:45:06.123456Z")
            #expect(try row.decode(SQLDate.self, at: 8) == SQLDate(year: 2023, month: 12, day: 31))
            #expect(try row.decode(UUID.self, at: 9) == UUID(uuidString: "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"))
            #expect(try row.decode(JSON.self, at: 10) == ["a": nil, "b": [1, .number("2.50"), "x"]])
            #expect(try row.decode(String?.self, at: 11) == nil)
            #expect(throws: PostgresError.self) { try row.decode(String.self, at: 11) }
            #expect(throws: PostgresError.self) { try row.decode(Int64.self, at: 0) }
        }
    }

    @Test func bindsEveryParameterTypeWithoutSplicingSQL() throws {
        try TestDatabase.with(migrated: false) { url in
            let db = try PostgresConnection(url: url)
            let hostile = "'; DROP TABLE x; --"
            let row = try db.query(
                "SELECT $1::text, $2::int8, $3::bool, $4::bytea, $5::numeric, $6::date, $7::uuid, $8::jsonb, $9::text, $10::text[], $11::timestamptz",
                [
                    hostile, Int64.max, true, Bytes([1, 2, 3]), Numeric("1250.50"), SQLDate(year: 2026, month: 1, day: 2),
                    UUID(uuidString: "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11")!, ["k": "v"] as JSON, String?.none,
                    PostgresArray(["a\"b", "c\\d", "e,f"]), Timestamp(microsecondsSinceEpoch: 1_700_000_000_123_456),
                ])[0]
            #expect(try row.decode(String.self, at: 0) == hostile)
            #expect(try row.decode(Int64.self, at: 1) == Int64.max)
            #expect(try row.decode(Bool.self, at: 2))
            #expect(try row.decode(Bytes.self, at: 3).bytes == [1, 2, 3])
            #expect(try row.decode(Numeric.self, at: 4).text == "1250.50")
            #expect(try row.decode(SQLDate.self, at: 5).description == "2026-01-02")
            #expect(try row.decode(String.self, at: 6) == "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")
            #expect(try row.decode(JSON.self, at: 7) == ["k": "v"])
            #expect(row.isNull(at: 8))
            #expect(try row.decode(String.self, at: 9) == #"{"a\"b","c\\d","e,f"}"#)
            #expect(try row.decode(Timestamp.self, at: 10).microsecondsSinceEpoch == 1_700_000_000_123_456)
        }
    }

    @Test func errorsCarrySQLStateDetailAndConstraint() throws {
        try TestDatabase.with(migrated: false) { url in
            let db = try PostgresConnection(url: url)
            try db.execute(script: "CREATE TABLE t (id int CONSTRAINT t_pk PRIMARY KEY)")
            try db.query("INSERT INTO t VALUES ($1)", [1])
            do {
                try db.query("INSERT INTO t VALUES ($1)", [1])
                Issue.record("duplicate accepted")
            } catch let error as PostgresError {
                #expect(error.sqlState == "23505")
                #expect(error.isUniqueViolation)
                #expect(error.constraint == "t_pk")
                #expect(error.detail?.contains("(id)=(1)") == true)
            }
            #expect(throws: PostgresError.self) { try db.query("SELEC 1") }
        }
    }

    @Test func transactionCommitsOnReturnAndRollsBackOnThrow() throws {
        struct Boom: Error {}
        try TestDatabase.with(migrated: false) { url in
            let db = try PostgresConnection(url: url)
            try db.execute(script: "CREATE TABLE t (v int)")
            try db.transaction { try $0.query("INSERT INTO t VALUES (1)") }
            #expect(throws: Boom.self) {
                try db.transaction { db in
                    try db.query("INSERT INTO t VALUES (2)")
                    throw Boom()
                }
            }
            #expect(try db.query("SELECT count(*) FROM t")[0].decode(Int.self, at: 0) == 1)
        }
    }

    @Test func retryingTransactionRunsAgainAfterASerializationFailure() throws {
        try TestDatabase.with(migrated: false) { url in
            let db = try PostgresConnection(url: url)
            let other = try PostgresConnection(url: url)
            try db.execute(script: "CREATE TABLE c (id int PRIMARY KEY, n int); INSERT INTO c VALUES (1, 0)")
            var attempts = 0
            try db.retryingTransaction(.serializable) { db in
                attempts += 1
                _ = try db.query("SELECT n FROM c WHERE id = 1")
                if attempts == 1 {
                    // A concurrent committed update makes our update fail with 40001.
                    try other.query("UPDATE c SET n = n + 10 WHERE id = 1")
                }
                try db.query("UPDATE c SET n = n + 1 WHERE id = 1")
            }
            #expect(attempts == 2)
            #expect(try db.query("SELECT n FROM c")[0].decode(Int.self, at: 0) == 11)
        }
    }

    @Test func preparedStatementsAreReused() throws {
        try TestDatabase.with(migrated: false) { url in
            let db = try PostgresConnection(url: url)
            for i in 0..<50 {
                #expect(try db.query("SELECT $1::int8 + 1", [Int64(i)], prepared: true)[0].decode(Int64.self, at: 0) == Int64(i + 1))
            }
            let prepared = try db.query("SELECT count(*) FROM pg_prepared_statements")[0].decode(Int.self, at: 0)
            #expect(prepared == 1)
        }
    }

    @Test func copyLoadsRowsWithEscapes() throws {
        try TestDatabase.with(migrated: false) { url in
            let db = try PostgresConnection(url: url)
            try db.execute(script: "CREATE TABLE c (id int, note text)")
            let copied = try db.copyIn("COPY c (id, note) FROM STDIN") { writer in
                for i in 0..<10_000 { try writer.writeRow([String(i), i == 7 ? "tab\there\nnew\\line" : (i == 8 ? nil : "n\(i)")]) }
            }
            #expect(copied == 10_000)
            #expect(try db.query("SELECT note FROM c WHERE id = 7")[0].decode(String.self, at: 0) == "tab\there\nnew\\line")
            #expect(try db.query("SELECT note FROM c WHERE id = 8")[0].decode(String?.self, at: 0) == nil)
            #expect(throws: PostgresError.self) {
                try db.copyIn("COPY c (id, note) FROM STDIN") { try $0.writeRow(["not a number", "x"]) }
            }
            #expect(try db.query("SELECT count(*) FROM c")[0].decode(Int.self, at: 0) == 10_000)
        }
    }

    @Test func listenReceivesNotificationsAfterCommit() throws {
        try TestDatabase.with(migrated: false) { url in
            let listener = try PostgresConnection(url: url)
            let sender = try PostgresConnection(url: url)
            try listener.listen("ledger_events")
            #expect(try listener.waitForNotifications(timeout: .milliseconds(50)).isEmpty)
            try sender.transaction { db in
                try db.notify("ledger_events", payload: "42")
                #expect(try listener.waitForNotifications(timeout: .milliseconds(100)).isEmpty)
            }
            let received = try listener.waitForNotifications(timeout: .seconds(5))
            #expect(received.map(\.payload) == ["42"])
            #expect(received.first?.senderPID == sender.backendPID)
        }
    }

    @Test func pipelineRunsStatementsInOneRoundTripAndStopsAtTheFirstError() throws {
        try TestDatabase.with(migrated: false) { url in
            let db = try PostgresConnection(url: url)
            try db.execute(script: "CREATE TABLE p (v int)")
            let results = try db.pipeline([
                ("INSERT INTO p VALUES ($1)", [1]), ("SELECT count(*) FROM p", []), ("SELECT $1::text", ["x"]),
            ])
            #expect(results.count == 3)
            #expect(try results[1][0].decode(Int.self, at: 0) == 1)
            #expect(try results[2][0].decode(String.self, at: 0) == "x")
            #expect(throws: PostgresError.self) {
                try db.pipeline([("INSERT INTO p VALUES ($1)", [2]), ("SELECT 1/0", []), ("INSERT INTO p VALUES (3)", [])])
            }
            // The failed pipeline was one implicit transaction: nothing of it stayed.
            #expect(try db.query("SELECT count(*) FROM p")[0].decode(Int.self, at: 0) == 1)
        }
    }

    @Test func thousandsOfQueriesKeepMemoryFlat() throws {
        try TestDatabase.with(migrated: false) { url in
            let db = try PostgresConnection(url: url)
            func residentKB() throws -> Int {
                let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
                let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }!
                return Int(line.split(separator: " ").dropFirst().first!)!
            }
            func work() throws {
                for i in 0..<4_000 {
                    let rows = try db.query("SELECT $1::text, repeat('x', 8000)", ["row \(i)"], prepared: i % 2 == 0)
                    _ = try rows[0].decode(String.self, at: 1)
                    _ = try? db.query("SELECT 1/0")
                }
            }
            try work()  // warm up caches and allocator
            let before = try residentKB()
            try work()
            try work()
            let after = try residentKB()
            // 8,000 results of 8 KB each would be 64 MB if leaked; other tests running in this
            // process at the same time move the figure by a few MB.
            #expect(after - before < 24_000, "RSS grew from \(before) kB to \(after) kB")
        }
    }
}
