import Foundation
import Postgres
import Testing
import TestSupport

/// A throwaway PostgreSQL cluster of a test's own (`scripts/pg`, data under /tmp, port
/// `LEDGER_FAULT_PORT`), for faults that must never reach the shared server: a disk that
/// fills up (a tablespace on a small tmpfs, which only root can mount) and a postmaster or
/// backend killed with SIGKILL. `scripts/test` sets `LEDGER_FAULT_PORT` when it runs as root;
/// without it, or when not root, these tests are skipped and reported so — except under CI
/// as root, where they fail instead (like the standby tests without a standby).
struct FaultCluster {
    static var port: String? {
        let port = ProcessInfo.processInfo.environment["LEDGER_FAULT_PORT"] ?? ""
        return port.isEmpty ? nil : port
    }

    /// CI runs as root on a fresh machine: there the faults must really be tested.
    static var required: Bool { !(ProcessInfo.processInfo.environment["CI"] ?? "").isEmpty && getuid() == 0 }

    static var available: Bool { (port != nil && getuid() == 0) || required }

    /// Scratch directory (mode 755, so the `postgres` OS user reaches the data under it).
    let work: URL
    let port: String
    var data: String { work.appendingPathComponent("pgdata").path }
    var url: String { "postgresql://ledger@127.0.0.1:\(port)/ledger" }

    /// Starts a cluster, runs `body`, stops the cluster, unmounts what `body` mounted under
    /// `work` and removes everything.
    static func with(_ body: (FaultCluster) throws -> Void) throws {
        guard let port, getuid() == 0 else {
            Issue.record("CI must run the server-fault tests: scripts/test sets LEDGER_FAULT_PORT when run as root")
            return
        }
        let work = URL(fileURLWithPath: "/tmp/ledger-fault-\(UUID().uuidString.prefix(8).lowercased())")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        try run("/bin/chmod", ["755", work.path])
        let cluster = FaultCluster(work: work, port: port)
        defer {
            try? cluster.pg("stop")
            _ = try? run("/bin/umount", [work.appendingPathComponent("space").path])
            try? FileManager.default.removeItem(at: work)
        }
        try cluster.start()
        try body(cluster)
    }

    /// Starts (or restarts) the cluster; after a SIGKILL of the postmaster its children take
    /// a moment to notice and exit, and until then the server refuses to start.
    func start() throws {
        var last: (any Error)?
        for _ in 0..<30 {
            do { return try pg("start") } catch { last = error }
            Thread.sleep(forTimeInterval: 1)
        }
        throw last!
    }

    func pg(_ verb: String) throws {
        try Self.run(
            TestDatabase.repositoryRoot.appendingPathComponent("scripts/pg").path, [verb],
            environment: ["LEDGER_PGPORT": port, "LEDGER_PGDATA": data])
    }

    var postmasterPID: Int32 {
        get throws {
            let text = try String(contentsOfFile: data + "/postmaster.pid", encoding: .utf8)
            return Int32(text.split(separator: "\n")[0])!
        }
    }

    struct CommandFailed: Error, CustomStringConvertible {
        var command: String
        var status: Int32
        var description: String { "\(command) exited \(status)" }
    }

    /// Runs a program and waits for it with waitpid (posix_spawn: Foundation's Process did
    /// not notice `scripts/pg start` exiting, whose server lives on in the background).
    static func run(_ path: String, _ arguments: [String], environment: [String: String] = [:]) throws {
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        var pid: pid_t = 0
        guard posix_spawn(&pid, path, &actions, nil, argv, envp) == 0 else {
            throw CommandFailed(command: path, status: -1)
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        // WIFEXITED && WEXITSTATUS == 0
        guard status & 0x7f == 0, (status >> 8) & 0xff == 0 else {
            throw CommandFailed(command: ([path] + arguments).joined(separator: " "), status: status)
        }
    }
}

/// #16 item 5, for real: the server's disk fills up under a write, and the server dies in
/// the middle of one. What the user sees must be one plain line with the contract's exit
/// status, and the log must hold exactly what was acknowledged.
@Suite(
    .enabled(if: FaultCluster.available, "no fault cluster: run as root with LEDGER_FAULT_PORT set to a free port"),
    .serialized)
struct ServerFaultTests {
    static let planLab = ReliabilityTests.planLab
    static let expense = ReliabilityTests.expense

    static func count(_ url: String, _ sql: String, _ binds: [any PostgresBindable] = []) throws -> Int {
        try PostgresConnection(url: url).query(sql, binds)[0].decode(Int.self, at: 0)
    }

