import ArgumentParser
import EventStore
import Foundation
import JSON
import Ledger
import LedgerApp
import Postgres
import Projections

struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo", abstract: "Load the reference scenario, update projections, print the reports (the fund report in JPY).",
        discussion: """
            The scenario: an AI ecosystem programme in Japan. Investments in four Japanese AI \
            startups (equity, SAFE and notes; JPY and USD; tranches, marks, an exit and a \
            write-off), the Tokyo AI Research Lab (budget, partners, expenses by category, a \
            budget raise, milestones, opening), and scarce H100/H200 stock allocated to orders \
            from SoftBank, NEC, NTT, Sakura Internet and Mitsui, with partial shipments, \
            deliveries, invoices, payments and one cancellation; one expense booked under the \
            wrong category is reversed and booked again, and the third quarter is closed. Every fact carries its own \
            date and idempotency key, so running the demo again adds nothing.

            Events can never be deleted, so the demo refuses (exit 65, nothing written) a \
            ledger holding any event it did not write: run it on a scratch database of its own.
            Example (a scratch database next to your real one):
              createdb ledger_demo
              export DATABASE_URL=postgresql://localhost/ledger_demo
              ledger db migrate && ledger demo
            """)
    @OptionGroup var global: GlobalOptions

    func run() throws {
        let db = try global.connect()
        // Events are forever: fake ones must never land in a real ledger. The demo's own
        // events are imported lines, or its one correction (key demo:…), with actor "demo"
        // (a re-run is welcome: it adds nothing).
        let foreign = try db.query(
            """
            SELECT count(*) FROM events
            WHERE metadata->>'actor' IS DISTINCT FROM 'demo'
               OR NOT (metadata ? 'import_line' OR coalesce(metadata->>'idempotency_key', '') LIKE 'demo:%')
            """)[0].decode(Int64.self, at: 0)
        if foreign > 0 {
            throw CLIError.rejected(
                "this ledger holds \(foreign) events the demo did not write, and events cannot be deleted: "
                    + "run the demo on a scratch database (createdb ledger_demo; then ledger db migrate "
                    + "and ledger demo with --database-url naming it); nothing was written")
        }
        let today = Day.today
        var summary = try load(DemoScenario.lines, on: db, today: today)
        // The correction: the expense booked under equipment is reversed (found by its
        // description: its position depends on the database) and booked again under compute.
        let mistaken = try db.query(
            """
            SELECT position FROM events
            WHERE stream = 'lab-tokyo-ai-lab' AND type = 'lab.expense_recorded' AND payload->>'category' = 'equipment'
              AND payload->>'description' = $1
            ORDER BY position LIMIT 1
            """, [DemoScenario.mistakenExpense])
        guard let position = try mistaken.first?.decode(Int64.self, at: 0) else {
            throw CLIError.failed("the demo scenario's mistaken expense is missing from the ledger")
        }
        let reverse = try LedgerCommand.parse(
            name: "reverse",
            fields: ["position": String(position), "reason": "booked under equipment; GPU cloud credits are compute", "date": "2026-09-18"],
            today: today)
        let reversal = try CommandHandler(connection: db, actor: "demo", today: today).handle(
            reverse, idempotencyKey: "demo:reverse-mistaken-expense")
        if !reversal.replayed {
            summary.commands += 1
            summary.events += reversal.events.count
        } else {
            summary.alreadyImported += 1
        }
        let rest = try load(DemoScenario.afterCorrection, on: db, today: today)
        summary.commands += rest.commands
        summary.events += rest.events
        summary.alreadyImported += rest.alreadyImported
        let applied = try ProjectionRunner(connection: db).runOnce()
        if summary.commands == 0 {
            say("demo: the scenario is already loaded (\(summary.alreadyImported) commands); nothing appended")
        } else {
            say("demo: appended \(summary.events) events from \(summary.commands) commands; projections applied \(applied) events")
        }
        var reports: [JSON] = []
        for kind in ProjectionName.allCases {
            let listing = try kind.listing(db, asOf: nil)
            switch global.format {
            case .table:
                print("\n== \(kind.rawValue) ==")
                listing.print(.table)
            case .csv:
                print("# \(kind.rawValue)")
                listing.print(.csv)
            case .json:
                reports.append(["report": .string(kind.rawValue), "rows": .array(listing.objects)])
            case .html:
                break  // one page for everything: the dashboard, below
            }
        }
        // The fund report in yen: the scenario records USD/JPY rates for its dollar investment.
        let fund = FundListing.listing(try FundListing.rows(db, on: .today, in: .jpy))
        switch global.format {
        case .table:
            print("\n== fund (JPY) ==")
            fund.print(.table)
        case .csv:
            print("# fund (JPY)")
            fund.print(.csv)
        case .json:
            reports.append(["report": "fund", "rows": .array(fund.objects)])
            Listing(columns: ["report", "rows"], rows: reports).print(.json)
        case .html:
            // Every report on one page, the fund report in yen: the dashboard.
            print(try Dashboard.render(db, asOf: nil, currency: .jpy), terminator: "")
        }
        // The correction and the close, as `ledger events` and `ledger period status` list them.
        if global.format == .table || global.format == .csv {
            let store = EventStore(connection: db)
            let reversals = try store.readStream("lab-tokyo-ai-lab").filter { $0.type == "entry.reversed" }
            print(global.format == .table ? "\n== corrections ==" : "# corrections")
            Listing(
                columns: ["position", "stream", "type", "date", "reverses", "reason"],
                rows: reversals.map {
                    [
                        "position": JSON($0.position), "stream": .string($0.stream), "type": .string($0.type),
                        "date": .string($0.businessDate.description), "reverses": $0.payload["reverses"] ?? .null,
                        "reason": $0.payload["reason"] ?? .null,
                    ]
                }
            ).print(global.format)
            print(global.format == .table ? "\n== periods ==" : "# periods")
            try PeriodStatus.listing(store).print(global.format)
        }
    }

    /// Imports scenario lines; a refused line means the scenario is broken (exit 1).
    private func load(_ scenario: [String], on db: PostgresConnection, today: Day) throws -> Importer.Summary {
        let importer = Importer(connection: db, actor: "demo", today: today)
        var lines = scenario.makeIterator()
        let summary = try importer.run { lines.next() }
        if let error = summary.errors.first {
            throw CLIError.failed("the demo scenario was refused at line \(error.line): \(error.message)")
        }
        return summary
    }
}
