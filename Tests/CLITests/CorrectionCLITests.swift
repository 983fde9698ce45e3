import Foundation
import JSON
import Postgres
import Testing
import TestSupport

@Suite struct CorrectionCLITests {
    static let setup: [[String]] = [
        ["supply", "receive", "--sku", "h100", "--quantity", "100", "--date", "2026-09-01"],
        ["order", "place", "--order", "ntt-001", "--customer", "NTT", "--sku", "h100", "--quantity", "40",
         "--unit-price", "4500000", "--currency", "JPY", "--date", "2026-09-02"],
        ["order", "allocate", "--order", "ntt-001", "--quantity", "40", "--date", "2026-09-03"],
        ["lab", "plan", "--lab", "tokyo-ai-lab", "--name", "Tokyo AI Lab", "--city", "Tokyo", "--budget", "1000000000",
         "--currency", "JPY", "--date", "2026-09-01"],
        ["lab", "expense", "--lab", "tokyo-ai-lab", "--category", "equipment", "--amount", "45000000", "--currency", "JPY",
         "--date", "2026-09-10"],
        ["startup", "register", "--startup", "sakana-ai", "--name", "Sakana AI", "--date", "2026-09-01"],
        ["invest", "commit", "--investment", "sakana-a", "--startup", "sakana-ai", "--round", "series-a", "--instrument", "equity",
         "--amount", "1500000000", "--currency", "JPY", "--date", "2026-09-02"],
        ["invest", "disburse", "--investment", "sakana-a", "--amount", "750000000", "--currency", "JPY", "--date", "2026-09-03"],
    ]

    func position(_ ledger: LedgerBinary, _ type: String) throws -> String {
        let db = try PostgresConnection(url: ledger.databaseURL!)
        return String(try db.query("SELECT max(position) FROM events WHERE type = $1", [type])[0].decode(Int64.self, at: 0))
    }

