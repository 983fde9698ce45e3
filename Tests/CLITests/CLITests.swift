import Foundation
import JSON
import Postgres
import Testing
import TestSupport

/// Runs `body` with a ledger binary bound to a fresh migrated database.
func withLedger(_ body: (LedgerBinary) throws -> Void) throws {
    try TestDatabase.with { url in try body(LedgerBinary(databaseURL: url)) }
}

func expectOneLineError(_ output: LedgerBinary.Output, status: Int32, containing text: String, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(output.status == status, "stderr: \(output.stderr)", sourceLocation: sourceLocation)
    #expect(output.stderr.hasPrefix("error: "), "stderr: \(output.stderr)", sourceLocation: sourceLocation)
    #expect(output.stderr.filter { $0 == "\n" }.count == 1, "one line expected: \(output.stderr)", sourceLocation: sourceLocation)
    #expect(output.stderr.contains(text), "stderr: \(output.stderr)", sourceLocation: sourceLocation)
}

let place = ["order", "place", "--order", "ntt-001", "--customer", "NTT", "--sku", "h100", "--quantity", "10",
             "--unit-price", "4500000", "--currency", "JPY", "--date", "2026-05-01"]

@Suite struct CLITests {
    @Test func helpTeachesWithExamples() throws {
        let ledger = LedgerBinary()
        let root = try ledger.run(["--help"])
        #expect(root.status == 0)
        #expect(root.stdout.contains("ledger db migrate"))
        #expect(root.stdout.contains("65 rejected by a business rule"))
        let place = try ledger.run(["order", "place", "--help"])
        #expect(place.status == 0)
        #expect(place.stdout.contains("Example"))
        #expect(place.stdout.contains("--unit-price"))
        #expect(place.stdout.contains("--database-url"))
        #expect(place.stdout.contains("--idempotency-key"))
    }

    @Test func everyCommandGroupWorksEndToEnd() throws {
        try withLedger { ledger in
            let steps: [[String]] = [
                ["startup", "register", "--startup", "sakana-ai", "--name", "Sakana AI", "--country", "JP"],
                ["invest", "commit", "--investment", "sakana-a", "--startup", "sakana-ai", "--round", "series-a",
                 "--instrument", "equity", "--amount", "1000000000", "--currency", "JPY", "--ownership", "3.5",
                 "--post-money", "30000000000", "--date", "2026-02-01"],
                ["invest", "disburse", "--investment", "sakana-a", "--amount", "400000000", "--currency", "JPY", "--date", "2026-02-02"],
                ["invest", "mark", "--investment", "sakana-a", "--fair-value", "600000000", "--currency", "JPY", "--date", "2026-06-30"],
                ["lab", "plan", "--lab", "tokyo", "--name", "Tokyo AI Lab", "--city", "Tokyo", "--budget", "1000", "--currency", "USD"],
                ["lab", "add-partner", "--lab", "tokyo", "--partner", "RIKEN"],
                ["lab", "expense", "--lab", "tokyo", "--category", "compute", "--amount", "999.99", "--currency", "USD"],
                ["lab", "raise-budget", "--lab", "tokyo", "--amount", "500", "--currency", "USD", "--reason", "more GPUs"],
                ["lab", "milestone", "--lab", "tokyo", "--name", "first cluster online"],
                ["lab", "open", "--lab", "tokyo"],
                ["supply", "receive", "--sku", "h100", "--quantity", "8"],
                place,
                ["order", "allocate", "--order", "ntt-001", "--quantity", "8"],
                ["order", "ship", "--order", "ntt-001", "--shipment", "s1", "--quantity", "5"],
                ["order", "deliver", "--order", "ntt-001", "--shipment", "s1"],
                ["order", "invoice", "--order", "ntt-001", "--amount", "22500000", "--currency", "JPY"],
                ["order", "pay", "--order", "ntt-001", "--amount", "10000000", "--currency", "JPY"],
                ["projections", "run"],
            ]
            for step in steps {
                let output = try ledger.run(step)
                #expect(output.status == 0, "\(step.joined(separator: " ")): \(output.stderr)")
            }
            let orders = try ledger.run(["report", "orders", "--format", "json"])
            let row = try JSON.parse(orders.stdout).arrayValue!.first!
            #expect(row["status"] == "partially_shipped")
            #expect(row["allocated"] == 8)
            #expect(row["outstanding"] == "12500000")
            let portfolio = try JSON.parse(try ledger.run(["report", "portfolio", "--format", "json"]).stdout)
            #expect(portfolio.arrayValue?.first?["moic"] == "1.50")
            let labs = try JSON.parse(try ledger.run(["report", "labs", "--format", "json"]).stdout)
            #expect(labs.arrayValue?.first?["remaining"] == "500.01")
            let supply = try ledger.run(["report", "supply"])
            #expect(supply.stdout.contains("h100"))
            let status = try JSON.parse(try ledger.run(["projections", "status", "--format", "json"]).stdout)
            #expect(status.arrayValue?.allSatisfy { $0["lag"] == 0 } == true)
            let verify = try ledger.run(["verify"])
            #expect(verify.status == 0, "\(verify.stderr)")
            let table = try ledger.run(["report", "orders"])
            #expect(table.stdout.contains("¥4,500,000"))
        }
    }

