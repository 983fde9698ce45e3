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
