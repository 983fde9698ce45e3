import JSON
import Testing
@testable import Ledger

/// A ledger in memory that keeps positions and which command appended each event, as the
/// event store does, so reversals can be decided exactly as the command handler decides them.
struct Books {
    var log: [LoggedFact] = []
    var today = day("2024-04-01")
    private var commands = 0

    init(_ given: [(String, [String: String])] = []) throws {
        for (name, fields) in given { try run(name, fields) }
    }

    @discardableResult
    mutating func run(_ name: String, _ fields: [String: String]) throws -> [LoggedFact] {
        try run(try LedgerCommand.parse(name: name, fields: fields, today: today))
    }

    @discardableResult
    mutating func run(_ command: LedgerCommand) throws(Rejection) -> [LoggedFact] {
        var world = LedgerWorld()
        world.today = today
        if case .reverse(let position, _, _) = command.action {
            let correlation = log.first { $0.position == position }?.correlation
            world.streamsOfCommand[position] = Array(Set(log.filter { $0.correlation == correlation && correlation != nil }.map(\.stream))).sorted()
        }
        var loaded = Set<StreamName>()
        while true {
            let wanted = command.streams(in: world).filter { !loaded.contains($0) }
            if wanted.isEmpty { break }
            for stream in wanted {
                loaded.insert(stream)
                let stored = log.filter { $0.stream == stream }
                world.apply(stream: stream, events: stored.map { ($0.position, $0.event) })
                if world.streamsOfCommand.values.contains(where: { $0.contains(stream) }) { world.history[stream] = stored }
            }
        }
        let decided = try command.decide(in: world)
        commands += 1
        var appended: [LoggedFact] = []
        for (stream, event) in decided {
            precondition(loaded.contains(stream), "decide appended to \(stream), which it did not read")
            let fact = LoggedFact(position: Int64(log.count + 1), stream: stream, event: event, correlation: "c\(commands)")
            log.append(fact)
            appended.append(fact)
        }
        return appended
    }

    mutating func rejection(_ name: String, _ fields: [String: String]) throws -> Rejection? {
        let before = log.count
        do {
            try run(name, fields)
            return nil
        } catch let rejection as Rejection {
            #expect(log.count == before, "a refused command appends nothing")
            return rejection
        }
    }

    /// The reports as of a date: events dated by then, without those a reversal dated by
    /// then reverses (what the SQL folds do).
    func reports(asOf: Day? = nil) -> Reports {
        let visible = log.filter { asOf == nil || $0.event.date <= asOf! }
        var reversed = Set<Int64>()
        for fact in visible { if case .entry(let e) = fact.event.fact { reversed.insert(e.reverses) } }
        var reports = Reports()
        for fact in visible where !reversed.contains(fact.position) { reports.apply(fact.event) }
        return reports
    }

    func position(of type: String, _ nth: Int = 0) -> String {
        String(log.filter { $0.event.type == type }[nth].position)
    }
}

@Suite struct Reversals {
    static let lab = Given.lab + [
        ("lab.expense", ["lab": "tokyo-ai-lab", "category": "equipment", "amount": "45000000", "currency": "JPY"]),
    ]

    @Test func aReversedExpenseLeavesSpentAndTheRightOneIsRecorded() throws {
        var books = try Books(Self.lab)
        let reversal = try books.run("reverse", ["position": books.position(of: "lab.expense_recorded"), "reason": "was compute"])
        #expect(reversal.map(\.event.fact) == [.entry(.reversed(reverses: 2, reason: "was compute"))])
        #expect(reversal.map(\.stream) == [.lab("tokyo-ai-lab")])
        try books.run("lab.expense", ["lab": "tokyo-ai-lab", "category": "compute", "amount": "45000000", "currency": "JPY"])
        let lab = books.reports().labs[0]
        #expect(lab.spent == yen(45_000_000))
        #expect(lab.spentByCategory[.equipment] == yen(0))
        #expect(lab.spentByCategory[.compute] == yen(45_000_000))
    }