    /// A printed current-state table says what it is and how far its projection had read
    /// the log, so it can be traced; JSON and CSV stay plain data.
    @Test func currentStateTablesNameTheirCheckpoint() throws {
        try withLedger { ledger in
            #expect(try ledger.run(["supply", "receive", "--sku", "h100", "--quantity", "5", "--date", "2026-01-05"]).status == 0)
            #expect(try ledger.run(["projections", "run"]).status == 0)
            let first = try ledger.run(["report", "supply"])
            #expect(first.stdout.hasPrefix("supply current state — projections through position 1\n"), "\(first.stdout)")
            #expect(try ledger.run(["supply", "receive", "--sku", "h100", "--quantity", "5", "--date", "2026-01-06"]).status == 0)
            // Behind the log: the caption still names the checkpoint the rows are from.
            let behind = try ledger.run(["report", "supply"])
            #expect(behind.stdout.hasPrefix("supply current state — projections through position 1\n"))
            #expect(behind.stderr.contains("projections are 1 events behind"))
            #expect(try ledger.run(["projections", "run"]).status == 0)
            #expect(try ledger.run(["report", "supply"]).stdout.hasPrefix("supply current state — projections through position 2\n"))
            #expect(try ledger.run(["report", "supply", "--format", "csv"]).stdout.hasPrefix("sku,"))
        }
    }

