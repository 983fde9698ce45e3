import EventCodec
import EventStore
import Foundation
import JSON
import Ledger
import LedgerBench
import Postgres
@testable import Projections
import TestSupport

/// Appends events the way the application does: parse a command, decide it against the
/// world folded so far, append what it decided. Rejected commands append nothing.
final class LedgerDriver {
    let store: EventStore
    var world = LedgerWorld()

    init(connection: PostgresConnection) {
        store = EventStore(connection: connection)
    }

    static let today = try! Day("2024-04-01")

    @discardableResult
    func run(_ name: String, _ fields: [String: String]) throws -> [EventRecord] {
        let command = try LedgerCommand.parse(name: name, fields: fields, today: Self.today)
        let decided: [(stream: StreamName, event: LedgerEvent)]
        do { decided = try command.decide(in: world) } catch { return [] }
        guard !decided.isEmpty else { return [] }
        let events = decided.map {
            NewEvent(
                stream: $0.stream.rawValue, type: $0.event.type, schemaVersion: $0.event.schemaVersion,
                payload: $0.event.payload, businessDate: $0.event.date.sqlDate)
        }
        let records = try store.append(events).events
        for d in decided { world.apply(d.event) }
        return records
    }

    /// A small, fixed scenario touching every report.
    func loadReferenceScenario() throws {
        try run("startup.register", ["startup": "sakana", "name": "Sakana AI"])
        try run("startup.register", ["startup": "elyza", "name": "ELYZA"])
        try run(
            "invest.commit",
            ["investment": "sakana-seed", "startup": "sakana", "round": "seed", "instrument": "equity",
             "amount": "500000000", "currency": "JPY", "ownership": "3.5", "post-money": "14000000000", "date": "2024-01-10"])
        try run("invest.disburse", ["investment": "sakana-seed", "amount": "200000000", "currency": "JPY", "date": "2024-02-01"])
        try run("invest.mark", ["investment": "sakana-seed", "fair-value": "300000000", "currency": "JPY", "date": "2024-03-01"])
        try run(
            "invest.commit",
            ["investment": "elyza-safe", "startup": "elyza", "round": "series-a", "instrument": "safe",
             "amount": "1000000.00", "currency": "USD", "date": "2024-01-15"])
        try run("invest.disburse", ["investment": "elyza-safe", "amount": "400000.50", "currency": "USD", "date": "2024-02-15"])
        try run(
            "lab.plan",
            ["lab": "tokyo-ai-lab", "name": "Tokyo AI Lab", "city": "Tokyo", "budget": "1000000000", "currency": "JPY",
             "date": "2024-01-05"])
        try run("lab.add-partner", ["lab": "tokyo-ai-lab", "partner": "University of Tokyo", "date": "2024-01-06"])
        try run("lab.add-partner", ["lab": "tokyo-ai-lab", "partner": "RIKEN \"AIP\"", "date": "2024-01-07"])
        try run("lab.expense", ["lab": "tokyo-ai-lab", "category": "facility", "amount": "120000000", "currency": "JPY", "date": "2024-01-20"])
        try run("lab.expense", ["lab": "tokyo-ai-lab", "category": "compute", "amount": "80000000", "currency": "JPY", "date": "2024-02-10"])
        try run("lab.expense", ["lab": "tokyo-ai-lab", "category": "compute", "amount": "30000000", "currency": "JPY", "date": "2024-02-20"])
        try run("lab.milestone", ["lab": "tokyo-ai-lab", "name": "first cluster online", "date": "2024-02-28"])
        try run("lab.open", ["lab": "tokyo-ai-lab", "date": "2024-03-01"])
        try run("supply.receive", ["sku": "h100-sxm5-80gb", "quantity": "100", "date": "2024-01-03"])
        try run("supply.receive", ["sku": "a100-80gb", "quantity": "10", "date": "2024-01-03"])
        try run(
            "order.place",
            ["order": "ntt-001", "customer": "NTT", "sku": "h100-sxm5-80gb", "quantity": "40", "unit-price": "5000000",
             "currency": "JPY", "date": "2024-01-12"])
        try run("order.allocate", ["order": "ntt-001", "quantity": "40", "date": "2024-01-13"])
        try run("order.ship", ["order": "ntt-001", "shipment": "s1", "quantity": "25", "date": "2024-02-01"])
        try run("order.deliver", ["order": "ntt-001", "shipment": "s1", "date": "2024-02-03"])
        try run("order.invoice", ["order": "ntt-001", "amount": "125000000", "currency": "JPY", "date": "2024-02-04"])
        try run("order.pay", ["order": "ntt-001", "amount": "100000000", "currency": "JPY", "date": "2024-03-04"])
        try run(
            "order.place",
            ["order": "kddi-001", "customer": "KDDI", "sku": "h100-sxm5-80gb", "quantity": "30", "unit-price": "5100000",
             "currency": "JPY", "date": "2024-01-20"])
        try run("order.allocate", ["order": "kddi-001", "quantity": "20", "date": "2024-01-21"])
        try run("order.ship", ["order": "kddi-001", "shipment": "k1", "quantity": "5", "date": "2024-02-05"])
        try run("order.cancel", ["order": "kddi-001", "reason": "budget cut", "date": "2024-03-10"])
        try run(
            "order.place",
            ["order": "ntt-002", "customer": "NTT", "sku": "a100-80gb", "quantity": "4", "unit-price": "2000000",
             "currency": "JPY", "date": "2024-03-15"])
    }

