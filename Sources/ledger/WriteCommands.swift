import ArgumentParser
import EventStore
import Foundation
import JSON
import Ledger
import LedgerApp
import Postgres

/// Turns flag values into a domain command, runs it through the command handler and prints
/// the events it appended. Every write subcommand ends here, as does every import line.
enum WriteRunner {
    static func run(_ name: String, _ fields: [String: String?], _ global: GlobalOptions) throws {
        let command = try LedgerCommand.parse(name: name, fields: fields.compactMapValues { $0 }, today: .today)
        let db = try global.connect()
        let handler = CommandHandler(connection: db, actor: global.resolvedActor)
        if let seconds = ProcessInfo.processInfo.environment["LEDGER_RECONNECT_TIMEOUT"].flatMap(Double.init) {
            handler.reconnectPatience = .milliseconds(Int(seconds * 1000))
        }
        let result: AppendResult
        do {
            result = try handler.handle(command, idempotencyKey: global.idempotencyKey)
        } catch let error as PostgresError where error.isServerGone {
            // The handler resolves a lost connection during the append itself (or says the
            // outcome is unknown): one that escapes here came before anything was sent.
            throw CLIError.unavailable(serverGone(error) + " — nothing was written; run the command again")
        } catch EventStoreError.database(let error) where error.isServerGone {
            throw CLIError.unavailable(serverGone(error) + " — nothing was written; run the command again")
        }
        EventListing.listing(result.events, withBodies: false).print(global.format)
    }
}

extension Day {
    /// Today's date in UTC, the default business date.
    static var today: Day {
        var now = time(nil)
        var parts = tm()
        gmtime_r(&now, &parts)
        return try! Day(year: Int(parts.tm_year) + 1900, month: Int(parts.tm_mon) + 1, day: Int(parts.tm_mday))
    }
}

/// `--date` on every write command.
struct BusinessDate: ParsableArguments {
    @Option(help: ArgumentHelp("Business date YYYY-MM-DD (default: today, UTC).", valueName: "date"))
    var date: String?
}

// MARK: - startup

struct StartupGroup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "startup", abstract: "Register the startups the programme invests in.",
        subcommands: [StartupRegister.self])
}

struct StartupRegister: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "register", abstract: "Register a startup (once per id).",
        discussion: """
            Example:
              ledger startup register --startup sakana-ai --name "Sakana AI" --sector "foundation models" --country JP
            """)
    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("Startup id, a slug like sakana-ai.", valueName: "id")) var startup: String
    @Option(help: "Legal or trading name.") var name: String
    @Option(help: "Sector, free text.") var sector: String?
    @Option(help: ArgumentHelp("ISO 3166 country code, e.g. JP.", valueName: "cc")) var country: String?
    @OptionGroup var when: BusinessDate

    func run() throws {
        try WriteRunner.run(
            "startup.register",
            ["startup": startup, "name": name, "sector": sector, "country": country, "date": when.date], global)
    }
}

// MARK: - invest

struct InvestGroup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "invest", abstract: "Commit to, fund, mark, exit or write off startup investments.",
        subcommands: [InvestCommit.self, InvestDisburse.self, InvestMark.self, InvestExit.self, InvestWriteOff.self])
}

struct InvestCommit: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "commit", abstract: "Commit an amount to a startup in a round.",
        discussion: """
            The startup must be registered. Ownership is a percentage; post-money is in the \
            investment's currency.
            Example:
              ledger invest commit --investment sakana-seed --startup sakana-ai --round seed \\
                --instrument equity --amount 500000000 --currency JPY --ownership 5 --post-money 10000000000
            """)
    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("Investment id (slug).", valueName: "id")) var investment: String
    @Option(help: ArgumentHelp("Registered startup id.", valueName: "id")) var startup: String
    @Option(help: "Round, e.g. seed, series-a.") var round: String
    @Option(help: "equity, safe or note.") var instrument: String
    @Option(help: ArgumentHelp("Committed amount in major units, e.g. 500000000 or 1250.50.", valueName: "amount"))
    var amount: String
    @Option(help: ArgumentHelp("ISO 4217 currency code: JPY, USD, EUR…", valueName: "code")) var currency: String
    @Option(help: ArgumentHelp("Ownership percentage, e.g. 7.5.", valueName: "pct")) var ownership: String?
    @Option(name: .customLong("post-money"), help: ArgumentHelp("Post-money valuation.", valueName: "amount"))
    var postMoney: String?
    @OptionGroup var when: BusinessDate

    func run() throws {
        try WriteRunner.run(
            "invest.commit",
            [
                "investment": investment, "startup": startup, "round": round, "instrument": instrument,
                "amount": amount, "currency": currency, "ownership": ownership, "post-money": postMoney,
                "date": when.date,
            ], global)
    }
}

