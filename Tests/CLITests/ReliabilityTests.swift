import Foundation
import JSON
import Postgres
import Testing
import TestSupport

/// Faults injected from outside, as they happen in production: a backend terminated in the
/// middle of a write, a database that refuses connections for a while. The test-only SQL
/// (a sleeping `wake_followers`, a trigger that sleeps once) lives in each test's own
/// database, never in `Schema/`.
@Suite struct ReliabilityTests {
    static let planLab = [
        "lab", "plan", "--lab", "tokyo", "--name", "Tokyo AI Lab", "--city", "Tokyo", "--budget", "1000",
        "--currency", "USD", "--date", "2026-01-05",
    ]
    static let expense = [
        "lab", "expense", "--lab", "tokyo", "--category", "compute", "--amount", "10", "--currency", "USD",
        "--date", "2026-02-01",
    ]

    /// Waits until a backend of `database` sleeps in `pg_sleep` (the injected pause) and
    /// terminates it; returns its PID.
    static func terminateSleepingBackend(url: String, then: ((PostgresConnection) throws -> Void)? = nil) throws -> Int32 {
        let admin = try PostgresConnection(url: url, applicationName: "test-killer")
        for _ in 0..<600 {
            let rows = try admin.query(
                """
                SELECT pid FROM pg_stat_activity
                WHERE datname = current_database() AND wait_event = 'PgSleep' AND application_name = 'ledger'
                """)
            if let row = rows.first {
                let pid = try row.decode(Int32.self, at: 0)
                try then?(admin)
                try admin.query("SELECT pg_terminate_backend($1, 10000)", [Int(pid)])
                return pid
            }
            usleep(50_000)
        }
        throw PostgresError(kind: .client, message: "no sleeping backend appeared")
    }

    static func expenseCount(_ url: String) throws -> Int {
        try PostgresConnection(url: url).query(
            "SELECT count(*)::int FROM events WHERE type = 'lab.expense_recorded'")[0].decode(Int.self, at: 0)
    }

    /// The reproduction of #16 item 1: the append commits, the backend is killed while the
    /// wake-up after it runs. The command used to exit 69 and a retry stored it twice.
    @Test func aWriteWhoseWakeUpIsCutOffReportsItsCommittedEvents() throws {
        try TestDatabase.with { url in
            let ledger = LedgerBinary(databaseURL: url)
            #expect(try ledger.run(Self.planLab).status == 0)
            try PostgresConnection(url: url).execute(
                script: """
                    CREATE OR REPLACE FUNCTION wake_followers() RETURNS boolean LANGUAGE plpgsql AS $$
                    BEGIN PERFORM pg_sleep(60); RETURN false; END $$;
                    """)
            let results = runConcurrently(2) { i -> LedgerBinary.Output? in
                if i == 0 { return try LedgerBinary(databaseURL: url).run(Self.expense) }
                _ = try Self.terminateSleepingBackend(url: url)
                return nil
            }
            let output = try #require(try results[0].get())
            _ = try results[1].get()
            #expect(output.status == 0, "stderr: \(output.stderr)")
            #expect(output.stdout.contains("lab.expense_recorded"))
            #expect(output.stderr.isEmpty, "stderr: \(output.stderr)")
            #expect(try Self.expenseCount(url) == 1)
        }
    }

    /// A backend killed in the middle of the append's transaction: nothing committed, so the
    /// command reconnects, finds its key unused, and stores the events once.
    @Test func aWriteKilledMidTransactionIsResolvedAndStoredOnce() throws {
        try TestDatabase.with { url in
            let ledger = LedgerBinary(databaseURL: url)
            #expect(try ledger.run(Self.planLab).status == 0)
            try Self.installSleepOnce(url)
            let results = runConcurrently(2) { i -> LedgerBinary.Output? in
                if i == 0 { return try LedgerBinary(databaseURL: url).run(Self.expense) }
                _ = try Self.terminateSleepingBackend(url: url)
                return nil
            }
            let output = try #require(try results[0].get())
            _ = try results[1].get()
            #expect(output.status == 0, "stderr: \(output.stderr)")
            #expect(output.stdout.contains("lab.expense_recorded"))
            #expect(try Self.expenseCount(url) == 1)
        }
    }

