import Foundation
import JSON
import Postgres
import Testing
import TestSupport

/// The fund scenario of the domain's FundReport tests, as import lines: a marked JPY equity,
/// a USD SAFE that exited, a JPY note written off, and USD/JPY rates.
let fundScenario = [
    #"{"command":"startup.register","startup":"sakana-ai","name":"Sakana AI","date":"2023-12-01"}"#,
    #"{"command":"startup.register","startup":"elyza","name":"ELYZA","date":"2023-12-01"}"#,
    #"{"command":"invest.commit","investment":"sakana-a","startup":"sakana-ai","round":"series-a","instrument":"equity","amount":"500000000","currency":"JPY","ownership":"3.5","post-money":"42000000000","date":"2023-12-02"}"#,
    #"{"command":"invest.disburse","investment":"sakana-a","amount":"300000000","currency":"JPY","date":"2024-01-10"}"#,
    #"{"command":"invest.mark","investment":"sakana-a","fair-value":"450000000","currency":"JPY","date":"2024-12-31"}"#,
    #"{"command":"invest.commit","investment":"elyza-safe","startup":"elyza","round":"seed","instrument":"safe","amount":"2000000.00","currency":"USD","date":"2024-01-20"}"#,
    #"{"command":"invest.disburse","investment":"elyza-safe","amount":"1000000.00","currency":"USD","date":"2024-02-01"}"#,
    #"{"command":"invest.exit","investment":"elyza-safe","proceeds":"1750000.00","currency":"USD","date":"2025-02-01"}"#,
    #"{"command":"invest.commit","investment":"x-note","startup":"sakana-ai","round":"bridge","instrument":"note","amount":"100000000","currency":"JPY","date":"2024-02-20"}"#,
    #"{"command":"invest.disburse","investment":"x-note","amount":"100000000","currency":"JPY","date":"2024-03-01"}"#,
    #"{"command":"invest.write-off","investment":"x-note","reason":"insolvent","date":"2024-09-30"}"#,
    #"{"command":"fx.rate","base":"USD","quote":"JPY","rate":"146.5","date":"2024-01-31"}"#,
    #"{"command":"fx.rate","base":"USD","quote":"JPY","rate":"154.8","date":"2025-01-31","source":"MUFG TTM"}"#,
    #"{"command":"fx.rate","base":"USD","quote":"JPY","rate":"151.0","date":"2025-02-03"}"#,
].joined(separator: "\n") + "\n"

@Suite struct InvestorReportingTests {
    func rows(_ output: LedgerBinary.Output) throws -> [String: JSON] {
        #expect(output.status == 0, "\(output.stderr)")
        var out: [String: JSON] = [:]
        for row in try JSON.parse(output.stdout).arrayValue ?? [] {
            out[row["investment"]!.stringValue! + (row["investment"] == "TOTAL" ? "/" + row["currency"]!.stringValue! : "")] = row
        }
        return out
    }

    @Test func anFXRateIsAnEventOnItsPairsStream() throws {
        try withLedger { ledger in
            let recorded = try ledger.run([
                "fx", "rate", "--base", "USD", "--quote", "JPY", "--rate", "151.2500", "--date", "2026-09-30",
                "--source", "BoJ", "--format", "json",
            ])
            #expect(recorded.status == 0, "\(recorded.stderr)")
            let event = try #require(try JSON.parse(recorded.stdout).arrayValue?.first)
            #expect(event["stream"] == "fx-usd-jpy")
            #expect(event["type"] == "fx.rate_recorded")
            let listed = try JSON.parse(try ledger.run(["events", "--stream", "fx-usd-jpy", "--format", "json"]).stdout)
            #expect(listed.arrayValue?.first?["payload"] == ["base": "USD", "quote": "JPY", "rate": "151.25", "source": "BoJ"])
            #expect(try ledger.run(["fx", "rate", "--help"]).stdout.contains("Example"))
        }
    }