    @Test func anAllocationIsReversedOnBothItsStreams() throws {
        var books = try Books(Given.stockAndOrder + [("order.allocate", ["order": "ntt-001", "quantity": "40"])])
        let reversal = try books.run("reverse", ["position": books.position(of: "supply.allocated"), "reason": "wrong order"])
        #expect(Set(reversal.map(\.stream)) == [.order("ntt-001"), .supply(sku: "h100")])
        let reversed: [Int64] = reversal.compactMap { if case .entry(let e) = $0.event.fact { e.reverses } else { nil } }
        #expect(Set(reversed) == [3, 4])
        #expect(books.reports().supply[0].available == 100)
        #expect(books.reports().orders[0].allocated == 0)
        // The stock is free again.
        try books.run("order.place", ["order": "nec-001", "customer": "NEC", "sku": "h100", "quantity": "100",
                                      "unit-price": "1", "currency": "JPY"])
        try books.run("order.allocate", ["order": "nec-001", "quantity": "100"])
    }

    @Test func unknownPositionsReversalsAndRepeatsAreRefused() throws {
        var books = try Books(Self.lab)
        #expect(try books.rejection("reverse", ["position": "99", "reason": "x"])?.rule == "unknown_position")
        try books.run("reverse", ["position": "2", "reason": "x"])
        #expect(try books.rejection("reverse", ["position": "2", "reason": "again"])
            == Rejection(rule: "already_reversed", message: "position 2 (lab.expense_recorded) is already reversed, by position 3"))
        #expect(try books.rejection("reverse", ["position": "3", "reason": "undo"])?.rule == "cannot_reverse_reversal")
    }

    @Test func aReceiptAlreadyAllocatedCannotBeReversedButAFreeOneCan() throws {
        var books = try Books(Given.stockAndOrder + [("order.allocate", ["order": "ntt-001", "quantity": "64"])])
        let refused = try books.rejection("reverse", ["position": books.position(of: "supply.received"), "reason": "x"])
        #expect(refused?.rule == "insufficient_supply")
        #expect(refused?.message.contains("h100 would have 64 units allocated but only 0 received") == true)
        var free = try Books(Given.stockAndOrder)
        try free.run("reverse", ["position": "1", "reason": "never arrived"])
        #expect(free.reports().supply.isEmpty)
    }

    @Test func aPaidInvoiceCannotBeReversedUntilThePaymentIs() throws {
        var books = try Books(Given.stockAndOrder + [
            ("order.invoice", ["order": "ntt-001", "amount": "1000", "currency": "JPY"]),
            ("order.pay", ["order": "ntt-001", "amount": "1000", "currency": "JPY"]),
        ])
        let invoice = books.position(of: "order.invoiced")
        #expect(try books.rejection("reverse", ["position": invoice, "reason": "x"])?.rule == "over_payment")
        try books.run("reverse", ["position": books.position(of: "order.paid"), "reason": "bounced"])
        try books.run("reverse", ["position": invoice, "reason": "wrong amount"])
        #expect(books.reports().orders[0].invoiced == yen(0))
    }

    @Test func aCancelWhoseReleasedUnitsWereAllocatedSinceCannotBeReversed() throws {
        var books = try Books(Given.stockAndOrder + [
            ("order.allocate", ["order": "ntt-001", "quantity": "64"]),
            ("order.cancel", ["order": "ntt-001", "reason": "withdrew"]),
            ("order.place", ["order": "nec-001", "customer": "NEC", "sku": "h100", "quantity": "100", "unit-price": "1", "currency": "JPY"]),
        ])
        let cancel = books.position(of: "order.cancelled")
        var before = books
        try before.run("reverse", ["position": cancel, "reason": "customer came back"])
        #expect(before.reports().orders.first { $0.order == "ntt-001" }?.status == .allocated)
        try books.run("order.allocate", ["order": "nec-001", "quantity": "100"])
        #expect(try books.rejection("reverse", ["position": cancel, "reason": "x"])?.rule == "insufficient_supply")
    }

    @Test func aDispatchOfADeliveredShipmentCannotBeReversed() throws {
        var books = try Books(Given.stockAndOrder + [
            ("order.allocate", ["order": "ntt-001", "quantity": "10"]),
            ("order.ship", ["order": "ntt-001", "shipment": "s1", "quantity": "10"]),
            ("order.deliver", ["order": "ntt-001", "shipment": "s1"]),
        ])
        #expect(try books.rejection("reverse", ["position": books.position(of: "order.shipment_dispatched"), "reason": "x"])?.rule
            == "unknown_shipment")
        // An allocation whose units are shipped cannot go either.
        #expect(try books.rejection("reverse", ["position": books.position(of: "order.allocated"), "reason": "x"])?.rule
            == "over_shipment")
    }

    @Test func aCreatingEventGoesOnlyAfterEverythingLaterAndItsIdStaysTaken() throws {
        var books = try Books(Given.lab + [("lab.add-partner", ["lab": "tokyo-ai-lab", "partner": "RIKEN"])])
        #expect(try books.rejection("reverse", ["position": "1", "reason": "x"])?.rule == "reversal_leaves_events")
        try books.run("reverse", ["position": "2", "reason": "x"])
        try books.run("reverse", ["position": "1", "reason": "planned by mistake"])
        #expect(books.reports().labs.isEmpty)
        #expect(try books.rejection("lab.plan", ["lab": "tokyo-ai-lab", "name": "L", "city": "Tokyo", "budget": "1", "currency": "JPY"])?.rule
            == "already_exists")
        #expect(try books.rejection("lab.expense", ["lab": "tokyo-ai-lab", "category": "other", "amount": "1", "currency": "JPY"])?.rule
            == "unknown_id")
    }

    @Test func aReversalCannotPrecedeTheEventNorBeInTheFuture() throws {
        var books = try Books(Self.lab)
        #expect(try books.rejection("reverse", ["position": "2", "reason": "x", "date": "2024-03-31"])?.rule == "reversal_before_event")
        #expect(try books.rejection("reverse", ["position": "2", "reason": "x", "date": "2024-04-02"])?.rule == "date_in_future")
    }

    @Test func asOfBeforeTheReversalStillShowsTheEvent() throws {
        var books = try Books()
        books.today = day("2024-04-30")
        try books.run("lab.plan", ["lab": "l", "name": "L", "city": "Tokyo", "budget": "100", "currency": "JPY", "date": "2024-04-01"])
        try books.run("lab.expense", ["lab": "l", "category": "staff", "amount": "40", "currency": "JPY", "date": "2024-04-02"])
        try books.run("reverse", ["position": "2", "reason": "x", "date": "2024-04-20"])
        #expect(books.reports(asOf: day("2024-04-19")).labs[0].spent == yen(40))
        #expect(books.reports(asOf: day("2024-04-20")).labs[0].spent == yen(0))
    }

    @Test func reversingTheLatestMarkBringsBackThePreviousOne() throws {
        var books = try Books(Given.seedCommitment + [
            ("invest.disburse", ["investment": "sakura-seed", "amount": "100", "currency": "JPY"]),
            ("invest.mark", ["investment": "sakura-seed", "fair-value": "300", "currency": "JPY"]),
            ("invest.mark", ["investment": "sakura-seed", "fair-value": "900", "currency": "JPY"]),
        ])
        try books.run("reverse", ["position": books.position(of: "investment.marked", 1), "reason": "typo"])
        #expect(books.reports().portfolio[0].fairValue == yen(300))
    }

    @Test func aBudgetRaiseAlreadySpentCannotBeReversed() throws {
        var books = try Books(Given.lab + [
            ("lab.raise-budget", ["lab": "tokyo-ai-lab", "amount": "500", "currency": "JPY", "reason": "more"]),
            ("lab.expense", ["lab": "tokyo-ai-lab", "category": "other", "amount": "1000000500", "currency": "JPY"]),
        ])
        #expect(try books.rejection("reverse", ["position": books.position(of: "lab.budget_raised"), "reason": "x"])?.rule == "overspend")
    }
}