    /// A database whose tables live on a 32 MB tmpfs, filled until PostgreSQL answers 53100
    /// (disk full). Expenses are then recorded until one fails: it must fail with the
    /// disk-full line (69), write nothing (its key unused, every acknowledged expense there
    /// and no other), and succeed once space is freed; `verify` finds the ledger intact.
    @Test func aFullDiskIsSaidPlainlyAndWritesNothing() throws {
        try FaultCluster.with { cluster in
            let space = cluster.work.appendingPathComponent("space")
            try FileManager.default.createDirectory(at: space, withIntermediateDirectories: true)
            try FaultCluster.run("/bin/mount", ["-t", "tmpfs", "-o", "size=32m", "tmpfs", space.path])
            try FaultCluster.run("/bin/chown", ["postgres:postgres", space.path])
            let admin = try PostgresConnection(url: cluster.url)
            // The path is ours (a UUID under /tmp), not user text.
            try admin.execute(script: "CREATE TABLESPACE tiny LOCATION '\(space.path)'")
            try admin.execute(script: "CREATE DATABASE full_disk TABLESPACE tiny")
            defer { _ = try? admin.execute(script: "DROP DATABASE full_disk WITH (FORCE); DROP TABLESPACE tiny") }
            let url = TestDatabase.url(cluster.url, database: "full_disk")
            let ledger = LedgerBinary(databaseURL: url)
            #expect(try ledger.run(["db", "migrate"]).status == 0)
            #expect(try ledger.run(Self.planLab).status == 0)
            try PostgresConnection(url: url).execute(
                script: """
                    CREATE TABLE filler (x text);
                    ALTER TABLE filler ALTER x SET STORAGE PLAIN;
                    DO $$
                    DECLARE n int;
                    BEGIN
                      FOREACH n IN ARRAY ARRAY[1000, 100, 10, 1] LOOP
                        LOOP
                          BEGIN
                            INSERT INTO filler SELECT repeat('x', 1000) FROM generate_series(1, n);
                          EXCEPTION WHEN disk_full THEN EXIT;
                          END;
                        END LOOP;
                      END LOOP;
                    END $$;
                    """)
            // Each expense is about 2 kB: a new page is needed within a few.
            let description = String(repeating: "d", count: 1000)
            var acknowledged = 0
            var failure: (key: String, output: LedgerBinary.Output)?
            for i in 1...200 where failure == nil {
                let key = "expense-\(i)"
                let output = try ledger.run(Self.expense + ["--description", description, "--idempotency-key", key])
                if output.status == 0 { acknowledged += 1 } else { failure = (key, output) }
            }
            let (key, output) = try #require(failure, "the disk never filled up")
            expectOneLineError(output, status: 69, containing: "out of disk space")
            #expect(output.stderr.contains("nothing was written"), "stderr: \(output.stderr)")
            #expect(output.stderr.contains("No space left on device"), "stderr: \(output.stderr)")
            #expect(output.stdout.isEmpty)
            #expect(acknowledged > 0)
            #expect(try Self.count(url, "SELECT count(*)::int FROM events WHERE type = 'lab.expense_recorded'") == acknowledged)
            #expect(try Self.count(url, "SELECT count(*)::int FROM idempotency_keys WHERE key = $1", [key]) == 0)
            // Space freed: the same command with the same key goes in, once.
            try PostgresConnection(url: url).execute(script: "DROP TABLE filler")
            let again = try ledger.run(Self.expense + ["--description", description, "--idempotency-key", key])
            #expect(again.status == 0, "stderr: \(again.stderr)")
            #expect(
                try Self.count(url, "SELECT count(*)::int FROM events WHERE type = 'lab.expense_recorded'") == acknowledged + 1)
            #expect(try ledger.run(["projections", "run"]).status == 0)
            let verify = try ledger.run(["verify"])
            #expect(verify.status == 0, "verify: \(verify.stdout) \(verify.stderr)")
        }
    }

    /// The next append on `events` sleeps while `marker` exists: a pause the test ends by
    /// removing the file, so that the command's retry after a crash does not sleep again
    /// (state inside the database would be rolled back with the crashed transaction).
    static func installSleepWhileMarked(_ url: String, marker: String) throws {
        try PostgresConnection(url: url).execute(
            script: """
                CREATE FUNCTION test_sleep_while_marked() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                  WHILE (pg_stat_file('\(marker)', true)).size IS NOT NULL LOOP PERFORM pg_sleep(0.1); END LOOP;
                  RETURN NULL;
                END $$;
                CREATE TRIGGER test_sleep_while_marked AFTER INSERT ON events
                    FOR EACH STATEMENT EXECUTE FUNCTION test_sleep_while_marked();
                """)
    }