    @Test func malformedRatesAreBadUsageAndWriteNothing() throws {
        try withLedger { ledger in
            let base = ["fx", "rate", "--base", "USD", "--quote", "JPY", "--date", "2026-09-30"]
            for (arguments, text) in [
                (base + ["--rate", "0"], "--rate"),
                (base + ["--rate", "-151"], "--rate"),
                (base + ["--rate", "1.12345678901"], "10 fraction digits"),
                (base + ["--rate", "1e3"], "--rate"),
                (["fx", "rate", "--base", "USD", "--quote", "USD", "--rate", "1", "--date", "2026-09-30"], "two currencies"),
                (["fx", "rate", "--base", "XXX", "--quote", "JPY", "--rate", "1", "--date", "2026-09-30"], "--base"),
                (["fx", "rate", "--base", "USD", "--quote", "JPY", "--rate", "151"], "--date"),
            ] {
                expectOneLineError(try ledger.run(arguments), status: 64, containing: text)
            }
            #expect(try ledger.eventCount() == 0)
        }
    }

    @Test func theFundReportHasTheHandComputedFiguresNativeAndConverted() throws {
        try withLedger { ledger in
            let imported = try ledger.run(["import", "-"], stdin: fundScenario)
            #expect(imported.status == 0, "\(imported.stderr)")
            let native = try rows(try ledger.run(["report", "fund", "--as-of", "2025-03-31", "--format", "json"]))
            #expect(native["sakana-a"] == [
                "investment": "sakana-a", "startup": "sakana-ai", "startup_name": "Sakana AI", "instrument": "equity",
                "currency": "JPY", "paid_in": "300000000", "distributions": "0", "nav": "450000000",
                "dpi": "0.00", "rvpi": "1.50", "tvpi": "1.50", "irr": "0.3935",
            ])
            #expect(native["elyza-safe"]?["irr"] == "0.7473")
            #expect(native["x-note"]?["irr"] == .null)
            #expect(native["TOTAL/JPY"]?["rvpi"] == "1.13")
            #expect(native["TOTAL/JPY"]?["irr"] == "0.1043")
            #expect(native["TOTAL/USD"]?["tvpi"] == "1.75")
            let yen = try rows(try ledger.run(["report", "fund", "--as-of", "2025-03-31", "--currency", "JPY", "--format", "json"]))
            #expect(yen["elyza-safe"]?["paid_in"] == "146500000")
            #expect(yen["elyza-safe"]?["distributions"] == "270900000")
            #expect(yen["TOTAL/JPY"] == [
                "investment": "TOTAL", "startup": .null, "startup_name": .null, "instrument": .null,
                "currency": "JPY", "paid_in": "546500000", "distributions": "270900000", "nav": "450000000",
                "dpi": "0.50", "rvpi": "0.82", "tvpi": "1.32", "irr": "0.2805",
            ])
            // As of a day before the exit, the SAFE is still held at cost.
            let earlier = try rows(try ledger.run(["report", "fund", "--as-of", "2025-01-15", "--format", "json"]))
            #expect(earlier["elyza-safe"]?["nav"] == "1000000.00")
            #expect(earlier["elyza-safe"]?["distributions"] == "0.00")

            let table = try ledger.run(["report", "fund", "--as-of", "2025-03-31", "--currency", "JPY"])
            #expect(table.status == 0)
            #expect(table.stdout.contains("¥546,500,000"))
            #expect(table.stdout.hasPrefix("INVESTMENT"))
            let csv = try ledger.run(["report", "fund", "--as-of", "2025-03-31", "--format", "csv"])
            #expect(csv.stdout.hasPrefix("investment,startup,startup_name,instrument,currency,paid_in,distributions,nav,dpi,rvpi,tvpi,irr\n"))
            #expect(csv.stdout.contains("\nTOTAL,,,,JPY,400000000,0,450000000,0.00,1.13,1.13,0.1043\n"))
        }
    }

    @Test func aMissingRateExits65NamingThePairAndTheDate() throws {
        try withLedger { ledger in
            #expect(try ledger.run(["import", "-"], stdin: fundScenario).status == 0)
            let count = try ledger.eventCount()
            // ¥300,000,000 paid on 2024-01-10: no JPY/USD rate, and no USD/JPY one before 2024-01-31.
            let output = try ledger.run(["report", "fund", "--as-of", "2025-03-31", "--currency", "USD"])
            expectOneLineError(output, status: 65, containing: "JPY/USD")
            #expect(output.stderr.contains("2024-01-10"))
            #expect(output.stdout.isEmpty)
            expectOneLineError(try ledger.run(["report", "fund", "--currency", "usd"]), status: 64, containing: "--currency")
            #expect(try ledger.eventCount() == count)
        }
    }

    @Test func theFundViewAgreesWithTheReportInNativeCurrencies() throws {
        try withLedger { ledger in
            #expect(try ledger.run(["import", "-"], stdin: fundScenario).status == 0)
            let db = try PostgresConnection(url: ledger.databaseURL!)
            let today = try db.query("SELECT current_date::text")[0].decode(String.self, at: 0)
            let report = try rows(try ledger.run(["report", "fund", "--as-of", today, "--format", "json"]))
            let view = try db.query(
                """
                SELECT investment, currency, startup_name, paid_in::text, distributions::text, nav::text,
                       dpi::text, rvpi::text, tvpi::text, irr::text
                FROM reporting.fund ORDER BY investment = 'TOTAL', investment, currency
                """)
            #expect(view.count == report.count)
            for row in view {
                let investment = try row.decode(String.self, at: 0)
                let key = investment == "TOTAL" ? "TOTAL/" + (try row.decode(String.self, at: 1)) : investment
                let expected = try #require(report[key], "\(key)")
                #expect(try row.decode(String?.self, at: 2) == expected["startup_name"]?.stringValue)
                for (i, column) in ["paid_in", "distributions", "nav", "dpi", "rvpi", "tvpi", "irr"].enumerated() {
                    let sql = try row.decode(String?.self, at: 3 + i).flatMap { Decimal(string: $0) }
                    let cli = expected[column]?.stringValue.flatMap { Decimal(string: $0) }
                    #expect(sql == cli, "\(key) \(column): view \(String(describing: sql)), report \(String(describing: cli))")
                }
            }
        }
    }

    @Test func theFundReportTravelsInTimeLikeTheOtherReports() throws {
        try withLedger { ledger in
            #expect(try ledger.run(["import", "-"], stdin: fundScenario).status == 0)
            let asOf = ["report", "fund", "--as-of", "2025-03-31", "--format", "json"]
            let before = try ledger.run(asOf).stdout
            let events = try JSON.parse(try ledger.run(["events", "--format", "json"]).stdout).arrayValue ?? []
            let knownAt = try #require(events.last?["recorded_at"]?.stringValue)
            // Told later: a disbursement dated inside the quarter.
            #expect(try ledger.run(["invest", "disburse", "--investment", "sakana-a", "--amount", "50000000", "--currency", "JPY",
                                    "--date", "2025-02-15"]).status == 0)
            #expect(try ledger.run(asOf).stdout != before)
            let known = try ledger.run(asOf + ["--known-at", knownAt])
            #expect(known.status == 0, "\(known.stderr)")
            #expect(known.stdout == before)
            // The table names what it shows; a plain --as-of table does not (as before).
            let table = try ledger.run(["report", "fund", "--as-of", "2025-03-31", "--known-at", knownAt]).stdout
            #expect(table.hasPrefix("fund as of 2025-03-31, known at "), "\(table)")

            // As issued: byte for byte the same after later entries, reversals and a reopen.
            #expect(try ledger.run(["period", "close", "--through", "2025-03-31"]).status == 0)
            let formats = [["--format", "table"], ["--format", "json"], ["--format", "csv"], ["--format", "html"]]
            func issued() throws -> [String] {
                try formats.flatMap { format in
                    try [[], ["--currency", "JPY"]].map { currency in
                        let output = try ledger.run(["report", "fund", "--as-issued", "2025-03-31"] + currency + format)
                        #expect(output.status == 0, "\(format): \(output.stderr)")
                        return output.stdout
                    }
                }
            }
            let issuedAtClose = try issued()
            #expect(issuedAtClose[0].hasPrefix("fund as of 2025-03-31, as issued at the close through 2025-03-31"))
            #expect(issuedAtClose[1].hasPrefix("fund in JPY as of 2025-03-31, as issued"))
            let markPosition = try #require(events.first { $0["type"] == "investment.marked" }?["position"]?.intValue)
            for command in [
                ["reverse", "--position", String(markPosition), "--reason", "stale mark", "--date", "2025-06-30"],
                ["invest", "mark", "--investment", "sakana-a", "--fair-value", "600000000", "--currency", "JPY", "--date", "2025-06-30"],
                ["period", "reopen", "--through", "2024-12-31", "--reason", "late invoice"],
                ["invest", "disburse", "--investment", "sakana-a", "--amount", "10000000", "--currency", "JPY", "--date", "2025-03-01"],
                ["fx", "rate", "--base", "USD", "--quote", "JPY", "--rate", "149", "--date", "2025-03-30"],
            ] {
                let output = try ledger.run(command)
                #expect(output.status == 0, "\(command): \(output.stderr)")
            }
            #expect(try ledger.run(["report", "fund", "--as-of", "2025-03-31", "--currency", "JPY", "--format", "json"]).stdout
                != issuedAtClose[3])
            #expect(try issued() == issuedAtClose)
        }
    }

    @Test func fundTimeTravelMistakesAreBadUsageOrRejectedAndWriteNothing() throws {
        try withLedger { ledger in
            #expect(try ledger.run(["import", "-"], stdin: fundScenario).status == 0)
            let count = try ledger.eventCount()
            expectOneLineError(
                try ledger.run(["report", "fund", "--known-at", "2025-01-01T00:00:00Z", "--as-issued", "2024-12-31"]), status: 64,
                containing: "cannot be combined")
            expectOneLineError(try ledger.run(["report", "fund", "--known-at", "yesterday"]), status: 64, containing: "--known-at")
            expectOneLineError(try ledger.run(["report", "fund", "--as-issued", "2024-12-31"]), status: 65, containing: "no period was closed")
            expectOneLineError(
                try ledger.run(["report", "dashboard", "--out", "-", "--as-issued", "2024-12-31"]), status: 65,
                containing: "no period was closed")
            #expect(try ledger.eventCount() == count)
        }
    }

    @Test func theDashboardWarnsWhenItsProjectionsLagTheFundReportNeverLags() throws {
        try withLedger { ledger in
            #expect(try ledger.run(["import", "-"], stdin: fundScenario).status == 0)
            #expect(try ledger.run(["projections", "run"]).status == 0)
            #expect(try ledger.run(["invest", "mark", "--investment", "sakana-a", "--fair-value", "500000000", "--currency", "JPY",
                                    "--date", "2025-03-01"]).status == 0)
            let dashboard = try ledger.run(["report", "dashboard", "--out", "-"])
            #expect(dashboard.status == 0)
            #expect(dashboard.stderr == "warning: projections are 1 events behind — run ledger projections run\n")
            #expect(try ledger.run(["report", "portfolio"]).stderr == dashboard.stderr)
            // Folded from the log: nothing to warn about.
            #expect(try ledger.run(["report", "dashboard", "--out", "-", "--as-of", "2025-03-31"]).stderr.isEmpty)
            // The fund report is folded from the log every time: it already counts the mark.
            let fund = try ledger.run(["report", "fund", "--format", "json"])
            #expect(fund.stderr.isEmpty)
            #expect(try rows(fund)["sakana-a"]?["nav"] == "500000000")
            #expect(try ledger.run(["projections", "run"]).status == 0)
            #expect(try ledger.run(["report", "dashboard", "--out", "-"]).stderr.isEmpty)
        }
    }

    @Test func aReportingLoginPrintsTheFundReportAndTheDashboard() throws {
        try TestDatabase.with { url in
            let owner = LedgerBinary(databaseURL: url)
            #expect(try owner.run(["import", "-"], stdin: fundScenario).status == 0)
            #expect(try owner.run(["projections", "run"]).status == 0)
            #expect(try owner.run(["period", "close", "--through", "2025-03-31"]).status == 0)
            try TestDatabase.withLogin(url, "IN ROLE ledger_reporting") { analystURL in
                let analyst = LedgerBinary(databaseURL: analystURL)
                for arguments in [
                    ["report", "fund", "--currency", "JPY", "--format", "json"],
                    ["report", "fund", "--as-issued", "2025-03-31", "--format", "csv"],
                    ["report", "dashboard", "--out", "-", "--currency", "JPY"],
                    ["report", "dashboard", "--out", "-", "--as-of", "2025-03-31"],
                ] {
                    let mine = try analyst.run(arguments)
                    #expect(mine.status == 0, "\(arguments): \(mine.stderr)")
                    #expect(mine.stdout == (try owner.run(arguments)).stdout, "\(arguments)")
                }
            }
        }
    }

    @Test func thePortfolioNamesTheStartupAndTheTermsOfTheCommitmentOnEveryPath() throws {
        try withLedger { ledger in
            #expect(try ledger.run(["import", "-"], stdin: fundScenario).status == 0)
            #expect(try ledger.run(["projections", "run"]).status == 0)
            let current = try ledger.run(["report", "portfolio", "--format", "json"])
            let rows = try JSON.parse(current.stdout).arrayValue ?? []
            let sakana = try #require(rows.first { $0["investment"] == "sakana-a" })
            #expect(sakana["startup_name"] == "Sakana AI")
            #expect(sakana["ownership"] == "3.5")
            #expect(sakana["post_money"] == "42000000000")
            let elyza = try #require(rows.first { $0["investment"] == "elyza-safe" })
            #expect(elyza["startup_name"] == "ELYZA" && elyza["ownership"] == .null && elyza["post_money"] == .null)
            let csv = try ledger.run(["report", "portfolio", "--format", "csv"]).stdout
            #expect(csv.hasPrefix("investment,startup,round,instrument,currency,committed,disbursed,fair_value,proceeds,moic,status,"
                + "startup_name,ownership,post_money\n"))
            #expect(csv.contains(",Sakana AI,3.5,42000000000\n"))
            let table = try ledger.run(["report", "portfolio"]).stdout
            #expect(table.contains("Sakana AI") && table.contains("¥42,000,000,000"))
            // Folded from the log (--known-at), rebuilt, verified: the same rows.
            for format in ["json", "csv", "table"] {
                let stored = try ledger.run(["report", "portfolio", "--format", format]).stdout
                let folded = try ledger.run(["report", "portfolio", "--format", format, "--known-at", "2099-01-01T00:00:00Z"]).stdout
                // Tables differ only in their caption line (current state vs known at).
                #expect(
                    format == "table" ? uncaptioned(folded, "portfolio known at") == uncaptioned(stored, "portfolio current state")
                        : folded == stored, "\(format)")
            }
            #expect(try ledger.run(["projections", "rebuild"]).status == 0)
            #expect(try ledger.run(["report", "portfolio", "--format", "json"]).stdout == current.stdout)
            #expect(try ledger.run(["verify"]).status == 0)
            // A commitment recorded later is named too (the runner looks the name up).
            for command in [
                ["startup", "register", "--startup", "kotoba", "--name", "Kotoba Technologies", "--date", "2025-01-01"],
                ["invest", "commit", "--investment", "kotoba-a", "--startup", "kotoba", "--round", "a", "--instrument", "note",
                 "--amount", "1000", "--currency", "JPY", "--ownership", "007.5", "--date", "2025-01-02"],
            ] {
                #expect(try ledger.run(command).status == 0)
            }
            #expect(try ledger.run(["projections", "run"]).status == 0)
            let later = try JSON.parse(try ledger.run(["report", "portfolio", "--format", "json"]).stdout).arrayValue ?? []
            let kotoba = try #require(later.first { $0["investment"] == "kotoba-a" })
            #expect(kotoba["startup_name"] == "Kotoba Technologies" && kotoba["ownership"] == "007.5")
            #expect(try ledger.run(["report", "portfolio", "--format", "json", "--as-of", "2025-12-31"]).stdout.contains("\"ownership\":\"007.5\""))
            #expect(try ledger.run(["verify"]).status == 0)
        }
    }

    @Test func everyReportPrintsAsOneSelfContainedHTMLPage() throws {
        try withLedger { ledger in
            #expect(try ledger.run(["demo"]).status == 0)
            for report in ["portfolio", "labs", "orders", "supply", "fund"] {
                let rows = try JSON.parse(try ledger.run(["report", report, "--format", "json"]).stdout).arrayValue ?? []
                for asOf in [[], ["--as-of", "2026-06-30"]] {
                    let page = try ledger.run(["report", report, "--format", "html"] + asOf)
                    #expect(page.status == 0, "\(report): \(page.stderr)")
                    #expect(page.stdout.hasPrefix("<!DOCTYPE html>"), "\(report)")
                    #expect(page.stdout.components(separatedBy: "<table>").count == 2, "\(report): one table")
                    #expect(page.stdout.contains("<style>"))
                    expectSelfContained(page.stdout, report)
                    if asOf.isEmpty {
                        // One table row per report row, under one header row.
                        #expect(page.stdout.components(separatedBy: "<tr").count - 2 == rows.count, "\(report)")
                    } else {
                        // The caption line, as the table prints it.
                        let table = try ledger.run(["report", report] + asOf).stdout
                        let caption = report == "fund" ? "fund as of 2026-06-30" : String(table.prefix { $0 != "\n" })
                        #expect(caption.contains("as of 2026-06-30"))
                        #expect(page.stdout.contains(caption.replacingOccurrences(of: "&", with: "&amp;")), "\(report): \(caption)")
                    }
                }
            }
            let orders = try ledger.run(["report", "orders", "--format", "html"]).stdout
            #expect(orders.contains("Mitsui &amp; Co."))  // escaped, never raw markup
            #expect(!orders.contains("Mitsui & Co."))
            // Amounts as the table shows them, right-aligned; ids left-aligned.
            #expect(orders.contains("<td class=\"num\">¥614,400,000</td>"))
            #expect(orders.contains("<th class=\"num\">Unit price</th>"))
            #expect(orders.contains("<td class=\"id\">"))
            let fund = try ledger.run(["report", "fund", "--currency", "JPY", "--format", "html"]).stdout
            #expect(fund.contains("<tr class=\"total\">"))
            #expect(fund.contains("fund in JPY as of"))
            // Current-state reports are printed from the pages the projection keeps, and say so.
            #expect(try ledger.run(["report", "supply", "--format", "html"]).stdout.contains("current state"))
            expectOneLineError(try ledger.run(["report", "supply", "--format", "xml"]), status: 64, containing: "--format")
            // The demo's every report on one page: the dashboard (run again, it appends nothing).
            let count = try ledger.eventCount()
            let demo = try ledger.run(["demo", "--format", "html"])
            #expect(demo.status == 0 && demo.stdout.hasPrefix("<!DOCTYPE html>") && demo.stdout.contains("Fund metrics"))
            #expect(!demo.stdout.contains("== "))
            expectSelfContained(demo.stdout, "demo")
            #expect(try ledger.eventCount() == count)
        }
    }

    @Test func htmlEscapesEveryTextFromTheLedger() throws {
        try withLedger { ledger in
            for command in [
                ["startup", "register", "--startup", "tag", "--name", "<b>Tag</b> & \"Co\" 'x'", "--date", "2024-01-01"],
                ["invest", "commit", "--investment", "tag-seed", "--startup", "tag", "--round", "<i>seed</i>", "--instrument", "equity",
                 "--amount", "1000", "--currency", "JPY", "--date", "2024-01-02"],
            ] {
                #expect(try ledger.run(command).status == 0)
            }
            #expect(try ledger.run(["projections", "run"]).status == 0)
            for arguments in [["report", "portfolio"], ["report", "portfolio", "--as-of", "2024-12-31"], ["report", "fund"]] {
                let page = try ledger.run(arguments + ["--format", "html"]).stdout
                #expect(!page.contains("<i>") && !page.contains("<b>"), "\(arguments)")
                #expect(page.contains(arguments[1] == "fund" ? "&lt;b&gt;Tag&lt;/b&gt; &amp; &quot;Co&quot; &#39;x&#39;" : "&lt;i&gt;seed&lt;/i&gt;"))
            }
        }
    }

    /// RFC 4180 fields of a CSV text, line by line (quoted fields may hold commas, quotes and
    /// line breaks): how a spreadsheet reads the file.
    func csvRecords(_ text: String) -> [[String]] {
        var records: [[String]] = [], record: [String] = [], field = "", quoted = false, atStart = true
        var chars = Array(text)[...]
        while let c = chars.popFirst() {
            if quoted {
                if c == "\"" {
                    if chars.first == "\"" { field.append("\""); chars.removeFirst() } else { quoted = false }
                } else { field.append(c) }
            } else if c == "\"" && atStart {
                quoted = true
            } else if c == "," {
                record.append(field); field = ""; atStart = true; continue
            } else if c == "\n" {
                record.append(field); records.append(record); record = []; field = ""; atStart = true; continue
            } else { field.append(c) }
            atStart = false
        }
        return records
    }

    @Test func csvOpensCleanlyInASpreadsheetFlatCellsAndNoFormulas() throws {
        try withLedger { ledger in
            let evil = #"=HYPERLINK("http://evil.example/x","click")"#
            for command in [
                ["startup", "register", "--startup", "evil", "--name", evil, "--date", "2024-01-01"],
                ["invest", "commit", "--investment", "evil-seed", "--startup", "evil", "--round", "seed", "--instrument", "equity",
                 "--amount", "100000000", "--currency", "JPY", "--date", "2024-01-02"],
                ["invest", "disburse", "--investment", "evil-seed", "--amount", "100000000", "--currency", "JPY", "--date", "2024-01-10"],
                ["invest", "mark", "--investment", "evil-seed", "--fair-value", "50000000", "--currency", "JPY", "--date", "2024-12-31"],
                ["lab", "plan", "--lab", "lab-1", "--name", "@SUM(1+1)", "--city", "+Tokyo", "--budget", "1000000", "--currency", "JPY",
                 "--date", "2024-01-01"],
                ["lab", "add-partner", "--lab", "lab-1", "--partner", "-cmd|' /C calc'!A0"],
                ["lab", "add-partner", "--lab", "lab-1", "--partner", "RIKEN, AIP"],
                ["lab", "expense", "--lab", "lab-1", "--category", "compute", "--amount", "1000", "--currency", "JPY", "--date", "2024-02-01"],
                ["lab", "milestone", "--lab", "lab-1", "--name", "first run", "--date", "2024-03-01"],
                ["supply", "receive", "--sku", "h100", "--quantity", "10", "--date", "2024-01-01"],
                ["order", "place", "--order", "o-1", "--customer", "-2+3", "--sku", "h100", "--quantity", "2",
                 "--unit-price", "500", "--currency", "JPY", "--date", "2024-01-05"],
                ["order", "place", "--order", "o-2", "--customer", "'quoted", "--sku", "h100", "--quantity", "1",
                 "--unit-price", "500", "--currency", "JPY", "--date", "2024-01-05"],
            ] {
                let output = try ledger.run(command)
                #expect(output.status == 0, "\(command): \(output.stderr)")
            }
            #expect(try ledger.run(["projections", "run"]).status == 0)
            // The same bytes from the stored pages (current state) and from a fold of the log.
            for report in ["portfolio", "labs", "orders"] {
                let current = try ledger.run(["report", report, "--format", "csv"])
                let folded = try ledger.run(["report", report, "--format", "csv", "--known-at", "2099-01-01T00:00:00Z"])
                #expect(current.status == 0 && current.stdout == folded.stdout, "\(report): \(current.stdout) \(folded.stdout)")
            }

            let fund = csvRecords(try ledger.run(["report", "fund", "--as-of", "2025-03-31", "--format", "csv"]).stdout)
            let header = fund[0]
            let evilRow = try #require(fund.first { $0.first == "evil-seed" })
            func cell(_ name: String) -> String { evilRow[header.firstIndex(of: name)!] }
            #expect(cell("startup_name") == "'" + evil)
            // Numbers stay numbers: a loss is a negative IRR, never guarded.
            #expect(cell("paid_in") == "100000000" && cell("nav") == "50000000" && cell("rvpi") == "0.50")
            #expect(cell("irr").hasPrefix("-0.") && Decimal(string: cell("irr")) != nil, "\(cell("irr"))")

            let labs = csvRecords(try ledger.run(["report", "labs", "--format", "csv"]).stdout)
            #expect(labs[0] == ["lab", "name", "city", "currency", "budget", "spent", "remaining", "status", "partners", "milestones",
                                "spent_by_category"])
            #expect(labs[1] == ["lab-1", "'@SUM(1+1)", "'+Tokyo", "JPY", "1000000", "1000", "999000", "planned",
                                "'-cmd|' /C calc'!A0; RIKEN, AIP", "first run (2024-03-01)",
                                "compute 1000; equipment 0; facility 0; other 0; staff 0"])
            for line in labs.dropFirst() {
                #expect(!line.contains { $0.hasPrefix("[") || $0.hasPrefix("{") }, "no JSON in a cell: \(line)")
            }
            let orders = csvRecords(try ledger.run(["report", "orders", "--format", "csv"]).stdout)
            #expect(orders[1][1] == "'-2+3" && orders[2][1] == "''quoted")
            #expect(orders[1][4] == "2" && orders[1][5] == "500")

            // JSON keeps the text as recorded and the lists as lists.
            let lab = try #require(try JSON.parse(try ledger.run(["report", "labs", "--format", "json"]).stdout).arrayValue?.first)
            #expect(lab["name"] == "@SUM(1+1)")
            #expect(lab["partners"] == ["-cmd|' /C calc'!A0", "RIKEN, AIP"])
            #expect(lab["milestones"] == [["name": "first run", "date": "2024-03-01"]])
            let order = try JSON.parse(try ledger.run(["report", "orders", "--format", "json"]).stdout).arrayValue
            #expect(order?.map { $0["customer"] } == ["-2+3", "'quoted"])
        }
    }

    func expectSelfContained(_ html: String, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let lower = html.lowercased()
        for needle in ["<script", "src=", "href=", "@import", "url(", "<link", "<img", "<iframe"] {
            #expect(!lower.contains(needle), "\(what) contains \(needle)", sourceLocation: sourceLocation)
        }
        // The only URL is the SVG namespace, which is a name, not something fetched.
        #expect(lower.replacingOccurrences(of: "xmlns=\"http://www.w3.org/2000/svg\"", with: "").contains("http") == false,
                "\(what) mentions a URL", sourceLocation: sourceLocation)
    }
}