    @Test func writeCommandsPrintTheirEventsInEachFormat() throws {
        try withLedger { ledger in
            let json = try ledger.run(["supply", "receive", "--sku", "h100", "--quantity", "8", "--format", "json", "--date", "2026-03-01"])
            let events = try JSON.parse(json.stdout).arrayValue!
            #expect(events.count == 1)
            #expect(events[0]["stream"] == "supply-h100")
            #expect(events[0]["type"] == "supply.received")
            #expect(events[0]["date"] == "2026-03-01")
            for key in ["position", "version", "recorded_at"] { #expect(events[0][key] != nil) }
            let csv = try ledger.run(["supply", "receive", "--sku", "h100", "--quantity", "1", "--format", "csv"])
            let lines = csv.stdout.split(separator: "\n")
            #expect(lines.first == "position,stream,version,type,date,recorded_at")
            #expect(lines.count == 2)
            #expect(lines[1].contains(",supply-h100,2,supply.received,"))
            let log = try ledger.run(["events", "--format", "csv"])
            #expect(log.stdout.hasPrefix("position,stream,version,type,date,recorded_at,payload,metadata\n"))
            let after = try JSON.parse(try ledger.run(["events", "--after", "1", "--format", "json"]).stdout).arrayValue!
            #expect(after.count == 1)
            #expect(after[0]["payload"]?["quantity"] == 1)
            #expect(after[0]["metadata"]?["actor"] == "cli-test")
        }
    }

    @Test func badUsageExits64AndWritesNothing() throws {
        try withLedger { ledger in
            try ledger.run(["supply", "receive", "--sku", "h100", "--quantity", "8"])
            let cases: [([String], String)] = [
                (["invest", "disburse", "--investment", "x", "--amount", "1.5", "--currency", "JPY"], "--amount"),
                (["invest", "disburse", "--investment", "x", "--amount", "1e3", "--currency", "USD"], "--amount"),
                (["invest", "disburse", "--investment", "x", "--amount", "10", "--currency", "XYZ"], "XYZ"),
                (["supply", "receive", "--sku", "h100", "--quantity", "0"], "--quantity"),
                (["supply", "receive", "--sku", "h100", "--quantity", "8", "--date", "2023-02-30"], "--date"),
                (["supply", "receive", "--sku", "H 100", "--quantity", "8"], "--sku"),
                (["supply", "receive", "--sku", "h100", "--quantity", "8", "--bogus"], "--bogus"),
                (["supply", "receive", "--sku", "h100"], "--quantity"),
                (["report", "orders", "--as-of", "yesterday"], "--as-of"),
            ]
            for (arguments, text) in cases {
                expectOneLineError(try ledger.run(arguments), status: 64, containing: text)
            }
            #expect(try ledger.eventCount() == 1)
        }
    }

    @Test func businessRuleRejectionsExit65AndWriteNothing() throws {
        try withLedger { ledger in
            try ledger.run(["startup", "register", "--startup", "elyza", "--name", "ELYZA"])
            try ledger.run(["invest", "commit", "--investment", "e", "--startup", "elyza", "--round", "seed",
                            "--instrument", "safe", "--amount", "500000000", "--currency", "JPY"])
            try ledger.run(["supply", "receive", "--sku", "h100", "--quantity", "4"])
            try ledger.run(place)
            let before = try ledger.eventCount()
            let cases: [([String], String)] = [
                (["invest", "disburse", "--investment", "e", "--amount", "600000000", "--currency", "JPY"],
                 "cannot disburse ¥600,000,000 to investment e: committed ¥500,000,000, already disbursed ¥0"),
                (["invest", "disburse", "--investment", "e", "--amount", "100", "--currency", "USD"], "JPY"),
                (["startup", "register", "--startup", "elyza", "--name", "Again"], "already registered"),
                (["invest", "disburse", "--investment", "ghost", "--amount", "1", "--currency", "JPY"], "ghost"),
                (["order", "allocate", "--order", "ntt-001", "--quantity", "5"], "ntt-001"),
                (["order", "ship", "--order", "ntt-001", "--shipment", "s1", "--quantity", "1"], "ntt-001"),
            ]
            for (arguments, text) in cases {
                expectOneLineError(try ledger.run(arguments), status: 65, containing: text)
            }
            #expect(try ledger.eventCount() == before)
        }
    }

    @Test func anIdempotencyKeyReplaysAndRefusesAnotherCommand() throws {
        try withLedger { ledger in
            let first = try ledger.run(["supply", "receive", "--sku", "h100", "--quantity", "8", "--idempotency-key", "rcv-1", "--format", "json", "--date", "2026-01-01"])
            let again = try ledger.run(["supply", "receive", "--sku", "h100", "--quantity", "8", "--idempotency-key", "rcv-1", "--format", "json", "--date", "2026-01-01"])
            #expect(again.status == 0)
            #expect(again.stdout == first.stdout)
            expectOneLineError(
                try ledger.run(["supply", "receive", "--sku", "h100", "--quantity", "9", "--idempotency-key", "rcv-1", "--date", "2026-01-01"]),
                status: 65, containing: "rcv-1")
            #expect(try ledger.eventCount() == 1)
        }
    }

    @Test func anUnreachableDatabaseExits69WithoutShowingThePassword() throws {
        let ledger = LedgerBinary(databaseURL: "postgresql://alice:TopSecret99@127.0.0.1:1/ledger?connect_timeout=2")
        let output = try ledger.run(["supply", "receive", "--sku", "h100", "--quantity", "1"])
        expectOneLineError(output, status: 69, containing: "cannot connect")
        #expect(!output.stderr.contains("TopSecret99"))
        #expect(!output.stdout.contains("TopSecret99"))
        let viaFlag = try LedgerBinary().run(["events", "--database-url", "postgresql://bob:Hunter2pw@127.0.0.1:1/x"])
        #expect(viaFlag.status == 69)
        #expect(!viaFlag.stderr.contains("Hunter2pw"))
    }

    @Test func anUnmigratedDatabaseExits69() throws {
        try TestDatabase.with(migrated: false) { url in
            let ledger = LedgerBinary(databaseURL: url)
            expectOneLineError(try ledger.run(["supply", "receive", "--sku", "h100", "--quantity", "1"]), status: 69, containing: "ledger db migrate")
            expectOneLineError(try ledger.run(["report", "orders"]), status: 69, containing: "ledger db migrate")
            #expect(try ledger.run(["db", "status"]).status == 69)
            #expect(try ledger.run(["db", "migrate"]).status == 0)
            #expect(try ledger.run(["db", "status"]).status == 0)
            #expect(try ledger.run(["supply", "receive", "--sku", "h100", "--quantity", "1"]).status == 0)
        }
    }

    @Test func aConflictThatPersistsAfterRetriesExits75() throws {
        try withLedger { ledger in
            // Make every append lose the race, as a hot stream would under heavy contention:
            // "another writer" takes each version just before the append's own insert.
            let db = try PostgresConnection(url: ledger.databaseURL!)
            try db.execute(script: """
                CREATE FUNCTION always_conflict() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                  IF pg_trigger_depth() = 1 THEN
                    INSERT INTO events (stream, version, type, schema_version, payload, metadata, business_date, event_id, hash)
                    VALUES (NEW.stream, NEW.version, NEW.type, NEW.schema_version, NEW.payload, NEW.metadata,
                            NEW.business_date, gen_random_uuid(), NEW.hash);
                  END IF;
                  RETURN NEW;
                END $$;
                CREATE TRIGGER always_conflict BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION always_conflict();
                """)
            expectOneLineError(try ledger.run(["supply", "receive", "--sku", "h100", "--quantity", "1"]), status: 75, containing: "supply-h100")
            #expect(try ledger.eventCount() == 0)
        }
    }

    @Test func anEditedMigrationExits1() throws {
        try withLedger { ledger in
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("schema-\(UUID().uuidString)")
            try FileManager.default.copyItem(at: TestDatabase.schemaDirectory, to: dir)
            defer { try? FileManager.default.removeItem(at: dir) }
            let first = dir.appendingPathComponent("001_event_store.sql")
            try (try String(contentsOf: first, encoding: .utf8) + "\n-- edited\n").write(to: first, atomically: true, encoding: .utf8)
            var edited = ledger
            edited.environment["LEDGER_SCHEMA_DIR"] = dir.path
            expectOneLineError(try edited.run(["db", "migrate"]), status: 1, containing: "001_event_store.sql was edited")
        }
    }

    @Test func importTakesGoodLinesReportsBadOnesAndAppendsNothingTheSecondTime() throws {
        try withLedger { ledger in
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("import-\(UUID().uuidString).jsonl")
            defer { try? FileManager.default.removeItem(at: file) }
            try """
                {"command":"supply.receive","sku":"h100","quantity":10,"date":"2026-05-01"}
                {"command":"order.place","order":"nec-001","customer":"NEC","sku":"h100","quantity":6,"unit-price":"4800000","currency":"JPY","date":"2026-05-02"}
                {"command":"order.allocate","order":"nec-001","quantity":6,"date":"2026-05-03"}
                {"command":"order.allocate","order":"nec-001","quantity":1,"date":"2026-05-03"}
                {"command":"order.place","order":"bad","customer":"X","sku":"h100","quantity":1,"unit-price":"1.5","currency":"JPY"}
                this is not json

                """.write(to: file, atomically: true, encoding: .utf8)
            let first = try ledger.run(["import", file.path])
            #expect(first.status == 64, "a malformed line makes the import exit 64: \(first.stderr)")
            #expect(first.stdout.contains("imported 3 commands, 4 events, 3 rejected"))
            #expect(first.stderr.contains("error: line 4:"))
            #expect(first.stderr.contains("error: line 5:"))
            #expect(first.stderr.contains("error: line 6:"))
            #expect(try ledger.eventCount() == 4)
            let second = try ledger.run(["import", file.path, "--format", "json"])
            let summary = try JSON.parse(second.stdout).arrayValue!.first!
            #expect(summary["imported"] == 0)
            #expect(summary["already_imported"] == 3)
            #expect(try ledger.eventCount() == 4)
            let stopped = try ledger.run(["import", "-", "--stop-on-error"], stdin: """
                {"command":"supply.receive","sku":"h200","quantity":1,"date":"2026-05-01"}
                {"command":"order.allocate","order":"ghost","quantity":1}
                {"command":"supply.receive","sku":"h200","quantity":2,"date":"2026-05-01"}
                """)
            #expect(stopped.status == 65)
            #expect(try ledger.eventCount() == 5, "lines before the bad one stay imported, none after it")
        }
    }

    /// Japanese names take two terminal columns a character: the table pads them so every
    /// column starts at the same place on screen, from pages and from --as-of alike.
    @Test func tablesLineUpJapaneseNames() throws {
        try withLedger { ledger in
            for (order, customer) in [("o-1", "ソフトバンク"), ("o-2", "NEC"), ("o-3", "日本電信電話 (NTT)")] {
                let placed = try ledger.run(
                    ["order", "place", "--order", order, "--customer", customer, "--sku", "h100", "--quantity", "1",
                     "--unit-price", "4500000", "--currency", "JPY", "--date", "2026-05-01"])
                #expect(placed.status == 0, "\(placed.stderr)")
            }
            #expect(try ledger.run(["projections", "run"]).status == 0)
            func columns(_ text: String) -> Int {
                text.reduce(0) { width, c in
                    width + (c.unicodeScalars.first!.value >= 0x3000 && c.unicodeScalars.first!.value < 0xA000 ? 2 : 1)
                }
            }
            let stored = try ledger.run(["report", "orders"])
            let folded = try ledger.run(["report", "orders", "--as-of", "2099-12-31"])
            let printed = uncaptioned(stored.stdout, "orders current state")
            #expect(printed == uncaptioned(folded.stdout, "orders as of 2099-12-31"))
            let lines = printed.split(separator: "\n").map(String.init)
            #expect(lines.count == 4, "\(stored.stdout)")
            // Where SKU (the third column) starts, in terminal columns, on every line.
            let starts = lines.map { line in
                columns(String(line[..<(line.range(of: "h100") ?? line.range(of: "SKU")!).lowerBound]))
            }
            #expect(Set(starts).count == 1, "\(stored.stdout)")
        }
    }

    @Test func theDemoTellsTheStoryOnceAndAddsNothingTheSecondTime() throws {
        try withLedger { ledger in
            let first = try ledger.run(["demo"])
            #expect(first.status == 0, "\(first.stderr)")
            for text in ["SoftBank", "NEC", "NTT", "Sakura Internet", "Mitsui", "Tokyo AI Research Lab", "cancelled", "exited", "written_off", "h200-sxm-141gb"] {
                #expect(first.stdout.contains(text), "demo output lacks \(text)")
            }
            // One reversal and one quarter close, shown after the reports; the labs report has
            // the expense under compute, not equipment.
            for text in ["== corrections ==", "entry.reversed", "booked under equipment", "== periods ==", "2026-09-30", "Q3 2026"] {
                #expect(first.stdout.contains(text), "demo output lacks \(text)")
            }
            let labs = try JSON.parse(try ledger.run(["report", "labs", "--format", "json"]).stdout).arrayValue?.first
            #expect(labs?["spent_by_category"]?["compute"]?.stringValue == "845000000")
            #expect(labs?["spent_by_category"]?["equipment"]?.stringValue == "620000000")
            #expect(try ledger.run(["report", "labs", "--as-issued", "2026-09-30"]).status == 0)
            let count = try ledger.eventCount()
            #expect(count > 50)
            let second = try ledger.run(["demo", "--format", "json"])
            #expect(second.status == 0)
            #expect(try ledger.eventCount() == count)
            let reports = try JSON.parse(second.stdout).arrayValue!
            #expect(reports.map { $0["report"]?.stringValue } == ["portfolio", "labs", "orders", "supply", "fund"])
            #expect(try ledger.run(["verify"]).status == 0)
            // The stored reports (printed from their pages) are byte for byte what the
            // domain rows print when folded from the log, in every format.
            // So are they printed on two threads (as reports of 20,000 rows and more are),
            // and from pages gone stale (rendered from the rows by the reader).
            var threaded = ledger
            threaded.environment["LEDGER_REPORT_PARALLEL_ROWS"] = "1"
            threaded.environment["LEDGER_REPORT_PAGE_ROWS"] = "2"
            let db = try PostgresConnection(url: ledger.databaseURL)
            for stage in ["fresh", "pages of 2 rows", "stale"] {
                if stage == "pages of 2 rows" {
                    #expect(try threaded.run(["projections", "rebuild"]).status == 0)
                    #expect(try db.query("SELECT count(*) FROM projections.report_pages WHERE projection = 'orders'")[0].decode(Int64.self, at: 0) > 2)
                }
                if stage == "stale" {
                    try db.execute(
                        script: """
                            UPDATE projections.report_pages
                            SET row_count = NULL, csv = NULL, cells = NULL, widths = NULL, numeric = NULL
                            """)
                }
                for report in ["portfolio", "labs", "orders", "supply"] {
                    for format in ["json", "csv", "table"] {
                        var folded = try ledger.run(["report", report, "--format", format, "--as-of", "2099-12-31"]).stdout
                        if format == "table" { folded = uncaptioned(folded, "\(report) as of 2099-12-31") }
                        for printer in [ledger, threaded] {
                            let stored = try printer.run(["report", report, "--format", format])
                            #expect(stored.status == 0)
                            let printed = format == "table" ? uncaptioned(stored.stdout, "\(report) current state") : stored.stdout
                            #expect(printed == folded, "\(report) \(format) \(stage)")
                        }
                    }
                }
            }
        }
    }
}

/// A table without its caption line, after checking the caption starts as expected
/// (`orders as of 2099-12-31 … — log through position N`, `orders current state —
/// projections through position N`).
func uncaptioned(_ table: String, _ caption: String) -> String {
    let lines = table.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false)
    #expect(lines.first?.hasPrefix(caption) == true, "caption: \(lines.first ?? "")")
    #expect(lines.first?.contains(" through position ") == true)
    return lines.count > 1 ? String(lines[1]) : ""
}