struct InvestDisburse: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "disburse", abstract: "Pay a tranche of a commitment (never more than committed).",
        discussion: """
            Example:
              ledger invest disburse --investment sakana-seed --amount 250000000 --currency JPY --date 2026-04-01
            """)
    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("Investment id.", valueName: "id")) var investment: String
    @Option(help: "Amount in major units.") var amount: String
    @Option(help: "Currency of the investment.") var currency: String
    @OptionGroup var when: BusinessDate

    func run() throws {
        try WriteRunner.run(
            "invest.disburse",
            ["investment": investment, "amount": amount, "currency": currency, "date": when.date], global)
    }
}

struct InvestMark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mark", abstract: "Record a fair-value estimate of a holding (the latest mark wins).",
        discussion: """
            Example:
              ledger invest mark --investment sakana-seed --fair-value 900000000 --currency JPY --date 2026-09-30
            """)
    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("Investment id.", valueName: "id")) var investment: String
    @Option(name: .customLong("fair-value"), help: "Fair value in major units.") var fairValue: String
    @Option(help: "Currency of the investment.") var currency: String
    @OptionGroup var when: BusinessDate

    func run() throws {
        try WriteRunner.run(
            "invest.mark",
            ["investment": investment, "fair-value": fairValue, "currency": currency, "date": when.date], global)
    }
}

struct InvestExit: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exit", abstract: "Record the sale of a holding for proceeds; nothing may follow.",
        discussion: """
            Example:
              ledger invest exit --investment preferred-a --proceeds 3000000 --currency USD
            """)
    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("Investment id.", valueName: "id")) var investment: String
    @Option(help: "Proceeds in major units.") var proceeds: String
    @Option(help: "Currency of the investment.") var currency: String
    @OptionGroup var when: BusinessDate

    func run() throws {
        try WriteRunner.run(
            "invest.exit",
            ["investment": investment, "proceeds": proceeds, "currency": currency, "date": when.date], global)
    }
}

struct InvestWriteOff: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "write-off", abstract: "Write a holding off (fair value 0, no proceeds); nothing may follow.",
        discussion: """
            Example:
              ledger invest write-off --investment robo-note --reason "company wound down"
            """)
    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("Investment id.", valueName: "id")) var investment: String
    @Option(help: "Why, for the record.") var reason: String
    @OptionGroup var when: BusinessDate

    func run() throws {
        try WriteRunner.run(
            "invest.write-off", ["investment": investment, "reason": reason, "date": when.date], global)
    }
}

// MARK: - lab

struct LabGroup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lab", abstract: "Plan, staff, fund and open the AI research lab.",
        subcommands: [
            LabPlan.self, LabAddPartner.self, LabRaiseBudget.self, LabExpense.self, LabMilestone.self, LabOpen.self,
            LabClose.self,
        ])
}

struct LabPlan: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan", abstract: "Plan a lab with a budget in one currency.",
        discussion: """
            Example:
              ledger lab plan --lab tokyo-ai-lab --name "Tokyo AI Research Lab" --city Tokyo \\
                --budget 3000000000 --currency JPY
            """)
    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("Lab id (slug).", valueName: "id")) var lab: String
    @Option(help: "Lab name.") var name: String
    @Option(help: "City.") var city: String
    @Option(help: "Budget in major units.") var budget: String
    @Option(help: "Currency of the budget.") var currency: String
    @OptionGroup var when: BusinessDate

    func run() throws {
        try WriteRunner.run(
            "lab.plan",
            ["lab": lab, "name": name, "city": city, "budget": budget, "currency": currency, "date": when.date],
            global)
    }
}

