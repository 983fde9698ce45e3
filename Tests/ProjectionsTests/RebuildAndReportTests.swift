import EventStore
import Foundation
import JSON
import Ledger
import Postgres
@testable import Projections
import Synchronization
import Testing
import TestSupport

@Suite struct RebuildAndReportTests {
    @Test func rebuildEqualsRun() throws {
        try TestDatabase.with { url in
            let db = try PostgresConnection(url: url)
            let driver = LedgerDriver(connection: db)
            var rng = SeededGenerator(seed: 7)
            try driver.loadReferenceScenario()
            try driver.loadRandom(400, rng: &rng)
            try catchUp(db)
            let run = try StoredReports(db)
            var progress: [(Int, Int)] = []
            let rebuilder = ProjectionRebuilder(connection: db, pageSize: 50)
            rebuilder.progress = { done, total, _ in progress.append((done, total)) }
            let summary = try rebuilder.rebuild()
            try catchUp(db)
            #expect(try StoredReports(db) == run)
            #expect(run == StoredReports(try foldedReports(db)))
            #expect(progress.last.map { $0.0 == $0.1 } == true)
            #expect(summary.events == progress.last?.0)
            // One projection alone, too.
            try ProjectionRebuilder(connection: db, pageSize: 10).rebuild([.supply])
            try catchUp(db)
            #expect(try StoredReports(db) == run)
            #expect(try ProjectionRunner(connection: db).status().allSatisfy { $0.lag == 0 })
        }
    }

    /// With a writer, the whole rebuild is one transaction there (rows written out mid-pass
    /// included): readers see none of it until it commits, and a killed one leaves nothing.
    @Test(arguments: [false, true]) func reportsAnswerTheOldStateUntilTheRebuildSwaps(withWriter: Bool) throws {
        try TestDatabase.with { url in
            let db = try PostgresConnection(url: url)
            let driver = LedgerDriver(connection: db)
            try driver.loadReferenceScenario()
            try catchUp(db)
            let before = try StoredReports(db)
            try driver.run("order.pay", ["order": "ntt-001", "amount": "25000000", "currency": "JPY"])

            let reader = try PostgresConnection(url: url)
            let rebuilding = try PostgresConnection(url: url)
            func makeRebuilder() throws -> ProjectionRebuilder {
                let rebuilder = ProjectionRebuilder(
                    connection: rebuilding, writer: withWriter ? try PostgresConnection(url: url) : nil, pageSize: 7)
                rebuilder.rowsHeld = 2
                return rebuilder
            }
            let history = { try reader.query("SELECT count(*), min(month) FROM reporting.report_history")[0].decode(String.self, at: 1) }
            try ReportHistory.extend(on: db)
            let historyBefore = try history()
            let rebuilder = try makeRebuilder()
            var seenDuringSwap: StoredReports?
            var viewRows = 0
            var historyDuringSwap: String?
            rebuilder.beforeSwapCommit = {
                seenDuringSwap = try StoredReports(reader)
                viewRows = try reader.query("SELECT * FROM reporting.orders").count
                historyDuringSwap = try history()
            }
            let summary = try rebuilder.rebuild()
            #expect((summary.rowsWrittenOut > 0) == withWriter)
            try catchUp(db)
            #expect(seenDuringSwap == before)
            #expect(historyDuringSwap == historyBefore)
            #expect(viewRows == before.orders.count)
            #expect(try StoredReports(reader) == StoredReports(try foldedReports(db)))
            #expect(try ReportReader(connection: reader).orders().first { $0.order == "ntt-001" }?.paid.decimalString == "125000000")

            // A rebuild killed before its swap leaves the live state as it was.
            let killed = try makeRebuilder()
            killed.beforeSwapCommit = { throw Killed() }
            let now = try StoredReports(reader)
            let historyNow = try reader.query("SELECT count(*) FROM reporting.report_history")[0].decode(Int64.self, at: 0)
            #expect(throws: Killed.self) { try killed.rebuild() }
            #expect(try StoredReports(reader) == now)
            #expect(try reader.query("SELECT count(*) FROM reporting.report_history")[0].decode(Int64.self, at: 0) == historyNow)
        }
    }

