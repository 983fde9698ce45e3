import EventStore
import Foundation
import JSON
import Postgres
import Testing
import TestSupport

/// Issue #12: application logins (members of ledger_app) append only through the ledger's
/// functions, which assign position, transaction id and recorded time themselves and refuse
/// what the database can check (Schema/009_appends_through_functions.sql).
@Suite struct PrivilegeTests {
    static let zeroHash = String(repeating: "0", count: 64)

    /// One event as append_events takes it, well formed unless `changes` say otherwise.
    func sent(_ stream: String, version: Int, previous: String = zeroHash, _ changes: [String: JSON] = [:]) -> JSON {
        var object: [String: JSON] = [
            "stream": .string(stream), "version": JSON(version), "type": "test.happened", "schema_version": 1,
            "payload": ["n": 1], "metadata": ["actor": "attacker"], "business_date": "2026-04-01",
            "event_id": .string(UUID().uuidString.lowercased()),
            "hash": .string(String(repeating: "ab", count: 32)), "previous_hash": .string(previous),
        ]
        object.merge(changes) { _, new in new }
        return .object(object)
    }

    func callAppend(
        _ db: PostgresConnection, _ events: [JSON], key: String? = nil, hash: String? = nil, expecting: [JSON] = []
    ) throws {
        try db.query("SELECT position FROM append_events($1, $2, $3, $4)", [JSON.array(expecting), JSON.array(events), key, hash])
    }

    func counts(_ db: PostgresConnection) throws -> [Int] {
        [try eventCount(db), try db.query("SELECT count(*) FROM idempotency_keys")[0].decode(Int.self, at: 0)]
    }

    func sqlState(_ error: any Error) -> String? {
        (error as? PostgresError)?.sqlState ?? {
            if case .database(let e)? = error as? EventStoreError { return e.sqlState }
            return nil
        }()
    }