@Suite struct PeriodsAndDates {
    @Test func aCloseLocksItsDatesAndAReopenMovesTheLockBack() throws {
        var books = try Books(Given.lab)
        try books.run("period.close", ["through": "2024-03-31", "reason": "Q1"])
        let refused = try books.rejection(
            "lab.expense", ["lab": "tokyo-ai-lab", "category": "other", "amount": "1", "currency": "JPY", "date": "2024-03-31"])
        #expect(refused?.rule == "period_closed")
        #expect(refused?.message.hasPrefix("the period through 2024-03-31 is closed") == true)
        try books.run("lab.expense", ["lab": "tokyo-ai-lab", "category": "other", "amount": "1", "currency": "JPY", "date": "2024-04-01"])
        #expect(try books.rejection("period.close", ["through": "2024-03-31"])?.rule == "period_already_closed")
        #expect(try books.rejection("period.close", ["through": "2024-02-29"])?.rule == "period_already_closed")
        #expect(try books.rejection("period.reopen", ["through": "2024-03-31", "reason": "x"])?.rule == "period_not_closed")
        try books.run("period.reopen", ["through": "2024-02-29", "reason": "audit"])
        #expect(try books.rejection("supply.receive", ["sku": "h100", "quantity": "1", "date": "2024-02-29"])?.rule == "period_closed")
        try books.run("supply.receive", ["sku": "h100", "quantity": "1", "date": "2024-03-01"])
    }