    @Test func asOfEqualsFoldingOnlyEventsUpToThatDate() throws {
        try TestDatabase.with { url in
            let db = try PostgresConnection(url: url)
            let driver = LedgerDriver(connection: db)
            var rng = SeededGenerator(seed: 11)
            try driver.loadReferenceScenario()
            try driver.loadRandom(300, rng: &rng)
            for date in ["2023-12-31", "2024-01-15", "2024-02-04", "2024-03-01", "2024-06-30", "2024-12-31"] {
                let day = try Day(date)
                #expect(try StoredReports(db, asOf: day) == StoredReports(try foldedReports(db, asOf: day)), "\(date)")
            }
            let early = try ReportReader(connection: db).orders(asOf: try Day("2024-02-01")).first { $0.order == "ntt-001" }
            #expect(early?.shipped == 25)
            #expect(early?.invoiced.decimalString == "0")
        }
    }

    @Test func storedRowsReadBackIntoTheDomainTypesExactly() throws {
        try TestDatabase.with { url in
            let db = try PostgresConnection(url: url)
            try LedgerDriver(connection: db).loadReferenceScenario()
            try catchUp(db)
            let stored = try StoredReports(db)
            #expect(stored == StoredReports(try foldedReports(db)))
            let lab = try #require(stored.labs.first)
            #expect(lab.partners == ["University of Tokyo", "RIKEN \"AIP\""])
            #expect(lab.json["remaining"]?.stringValue == "770000000")
            let elyza = try #require(stored.portfolio.first { $0.investment == "elyza-safe" })
            #expect(elyza.disbursed.decimalString == "400000.50")
            #expect(elyza.moic == "1.00")
        }
    }

    /// Pages and tables print `cells`; JSON prints `json`: the two must agree on every row.
    @Test func everyRowsCellsGiveItsJSON() throws {
        try TestDatabase.with { url in
            let db = try PostgresConnection(url: url)
            let driver = LedgerDriver(connection: db)
            try driver.loadReferenceScenario()
            var rng = SeededGenerator(seed: 11)
            try driver.loadRandom(400, rng: &rng)
            let reports = try foldedReports(db)
            func check<Row: ProjectionTable>(_ rows: [Row]) {
                #expect(!rows.isEmpty)
                for row in rows {
                    let object = JSON.object(Dictionary(uniqueKeysWithValues: zip(Row.columns, row.cells.map(\.json))))
                    #expect(object == row.json, "\(row.key)")
                }
            }
            check(reports.portfolio)
            check(reports.labs)
            check(reports.orders)
            check(reports.supply)
            #expect(reports.portfolio.contains { $0.moic == nil })
        }
    }

    @Test func tableCellsShowAmountsWithTheirCurrencyAndNestedValuesReadably() throws {
        let yen = try Currency(code: "JPY")
        let lab = LabSummary(
            lab: "l", name: "L", city: "Tokyo", currency: yen, budget: Money(minorUnits: 0, currency: yen),
            spent: Money(minorUnits: 0, currency: yen), status: .open, partners: ["RIKEN", "UTokyo"],
            milestones: [LabSummary.Milestone(name: "opening", date: try Day("2026-04-01"))],
            spentByCategory: [.compute: Money(minorUnits: 1_250_000, currency: yen), .staff: Money(minorUnits: 0, currency: yen)])
        let nested = Array(lab.cells.suffix(3))
        let cells: [ReportCell] = [
            .money(try Money.parse("4500000", currency: yen)), .money(Money(minorUnits: -5, currency: yen)),
            .optionalText(nil), .integer(42),
        ] + nested.suffix(1) + nested.dropLast().suffix(1) + [.text("a\nb")]
        #expect(ReportText.tableCells(cells) == ["¥4,500,000", "-¥5", "", "42", "compute ¥1,250,000", "opening (2026-04-01)", "a b"])
        #expect(ReportText.csvLine(cells) == "4500000,-5,,42,\"{\"\"compute\"\":\"\"1250000\"\",\"\"staff\"\":\"\"0\"\"}\",\"[{\"\"date\"\":\"\"2026-04-01\"\",\"\"name\"\":\"\"opening\"\"}]\",\"a\nb\"\n")
        #expect(ReportText.tableCells(Array(nested.prefix(1))) == ["RIKEN; UTokyo"])
    }
}