    @Test func anApplicationLoginCannotWriteTheEventTablesItself() throws {
        try TestDatabase.with { url in
            let owner = try PostgresConnection(url: url)
            try EventStore(connection: owner).append([event("s-1")])
            try TestDatabase.withLogin(url, "IN ROLE ledger_app") { appURL in
                let app = try PostgresConnection(url: appURL)
                let forged = [
                    // A forged event far in the future of the log, and a squatted key.
                    """
                    INSERT INTO events (position, transaction_id, stream, version, type, schema_version, payload,
                        metadata, business_date, event_id, hash)
                    VALUES (1000000, '9999999999'::xid8, 's-1', 2, 'test.happened', 1, '{}', '{}', '2026-04-01',
                        gen_random_uuid(), '\\x\(String(repeating: "00", count: 32))')
                    """,
                    "INSERT INTO idempotency_keys (key, command_hash, positions) VALUES ('k-1', 'h', '{1}')",
                    "COPY events (stream, version, type, schema_version, payload, metadata, business_date, event_id, hash) FROM STDIN",
                    "SELECT nextval('events_position_seq')",
                    "SELECT setval('events_position_seq', 1000000)",
                ]
                for sql in forged {
                    #expect(Comment(rawValue: sql)) {
                        try app.query(sql)
                    } throws: { error in
                        (error as? PostgresError)?.isInsufficientPrivilege == true
                    }
                }
                // It still reads, and appends through the ledger's functions, one command
                // or a batch.
                try EventStore(connection: app).append([event("s-2")], expecting: ["s-2": .noStream])
                try EventStore(connection: app).appendInBulk(
                    [BulkCommand(events: [event("s-3"), event("s-3")], idempotencyKey: "k-2", commandHash: "h-2")], heads: [:])
                #expect(try counts(app) == [4, 1])
                #expect(try EventStore(connection: app).readStream("s-3").map(\.version) == [1, 2])
            }
        }
    }

    @Test func appendEventsRefusesTheFieldsTheDatabaseAssigns() throws {
        try TestDatabase.with { url in
            let owner = try PostgresConnection(url: url)
            try TestDatabase.withLogin(url, "IN ROLE ledger_app") { appURL in
                let app = try PostgresConnection(url: appURL)
                for (field, value) in [
                    ("position", JSON(1_000_000)), ("transaction_id", "9999999999"),
                    ("recorded_at", "2030-01-01T00:00:00Z"),
                ] {
                    #expect(Comment(rawValue: field)) {
                        try callAppend(app, [sent("s-1", version: 1, [field: value])])
                    } throws: { error in
                        sqlState(error) == "LE003" && "\(error)".contains("sets \"\(field)\"")
                    }
                }
                #expect(try counts(owner) == [0, 0])
                // Well formed, the same call goes in, at a position the database chose.
                try callAppend(app, [sent("s-1", version: 1)])
                let row = try owner.query(
                    "SELECT position, transaction_id = (SELECT max(transaction_id) FROM events), recorded_at <= now() FROM events")[0]
                #expect(try row.decode(Int64.self, at: 0) < 1_000_000)
                #expect(try row.decode(Bool.self, at: 1))
            }
        }
    }

    @Test func appendEventsRefusesAVersionGapABrokenLinkAndAMalformedHash() throws {
        try TestDatabase.with { url in
            let owner = try PostgresConnection(url: url)
            let head = try EventStore(connection: owner).append([event("s-1")]).events[0]
            let headHash = hexString(head.hash)
            try TestDatabase.withLogin(url, "IN ROLE ledger_app") { appURL in
                let app = try PostgresConnection(url: appURL)
                let refused: [(String, [JSON], String)] = [
                    ("a gap on a new stream", [sent("s-2", version: 3)], "versions continue the stream"),
                    ("a gap after the head", [sent("s-1", version: 3, previous: headHash)], "versions continue the stream"),
                    ("a gap within the call", [sent("s-2", version: 1), sent("s-2", version: 3)], "versions continue the stream"),
                    ("a first event that does not follow 32 zero bytes",
                     [sent("s-2", version: 1, previous: String(repeating: "11", count: 32))], "does not link"),
                    ("an event that does not link to the head", [sent("s-1", version: 2)], "does not link"),
                    ("an event that does not link to the one before it in the call",
                     [sent("s-2", version: 1), sent("s-2", version: 2, previous: headHash)], "does not link"),
                    ("a short hash", [sent("s-2", version: 1, ["hash": "abcd"])], "32 bytes"),
                    ("a hash that is not hex", [sent("s-2", version: 1, ["hash": .string(String(repeating: "zz", count: 32))])], "32 bytes"),
                    // Schema/016 checks hex by trimming, not by a regular expression: the
                    // same strings pass.
                    ("a hash in upper-case hex", [sent("s-2", version: 1, ["hash": .string(String(repeating: "AB", count: 32))])], "32 bytes"),
                    ("a hash of 65 hex digits", [sent("s-2", version: 1, ["hash": .string(String(repeating: "a", count: 65))])], "32 bytes"),
                    ("a hash with a trailing newline", [sent("s-2", version: 1, ["hash": .string(String(repeating: "a", count: 63) + "\n")])], "32 bytes"),
                    ("no hash", [sent("s-2", version: 1, ["hash": .null])], "32 bytes"),
                    ("version 0", [sent("s-2", version: 0)], "version from 1"),
                    ("a refused event after a good one", [sent("s-2", version: 1), sent("s-3", version: 1, ["hash": "ab"])], "32 bytes"),
                    ("no events", [], "no events"),
                ]
                for (what, events, message) in refused {
                    #expect(Comment(rawValue: what)) {
                        try callAppend(app, events)
                    } throws: { error in
                        sqlState(error) == "LE003" && "\(error)".contains(message)
                    }
                }
                #expect(try counts(owner) == [1, 0])
                // A version the stream already has: another writer came first (a conflict
                // the command handler retries, LE001 with its stream in DETAIL), not a refusal.
                #expect {
                    try callAppend(app, [sent("s-1", version: 1)])
                } throws: { error in
                    sqlState(error) == PostgresError.Code.ledgerConflict
                        && (error as? PostgresError)?.detail.flatMap({ try? JSON.parse($0) })
                            == ["stream": "s-1", "actual": 1, "expected": 0]
                }
                #expect {
                    try EventStore(connection: app).append([event("s-1")], expecting: ["s-1": .noStream], heads: ["s-1": .empty])
                } throws: { error in
                    if case .conflict(let stream, _, _)? = error as? EventStoreError { return stream == "s-1" }
                    return false
                }
                try callAppend(app, [sent("s-1", version: 2, previous: headHash), sent("s-2", version: 1)])
                #expect(try counts(owner) == [3, 0])

                // With the stream heads expected, as the command handler sends them (Schema/016
                // links an event to the head it read for the expectation): the same refusals.
                let ab = String(repeating: "ab", count: 32)
                let heads: [JSON] = [["stream": "s-1", "version": 2], ["stream": "s-2", "version": 1]]
                let refusedAtTheHeads: [(String, [JSON], String)] = [
                    ("a gap after the expected head", [sent("s-1", version: 4, previous: ab)], "versions continue the stream"),
                    ("an event that does not link to the expected head", [sent("s-1", version: 3, previous: headHash)], "does not link"),
                    ("a first event on a stream that exists", [sent("s-2", version: 1)], "stream s-2 is at version 1"),
                    ("a second event that does not link to the first",
                     [sent("s-1", version: 3, previous: ab), sent("s-1", version: 4, previous: headHash)], "does not link"),
                    ("an event repeating the version before it",
                     [sent("s-1", version: 3, previous: ab), sent("s-1", version: 3, previous: ab)], "expected 2"),
                ]
                for (what, events, message) in refusedAtTheHeads {
                    #expect(Comment(rawValue: what)) {
                        try callAppend(app, events, key: "k-\(what)", hash: "h", expecting: heads)
                    } throws: { error in
                        "\(error)".contains(message)
                    }
                }
                #expect(try counts(owner) == [3, 0])
                // Several events of one stream in one call, each linking to the one before it.
                try callAppend(
                    app,
                    [sent("s-1", version: 3, previous: ab), sent("s-2", version: 2, previous: ab),
                     sent("s-1", version: 4, previous: ab)],
                    key: "k-1", hash: "h", expecting: heads)
                #expect(try counts(owner) == [6, 1])
                #expect(
                    try owner.query(
                        """
                        SELECT positions = (SELECT array_agg(position ORDER BY position) FROM events
                                            WHERE (stream, version) IN (('s-1', 3), ('s-2', 2), ('s-1', 4)))
                        FROM idempotency_keys WHERE key = 'k-1'
                        """)[0].decode(Bool.self, at: 0))
                #expect(try EventStore(connection: owner).readStream("s-1").map(\.version) == [1, 2, 3, 4])
            }
        }
    }

    @Test func anIdempotencyKeyIsWrittenOnlyWithTheEventsOfItsCommand() throws {
        try TestDatabase.with { url in
            let owner = try PostgresConnection(url: url)
            try TestDatabase.withLogin(url, "IN ROLE ledger_app") { appURL in
                let app = try PostgresConnection(url: appURL)
                // Squatting a key without appending anything is refused…
                #expect {
                    try callAppend(app, [], key: "order-place-1", hash: "forged")
                } throws: { error in sqlState(error) == "LE003" }
                // …and a staged key whose command has no events is not kept.
                try app.transaction { db in
                    try db.query("SELECT begin_staged_append()")
                    try db.copyIn("COPY pg_temp.staged_keys (first, count, key, command_hash) FROM STDIN") { writer in
                        try writer.writeRow(["0", "1", "order-place-1", "forged"])
                    }
                    #expect(try db.query("SELECT append_staged_events()")[0].decode(Int64.self, at: 0) == 0)
                }
                #expect(try counts(owner) == [0, 0])
                // The real command then goes in under its key.
                let store = EventStore(connection: app)
                let first = try store.append([event("s-1")], idempotencyKey: "order-place-1", commandHash: "real")
                let again = try store.append([event("s-1")], idempotencyKey: "order-place-1", commandHash: "real")
                #expect(again.replayed && again.events == first.events)
                #expect(try counts(owner) == [1, 1])
            }
        }
    }

    /// Schema/024's short path inserts the key's row before the events, and learns that a key
    /// was recorded from that insert rather than from a look-up: a command whose heads and
    /// events all check out, sent again under a recorded key, is still replayed (same hash)
    /// or refused with LE002 (another hash), and nothing is written either way. The full
    /// path it hands such calls to is not for logins.
    @Test func aRecordedKeyIsReplayedOrRefusedWhenEverythingElseChecksOut() throws {
        try TestDatabase.with { url in
            let owner = try PostgresConnection(url: url)
            try TestDatabase.withLogin(url, "IN ROLE ledger_app") { appURL in
                let app = try PostgresConnection(url: appURL)
                let store = EventStore(connection: app)
                let first = try store.append(
                    [event("s-1")], expecting: ["s-1": .noStream, "periods": .noStream], idempotencyKey: "k-1",
                    commandHash: "h-1")
                #expect(!first.replayed)
                // Another command under the same key, on a new stream: its heads are as expected
                // and its event is well formed, so only the key can refuse it.
                #expect {
                    try store.append([event("s-2")], expecting: ["s-2": .noStream], idempotencyKey: "k-1", commandHash: "h-2")
                } throws: { error in
                    if case .idempotencyKeyReused(let key)? = error as? EventStoreError { return key == "k-1" }
                    return false
                }
                #expect(try counts(owner) == [1, 1])
                // The same key without a command hash: LE002 as before, not the key row's NOT NULL.
                #expect {
                    try callAppend(
                        app, [sent("s-2", version: 1)], key: "k-1", hash: nil,
                        expecting: [["stream": "s-2", "version": 0]])
                } throws: { error in sqlState(error) == "LE002" }
                #expect(try counts(owner) == [1, 1])
                let again = try store.append(
                    [event("s-2")], expecting: ["s-2": .noStream, "periods": .noStream], idempotencyKey: "k-1",
                    commandHash: "h-1")
                #expect(again.replayed && again.events == first.events)
                #expect(try counts(owner) == [1, 1])
                #expect(try owner.query("SELECT count(*)::int FROM events WHERE stream = 's-2'")[0].decode(Int.self, at: 0) == 0)
                #expect {
                    try app.query("SELECT * FROM append_events_in_full('[]', '[]', NULL, NULL)")
                } throws: { error in (error as? PostgresError)?.isInsufficientPrivilege == true }
            }
        }
    }

    @Test func aStagedBatchIsCheckedLikeOneCommand() throws {
        try TestDatabase.with { url in
            let owner = try PostgresConnection(url: url)
            try TestDatabase.withLogin(url, "IN ROLE ledger_app") { appURL in
                let app = try PostgresConnection(url: appURL)
                let zero = "\\x" + Self.zeroHash
                let hash = "\\x" + String(repeating: "ab", count: 32)
                func staged(_ rows: [[String]]) throws {
                    try app.transaction { db in
                        try db.query("SELECT begin_staged_append()")
                        try db.copyIn(
                            "COPY pg_temp.staged_events (stream, version, type, schema_version, payload, metadata, business_date, event_id, hash, previous_hash) FROM STDIN"
                        ) { writer in
                            for row in rows { try writer.writeRow(row) }
                        }
                        try db.query("SELECT append_staged_events()")
                    }
                }
                func row(_ stream: String, _ version: Int, hash: String = hash, previous: String = zero) -> [String] {
                    [stream, String(version), "test.happened", "1", "{}", "{}", "2026-04-01", UUID().uuidString.lowercased(), hash, previous]
                }
                #expect { try staged([row("s-1", 2)]) } throws: { sqlState($0) == "LE003" && "\($0)".contains("without gaps") }
                #expect { try staged([row("s-1", 1), row("s-1", 3, previous: hash)]) } throws: { sqlState($0) == "LE003" }
                #expect { try staged([row("s-1", 1), row("s-1", 2)]) } throws: { "\($0)".contains("does not link") }
                #expect { try staged([row("s-1", 1, hash: "\\xabcd")]) } throws: { "\($0)".contains("not 32") }
                // A position, transaction id or recorded time cannot even be staged.
                #expect {
                    try app.transaction { db in
                        try db.query("SELECT begin_staged_append()")
                        try db.query("COPY pg_temp.staged_events (position, stream) FROM STDIN")
                    }
                } throws: { sqlState($0) == "42703" }
                #expect(try counts(owner) == [0, 0])
                try staged([row("s-1", 1), row("s-1", 2, previous: hash)])
                #expect(try counts(owner) == [2, 0])
            }
        }
    }

    @Test func aStagingTableOfTheLoginsOwnIsNotReadWithTheOwnersRights() throws {
        try TestDatabase.with { url in
            let owner = try PostgresConnection(url: url)
            try TestDatabase.withLogin(url, "IN ROLE ledger_app") { appURL in
                let app = try PostgresConnection(url: appURL)
                // A temporary view of the login's own, which would run whatever it calls with
                // the rights of the function that reads it.
                try app.execute(script: "CREATE TEMPORARY VIEW staged_events AS SELECT 1 AS command")
                #expect {
                    try app.transaction { db in try db.query("SELECT begin_staged_append()") }
                } throws: { sqlState($0) == "LE003" && "\($0)".contains("not the ledger's staging tables") }
                #expect {
                    try app.transaction { db in try db.query("SELECT append_staged_events()") }
                } throws: { sqlState($0) == "LE003" }
                #expect(try counts(owner) == [0, 0])
            }
        }
    }

    @Test func aLoginOutsideTheLedgersRolesCannotCallItsFunctions() throws {
        try TestDatabase.with { url in
            let owner = try PostgresConnection(url: url)
            try TestDatabase.withLogin(url) { strangerURL in
                let stranger = try PostgresConnection(url: strangerURL)
                for sql in [
                    "SELECT append_events('[]', '[]', NULL, NULL)", "SELECT begin_staged_append()",
                    "SELECT append_staged_events()", "SELECT wake_followers()",
                ] {
                    #expect(Comment(rawValue: sql)) {
                        try stranger.query(sql)
                    } throws: { error in (error as? PostgresError)?.isInsufficientPrivilege == true }
                }
            }
            try TestDatabase.withLogin(url, "IN ROLE ledger_reporting") { analystURL in
                let analyst = try PostgresConnection(url: analystURL)
                #expect(throws: PostgresError.self) { try analyst.query("SELECT append_events('[]', '[]', NULL, NULL)") }
            }
            #expect(try counts(owner) == [0, 0])
        }
    }
}