    /// `count` random commands (many rejected, which is fine) from a seeded generator.
    func loadRandom(_ count: Int, rng: inout SeededGenerator) throws {
        let skus = ["h100-sxm5-80gb", "a100-80gb", "l40s"]
        func pick<T>(_ xs: [T]) -> T { xs[Int(rng.next() % UInt64(xs.count))] }
        func n(_ range: ClosedRange<Int>) -> String { String(Int.random(in: range, using: &rng)) }
        func day() -> String { String(format: "2024-%02d-%02d", Int.random(in: 1...12, using: &rng), Int.random(in: 1...28, using: &rng)) }
        for _ in 0..<count {
            let s = "s\(n(1...4))", inv = "i\(n(1...8))", lab = "lab\(n(1...3))", order = "o\(n(1...15))"
            switch rng.next() % 16 {
            case 0: try run("startup.register", ["startup": s, "name": "Startup \(s)"])
            case 1:
                try run("invest.commit", ["investment": inv, "startup": s, "round": "seed", "instrument": pick(["equity", "safe", "note"]),
                                          "amount": n(1000...100000), "currency": "JPY", "date": day()])
            case 2: try run("invest.disburse", ["investment": inv, "amount": n(1...20000), "currency": "JPY", "date": day()])
            case 3: try run("invest.mark", ["investment": inv, "fair-value": n(1...200000), "currency": "JPY", "date": day()])
            case 4:
                if rng.next() % 3 == 0 { try run("invest.exit", ["investment": inv, "proceeds": n(1...300000), "currency": "JPY", "date": day()]) }
                else if rng.next() % 3 == 0 { try run("invest.write-off", ["investment": inv, "reason": "failed", "date": day()]) }
            case 5: try run("lab.plan", ["lab": lab, "name": "Lab \(lab)", "city": "Tokyo", "budget": n(10000...100000), "currency": "USD", "date": day()])
            case 6: try run("lab.add-partner", ["lab": lab, "partner": "Partner \(n(1...9))"])
            case 7:
                try run("lab.expense", ["lab": lab, "category": pick(["facility", "equipment", "staff", "compute", "other"]),
                                        "amount": n(1...5000) + ".\(n(10...99))", "currency": "USD", "date": day()])
            case 8: try run(pick(["lab.open", "lab.close"]), ["lab": lab, "date": day()])
            case 9: try run("lab.milestone", ["lab": lab, "name": "milestone \(n(1...9))", "date": day()])
            case 10: try run("supply.receive", ["sku": pick(skus), "quantity": n(1...50), "date": day()])
            case 11:
                try run("order.place", ["order": order, "customer": pick(["NTT", "KDDI", "SoftBank", "Sakura"]), "sku": pick(skus),
                                        "quantity": n(1...30), "unit-price": n(100...5000), "currency": "JPY", "date": day()])
            case 12: try run("order.allocate", ["order": order, "quantity": n(1...10), "date": day()])
            case 13: try run("order.ship", ["order": order, "shipment": "sh\(n(1...5))", "quantity": n(1...8), "date": day()])
            case 14: try run("order.deliver", ["order": order, "shipment": "sh\(n(1...5))", "date": day()])
            default:
                switch rng.next() % 3 {
                case 0: try run("order.invoice", ["order": order, "amount": n(100...20000), "currency": "JPY", "date": day()])
                case 1: try run("order.pay", ["order": order, "amount": n(100...10000), "currency": "JPY", "date": day()])
                default: if rng.next() % 4 == 0 { try run("order.cancel", ["order": order, "reason": "changed plans", "date": day()]) }
                }
            }
        }
    }
}

/// The seeded generator of the synthetic data sets: a failure can be replayed.
typealias SeededGenerator = SplitMix64