    @Test func aClosedPeriodIsCorrectedByAReversalDatedAfterIt() throws {
        var books = try Books()
        books.today = day("2024-04-30")
        try books.run("lab.plan", ["lab": "l", "name": "L", "city": "Tokyo", "budget": "100", "currency": "JPY", "date": "2024-03-01"])
        try books.run("lab.expense", ["lab": "l", "category": "staff", "amount": "40", "currency": "JPY", "date": "2024-03-02"])
        try books.run("period.close", ["through": "2024-03-31"])
        #expect(try books.rejection("reverse", ["position": "2", "reason": "x", "date": "2024-03-31"])?.rule == "period_closed")
        try books.run("reverse", ["position": "2", "reason": "x", "date": "2024-04-01"])
        #expect(books.reports(asOf: day("2024-03-31")).labs[0].spent == yen(40))
    }

    @Test func nothingIsReopenedOrClosedInTheFuture() throws {
        var books = try Books()
        #expect(try books.rejection("period.reopen", ["through": "2024-01-31", "reason": "x"])?.rule == "period_not_closed")
        #expect(try books.rejection("period.close", ["through": "2024-04-02"])?.rule == "date_in_future")
        try books.run("period.close", ["through": "2024-04-01"])
    }

    @Test func businessDatesAfterTodayAreRefused() throws {
        var books = try Books()
        #expect(try books.rejection("startup.register", ["startup": "s", "name": "S", "date": "2024-04-02"])
            == Rejection(rule: "date_in_future", message: "2024-04-02 is later than today (2024-04-01) — a business date cannot be in the future; check --date"))
        try books.run("startup.register", ["startup": "s", "name": "S", "date": "2024-04-01"])
    }

    @Test func nothingIsDatedBeforeTheEventThatCreatedItsAggregate() throws {
        var books = try Books(Given.seedCommitment + Given.lab + Given.stockAndOrder)
        #expect(try books.rejection("invest.disburse", ["investment": "sakura-seed", "amount": "1", "currency": "JPY", "date": "2024-03-31"])
            == Rejection(rule: "date_before_creation", message: "2024-03-31 is before investment sakura-seed was committed on 2024-04-01 — give --date 2024-04-01 or later"))
        #expect(try books.rejection("lab.expense", ["lab": "tokyo-ai-lab", "category": "other", "amount": "1", "currency": "JPY", "date": "2024-01-01"])?.rule
            == "date_before_creation")
        #expect(try books.rejection("order.allocate", ["order": "ntt-001", "quantity": "1", "date": "2024-03-01"])?.rule
            == "date_before_creation")
        // Stock receipts have no lower bound.
        try books.run("supply.receive", ["sku": "h100", "quantity": "1", "date": "2020-01-01"])
        try books.run("invest.disburse", ["investment": "sakura-seed", "amount": "1", "currency": "JPY", "date": "2024-04-01"])
    }
}
