import Foundation
import JSON
import Postgres
import Testing
import TestSupport

/// A LOGIN role granted only ledger_reporting (roles are per server: dropped afterwards).
func withReportingLogin(_ ledger: LedgerBinary, _ body: (LedgerBinary, String) throws -> Void) throws {
    let admin = try PostgresConnection(url: ledger.databaseURL!)
    let name = "analyst_" + UUID().uuidString.prefix(8).lowercased()
    try admin.execute(script: "CREATE ROLE \(name) LOGIN; GRANT ledger_reporting TO \(name)")
    defer { _ = try? admin.execute(script: "DROP ROLE IF EXISTS \(name)") }
    var components = URLComponents(string: ledger.databaseURL!)!
    components.user = name
    var analyst = ledger
    analyst.databaseURL = components.string!
    try body(analyst, name)
}

let reportNames = ["portfolio", "labs", "orders", "supply"]
let formats = ["table", "json", "csv"]
let staleWarning = "warning: projections are 1 events behind — run ledger projections run\n"

@Suite struct OperationsTests {
    /// Everything a read command needs is in schema `reporting`: an analyst's login prints
    /// the same bytes as the application's, and is told what to grant when it tries to write.
    @Test func aReportingLoginReadsEverythingAndWritesNothing() throws {
        try withLedger { ledger in
            #expect(try ledger.run(["demo"]).status == 0)
            // One event the projections have not seen, so stale pages and the warning show too.
            #expect(try ledger.run(["supply", "receive", "--sku", "h100-sxm5-80gb", "--quantity", "1"]).status == 0)
            try withReportingLogin(ledger) { analyst, login in
                var reads: [[String]] = [
                    ["events", "--format", "json"], ["events", "--stream", "order-ntt-001", "--format", "csv"],
                    ["events", "--after", "3", "--limit", "5"],
                ]
                for report in reportNames {
                    for format in formats {
                        reads.append(["report", report, "--format", format])
                        reads.append(["report", report, "--format", format, "--as-of", "2025-06-30"])
                    }
                }
                for arguments in reads {
                    let mine = try ledger.run(arguments)
                    let theirs = try analyst.run(arguments)
                    #expect(theirs.status == 0, "\(arguments): \(theirs.stderr)")
                    #expect(theirs.stdout == mine.stdout, "\(arguments)")
                    #expect(!theirs.stdout.isEmpty, "\(arguments)")
                    if arguments.first == "report" && !arguments.contains("--as-of") {
                        #expect(theirs.stderr == staleWarning, "\(arguments)")
                    }
                }
                let status = try analyst.run(["projections", "status", "--format", "json"])
                #expect(status.status == 0, "\(status.stderr)")
                let rows = try JSON.parse(status.stdout).arrayValue ?? []
                #expect(rows.map { $0["projection"]?.stringValue } == reportNames)
                #expect(rows.first { $0["projection"] == "supply" }?["lag"] == 1)

                let before = try ledger.eventCount()
                let writes: [[String]] = [
                    ["supply", "receive", "--sku", "h100-sxm5-80gb", "--quantity", "1"],
                    ["startup", "register", "--startup", "kumo", "--name", "Kumo"],
                    ["import", "-"],
                    ["projections", "run"], ["projections", "rebuild"], ["projections", "run", "--follow"],
                    ["demo"],
                ]
                for arguments in writes {
                    let output = try analyst.run(
                        arguments, stdin: #"{"command":"supply.receive","sku":"h100","quantity":1}"# + "\n")
                    expectOneLineError(output, status: 77, containing: "GRANT ledger_app TO \(login)")
                }
                #expect(try ledger.eventCount() == before)
                let lag = try JSON.parse(try ledger.run(["projections", "status", "--format", "json"]).stdout)
                #expect(lag.arrayValue?.first { $0["projection"] == "supply" }?["lag"] == 1, "no projection moved")
            }
        }
    }

    @Test func aStaleReportStillPrintsButSaysHowFarBehindItIs() throws {
        try withLedger { ledger in
            let steps: [[String]] = [
                ["startup", "register", "--startup", "sakana-ai", "--name", "Sakana AI", "--date", "2026-01-01"],
                ["invest", "commit", "--investment", "sakana-a", "--startup", "sakana-ai", "--round", "seed",
                 "--instrument", "safe", "--amount", "1000", "--currency", "USD", "--date", "2026-01-02"],
                ["invest", "disburse", "--investment", "sakana-a", "--amount", "1000", "--currency", "USD", "--date", "2026-01-03"],
                ["projections", "run"],
            ]
            for step in steps { #expect(try ledger.run(step).status == 0) }
            let fresh = try ledger.run(["report", "portfolio"])
            #expect(fresh.status == 0)
            #expect(fresh.stderr == "")
            var status = try JSON.parse(try ledger.run(["projections", "status", "--format", "json"]).stdout).arrayValue!
            #expect(status.allSatisfy { $0["lag"] == 0 && $0["lag_seconds"] == .number("0.000") }, "\(status)")
            #expect(status.allSatisfy { $0["replay_lag_seconds"] == .null }, "a primary has no replay lag")

            #expect(try ledger.run(["invest", "mark", "--investment", "sakana-a", "--fair-value", "3000", "--currency", "USD", "--date", "2026-02-01"]).status == 0)
            let stale = try ledger.run(["report", "portfolio", "--format", "json"])
            #expect(stale.status == 0)
            #expect(stale.stderr == staleWarning)
            #expect(try JSON.parse(stale.stdout).arrayValue?.first?["fair_value"] == "1000.00", "the old figure, with the warning")
            // The other reports read projections that are behind too (every projection reads
            // the whole log in order).
            #expect(try ledger.run(["report", "labs"]).stderr == staleWarning)
            // --as-of folds the log itself: never stale.
            #expect(try ledger.run(["report", "portfolio", "--as-of", "2026-12-31"]).stderr == "")
            status = try JSON.parse(try ledger.run(["projections", "status", "--format", "json"]).stdout).arrayValue!
            for row in status {
                #expect(row["lag"] == 1)
                guard case .number(let text)? = row["lag_seconds"] else {
                    Issue.record("lag_seconds is not a number: \(row)")
                    continue
                }
                let seconds = Double(text)
                #expect(seconds != nil && seconds! >= 0, "\(row)")
            }
            #expect(try ledger.run(["projections", "run"]).status == 0)
            let caughtUp = try ledger.run(["report", "portfolio", "--format", "json"])
            #expect(caughtUp.stderr == "")
            #expect(try JSON.parse(caughtUp.stdout).arrayValue?.first?["fair_value"] == "3000.00")
        }
    }

    /// Analysts read the descriptions in `\d+` and their BI tools: every view in schema
    /// reporting and every column of it has one. (A new view needs its COMMENT ON too.)
    @Test func everyReportingViewAndColumnIsDescribed() throws {
        try TestDatabase.with { url in
            let db = try PostgresConnection(url: url)
            let undescribed = try db.query(
                """
                SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = 'reporting' AND c.relkind IN ('v', 'm', 'r')
                  AND obj_description(c.oid, 'pg_class') IS NULL
                UNION ALL
                SELECT c.relname || '.' || a.attname FROM pg_class c
                JOIN pg_namespace n ON n.oid = c.relnamespace
                JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                WHERE n.nspname = 'reporting' AND c.relkind IN ('v', 'm', 'r')
                  AND col_description(c.oid, a.attnum) IS NULL
                ORDER BY 1
                """
            ).map { try $0.decode(String.self, at: 0) }
            #expect(undescribed == [], "reporting objects without COMMENT ON: \(undescribed)")
            let views = try db.query("SELECT count(*)::int FROM pg_views WHERE schemaname = 'reporting'")[0].decode(Int.self, at: 0)
            #expect(views >= 10)
        }
    }

    @Test func theDemoRefusesALedgerHoldingOtherEvents() throws {
        try withLedger { ledger in
            #expect(try ledger.run(["supply", "receive", "--sku", "h100", "--quantity", "1"]).status == 0)
            expectOneLineError(try ledger.run(["demo"]), status: 65, containing: "holds 1 events the demo did not write")
            #expect(try ledger.eventCount() == 1)
            // Not even under the demo's own actor name: its events are imported lines.
            try TestDatabase.with { url in
                let scratch = LedgerBinary(databaseURL: url)
                #expect(try scratch.run(["supply", "receive", "--sku", "h100", "--quantity", "1", "--actor", "demo"]).status == 0)
                expectOneLineError(try scratch.run(["demo"]), status: 65, containing: "scratch database")
                #expect(try scratch.eventCount() == 1)
            }
        }
    }

    @Test func theHelpDoesNotSuggestTheDemoOnARealDatabase() throws {
        let ledger = LedgerBinary()
        let root = try ledger.run(["--help"]).stdout
        let start = root.range(of: "Start with:").map { String(root[$0.upperBound...]) } ?? ""
        let firstSteps = start.split(separator: "\n").prefix(3).joined(separator: "\n")
        #expect(!firstSteps.contains("ledger demo"), "\(firstSteps)")
        #expect(root.contains("scratch database"))
        #expect(try ledger.run(["demo", "--help"]).stdout.contains("scratch database"))
        #expect(root.contains("77"))
    }

    /// Every command's --help at 80 columns: example lines are commands to copy, so none
    /// is broken where a terminal would not break it (each line of an example block is
    /// indented; a long one continues with `\` and an indented line).
    @Test func helpExamplesDoNotWrapMidCommandAt80Columns() throws {
        var ledger = LedgerBinary()
        ledger.environment["COLUMNS"] = "80"
        var pending: [[String]] = [[]]
        var seen = 0
        while let path = pending.popLast() {
            let help = try ledger.run(path + ["--help"])
            #expect(help.status == 0, "\(path)")
            seen += 1
            let lines = help.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            var inExamples = false
            var inSubcommands = false
            for line in lines {
                if line.isEmpty {
                    inExamples = false
                    inSubcommands = false
                    continue
                }
                if inExamples {
                    #expect(line.hasPrefix(" "), "ledger \(path.joined(separator: " ")) --help breaks an example: '\(line)'")
                }
                if inSubcommands, line.hasPrefix("  "), !line.hasPrefix("   "),
                    let name = line.split(separator: " ").first, name != "help"
                {
                    pending.append(path + [String(name)])
                }
                if line.range(of: #"^Examples?\b.*:$"#, options: .regularExpression) != nil { inExamples = true }
                if line == "SUBCOMMANDS:" { inSubcommands = true }
            }
            #expect(!help.stdout.contains("\n \n"), "ledger \(path.joined(separator: " ")) --help has a stray line break")
        }
        #expect(seen > 30, "walked \(seen) commands")
    }

    /// Read commands store nothing: their help does not offer --actor or --idempotency-key,
    /// though they accept them as every command does (CONTRACT.md).
    @Test func readCommandsDoNotListWriterOptions() throws {
        let ledger = LedgerBinary()
        let reads: [[String]] = [
            ["events"], ["report", "orders"], ["report", "portfolio"], ["projections", "status"], ["digest"],
            ["prove"], ["verify"], ["db", "status"],
        ]
        for command in reads {
            let help = try ledger.run(command + ["--help"]).stdout
            #expect(help.contains("--database-url"), "\(command)")
            #expect(!help.contains("--actor"), "\(command)")
            #expect(!help.contains("--idempotency-key"), "\(command)")
        }
        #expect(try ledger.run(["supply", "receive", "--help"]).stdout.contains("--idempotency-key"))
        let accepted = try LedgerBinary(databaseURL: "postgresql://u@127.0.0.1:1/x?connect_timeout=2")
            .run(["events", "--actor", "hanako", "--idempotency-key", "k-1"])
        #expect(accepted.status == 69, "still accepted: \(accepted.stderr)")
    }

    @Test func versionPrintsTheProgramAndItsVersion() throws {
        let output = try LedgerBinary().run(["--version"])
        #expect(output.status == 0)
        #expect(output.stdout.range(of: #"^ledger [0-9]+\.[0-9]+\.[0-9]+\n$"#, options: .regularExpression) != nil, "\(output.stdout)")
        #expect(output.stderr == "")
    }

    @Test func anUnknownCommandIsNamed() throws {
        let ledger = LedgerBinary()
        expectOneLineError(
            try ledger.run(["startup", "teleport", "--startup", "x"]), status: 64,
            containing: "unknown command 'teleport' for 'ledger startup'")
        expectOneLineError(try ledger.run(["teleport"]), status: 64, containing: "unknown command 'teleport' for 'ledger'")
        expectOneLineError(
            try ledger.run(["report", "fundz"]), status: 64, containing: "unknown command 'fundz' for 'ledger report'")
        // Arguments of a leaf command are not commands.
        #expect(try ledger.run(["projections", "rebuild", "nonsense"]).stderr.contains("unknown command") == false)
    }

    @Test func theConnectionErrorSpeaksToEveryKindOfUser() throws {
        let output = try LedgerBinary(databaseURL: "postgresql://u@127.0.0.1:1/x?connect_timeout=2").run(["events"])
        expectOneLineError(output, status: 69, containing: "DATABASE_URL")
        #expect(!output.stderr.contains("scripts/pg"), "binary and container users have no scripts/")
    }

    @Test func theActorFallsBackToTheOSAccount() throws {
        try withLedger { ledger in
            var anonymous = ledger
            anonymous.environment["USER"] = ""
            anonymous.environment["LOGNAME"] = ""
            #expect(try anonymous.run(["supply", "receive", "--sku", "h100", "--quantity", "1"]).status == 0)
            let events = try JSON.parse(try ledger.run(["events", "--format", "json"]).stdout).arrayValue!
            let account = String(cString: getpwuid(geteuid())!.pointee.pw_name)
            #expect(events.first?["metadata"]?["actor"] == .string(account))
            #expect(account != "unknown")
        }
    }

    /// `projections run --follow` logs through swift-log: each line starts with a timestamp.
    @Test func followLogsWithTimestamps() throws {
        try withLedger { ledger in
            let log = FileManager.default.temporaryDirectory.appendingPathComponent("follow-\(UUID().uuidString).log")
            #expect(FileManager.default.createFile(atPath: log.path, contents: nil))
            defer { try? FileManager.default.removeItem(at: log) }
            let process = Process()
            process.executableURL = URL(fileURLWithPath: LedgerBinary.path)
            process.arguments = ["projections", "run", "--follow"]
            var env = ProcessInfo.processInfo.environment
            env["DATABASE_URL"] = ledger.databaseURL
            process.environment = env
            let handle = try FileHandle(forWritingTo: log)
            process.standardError = handle
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            defer { if process.isRunning { process.terminate() } }
            func waitFor(_ text: String) throws -> Bool {
                for _ in 0..<300 {
                    if try String(contentsOf: log, encoding: .utf8).contains(text) { return true }
                    Thread.sleep(forTimeInterval: 0.1)
                }
                return false
            }
            #expect(try waitFor("caught up"))
            #expect(try ledger.run(["supply", "receive", "--sku", "h100", "--quantity", "1"]).status == 0)
            #expect(try waitFor("applied 1 events"))
            process.terminate()
            process.waitUntilExit()
            #expect(process.terminationStatus == 0)
            let lines = try String(contentsOf: log, encoding: .utf8).split(separator: "\n")
            #expect(lines.count >= 4, "\(lines)")
            for line in lines {
                #expect(line.range(of: #"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}"#, options: .regularExpression) != nil, "\(line)")
            }
            #expect(lines.last?.hasSuffix("stopped") == true)
        }
    }

    /// docker-compose.yml as Compose loads it: a replica and a projector, a healthcheck over
    /// TCP, ports published on loopback only.
    @Test func composeRunsAReplicaAndAProjectorOnLoopback() throws {
        let process = Process()
        process.executableURL = TestDatabase.repositoryRoot.appendingPathComponent("scripts/check-compose")
        process.arguments = ["--print"]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let services = try JSON.parse(String(decoding: data, as: UTF8.self))["services"]
        #expect(services?["projector"]?["command"] == ["projections", "run", "--follow"])
        #expect(services?["projector"]?["restart"] == "unless-stopped")
        let replica = services?["replica"]?["command"]?.arrayValue?.compactMap(\.stringValue).joined(separator: " ") ?? ""
        #expect(replica.contains("pg_basebackup -h db") && replica.contains(" -R "), "\(replica)")
        for name in ["db", "replica"] {
            let test = services?[name]?["healthcheck"]?["test"]?.arrayValue?.compactMap(\.stringValue) ?? []
            #expect(test.starts(with: ["CMD", "pg_isready", "-h", "127.0.0.1"]), "\(name): \(test)")
        }
        for (name, service) in services?.objectValue ?? [:] {
            for port in service["ports"]?.arrayValue ?? [] {
                #expect(port["host_ip"] == "127.0.0.1", "\(name) publishes \(port) beyond this machine")
            }
        }
    }
}