    /// The branch the two tests above cannot reach: the append COMMITTED, and its answer
    /// never arrived (the network between client and server failed after the commit). The
    /// command must not report a failure, nor store the expense twice: it reconnects, finds
    /// its own events under its key, prints them and exits 0. A proxy withholds the server's
    /// answers from the moment the pipelined append is sent, and cuts the connection once
    /// the expense is in the log.
    @Test func aWriteThatCommittedButWhoseAnswerWasLostReportsItsEvents() throws {
        try TestDatabase.with { url in
            #expect(try LedgerBinary(databaseURL: url).run(Self.planLab).status == 0)
            var components = try #require(URLComponents(string: url))
            let proxy = try AnswerDroppingProxy(
                targetPort: UInt16(try #require(components.port)),
                // Prepared just before the pipeline that carries the append.
                dropAnswersAfterTheClientSends: "wake_followers")
            defer { proxy.stop() }
            components.host = "127.0.0.1"
            components.port = Int(proxy.port)
            let proxied = LedgerBinary(databaseURL: components.string!)
            let results = runConcurrently(2) { i -> LedgerBinary.Output? in
                if i == 0 { return try proxied.run(Self.expense) }
                for _ in 0..<600 {
                    if try Self.expenseCount(url) == 1 { break }
                    usleep(50_000)
                }
                proxy.cut()
                return nil
            }
            let output = try #require(try results[0].get())
            _ = try results[1].get()
            #expect(proxy.droppedBytes > 0, "the append's answer was never withheld")
            #expect(proxy.accepted >= 2, "the command never reconnected")
            #expect(output.status == 0, "stderr: \(output.stderr)")
            #expect(output.stdout.contains("lab.expense_recorded"))
            #expect(output.stderr.isEmpty, "stderr: \(output.stderr)")
            #expect(try Self.expenseCount(url) == 1)
        }
    }

    /// The first append of the next command on `events` sleeps (once), inside its transaction.
    static func installSleepOnce(_ url: String) throws {
        try PostgresConnection(url: url).execute(
            script: """
                CREATE SEQUENCE test_slept;
                CREATE FUNCTION test_sleep_once() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN IF nextval('test_slept') = 1 THEN PERFORM pg_sleep(60); END IF; RETURN NULL; END $$;
                CREATE TRIGGER test_sleep_once AFTER INSERT ON events
                    FOR EACH STATEMENT EXECUTE FUNCTION test_sleep_once();
                """)
    }

    /// When the server cannot be reached again to tell, the command says so plainly — the
    /// outcome is unknown — and names the key that settles it: the same command with that
    /// key stores the events exactly once.
    @Test func aWriteWhoseOutcomeCannotBeCheckedSaysSoAndNamesTheKeyThatSettlesIt() throws {
        try TestDatabase.with { url in
            var ledger = LedgerBinary(databaseURL: url)
            ledger.environment["LEDGER_RECONNECT_TIMEOUT"] = "1"
            #expect(try ledger.run(Self.planLab).status == 0)
            try Self.installSleepOnce(url)
            let database = try PostgresConnection(url: url).query("SELECT current_database()")[0].decode(String.self, at: 0)
            let admin = try PostgresConnection(url: try TestDatabase.adminURL)
            let runner = ledger
            let results = runConcurrently(2) { i -> LedgerBinary.Output? in
                if i == 0 { return try runner.run(Self.expense) }
                _ = try Self.terminateSleepingBackend(url: url) { _ in
                    // From another database: a session may not lock its own database out.
                    try PostgresConnection(url: try TestDatabase.adminURL).execute(
                        script: "ALTER DATABASE \(database) ALLOW_CONNECTIONS false")
                }
                return nil
            }
            let output = try #require(try results[0].get())
            _ = try results[1].get()
            try admin.execute(script: "ALTER DATABASE \(database) ALLOW_CONNECTIONS true")
            expectOneLineError(output, status: 69, containing: "may or may not have been stored")
            let key = try #require(
                output.stderr.split(separator: " ").first { $0.hasPrefix("auto:") }.map(String.init))
            #expect(try Self.expenseCount(url) == 0)
            let again = try ledger.run(Self.expense + ["--idempotency-key", key])
            #expect(again.status == 0, "stderr: \(again.stderr)")
            #expect(try Self.expenseCount(url) == 1)
            #expect(try ledger.run(Self.expense + ["--idempotency-key", key]).status == 0)
            #expect(try Self.expenseCount(url) == 1)
        }
    }
}