/// The four reports folded in memory from every committed event, in log order, with
/// business dates up to `asOf`: what the projections must equal.
func foldedReports(_ db: PostgresConnection, asOf: Day? = nil) throws -> Reports {
    var reports = Reports()
    let rows = try db.query(
        "SELECT type, schema_version, payload::text, business_date FROM events ORDER BY transaction_id, position")
    for row in rows {
        let date = try row.decode(SQLDate.self, at: 3)
        let day = try Day(year: date.year, month: date.month, day: date.day)
        if let asOf, asOf < day { continue }
        reports.apply(
            try LedgerEvent.decode(
                type: try row.decode(String.self, at: 0), schemaVersion: try row.decode(Int.self, at: 1), date: day,
                payload: try JSON.parse(try row.decode(String.self, at: 2))))
    }
    return reports
}

/// What the projection tables hold, as reports, with the report pages `ledger report`
/// prints (joined into one text per report).
struct StoredReports: Equatable {
    var portfolio: [PortfolioPosition]
    var labs: [LabSummary]
    var orders: [OrderSummary]
    var supply: [SupplyPosition]
    var pages: [ProjectionName: PagesText]

    init(_ db: PostgresConnection, asOf: Day? = nil) throws {
        let reader = ReportReader(connection: db)
        portfolio = try reader.portfolio(asOf: asOf)
        labs = try reader.labs(asOf: asOf)
        orders = try reader.orders(asOf: asOf)
        supply = try reader.supply(asOf: asOf)
        pages = [:]
        guard asOf == nil else {
            // Pages hold the current state only; an --as-of report prints its rows.
            pages = Self.pages(portfolio, labs, orders, supply)
            return
        }
        for name in ProjectionName.allCases { pages[name] = try PagesText(name, db) }
    }

    /// The pages the stored rows render to.
    var pagesFromRows: [ProjectionName: PagesText] { Self.pages(portfolio, labs, orders, supply) }

    static func pages(
        _ portfolio: [PortfolioPosition], _ labs: [LabSummary], _ orders: [OrderSummary], _ supply: [SupplyPosition]
    ) -> [ProjectionName: PagesText] {
        [
            .portfolio: PagesText([ReportPage(firstKey: "", rows: portfolio)]),
            .labs: PagesText([ReportPage(firstKey: "", rows: labs)]),
            .orders: PagesText([ReportPage(firstKey: "", rows: orders)]),
            .supply: PagesText([ReportPage(firstKey: "", rows: supply)]),
        ]
    }

    init(_ reports: Reports) {
        portfolio = reports.portfolio
        labs = reports.labs
        orders = reports.orders
        supply = reports.supply
        pages = Self.pages(portfolio, labs, orders, supply)
    }
}

/// A report's pages joined: every CSV line and table cell in order, the widest cell and
/// the alignment of each column over the pages that have rows.
struct PagesText: Equatable {
    var csv = ""
    var cells = ""
    var rows = 0
    var widths: [Int] = []
    var numeric: [Bool] = []

    init(_ pages: [ReportPage]) {
        for page in pages {
            csv += page.csv
            cells += page.cells
            guard page.rowCount > 0 else { continue }
            if rows == 0 {
                widths = page.widths
                numeric = page.numeric
            } else {
                widths = zip(widths, page.widths).map { max($0, $1) }
                numeric = zip(numeric, page.numeric).map { $0 && $1 }
            }
            rows += page.rowCount
        }
    }

    /// What every row of the projection (in this snapshot) renders to, as one page.
    init(renderingRowsOf name: ProjectionName, _ db: PostgresConnection) throws {
        func render<Row: ProjectionTable>(_ type: Row.Type) throws -> ReportPage {
            ReportPage(firstKey: "", rows: try ReportPages.rows(Row.self, from: "", below: nil, on: db))
        }
        self.init([try render(name.rowType)])
    }

    /// As a reader gets them: stored pages, stale ones rendered from the rows.
    init(_ name: ProjectionName, _ db: PostgresConnection) throws {
        let csv = try ReportPages.read(name, .csv, on: db)
        let table = try ReportPages.read(name, .table, on: db)
        self.init(
            zip(csv, table).map { c, t in
                ReportPage(
                    firstKey: "", rowCount: t.rowCount, csv: c.withText { String(decoding: $0, as: UTF8.self) },
                    cells: t.withText { String(decoding: $0, as: UTF8.self) }, widths: t.widths, numeric: t.numeric)
            })
    }
}

/// Runs the projections until no committed event is left to apply. One `runOnce` can stop
/// short when a transaction in another database of the cluster (another test) is open:
/// the log is only read up to the oldest running transaction.
@discardableResult
func catchUp(_ db: PostgresConnection) throws -> Int {
    let runner = ProjectionRunner(connection: db)
    var applied = 0
    for _ in 0..<500 {
        applied += try runner.runOnce()
        if try runner.status().allSatisfy({ $0.lag == 0 }) { return applied }
        usleep(10_000)
    }
    return applied
}