    /// Waits until a `ledger` backend sleeps inside its append, then runs `kill`.
    static func whenAnAppendSleeps(_ url: String, _ kill: () throws -> Void) throws {
        let admin = try PostgresConnection(url: url, applicationName: "test-killer")
        for _ in 0..<600 {
            let sleeping = try admin.query(
                """
                SELECT count(*)::int FROM pg_stat_activity
                WHERE datname = current_database() AND wait_event = 'PgSleep' AND application_name = 'ledger'
                """)[0].decode(Int.self, at: 0)
            if sleeping > 0 { return try kill() }
            usleep(50_000)
        }
        throw PostgresError(kind: .client, message: "no sleeping append appeared")
    }

    /// A backend killed with SIGKILL during the append: the postmaster resets every session
    /// and recovers; the command reconnects once it has, finds its key unused (the
    /// transaction died with the backend) and stores the expense once. Then the postmaster
    /// itself is killed during an append: the server stays away, and the command says
    /// plainly that the outcome is unknown and names the key to run it again with — which,
    /// once the server is back, stores it once (and again, nothing more).
    @Test func aServerKilledDuringAnAppendIsSaidPlainlyWithTheKeyToRunAgain() throws {
        try FaultCluster.with { cluster in
            let url = cluster.url
            var ledger = LedgerBinary(databaseURL: url)
            #expect(try ledger.run(["db", "migrate"]).status == 0)
            #expect(try ledger.run(Self.planLab).status == 0)
            let marker = cluster.work.appendingPathComponent("sleep").path
            try Self.installSleepWhileMarked(url, marker: marker)
            let expenses = "SELECT count(*)::int FROM events WHERE type = 'lab.expense_recorded'"

            // 1. A backend crash: resolved, stored once, exit 0.
            #expect(FileManager.default.createFile(atPath: marker, contents: nil))
            let runner = ledger
            var results = runConcurrently(2) { i -> LedgerBinary.Output? in
                if i == 0 { return try runner.run(Self.expense) }
                try Self.whenAnAppendSleeps(url) {
                    let pid = try PostgresConnection(url: url).query(
                        "SELECT pid FROM pg_stat_activity WHERE wait_event = 'PgSleep' AND application_name = 'ledger'"
                    )[0].decode(Int32.self, at: 0)
                    // Killed first, so it cannot commit; the marker goes before its retry.
                    #expect(kill(pid, SIGKILL) == 0)
                    try FileManager.default.removeItem(atPath: marker)
                }
                return nil
            }
            var output = try #require(try results[0].get())
            _ = try results[1].get()
            #expect(output.status == 0, "stderr: \(output.stderr)")
            #expect(output.stdout.contains("lab.expense_recorded"))
            #expect(try Self.count(url, expenses) == 1)

            // 2. The postmaster killed: the server stays down; the outcome is unknown.
            ledger.environment["LEDGER_RECONNECT_TIMEOUT"] = "2"
            #expect(FileManager.default.createFile(atPath: marker, contents: nil))
            let impatient = ledger
            results = runConcurrently(2) { i -> LedgerBinary.Output? in
                if i == 0 { return try impatient.run(Self.expense) }
                try Self.whenAnAppendSleeps(url) {
                    #expect(kill(try cluster.postmasterPID, SIGKILL) == 0)
                    try FileManager.default.removeItem(atPath: marker)
                }
                return nil
            }
            output = try #require(try results[0].get())
            _ = try results[1].get()
            expectOneLineError(output, status: 69, containing: "lost the connection to PostgreSQL")
            #expect(output.stderr.contains("may or may not have been stored"), "stderr: \(output.stderr)")
            #expect(!output.stderr.contains("pipeline"), "stderr: \(output.stderr)")
            #expect(output.stdout.isEmpty)
            let key = try #require(
                output.stderr.split(separator: " ").first { $0.hasPrefix("auto:") }.map(String.init),
                "no key named: \(output.stderr)")

            try cluster.start()
            #expect(try Self.count(url, expenses) == 1)
            let again = try ledger.run(Self.expense + ["--idempotency-key", key])
            #expect(again.status == 0, "stderr: \(again.stderr)")
            #expect(try Self.count(url, expenses) == 2)
            #expect(try ledger.run(Self.expense + ["--idempotency-key", key]).status == 0)
            #expect(try Self.count(url, expenses) == 2)
            #expect(try ledger.run(["projections", "run"]).status == 0)
            let verify = try ledger.run(["verify"])
            #expect(verify.status == 0, "verify: \(verify.stdout) \(verify.stderr)")
        }
    }
}