/// `ledger db migrate` as the database's owner, without CREATEROLE (issue #12).
@Suite struct LeastPrivilegeMigrationTests {
    /// Runs `body` with a fresh, empty database owned by a new login that may not create
    /// roles, and that login's URL for it.
    func withOwnedDatabase(_ body: (String, PostgresConnection) throws -> Void) throws {
        try TestDatabase.with(migrated: false) { url in
            let admin = try PostgresConnection(url: url)
            let database = try admin.query("SELECT current_database()")[0].decode(String.self, at: 0)
            try TestDatabase.withLogin(url, "NOCREATEROLE NOSUPERUSER") { ownerURL in
                let owner = try PostgresConnection(url: ownerURL)
                let name = try owner.query("SELECT current_user::text")[0].decode(String.self, at: 0)
                try admin.execute(script: "ALTER DATABASE \(database) OWNER TO \(name)")
                defer { _ = try? admin.execute(script: "ALTER DATABASE \(database) OWNER TO CURRENT_USER") }
                try body(ownerURL, admin)
            }
        }
    }

    @Test func theOwnerMigratesWithoutCreateRoleWhenTheRolesExist() throws {
        try withOwnedDatabase { ownerURL, admin in
            // The roles exist in this cluster: the other tests' migrations made them.
            #expect(try admin.query("SELECT count(*) FROM pg_roles WHERE rolname IN ('ledger_app', 'ledger_reporting')")[0]
                .decode(Int.self, at: 0) == 2)
            let owner = try PostgresConnection(url: ownerURL)
            let migrator = try Migrator(directory: TestDatabase.schemaDirectory)
            #expect(try migrator.migrate(owner).count == migrator.migrations.count)
            try migrator.checkUpToDate(owner)
            // The checksums recorded are the files', although the role creation was skipped.
            #expect(try migrator.status(owner).allSatisfy { $0.state == .applied })
            #expect(try migrator.migrate(owner).isEmpty)
            try EventStore(connection: owner).append([event("s-1")])
        }
    }

    @Test func missingRolesStopTheMigrationAndNameTheStatementToRun() throws {
        try withOwnedDatabase { ownerURL, _ in
            let owner = try PostgresConnection(url: ownerURL)
            let role = "ledger_missing_" + UUID().uuidString.prefix(8).lowercased()
            let migrator = Migrator(migrations: [
                .init(version: 1, name: "first", sql: "CREATE TABLE first_table (id int)"),
                .init(
                    version: 2, name: "role",
                    sql: """
                        CREATE TABLE second_table (id int);
                        DO $$
                        BEGIN
                            CREATE ROLE \(role) NOLOGIN;
                        EXCEPTION WHEN duplicate_object OR unique_violation THEN
                            NULL;
                        END
                        $$;
                        """),
            ])
            #expect {
                try migrator.migrate(owner)
            } throws: { error in
                guard let error = error as? Migrator.MigrationError, error.isPermissionProblem else { return false }
                return error.description.contains("CREATE ROLE \(role) NOLOGIN;")
            }
            // Nothing applied, not even the migration before.
            #expect(try migrator.status(owner).map(\.state) == [.pending, .pending])
            #expect(try owner.query("SELECT to_regclass('first_table') IS NULL")[0].decode(Bool.self, at: 0))
        }
    }

    @Test func aLoginWithNoGrantsCannotTakeTheMigrationLock() throws {
        try TestDatabase.with { url in
            try TestDatabase.withLogin(url) { strangerURL in
                let stranger = try PostgresConnection(url: strangerURL)
                #expect {
                    try stranger.transaction { db in try db.query("LOCK TABLE schema_migrations IN SHARE ROW EXCLUSIVE MODE") }
                } throws: { ($0 as? PostgresError)?.isInsufficientPrivilege == true }
                // The old advisory key blocks nothing any more.
                try stranger.query("SELECT pg_advisory_lock(\(0x6C65_6467_6572 as Int64))")
                let migrator = Migrator(migrations: [.init(version: 1000, name: "later", sql: "CREATE TABLE later (id int)")])
                #expect(try migrator.migrate(try PostgresConnection(url: url)).count == 1)
            }
        }
    }
}