struct LabAddPartner: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add-partner", abstract: "Add a research partner (each once).",
        discussion: """
            Example:
              ledger lab add-partner --lab tokyo-ai-lab --partner "University of Tokyo"
            """)
    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("Lab id.", valueName: "id")) var lab: String
    @Option(help: "Partner name.") var partner: String
    @OptionGroup var when: BusinessDate

    func run() throws {
        try WriteRunner.run("lab.add-partner", ["lab": lab, "partner": partner, "date": when.date], global)
    }
}

struct LabRaiseBudget: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "raise-budget", abstract: "Raise the lab budget, with a reason.",
        discussion: """
            Example:
              ledger lab raise-budget --lab tokyo-ai-lab --amount 500000000 --currency JPY --reason "second GPU hall"
            """)
    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("Lab id.", valueName: "id")) var lab: String
    @Option(help: "Increase in major units.") var amount: String
    @Option(help: "Currency of the budget.") var currency: String
    @Option(help: "Why the budget grows.") var reason: String
    @OptionGroup var when: BusinessDate

    func run() throws {
        try WriteRunner.run(
            "lab.raise-budget",
            ["lab": lab, "amount": amount, "currency": currency, "reason": reason, "date": when.date], global)
    }
}

struct LabExpense: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "expense", abstract: "Record lab spending by category (never beyond the budget).",
        discussion: """
            Categories: facility, equipment, staff, compute, other.
            Example:
              ledger lab expense --lab tokyo-ai-lab --category compute --amount 120000000 --currency JPY \\
                --description "H100 cluster lease, Q1"
            """)
    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("Lab id.", valueName: "id")) var lab: String
    @Option(help: "facility, equipment, staff, compute or other.") var category: String
    @Option(help: "Amount in major units.") var amount: String
    @Option(help: "Currency of the budget.") var currency: String
    @Option(help: "What was bought.") var description: String?
    @OptionGroup var when: BusinessDate

    func run() throws {
        try WriteRunner.run(
            "lab.expense",
            [
                "lab": lab, "category": category, "amount": amount, "currency": currency,
                "description": description, "date": when.date,
            ], global)
    }
}

struct LabMilestone: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "milestone", abstract: "Record a milestone reached.",
        discussion: """
            Example:
              ledger lab milestone --lab tokyo-ai-lab --name "first cluster online" --date 2026-06-01
            """)
    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("Lab id.", valueName: "id")) var lab: String
    @Option(help: "What was achieved.") var name: String
    @OptionGroup var when: BusinessDate

    func run() throws {
        try WriteRunner.run("lab.milestone", ["lab": lab, "name": name, "date": when.date], global)
    }
}

struct LabOpen: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "open", abstract: "Open the lab (once).",
        discussion: "Example:\n  ledger lab open --lab tokyo-ai-lab --date 2026-07-01")
    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("Lab id.", valueName: "id")) var lab: String
    @OptionGroup var when: BusinessDate

    func run() throws { try WriteRunner.run("lab.open", ["lab": lab, "date": when.date], global) }
}

struct LabClose: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "close", abstract: "Close the lab; nothing may follow.",
        discussion: "Example:\n  ledger lab close --lab tokyo-ai-lab")
    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("Lab id.", valueName: "id")) var lab: String
    @OptionGroup var when: BusinessDate

    func run() throws { try WriteRunner.run("lab.close", ["lab": lab, "date": when.date], global) }
}

// MARK: - supply

struct SupplyGroup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "supply", abstract: "Receive GPU stock per SKU.", subcommands: [SupplyReceive.self])
}

struct SupplyReceive: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "receive", abstract: "Receive units of a SKU into stock.",
        discussion: "Example:\n  ledger supply receive --sku h100-sxm5-80gb --quantity 512")
    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("GPU product code (slug), e.g. h100-sxm5-80gb.", valueName: "sku")) var sku: String
    @Option(help: "Units received (positive integer).") var quantity: String
    @OptionGroup var when: BusinessDate

    func run() throws {
        try WriteRunner.run("supply.receive", ["sku": sku, "quantity": quantity, "date": when.date], global)
    }
}

// MARK: - order

struct OrderGroup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "order", abstract: "Customer GPU orders: place, allocate scarce stock, ship, bill, cancel.",
        subcommands: [
            OrderPlace.self, OrderAllocate.self, OrderShip.self, OrderDeliver.self, OrderInvoice.self, OrderPay.self,
            OrderCancel.self,
        ])
}

