/// Replays the log, in log order, against the same rules that decide commands, and says
/// which rule an event breaks — however it got into the log (a forged insert, a bug, an old
/// program). `ledger verify` runs it over every event.
///
/// It does not write the rules twice: each event is turned back into the command that
/// would have recorded it (`LedgerCommand`), whose values are parsed again as user input
/// (ids, positive quantities, amounts and currencies, text) and which is decided against
/// the world folded so far. The event must be exactly what that decision records, on its
/// own stream. The second event of a two-stream command (the stock side of an allocation
/// or a cancel) must be the one its first event's decision recorded.
public struct LedgerAudit: Sendable {
    public private(set) var world = LedgerWorld()
    /// Stock-side events decided with an order event and not seen yet, by order id, with the
    /// position of the order event that announced them.
    private var expectedStockSide: [String: (event: LedgerEvent, position: Int64)] = [:]

    public init() {}

    /// Checks one event recorded on `stream` at `position`, then folds it in (also when it
    /// breaks a rule, so one bad event is reported once, not with everything after it).
    public mutating func check(_ event: LedgerEvent, on stream: String, at position: Int64) throws(Rejection) {
        defer { world.apply(event) }
        if event.stream.rawValue != stream {
            throw Rejection(
                rule: "wrong_stream",
                message: "\(event.type) names \(event.stream) in its payload but is recorded on stream \(stream)")
        }
        switch event.fact {
        case .supply(.allocated(let sku, let order, _)), .supply(.released(let sku, let order, _)):
            guard let expected = expectedStockSide[order], expected.event == event else {
                throw Rejection(
                    rule: "unmatched_stock_event",
                    message: "\(event.type) of \(sku) for order \(order) was not recorded by an allocation or a cancel of that order — stock moved without its order")
            }
            expectedStockSide[order] = nil
            return
        default:
            break
        }
        let command = try Self.command(recording: event)
        let decided = try command.decide(in: world)
        guard let first = decided.first, first.stream.rawValue == stream, first.event == event else {
            throw Rejection(
                rule: "inconsistent_event",
                message: "\(event.type) is not what its command records now: recorded \(event.payload.canonicalString), the rules give \(decided.first.map { $0.event.payload.canonicalString } ?? "nothing")")
        }
        if case .order(let e) = event.fact, let companion = decided.dropFirst().first {
            if let open = expectedStockSide[e.order] {
                throw Rejection(
                    rule: "unmatched_stock_event",
                    message: "order \(e.order): the stock side (\(open.event.type)) of the event at position \(open.position) was never recorded")
            }
            expectedStockSide[e.order] = (companion.event, position)
        }
    }

    /// An order event whose stock side never followed, if any (checked after the last event).
    public var missingStockSide: (position: Int64, message: String)? {
        guard let (order, open) = expectedStockSide.min(by: { $0.value.position < $1.value.position }) else {
            return nil
        }
        return (open.position, "order \(order): the stock side (\(open.event.type)) of this event was never recorded")
    }

    /// The command that records `event`, with its values checked as user input.
    static func command(recording event: LedgerEvent) throws(Rejection) -> LedgerCommand {
        let date = event.date
        let command: LedgerCommand
        switch event.fact {
        case .startup(.registered(let id, let name, let sector, let country)):
            command = .startup(id: id, .register(name: name, sector: sector, country: country), date: date)
        case .investment(let e):
            let c: InvestmentCommand
            switch e {
            case .committed(_, let startup, let round, let instrument, let amount, let ownership, let postMoney):
                c = .commit(startup: startup, round: round, instrument: instrument, amount: amount, ownership: ownership, postMoney: postMoney)
            case .disbursed(_, let amount): c = .disburse(amount: amount)
            case .marked(_, let fairValue): c = .mark(fairValue: fairValue)
            case .exited(_, let proceeds): c = .exit(proceeds: proceeds)
            case .writtenOff(_, let reason): c = .writeOff(reason: reason)
            }
            command = .investment(id: e.investment, c, date: date)
        case .lab(let e):
            let c: LabCommand
            switch e {
            case .planned(_, let name, let city, let budget): c = .plan(name: name, city: city, budget: budget)
            case .partnerAdded(_, let partner): c = .addPartner(partner: partner)
            case .budgetRaised(_, let amount, let reason): c = .raiseBudget(amount: amount, reason: reason)
            case .expenseRecorded(_, let category, let amount, let description):
                c = .recordExpense(category: category, amount: amount, description: description)
            case .milestoneReached(_, let name): c = .reachMilestone(name: name)
            case .opened: c = .open
            case .closed: c = .close
            }
            command = .lab(id: e.lab, c, date: date)
        case .supply(.received(let sku, let quantity)):
            command = .supply(sku: sku, .receive(quantity: quantity), date: date)
        case .supply(.allocated), .supply(.released):
            preconditionFailure("stock sides are checked against their order event")
        case .order(let e):
            let c: OrderCommand
            switch e {
            case .placed(_, let customer, let sku, let quantity, let unitPrice):
                c = .place(customer: customer, sku: sku, quantity: quantity, unitPrice: unitPrice)
            case .allocated(_, _, let quantity): c = .allocate(quantity: quantity)
            case .shipmentDispatched(_, let shipment, _, let quantity): c = .ship(shipment: shipment, quantity: quantity)
            case .shipmentDelivered(_, let shipment, _, _): c = .deliver(shipment: shipment)
            case .invoiced(_, let amount): c = .invoice(amount: amount)
            case .paid(_, let amount): c = .pay(amount: amount)
            case .cancelled(_, _, let reason, _): c = .cancel(reason: reason)
            }
            command = .order(id: e.order, c, date: date)
        }
        // The values, as a user would have had to type them.
        do throws(ValueError) {
            let parsed = try LedgerCommand.parse(name: command.name, fields: command.fields, today: date)
            guard parsed == command else {
                throw ValueError("its values do not read back as given (\(command.canonicalJSON.canonicalString))")
            }
        } catch {
            throw Rejection(rule: "malformed_value", message: "\(event.type) holds a value no command accepts: \(error.message)")
        }
        return command
    }
}