/// #16 items 2 and 5–7 through the binary, as users meet them.
@Suite struct InputAndOutputSafetyTests {
    static let receipt = #"{"command":"supply.receive","sku":"h100","quantity":8}"#

    func write(_ text: String, to name: String, in dir: URL) throws -> String {
        let url = dir.appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        return url.path
    }

    func scratchDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ledger-rel-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    func receipts(_ ledger: LedgerBinary) throws -> Int {
        let db = try PostgresConnection(url: ledger.databaseURL!)
        return try db.query("SELECT count(*)::int FROM events WHERE type = 'supply.received'")[0].decode(Int.self, at: 0)
    }

    /// Two deliveries with the same undated line at the same number both go in; the same
    /// file again appends nothing.
    @Test func twoFilesWithTheSameLineAreTwoDeliveriesAndARerunAppendsNothing() throws {
        try withLedger { ledger in
            let dir = try scratchDirectory()
            defer { try? FileManager.default.removeItem(at: dir) }
            let day1 = try write(Self.receipt + "\n", to: "day1.jsonl", in: dir)
            let day2 = try write(Self.receipt + "\n", to: "day2.jsonl", in: dir)
            #expect(try ledger.run(["import", day1]).status == 0)
            let second = try ledger.run(["import", day2])
            #expect(second.status == 0, "stderr: \(second.stderr)")
            #expect(second.stdout.contains("imported 1 commands"), "stdout: \(second.stdout)")
            #expect(try receipts(ledger) == 2)
            let again = try ledger.run(["import", day1])
            #expect(again.stdout.contains("imported 0 commands"))
            #expect(again.stdout.contains("1 already imported"))
            #expect(try receipts(ledger) == 2)
            // stdin deliveries are told apart by --source.
            #expect(try ledger.run(["import", "-", "--source", "feed-3"], stdin: Self.receipt + "\n").status == 0)
            #expect(try receipts(ledger) == 3)
            #expect(try ledger.run(["import", "-", "--source", "feed-3"], stdin: Self.receipt + "\n").status == 0)
            #expect(try receipts(ledger) == 3)
        }
    }

    /// A file imported before keys were scoped by source still appends nothing again.
    @Test func aFileImportedUnderTheOldKeysIsNotImportedTwice() throws {
        try withLedger { ledger in
            let dir = try scratchDirectory()
            defer { try? FileManager.default.removeItem(at: dir) }
            let file = try write(Self.receipt + "\n", to: "old.jsonl", in: dir)
            // What an earlier version stored for line 1: key and fingerprint from number and text.
            let db = try PostgresConnection(url: ledger.databaseURL!)
            let imported = try ledger.run(["import", file])
            #expect(imported.status == 0)
            // Re-key the stored line as the old version did (a test-only rewrite of the key row).
            try db.execute(script: "ALTER TABLE idempotency_keys DISABLE TRIGGER USER")
            // SHA-256 of line number 1 (Int64, little-endian) and the line's text, first 16 bytes.
            try db.query(
                """
                WITH d AS (SELECT substr(encode(sha256('\\x0100000000000000'::bytea || convert_to($1, 'UTF8')), 'hex'), 1, 32) AS h)
                UPDATE idempotency_keys SET key = 'import:' || d.h, command_hash = d.h FROM d
                """, [Self.receipt])
            try db.execute(script: "ALTER TABLE idempotency_keys ENABLE TRIGGER USER")
            let again = try ledger.run(["import", file])
            #expect(again.stdout.contains("1 already imported"), "stdout: \(again.stdout)")
            #expect(try receipts(ledger) == 1)
        }
    }

    @Test func unreadableInputIsAnErrorNotTheEndOfTheFile() throws {
        try withLedger { ledger in
            let zero = try ledger.run(["import", "/dev/zero", "--max-line-bytes", "100000"])
            expectOneLineError(zero, status: 64, containing: "longer than 100000 bytes")
            let dir = try scratchDirectory()
            defer { try? FileManager.default.removeItem(at: dir) }
            expectOneLineError(try ledger.run(["import", dir.path]), status: 64, containing: "is a directory")
            // A long line that ends is refused by number; the next line still goes in.
            let long = #"{"command":"supply.receive","sku":"h100","quantity":8,"x":""# + String(repeating: "a", count: 2_000) + "\"}"
            let file = try write(long + "\n" + Self.receipt + "\n", to: "long.jsonl", in: dir)
            let output = try ledger.run(["import", file, "--max-line-bytes", "1000"])
            #expect(output.status == 64)
            #expect(output.stderr.contains("line 1: longer than 1000 bytes"), "stderr: \(output.stderr)")
            #expect(try receipts(ledger) == 1)
        }
    }