    /// As of a date after every event, with nothing after the projection's checkpoint, a
    /// report is the current state: printed from its stored pages, byte for byte what
    /// printing the folded rows gives.
    @Test func asOfAfterEveryEventPrintsTheStoredPagesByteForByteAsTheFoldedRows() throws {
        try withLedger { ledger in
            for step in Self.setup { #expect(try ledger.run(step).status == 0, "\(step)") }
            #expect(try ledger.run(["projections", "run"]).status == 0)
            func printed() throws -> [String: String] {
                var out: [String: String] = [:]
                for report in ["portfolio", "labs", "orders", "supply"] {
                    for format in ["table", "json", "csv", "html"] {
                        let p = try ledger.run(["report", report, "--as-of", "2099-12-31", "--format", format])
                        #expect(p.status == 0, "\(p.stderr)")
                        out["\(report) \(format)"] = p.stdout
                    }
                }
                return out
            }
            // An event on each report not projected yet: the rows are folded and printed.
            for step: [String] in [
                ["lab", "expense", "--lab", "tokyo-ai-lab", "--category", "compute", "--amount", "5", "--currency", "JPY"],
                ["order", "invoice", "--order", "ntt-001", "--amount", "1000", "--currency", "JPY"],
                ["supply", "receive", "--sku", "h100", "--quantity", "3"],
                ["invest", "mark", "--investment", "sakana-a", "--fair-value", "2100000000", "--currency", "JPY"],
            ] {
                #expect(try ledger.run(step).status == 0, "\(step)")
            }
            let folded = try printed()
            #expect(folded["portfolio csv"]?.contains("Sakana AI") == true, "\(folded["portfolio csv"] ?? "")")
            #expect(folded["supply csv"]?.contains("h100,103,40,0,63") == true, "\(folded["supply csv"] ?? "")")
            #expect(folded["labs table"]?.hasPrefix("labs as of 2099-12-31") == true, "\(folded["labs table"] ?? "")")
            // Projected: the same bytes, now from the pages.
            #expect(try ledger.run(["projections", "run"]).status == 0)
            #expect(try printed() == folded)
            // The pages are what is printed (so the test can fail) — and only as of a date on
            // or after every event.
            let db = try PostgresConnection(url: ledger.databaseURL!)
            try db.query("UPDATE projections.report_pages SET csv = replace(csv, 'h100', 'h200') WHERE projection = 'supply'")
            #expect(try ledger.run(["report", "supply", "--as-of", "2099-12-31", "--format", "csv"]).stdout.contains("h200"))
            #expect(try !ledger.run(["report", "supply", "--as-of", "2026-09-30", "--format", "csv"]).stdout.contains("h200"))
            // The portfolio too: its pages name the startups as the projection found them.
            try db.query("UPDATE projections.report_pages SET csv = replace(csv, 'Sakana AI', 'Sakana XX') WHERE projection = 'portfolio'")
            #expect(try ledger.run(["report", "portfolio", "--as-of", "2099-12-31", "--format", "csv"]).stdout.contains("Sakana XX"))
            // A reversal on a startup stream (a registration undone) may change a name a view
            // finds: the portfolio's rows are read and named again, not its pages.
            for step: [String] in [
                ["startup", "register", "--startup", "typo-ai", "--name", "Typo AI"],
            ] {
                #expect(try ledger.run(step).status == 0, "\(step)")
            }
            #expect(try ledger.run(["reverse", "--position", try position(ledger, "startup.registered"), "--reason", "typo"]).status == 0)
            #expect(try ledger.run(["projections", "run"]).status == 0)
            try db.query("UPDATE projections.report_pages SET csv = replace(csv, 'Sakana AI', 'Sakana XX') WHERE projection = 'portfolio'")
            let named = try ledger.run(["report", "portfolio", "--as-of", "2099-12-31", "--format", "csv"])
            #expect(named.status == 0 && named.stdout.contains("Sakana AI") && !named.stdout.contains("Sakana XX"), "\(named)")
            #expect(named.stdout == folded["portfolio csv"])
        }
    }

    @Test func asIssuedReportsStayByteIdenticalWhateverIsReversedOrAppendedLater() throws {
        try withLedger { ledger in
            for step in Self.setup { #expect(try ledger.run(step).status == 0, "\(step)") }
            let close = try ledger.run(["period", "close", "--through", "2026-09-30", "--reason", "Q3 issued"])
            #expect(close.status == 0, "\(close.stderr)")
            #expect(try ledger.run(["projections", "run"]).status == 0)
            func issued() throws -> [String: String] {
                var out: [String: String] = [:]
                for report in ["portfolio", "labs", "orders", "supply"] {
                    for format in ["table", "json", "csv", "html"] {
                        let printed = try ledger.run(["report", report, "--as-issued", "2026-09-30", "--format", format])
                        #expect(printed.status == 0, "\(printed.stderr)")
                        out["\(report) \(format)"] = printed.stdout
                    }
                }
                return out
            }
            let before = try issued()
            #expect(before["labs table"]?.hasPrefix("labs as of 2026-09-30, as issued at the close through 2026-09-30") == true,
                    "\(before["labs table"] ?? "")")
            #expect(before["orders json"]?.contains("\"allocated\":40") == true, "\(before["orders json"] ?? "")")
            // Later: corrections dated after the close, new entries, a reopen and an entry
            // dated inside the reopened part of the quarter.
            let steps: [[String]] = [
                ["reverse", "--position", try position(ledger, "order.allocated"), "--reason", "allocated to the wrong order"],
                ["reverse", "--position", try position(ledger, "lab.expense_recorded"), "--reason", "was compute"],
                ["lab", "expense", "--lab", "tokyo-ai-lab", "--category", "compute", "--amount", "45000000", "--currency", "JPY"],
                ["invest", "mark", "--investment", "sakana-a", "--fair-value", "2100000000", "--currency", "JPY"],
                ["period", "reopen", "--through", "2026-08-31", "--reason", "auditor adjustment"],
                ["invest", "disburse", "--investment", "sakana-a", "--amount", "1", "--currency", "JPY", "--date", "2026-09-15"],
            ]
            for step in steps {
                let out = try ledger.run(step)
                #expect(out.status == 0, "\(step): \(out.stderr)")
            }
            #expect(try ledger.run(["projections", "run"]).status == 0)
            #expect(try issued() == before)
            // A rebuild keeps the copies: what was issued stays what was issued.
            let db = try PostgresConnection(url: ledger.databaseURL!)
            let stored = try db.query("SELECT stored_at::text FROM projections.issued_closes")[0].decode(String.self, at: 0)
            #expect(try ledger.run(["projections", "rebuild"]).status == 0)
            #expect(try db.query("SELECT stored_at::text FROM projections.issued_closes")[0].decode(String.self, at: 0) == stored)
            #expect(try issued() == before)
            // --as-of the same date does see the entry made after the reopen.
            let asOf = try ledger.run(["report", "portfolio", "--as-of", "2026-09-30", "--format", "csv"])
            #expect(asOf.stdout != before["portfolio csv"])
            // And the current state sees the corrections.
            #expect(try ledger.run(["report", "orders", "--format", "json"]).stdout.contains("\"allocated\":0"))
        }
    }

    /// `--as-issued` prints the pages rendered at the close (Schema/022). A close stored
    /// before 022 has only its rows: it prints them as before until the projector renders its
    /// pages from those rows — byte for byte the same output in every format, before the
    /// upgrade, after it and once paged.
    @Test func asIssuedPrintsTheClosesPagesAndAClosePagedAfterTheUpgradePrintsTheSame() throws {
        try withLedger { ledger in
            // Rows of different widths, so pages of one row each must still align as one table.
            let more: [[String]] = [
                ["supply", "receive", "--sku", "a100-long-sku-name", "--quantity", "1000000", "--date", "2026-09-01"],
                ["order", "place", "--order", "kddi-000001", "--customer", "KDDI Corporation", "--sku", "a100-long-sku-name",
                 "--quantity", "5", "--unit-price", "1", "--currency", "JPY", "--date", "2026-09-02"],
            ]
            for step in Self.setup + more { #expect(try ledger.run(step).status == 0, "\(step)") }
            #expect(try ledger.run(["period", "close", "--through", "2026-09-30", "--reason", "Q3 issued"]).status == 0)
            #expect(try ledger.run(["projections", "run"]).status == 0)
            let db = try PostgresConnection(url: ledger.databaseURL!)
            func pages() throws -> Int { try db.query("SELECT count(*)::int FROM reporting.issued_pages")[0].decode(Int.self, at: 0) }
            func issued() throws -> [String: String] {
                var out: [String: String] = [:]
                for report in ["portfolio", "labs", "orders", "supply"] {
                    for format in ["table", "json", "csv", "html"] {
                        let printed = try ledger.run(["report", report, "--as-issued", "2026-09-30", "--format", format])
                        #expect(printed.status == 0, "\(printed.stderr)")
                        out["\(report) \(format)"] = printed.stdout
                    }
                }
                return out
            }
            #expect(try pages() == 4)
            let paged = try issued()
            #expect(paged["orders csv"]?.contains("ntt-001,NTT,h100,") == true, "\(paged["orders csv"] ?? "")")
            // The pages are what is printed (so the test can fail), in every format.
            try db.query("UPDATE projections.issued_pages SET csv = replace(csv, 'NTT', 'XYZ'), cells = replace(cells, 'NTT', 'XYZ')")
            let edited = try issued()
            for format in ["table", "json", "csv", "html"] {
                #expect(edited["orders \(format)"]?.contains("XYZ") == true, "\(format): \(edited["orders \(format)"] ?? "")")
            }
            // A close without pages prints its stored rows: the same bytes.
            try db.query("DELETE FROM projections.issued_pages")
            #expect(try issued() == paged)
            // The database as the release before 022 leaves it (copies as rows, no pages),
            // upgraded: the same bytes before and after the projector renders the pages.
            try db.execute(script: """
                DROP VIEW reporting.issued_pages;
                DROP TABLE projections.issued_pages;
                DELETE FROM schema_migrations WHERE version = 22;
                """)
            #expect(try ledger.run(["db", "migrate"]).status == 0)
            #expect(try pages() == 0)
            #expect(try issued() == paged)
            #expect(try ledger.run(["projections", "run"]).status == 0)
            #expect(try pages() == 4)
            #expect(try issued() == paged)
            // A report over many pages prints the same (a page per row here).
            try db.query("DELETE FROM projections.issued_pages")
            var small = ledger
            small.environment["LEDGER_REPORT_PAGE_ROWS"] = "1"
            #expect(try small.run(["projections", "run"]).status == 0)
            #expect(try pages() == 6)
            #expect(try issued() == paged)
        }
    }

    /// Known at an instant in the middle of the log, a report prints its segment's pages
    /// (Schema/028) with the rows changed since then put in: byte for byte, in every format,
    /// what printing the folded rows gives. The pages are what is printed (editing one changes
    /// the output), and a database from before 028 prints the same after the upgrade and once
    /// the projector has paged its segments.
    @Test func knownAtMidLogPrintsTheSegmentsPagesByteForByteAsTheFoldedRows() throws {
        try withLedger { base in
            // Segments of two positions and pages of one row, through the CLI's own projector.
            var ledger = base
            ledger.environment["LEDGER_SEGMENT_POSITIONS"] = "2"
            ledger.environment["LEDGER_REPORT_PAGE_ROWS"] = "1"
            let more: [[String]] = [
                ["order", "place", "--order", "kddi-000001", "--customer", "KDDI Corporation", "--sku", "h100",
                 "--quantity", "5", "--unit-price", "1", "--currency", "JPY", "--date", "2026-09-02"],
                ["supply", "receive", "--sku", "a100-long-sku-name", "--quantity", "1000000", "--date", "2026-09-04"],
            ]
            for step in more + Self.setup {
                #expect(try ledger.run(step).status == 0, "\(step)")
                #expect(try ledger.run(["projections", "run"]).status == 0)
            }
            let db = try PostgresConnection(url: ledger.databaseURL!)
            // Recorded just after the fifth segment's end (the disbursement): that segment is
            // read, and the next event, recorded by then, is put in.
            let mid = try db.query(
                """
                SELECT to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') FROM events
                WHERE position > (SELECT position FROM reporting.history_segments WHERE segment = 5) ORDER BY position LIMIT 1
                """)[0].decode(String.self, at: 0)
            // Later: changes to rows the segment holds, a new row, a reversal.
            let later: [[String]] = [
                ["order", "invoice", "--order", "ntt-001", "--amount", "1000", "--currency", "JPY"],
                ["lab", "expense", "--lab", "tokyo-ai-lab", "--category", "compute", "--amount", "5", "--currency", "JPY"],
                ["invest", "mark", "--investment", "sakana-a", "--fair-value", "2100000000", "--currency", "JPY"],
                ["order", "place", "--order", "zz-002", "--customer", "Rakuten", "--sku", "h100", "--quantity", "1",
                 "--unit-price", "10", "--currency", "JPY"],
            ]
            for step in later { #expect(try ledger.run(step).status == 0, "\(step)") }
            #expect(try ledger.run(["reverse", "--position", try position(ledger, "lab.expense_recorded"), "--reason", "double"]).status == 0)
            #expect(try ledger.run(["projections", "run"]).status == 0)
            func printed() throws -> [String: String] {
                var out: [String: String] = [:]
                for report in ["portfolio", "labs", "orders", "supply"] {
                    for format in ["table", "json", "csv", "html"] {
                        let p = try ledger.run(["report", report, "--known-at", mid, "--format", format])
                        #expect(p.status == 0, "\(p.stderr)")
                        out["\(report) \(format)"] = p.stdout
                    }
                }
                return out
            }
            func pagedSegments() throws -> Int {
                try db.query("SELECT count(*)::int FROM reporting.paged_segments")[0].decode(Int.self, at: 0)
            }
            #expect(try pagedSegments() > 8)
            let paged = try printed()
            #expect(paged["orders csv"]?.contains("kddi-000001,KDDI Corporation,h100,") == true, "\(paged["orders csv"] ?? "")")
            #expect(paged["orders csv"]?.contains("zz-002") == false, "\(paged["orders csv"] ?? "")")
            #expect(paged["portfolio csv"]?.contains("sakana-a,sakana-ai,series-a,equity,JPY,1500000000,750000000,") == true, "\(paged["portfolio csv"] ?? "")")
            #expect(paged["portfolio csv"]?.contains("Sakana AI") == true, "\(paged["portfolio csv"] ?? "")")
            #expect(paged["orders table"]?.hasPrefix("orders known at ") == true, "\(paged["orders table"] ?? "")")
            // Without pages the rows are folded and rendered: the same bytes.
            try db.query("DELETE FROM projections.paged_segments")
            #expect(try printed() == paged)
            // The next run pages the segments again.
            #expect(try ledger.run(["projections", "run"]).status == 0)
            #expect(try pagedSegments() > 8)
            #expect(try printed() == paged)
            // The pages are what is printed (so the test can fail), in every format.
            try db.query("UPDATE projections.segment_pages SET csv = replace(csv, 'KDDI', 'XYZ'), cells = replace(cells, 'KDDI', 'XYZ')")
            let edited = try printed()
            for format in ["table", "json", "csv", "html"] {
                #expect(edited["orders \(format)"]?.contains("XYZ") == true, "\(format): \(edited["orders \(format)"] ?? "")")
            }
            // The database as the release before 028 leaves it (segments, no pages), upgraded:
            // the same bytes before and after the projector pages its segments.
            try db.execute(script: """
                DROP VIEW reporting.segment_pages; DROP VIEW reporting.paged_segments;
                DROP TABLE projections.segment_pages; DROP TABLE projections.paged_segments;
                DROP INDEX projections.segment_states_segment; DROP INDEX projections.segment_states_startup;
                DELETE FROM schema_migrations WHERE version = 28;
                """)
            #expect(try ledger.run(["db", "migrate"]).status == 0)
            #expect(try pagedSegments() == 0)
            #expect(try printed() == paged)
            #expect(try ledger.run(["projections", "run"]).status == 0)
            #expect(try pagedSegments() > 8)
            #expect(try printed() == paged)
        }
    }

    @Test func asIssuedWithoutACloseThroughThatDateIsRefused() throws {
        try withLedger { ledger in
            let out = try ledger.run(["report", "labs", "--as-issued", "2026-06-30"])
            expectOneLineError(out, status: 65, containing: "no period was closed through 2026-06-30")
            expectOneLineError(try ledger.run(["report", "labs", "--as-issued", "2026-06-31"]), status: 64, containing: "--as-issued")
            expectOneLineError(
                try ledger.run(["report", "labs", "--known-at", "2026-10-01T09:00:00+09:00", "--as-issued", "2026-06-30"]),
                status: 64, containing: "cannot be combined")
            expectOneLineError(try ledger.run(["report", "labs", "--known-at", "yesterday"]), status: 64, containing: "RFC 3339")
        }
    }

    @Test func reverseRefusesBadUsageAndBrokenRulesWritingNothing() throws {
        try withLedger { ledger in
            for step in Self.setup { #expect(try ledger.run(step).status == 0, "\(step)") }
            let count = try ledger.eventCount()
            let receipt = try position(ledger, "supply.received")
            expectOneLineError(try ledger.run(["reverse", "--position", receipt]), status: 64, containing: "--reason")
            expectOneLineError(try ledger.run(["reverse", "--position", "x1", "--reason", "r"]), status: 64, containing: "--position")
            expectOneLineError(try ledger.run(["reverse", "--position", "9999", "--reason", "r"]), status: 65, containing: "no event at position 9999")
            expectOneLineError(
                try ledger.run(["reverse", "--position", receipt, "--reason", "r"]), status: 65,
                containing: "h100 would have 40 units allocated but only 0 received")
            expectOneLineError(
                try ledger.run(["reverse", "--position", receipt, "--reason", "r", "--date", "2026-08-31"]), status: 65,
                containing: "cannot precede the event it reverses")
            #expect(try ledger.eventCount() == count)
            let reversed = try ledger.run(["reverse", "--position", try position(ledger, "order.allocated"), "--reason", "wrong order", "--format", "json"])
            #expect(reversed.status == 0, "\(reversed.stderr)")
            let rows = try JSON.parse(reversed.stdout).arrayValue ?? []
            #expect(rows.map { $0["type"]?.stringValue } == ["entry.reversed", "entry.reversed"])
            #expect(Set(rows.compactMap { $0["stream"]?.stringValue }) == ["order-ntt-001", "supply-h100"])
            expectOneLineError(
                try ledger.run(["reverse", "--position", try position(ledger, "order.allocated"), "--reason", "again"]), status: 65,
                containing: "already reversed")
            expectOneLineError(
                try ledger.run(["reverse", "--position", try position(ledger, "entry.reversed"), "--reason", "undo"]), status: 65,
                containing: "is itself a reversal")
            #expect(try ledger.eventCount() == count + 2)
        }
    }

    @Test func periodsLockTheirDatesAndAreListed() throws {
        try withLedger { ledger in
            for step in Self.setup { #expect(try ledger.run(step).status == 0, "\(step)") }
            let beforeClose = try ledger.eventCount()
            #expect(try ledger.run(["period", "close", "--through", "2026-09-30", "--reason", "Q3", "--actor", "hanako"]).status == 0)
            let count = try ledger.eventCount()
            expectOneLineError(
                try ledger.run(["lab", "expense", "--lab", "tokyo-ai-lab", "--category", "staff", "--amount", "1", "--currency", "JPY",
                                "--date", "2026-09-30"]),
                status: 65, containing: "the period through 2026-09-30 is closed")
            expectOneLineError(try ledger.run(["period", "close", "--through", "2026-09-30"]), status: 65, containing: "already closed through 2026-09-30")
            expectOneLineError(try ledger.run(["period", "reopen", "--through", "2026-06-30"]), status: 64, containing: "--reason")
            expectOneLineError(
                try ledger.run(["period", "reopen", "--through", "2026-10-31", "--reason", "x"]), status: 65, containing: "give an earlier date")
            expectOneLineError(
                try ledger.run(["supply", "receive", "--sku", "h100", "--quantity", "1", "--date", "2099-01-01"]), status: 65,
                containing: "a business date cannot be in the future")
            #expect(try ledger.run(["invest", "disburse", "--investment", "sakana-a", "--amount", "1", "--currency", "JPY", "--date", "2026-10-01"]).status == 0)
            #expect(try ledger.eventCount() == count + 1)
            #expect(try ledger.run(["period", "reopen", "--through", "2026-08-31", "--reason", "audit"]).status == 0)
            let status = try ledger.run(["period", "status", "--format", "json"])
            let rows = try JSON.parse(status.stdout).arrayValue ?? []
            #expect(rows.map { $0["action"]?.stringValue } == ["close", "reopen"])
            #expect(rows.map { $0["through"]?.stringValue } == ["2026-09-30", "2026-08-31"])
            #expect(rows.first?["actor"]?.stringValue == "hanako")
            #expect(rows.first?["reason"]?.stringValue == "Q3")
            #expect(rows.allSatisfy { $0["position"] != nil && $0["recorded_at"] != nil })
            // The close stored the log's digest, as `ledger digest` prints it.
            let db = try PostgresConnection(url: ledger.databaseURL!)
            let digest = try db.query("SELECT payload->'digest' FROM events WHERE type = 'period.closed'")[0].decode(JSON.self, at: 0)
            #expect(digest["size"]?.intValue == Int64(beforeClose), "\(digest)")
            #expect(digest["root"]?.stringValue?.count == 64)
        }
    }

    @Test func theDefaultDateIsTodayInTheLedgersTimeZone() throws {
        try withLedger { ledger in
            var tokyo = ledger
            tokyo.environment["LEDGER_TIMEZONE"] = "Asia/Tokyo"
            let out = try tokyo.run(["supply", "receive", "--sku", "h100", "--quantity", "1", "--format", "json"])
            #expect(out.status == 0, "\(out.stderr)")
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = TimeZone(identifier: "Asia/Tokyo")!
            let parts = calendar.dateComponents([.year, .month, .day], from: Date())
            let expected = String(format: "%04d-%02d-%02d", parts.year!, parts.month!, parts.day!)
            #expect(try JSON.parse(out.stdout).arrayValue?.first?["date"]?.stringValue == expected)
            var nowhere = ledger
            nowhere.environment["LEDGER_TIMEZONE"] = "Mars/Olympus_Mons"
            expectOneLineError(
                try nowhere.run(["supply", "receive", "--sku", "h100", "--quantity", "1"]), status: 64, containing: "LEDGER_TIMEZONE")
        }
    }

    @Test func knownAtCountsOnlyWhatWasRecordedByThen() throws {
        try withLedger { ledger in
            #expect(try ledger.run(["supply", "receive", "--sku", "h100", "--quantity", "10", "--date", "2026-09-01"]).status == 0)
            let first = try JSON.parse(try ledger.run(["events", "--format", "json"]).stdout).arrayValue ?? []
            let instant = first.last?["recorded_at"]?.stringValue ?? ""
            usleep(20_000)
            #expect(try ledger.run(["supply", "receive", "--sku", "h100", "--quantity", "5", "--date", "2026-08-01"]).status == 0)
            let known = try JSON.parse(try ledger.run(["events", "--known-at", instant, "--format", "json"]).stdout).arrayValue ?? []
            #expect(known.count == 1)
            let report = try ledger.run(["report", "supply", "--known-at", instant, "--format", "json"])
            #expect(report.stdout.contains("\"received\":10"), "\(report.stdout) \(report.stderr)")
            let table = try ledger.run(["report", "supply", "--known-at", instant])
            #expect(table.stdout.hasPrefix("supply known at \(instant)"), "\(table.stdout)")
            #expect(try ledger.run(["report", "supply", "--format", "json"]).stdout.contains("\"received\":15") == false)
        }
    }

    @Test func importRunsReversalsAndPeriodsInOrder() throws {
        try withLedger { ledger in
            for step in Self.setup { #expect(try ledger.run(step).status == 0, "\(step)") }
            let expense = try position(ledger, "lab.expense_recorded")
            let lines = [
                #"{"command":"reverse","position":\#(expense),"reason":"was compute","date":"2026-09-20"}"#,
                #"{"command":"lab.expense","lab":"tokyo-ai-lab","category":"compute","amount":"45000000","currency":"JPY","date":"2026-09-20"}"#,
                #"{"command":"period.close","through":"2026-09-30","reason":"Q3"}"#,
                #"{"command":"lab.expense","lab":"tokyo-ai-lab","category":"staff","amount":"1","currency":"JPY","date":"2026-09-29"}"#,
            ].joined(separator: "\n") + "\n"
            let out = try ledger.run(["import", "-"], stdin: lines)
            #expect(out.status == 65, "\(out.stderr)")
            #expect(out.stderr.contains("line 4") && out.stderr.contains("closed"), "\(out.stderr)")
            let again = try ledger.run(["import", "-"], stdin: lines)
            #expect(try ledger.eventCount() == Self.setup.count + 1 + 3, "the second import appends nothing")
            _ = again
            #expect(try ledger.run(["projections", "run"]).status == 0)
            let labs = try ledger.run(["report", "labs", "--format", "json"]).stdout
            #expect(labs.contains("\"compute\":\"45000000\"") && labs.contains("\"equipment\":\"0\""), "\(labs)")
        }
    }
}