struct OrderPlace: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "place", abstract: "Record a customer's order for a quantity of one SKU.",
        discussion: """
            Example:
              ledger order place --order ntt-001 --customer NTT --sku h100-sxm5-80gb --quantity 64 \\
                --unit-price 4500000 --currency JPY
            """)
    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("Order id (slug).", valueName: "id")) var order: String
    @Option(help: "Customer name.") var customer: String
    @Option(help: "GPU product code.") var sku: String
    @Option(help: "Units ordered.") var quantity: String
    @Option(name: .customLong("unit-price"), help: "Price per unit in major units.") var unitPrice: String
    @Option(help: "Currency of the order.") var currency: String
    @OptionGroup var when: BusinessDate

    func run() throws {
        try WriteRunner.run(
            "order.place",
            [
                "order": order, "customer": customer, "sku": sku, "quantity": quantity, "unit-price": unitPrice,
                "currency": currency, "date": when.date,
            ], global)
    }
}

struct OrderAllocate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "allocate", abstract: "Allocate received stock to an order (never more than available).",
        discussion: """
            Safe under any number of concurrent allocators: a conflict reloads and decides again.
            Example:
              ledger order allocate --order ntt-001 --quantity 32
            """)
    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("Order id.", valueName: "id")) var order: String
    @Option(help: "Units to allocate.") var quantity: String
    @OptionGroup var when: BusinessDate

    func run() throws {
        try WriteRunner.run("order.allocate", ["order": order, "quantity": quantity, "date": when.date], global)
    }
}

struct OrderShip: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ship", abstract: "Dispatch a shipment of allocated units.",
        discussion: "Example:\n  ledger order ship --order ntt-001 --shipment ntt-001-a --quantity 16")
    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("Order id.", valueName: "id")) var order: String
    @Option(help: ArgumentHelp("Shipment id (slug, unique within the order).", valueName: "id")) var shipment: String
    @Option(help: "Units shipped.") var quantity: String
    @OptionGroup var when: BusinessDate

    func run() throws {
        try WriteRunner.run(
            "order.ship", ["order": order, "shipment": shipment, "quantity": quantity, "date": when.date], global)
    }
}

struct OrderDeliver: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deliver", abstract: "Record a dispatched shipment as delivered (once).",
        discussion: "Example:\n  ledger order deliver --order ntt-001 --shipment ntt-001-a")
    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("Order id.", valueName: "id")) var order: String
    @Option(help: ArgumentHelp("Shipment id.", valueName: "id")) var shipment: String
    @OptionGroup var when: BusinessDate

    func run() throws {
        try WriteRunner.run("order.deliver", ["order": order, "shipment": shipment, "date": when.date], global)
    }
}

struct OrderInvoice: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "invoice", abstract: "Invoice the customer (in total never more than quantity × unit price).",
        discussion: "Example:\n  ledger order invoice --order ntt-001 --amount 72000000 --currency JPY")
    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("Order id.", valueName: "id")) var order: String
    @Option(help: "Amount in major units.") var amount: String
    @Option(help: "Currency of the order.") var currency: String
    @OptionGroup var when: BusinessDate

    func run() throws {
        try WriteRunner.run(
            "order.invoice", ["order": order, "amount": amount, "currency": currency, "date": when.date], global)
    }
}

struct OrderPay: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pay", abstract: "Record a customer payment (in total never more than invoiced).",
        discussion: "Example:\n  ledger order pay --order ntt-001 --amount 72000000 --currency JPY")
    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("Order id.", valueName: "id")) var order: String
    @Option(help: "Amount in major units.") var amount: String
    @Option(help: "Currency of the order.") var currency: String
    @OptionGroup var when: BusinessDate

    func run() throws {
        try WriteRunner.run(
            "order.pay", ["order": order, "amount": amount, "currency": currency, "date": when.date], global)
    }
}

struct OrderCancel: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cancel", abstract: "Cancel an order; its unshipped allocation returns to stock.",
        discussion: "Example:\n  ledger order cancel --order mitsui-001 --reason \"customer withdrew\"")
    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("Order id.", valueName: "id")) var order: String
    @Option(help: "Why, for the record.") var reason: String
    @OptionGroup var when: BusinessDate

    func run() throws {
        try WriteRunner.run("order.cancel", ["order": order, "reason": reason, "date": when.date], global)
    }
}