    @Test func duplicateKeysAreRefusedAndAByteOrderMarkIsAccepted() throws {
        try withLedger { ledger in
            let dir = try scratchDirectory()
            defer { try? FileManager.default.removeItem(at: dir) }
            let dup = try write(#"{"command":"supply.receive","sku":"h100","quantity":8,"quantity":80}"# + "\n", to: "dup.jsonl", in: dir)
            let refused = try ledger.run(["import", dup])
            expectOneLineError(refused, status: 64, containing: "line 1: not JSON: duplicate key \"quantity\"")
            #expect(try receipts(ledger) == 0)
            let bom = try write("\u{FEFF}" + Self.receipt + "\n", to: "bom.jsonl", in: dir)
            let accepted = try ledger.run(["import", bom])
            #expect(accepted.status == 0, "stderr: \(accepted.stderr)")
            #expect(try receipts(ledger) == 1)
            var bytes = Array(#"{"command":"startup.register","startup":"x","name":"A"#.utf8)
            bytes += [0xFF, 0xFE]
            bytes += Array("\"}\n".utf8)
            let url = dir.appendingPathComponent("latin1.jsonl")
            try Data(bytes).write(to: url)
            expectOneLineError(try ledger.run(["import", url.path]), status: 64, containing: "line 1: not valid UTF-8")
            #expect(try ledger.eventCount() == 1)
        }
    }

    @Test func textThatWouldMisleadOrDriveATerminalIsRefused() throws {
        try withLedger { ledger in
            let register = ["startup", "register", "--startup", "sakana-ai", "--country", "JP"]
            for (name, why) in [
                ("Sakana\u{202E}gpj.exe", "bidirectional"), ("Sakana\u{2028}AI", "line separator"),
                ("\u{200B}\u{200B}", "invisible"), ("Sakana\u{85}AI", "control"), ("Sakana\u{1B}[31mAI", "control"),
                ("Sakana \u{FFFD}", "UTF-8"), (String(repeating: "a", count: 1_001), "at most 1000"),
            ] {
                let output = try ledger.run(register + ["--name", name])
                expectOneLineError(output, status: 64, containing: why)
                #expect(!output.stderr.contains("\u{1B}"), "escape echoed raw: \(output.stderr)")
            }
            for (flag, value, why) in [
                ("--actor", "ops\u{1B}]0;pwned\u{7}", "control"), ("--actor", "", "empty"),
                ("--actor", String(repeating: "a", count: 201), "at most 200"),
                ("--idempotency-key", "k\nk", "control"), ("--idempotency-key", "", "empty"),
                ("--idempotency-key", String(repeating: "k", count: 100_000), "at most 200"),
            ] {
                let output = try ledger.run(register + ["--name", "Sakana AI", flag, value])
                expectOneLineError(output, status: 64, containing: why)
                #expect(!output.stderr.contains("\u{1B}"))
            }
            let badKey = #"{"command":"supply.receive","sku":"h100","quantity":1,"idempotency-key":"k\u001b[2J"}"#
            let imported = try ledger.run(["import", "-"], stdin: badKey + "\n")
            expectOneLineError(imported, status: 64, containing: "line 1: --idempotency-key: must be one line without control characters")
            #expect(try ledger.eventCount() == 0)
            #expect(try ledger.run(register + ["--name", "Sakana AI", "--actor", "山田 花子"]).status == 0)
        }
    }

    /// Invalid UTF-8 in an argument reaches Swift as U+FFFD: the raw bytes are checked.
    @Test func anArgumentThatIsNotUTF8IsRefusedNotStoredAltered() throws {
        try withLedger { ledger in
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = [
                "-c", #""$0" startup register --startup x --name "$(printf 'A\377B')" 2>&1; echo "exit $?""#,
                LedgerBinary.path,
            ]
            var env = ProcessInfo.processInfo.environment
            env["DATABASE_URL"] = ledger.databaseURL
            process.environment = env
            let out = Pipe()
            process.standardOutput = out
            try process.run()
            let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            #expect(text.contains("error: the value of --name is not valid UTF-8"), "output: \(text)")
            #expect(text.contains("exit 64"))
            #expect(try ledger.eventCount() == 0)
        }
    }

    @Test func escapeSequencesInErrorsAndTablesAreShownEscaped() throws {
        try withLedger { ledger in
            let unknown = try ledger.run(["lab", "expense", "--lab", "x\u{1B}[2J", "--category", "other", "--amount", "1", "--currency", "JPY"])
            #expect(unknown.status == 64)
            #expect(!unknown.stderr.contains("\u{1B}"), "stderr: \(unknown.stderr)")
            #expect(unknown.stderr.contains("\\u001b"), "stderr: \(unknown.stderr)")
            // A name stored before the text rule existed (written here behind the ledger's back).
            #expect(try ledger.run(["lab", "plan", "--lab", "old", "--name", "Old", "--city", "Tokyo", "--budget", "100",
                                    "--currency", "JPY", "--date", "2026-01-05"]).status == 0)
            let db = try PostgresConnection(url: ledger.databaseURL!)
            try db.execute(script: "ALTER TABLE events DISABLE TRIGGER USER")
            try db.query("UPDATE events SET payload = jsonb_set(payload, '{name}', to_jsonb($1::text))", ["Old\u{1B}[31m"])
            try db.execute(script: "ALTER TABLE events ENABLE TRIGGER USER")
            #expect(try ledger.run(["projections", "rebuild"]).status == 0)
            let table = try ledger.run(["report", "labs"])
            #expect(table.status == 0)
            #expect(!table.stdout.contains("\u{1B}"), "table: \(table.stdout)")
            #expect(table.stdout.contains("\\u001b"), "table: \(table.stdout)")
        }
    }

    @Test func aPasswordNeverAppearsInOutput() throws {
        let ledger = LedgerBinary()
        for url in [
            "postgresq://ledger:s3cret-pw@127.0.0.1:1/ledger",
            "postgresql://ledger:s3cret-pw@127.0.0.1:notaport/ledger",
            "host=127.0.0.1 port=1 password=s3cret-pw user=ledger dbname",
            "postgresql://ledger:s3cret-pw@127.0.0.1:1/ledger?sslmode=bogus",
        ] {
            let output = try ledger.run(["events", "--database-url", url])
            #expect(output.status == 69, "\(url): \(output.stderr)")
            #expect(!output.stderr.contains("s3cret-pw"), "\(output.stderr)")
            #expect(!output.stdout.contains("s3cret-pw"))
        }
    }
}

