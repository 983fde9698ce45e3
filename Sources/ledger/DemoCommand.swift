import ArgumentParser
import EventStore
import Foundation
import JSON
import LedgerApp
import Projections

struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo", abstract: "Load the reference scenario, update projections, print the four reports.",
        discussion: """
            The scenario: an AI ecosystem programme in Japan. Investments in four Japanese AI \
            startups (equity, SAFE and notes; JPY and USD; tranches, marks, an exit and a \
            write-off), the Tokyo AI Research Lab (budget, partners, expenses by category, a \
            budget raise, milestones, opening), and scarce H100/H200 stock allocated to orders \
            from SoftBank, NEC, NTT, Sakura Internet and Mitsui, with partial shipments, \
            deliveries, invoices, payments and one cancellation. Every fact carries its own \
            date and idempotency key, so running the demo again adds nothing.
            Example:
              ledger db migrate && ledger demo
            """)
    @OptionGroup var global: GlobalOptions

    func run() throws {
        let db = try global.connect()
        let importer = Importer(connection: db, actor: "demo", today: .today)
        var lines = DemoScenario.lines.makeIterator()
        let summary = try importer.run { lines.next() }
        if let error = summary.errors.first {
            throw CLIError.failed("the demo scenario was refused at line \(error.line): \(error.message)")
        }
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
            }
        }
        if global.format == .json { Listing(columns: ["report", "rows"], rows: reports).print(.json) }
    }
}