/// #16 item 4: a wait is never silent.
@Suite struct SilentWaitTests {
    @Test func aRunHeldBackByAnOpenTransactionSaysWhichBackendHoldsTheLog() throws {
        try withLedger { ledger in
            #expect(try ledger.run(["supply", "receive", "--sku", "h100", "--quantity", "1"]).status == 0)
            let holder = try PostgresConnection(url: ledger.databaseURL!, applicationName: "test-holder")
            try holder.execute(script: "BEGIN")
            try holder.query("SELECT pg_current_xact_id()")
            #expect(try ledger.run(["supply", "receive", "--sku", "h100", "--quantity", "2"]).status == 0)
            let run = try ledger.run(["projections", "run"])
            #expect(run.status == 0)
            #expect(run.stderr.contains("1 committed events are held back by an open transaction"), "stderr: \(run.stderr)")
            #expect(run.stderr.contains("PID \(holder.backendPID)"))
            #expect(run.stderr.contains("application 'test-holder'"))
            try holder.execute(script: "COMMIT")
            let after = try ledger.run(["projections", "run"])
            #expect(after.stdout.contains("applied 1 events"), "stdout: \(after.stdout)")
            #expect(after.stderr.isEmpty, "stderr: \(after.stderr)")
        }
    }

    @Test func aLockWaitSaysWhatItWaitsForAndLockTimeoutGivesUp() throws {
        try withLedger { ledger in
            #expect(try ledger.run(["supply", "receive", "--sku", "h100", "--quantity", "1"]).status == 0)
            let holder = try PostgresConnection(url: ledger.databaseURL!, applicationName: "test-holder")
            try holder.execute(script: "BEGIN; LOCK TABLE projections.supply IN ACCESS EXCLUSIVE MODE")
            let run = try ledger.run(["projections", "run", "--lock-timeout", "3s"])
            try holder.execute(script: "ROLLBACK")
            #expect(run.status == 1, "stderr: \(run.stderr)")
            #expect(run.stderr.contains("waiting for a lock on table projections.supply"), "stderr: \(run.stderr)")
            #expect(run.stderr.contains("PID \(holder.backendPID) (test-holder, idle in transaction"))
            let last = run.stderr.split(separator: "\n").last.map(String.init) ?? ""
            #expect(last.hasPrefix("error: gave up waiting for a lock"), "stderr: \(run.stderr)")
            #expect(try ledger.run(["projections", "run"]).status == 0)
        }
    }
}

extension SilentWaitTests {
    /// The follower says so too, when a lock holds it up.
    @Test func aFollowerHeldByALockSaysWhatItWaitsFor() throws {
        try withLedger { ledger in
            #expect(try ledger.run(["supply", "receive", "--sku", "h100", "--quantity", "1"]).status == 0)
            let holder = try PostgresConnection(url: ledger.databaseURL!, applicationName: "test-holder")
            try holder.execute(script: "BEGIN; LOCK TABLE projections.supply IN ACCESS EXCLUSIVE MODE")
            let process = Process()
            process.executableURL = URL(fileURLWithPath: LedgerBinary.path)
            process.arguments = ["projections", "run", "--follow"]
            var env = ProcessInfo.processInfo.environment
            env["DATABASE_URL"] = ledger.databaseURL
            process.environment = env
            let err = Pipe()
            process.standardError = err
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            let db = try PostgresConnection(url: ledger.databaseURL!)
            var waited = false
            for _ in 0..<200 where !waited {
                // The note comes a second after the wait starts; give it two.
                waited = try db.query(
                    """
                    SELECT 1 FROM pg_stat_activity WHERE datname = current_database()
                      AND application_name = 'ledger follower' AND wait_event_type = 'Lock'
                      AND now() - state_change > interval '2.5 seconds'
                    """
                ).count == 1
                if !waited { usleep(50_000) }
            }
            // SIGKILL: a child of the test process may inherit SIGTERM blocked.
            kill(process.processIdentifier, SIGKILL)
            try holder.execute(script: "ROLLBACK")
            let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            #expect(waited)
            #expect(stderr.contains("note: waiting for a lock on table projections.supply"), "stderr: \(stderr)")
            #expect(stderr.contains("PID \(holder.backendPID) (test-holder"), "stderr: \(stderr)")
        }
    }
}

/// #16 items 5 and 7: what the server says in passing, and what bench shows.
@Suite struct OneLineAndSecretTests {
    /// A server WARNING during a command (as a crashing server sends one) used to be printed
    /// by libpq on stderr, around the program's own output.
    @Test func serverNoticesNeverReachStderr() throws {
        try withLedger { ledger in
            try PostgresConnection(url: ledger.databaseURL!).execute(
                script: """
                    CREATE FUNCTION test_warn() RETURNS trigger LANGUAGE plpgsql AS $$
                    BEGIN RAISE WARNING 'terminating connection because of crash of another server process'; RETURN NULL; END $$;
                    CREATE TRIGGER test_warn AFTER INSERT ON events FOR EACH STATEMENT EXECUTE FUNCTION test_warn();
                    """)
            let output = try ledger.run(["supply", "receive", "--sku", "h100", "--quantity", "1"])
            #expect(output.status == 0)
            #expect(output.stderr.isEmpty, "stderr: \(output.stderr)")
            let refused = try ledger.run(["order", "allocate", "--order", "nope", "--quantity", "1"])
            expectOneLineError(refused, status: 65, containing: "nope")
        }
    }

    @Test func benchKeepDoesNotPrintThePassword() throws {
        // The test server trusts loopback, so any password gets in: the point is what is shown.
        let admin = try TestDatabase.adminURL
        guard var parts = URLComponents(string: admin) else { return }
        parts.password = "s3cret-pw"
        let ledger = LedgerBinary(databaseURL: parts.string!)
        let output = try ledger.run(["bench", "append", "--events", "40", "--keep"])
        let kept = output.stderr.split(separator: "\n").first { $0.contains("kept bench database") }
        if let name = kept?.split(separator: " ").dropFirst(3).first?.dropLast() {
            try PostgresConnection(url: admin).execute(script: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
        }
        #expect(output.status == 0, "stderr: \(output.stderr)")
        #expect(kept != nil, "stderr: \(output.stderr)")
        #expect(kept?.contains(":***@") == true, "stderr: \(output.stderr)")
        #expect(!output.stderr.contains("s3cret-pw"))
        #expect(!output.stdout.contains("s3cret-pw"))
    }
}
