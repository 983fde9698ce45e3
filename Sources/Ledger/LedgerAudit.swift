import JSON

/// Replays the log, in log order, against the same rules that decide commands, and says
/// which rule an event breaks — however it got into the log (a forged insert, a bug, an old
/// program). `ledger verify` runs it over every event.
///
/// It does not write the rules twice: each event is turned back into the command that
/// would have recorded it (`LedgerCommand.Action`), whose values are checked again as user
/// input (ids, positive quantities, amounts and currencies, text — `checkedAction`, or the
/// command's flags parsed from text when one fails, for the message) and which is decided
/// against the world folded so far. The event must be exactly what that decision records, on its
/// own stream. The second event of a two-stream command (the stock side of an allocation
/// or a cancel) must be the one its first event's decision recorded.
public struct LedgerAudit: Sendable {
    public private(set) var world = LedgerWorld()
    /// Stock-side events decided with an order event and not seen yet, by order id, with the
    /// position of the order event that announced them.
    private var expectedStockSide: [String: (event: LedgerEvent, position: Int64)] = [:]
    /// The events of the streams that hold reversals (a reversal folds its stream again
    /// without the events reversed so far), and the positions reversed so far.
    private let streamsWithReversals: Set<String>
    private var history: [String: [(position: Int64, event: LedgerEvent)]] = [:]
    private var reversed: [Int64: Int64] = [:]

    /// `streamsWithReversals`: the streams holding an `entry.reversed` (their events are
    /// kept, to fold them again at each reversal; no other stream's are).
    public init(streamsWithReversals: Set<String> = []) {
        self.streamsWithReversals = streamsWithReversals
    }

    /// Checks one event recorded on `stream` at `position`, then folds it in (also when it
    /// breaks a rule, so one bad event is reported once, not with everything after it).
    ///
    /// `command`: what `command(for: event)` gave, when the caller worked it out already
    /// (on another core: it depends on the event alone); nil works it out here.
    public mutating func check(
        _ event: LedgerEvent, on stream: String, at position: Int64,
        command: Result<LedgerCommand.Action, Rejection>? = nil
    ) throws(Rejection) {
        if streamsWithReversals.contains(stream) { history[stream, default: []].append((position, event)) }
        if case .entry(let e) = event.fact { return try checkReversal(e, event, on: stream, at: position) }
        defer { world.apply(event) }
        if let own = event.stream, own.rawValue != stream {
            throw Rejection(
                rule: "wrong_stream",
                message: "\(event.type) names \(own.rawValue) in its payload but is recorded on stream \(stream)")
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
        let action = try (command ?? Self.command(for: event)!).get()
        let decided = try action.decide(in: world)
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

    /// A reversal names an earlier event of its own stream, not reversed yet, not itself a
    /// reversal or a period event, not dated later than it; it may not be dated inside a
    /// closed period. Then the stream is folded again without the events reversed so far.
    private mutating func checkReversal(_ e: EntryEvent, _ event: LedgerEvent, on stream: String, at position: Int64)
        throws(Rejection)
    {
        guard let target = history[stream]?.first(where: { $0.position == e.reverses }), e.reverses < position else {
            throw Rejection(
                rule: "unknown_position",
                message: "the reversal names position \(e.reverses), which is no earlier event of stream \(stream)")
        }
        if let by = reversed[e.reverses] {
            throw Rejection(rule: "already_reversed", message: "position \(e.reverses) was already reversed, by position \(by)")
        }
        switch target.event.fact {
        case .entry: throw Rejection(rule: "cannot_reverse_reversal", message: "position \(e.reverses) is itself a reversal")
        case .period: throw Rejection(rule: "not_reversible", message: "position \(e.reverses) is a \(target.event.type)")
        default: break
        }
        if event.date < target.event.date {
            throw Rejection(
                rule: "reversal_before_event",
                message: "the reversal is dated \(event.date), before the event it reverses (\(target.event.date))")
        }
        try world.periods.check(event.date)
        reversed[e.reverses] = position
        world.replay(StreamName(rawValue: stream), events: history[stream] ?? [])
        // A reversal never breaks a rule (`Reversal.decide`): the stream folded again
        // without it must still hold, or the reversal got in some other way.
        try world.checkInvariants(reversing: e.reverses, only: StreamName(rawValue: stream))
    }

    /// An order event whose stock side never followed, if any (checked after the last event).
    public var missingStockSide: (position: Int64, message: String)? {
        guard let (order, open) = expectedStockSide.min(by: { $0.value.position < $1.value.position }) else {
            return nil
        }
        return (open.position, "order \(order): the stock side (\(open.event.type)) of this event was never recorded")
    }

    /// The part of `check` that depends on `event` alone — the command that records it,
    /// with its values parsed again as user input, or why it has none — so that a caller
    /// checking many events can work it out in parallel and pass it to `check`. Nil for the
    /// events `check` matches otherwise (a reversal, the stock side of an allocation or a
    /// cancel).
    public static func command(for event: LedgerEvent) -> Result<LedgerCommand.Action, Rejection>? {
        switch event.fact {
        case .entry, .supply(.allocated), .supply(.released): return nil
        default:
            if let action = checkedAction(recording: event) { return .success(action) }
            return Result { () throws(Rejection) in try command(recording: event).action }
        }
    }

    /// The action of the command that records `event`, built from the event's typed values
    /// when each passes the check its flag makes of user input (`FlagKind`: a slug, one line
    /// of text, an amount not below 0 — above 0 where the flag says so —, a quantity of 1 to
    /// 18 digits, a country code as stored, a percentage) — what `command(recording:)` gives,
    /// without writing every value out as flag text and parsing it back (that was most of
    /// verify's per-event audit). Nil when any value fails a check, or for an event kept to
    /// the flag path (period events, FX rates: rare); then `command(recording:)` names the
    /// flag and the problem, in the words bad usage would. `LedgerAuditTests` holds the two
    /// equal, value by value, for every event kind.
    static func checkedAction(recording event: LedgerEvent) -> LedgerCommand.Action? {
        let date = event.date
        func id(_ value: String) -> Bool { (try? Identifier(value)) != nil }
        func text(_ value: String) -> Bool { FreeText.problem(in: value) == nil }
        func text(_ value: String?) -> Bool { value.map { text($0) } ?? true }
        // A decoded amount is never negative; a text flag's value reads back unchanged.
        func money(_ amount: Money, positive: Bool) -> Bool { amount.minorUnits > 0 || (!positive && amount.minorUnits == 0) }
        func quantity(_ units: Int64) -> Bool { units > 0 && units < 1_000_000_000_000_000_000 }
        switch event.fact {
        case .startup(.registered(let startup, let name, let sector, let country)):
            // The flag upper-cases a country; the stored one must read back as given.
            guard id(startup), text(name), text(sector),
                country.map({ $0.utf8.count == 2 && $0.utf8.allSatisfy { (65...90).contains($0) } }) ?? true
            else { return nil }
            return .startup(id: startup, .register(name: name, sector: sector, country: country), date: date)
        case .investment(let e):
            guard id(e.investment) else { return nil }
            let command: InvestmentCommand
            switch e {
            case .committed(_, let startup, let round, let instrument, let amount, let ownership, let postMoney):
                guard id(startup), text(round), money(amount, positive: true),
                    postMoney.map({ money($0, positive: false) }) ?? true,
                    ownership.map({ (try? CommandArguments.percentage($0)) == $0 }) ?? true
                else { return nil }
                command = .commit(
                    startup: startup, round: round, instrument: instrument, amount: amount, ownership: ownership,
                    postMoney: postMoney)
            case .disbursed(_, let amount):
                guard money(amount, positive: true) else { return nil }
                command = .disburse(amount: amount)
            case .marked(_, let fairValue):
                guard money(fairValue, positive: false) else { return nil }
                command = .mark(fairValue: fairValue)
            case .exited(_, let proceeds):
                guard money(proceeds, positive: false) else { return nil }
                command = .exit(proceeds: proceeds)
            case .writtenOff(_, let reason):
                guard text(reason) else { return nil }
                command = .writeOff(reason: reason)
            }
            return .investment(id: e.investment, command, date: date)
        case .lab(let e):
            guard id(e.lab) else { return nil }
            let command: LabCommand
            switch e {
            case .planned(_, let name, let city, let budget):
                guard text(name), text(city), money(budget, positive: false) else { return nil }
                command = .plan(name: name, city: city, budget: budget)
            case .partnerAdded(_, let partner):
                guard text(partner) else { return nil }
                command = .addPartner(partner: partner)
            case .budgetRaised(_, let amount, let reason):
                guard money(amount, positive: true), text(reason) else { return nil }
                command = .raiseBudget(amount: amount, reason: reason)
            case .expenseRecorded(_, let category, let amount, let description):
                guard money(amount, positive: true), text(description) else { return nil }
                command = .recordExpense(category: category, amount: amount, description: description)
            case .milestoneReached(_, let name):
                guard text(name) else { return nil }
                command = .reachMilestone(name: name)
            case .opened: command = .open
            case .closed: command = .close
            }
            return .lab(id: e.lab, command, date: date)
        case .supply(.received(let sku, let units)):
            guard id(sku), quantity(units) else { return nil }
            return .supply(sku: sku, .receive(quantity: units), date: date)
        case .order(let e):
            guard id(e.order) else { return nil }
            let command: OrderCommand
            switch e {
            case .placed(_, let customer, let sku, let units, let unitPrice):
                guard text(customer), id(sku), quantity(units), money(unitPrice, positive: false) else { return nil }
                command = .place(customer: customer, sku: sku, quantity: units, unitPrice: unitPrice)
            case .allocated(_, _, let units):
                guard quantity(units) else { return nil }
                command = .allocate(quantity: units)
            case .shipmentDispatched(_, let shipment, _, let units):
                guard id(shipment), quantity(units) else { return nil }
                command = .ship(shipment: shipment, quantity: units)
            case .shipmentDelivered(_, let shipment, _, _):
                guard id(shipment) else { return nil }
                command = .deliver(shipment: shipment)
            case .invoiced(_, let amount):
                guard money(amount, positive: true) else { return nil }
                command = .invoice(amount: amount)
            case .paid(_, let amount):
                guard money(amount, positive: true) else { return nil }
                command = .pay(amount: amount)
            case .cancelled(_, _, let reason, _):
                guard text(reason) else { return nil }
                command = .cancel(reason: reason)
            }
            return .order(id: e.order, command, date: date)
        case .supply(.allocated), .supply(.released), .entry, .period, .fx:
            return nil
        }
    }

    /// The command that records `event`, with its values checked as user input: the
    /// event's values as the flags of that command, parsed by its spec, must read back as
    /// given.
    static func command(recording event: LedgerEvent) throws(Rejection) -> LedgerCommand {
        // A period event carries the digest, which is not a flag: built from its values.
        if case .period(let e) = event.fact {
            var fields = ["through": e.through.description]
            var digest = JSON.null
            switch e {
            case .closed(_, let reason, let d):
                fields["reason"] = reason
                digest = d
            case .reopened(_, let reason): fields["reason"] = reason
            }
            do throws(ValueError) {
                return try LedgerCommand.parse(name: e.type == "period.closed" ? "period.close" : "period.reopen", fields: fields, today: event.date)
                    .withDigest(digest)
            } catch {
                throw Rejection(rule: "malformed_value", message: "\(event.type) holds a value no command accepts: \(error.message)")
            }
        }
        let (name, fields) = flags(recording: event)
        do throws(ValueError) {
            let parsed = try LedgerCommand.parse(name: name, fields: fields, today: event.date)
            guard parsed.arguments.hasFields(fields) else {
                throw ValueError("its values do not read back as given (\(parsed.canonicalJSON.canonicalString))")
            }
            return parsed
        } catch {
            throw Rejection(rule: "malformed_value", message: "\(event.type) holds a value no command accepts: \(error.message)")
        }
    }

    /// The name and flag values of the command that records `event`.
    static func flags(recording event: LedgerEvent) -> (String, [String: String]) {
        var f: [String: String] = ["date": event.date.description]
        func money(_ flag: String, _ amount: Money) {
            f[flag] = amount.decimalString
            f["currency"] = amount.currency.code
        }
        switch event.fact {
        case .startup(.registered(let id, let name, let sector, let country)):
            f["startup"] = id
            f["name"] = name
            f["sector"] = sector
            f["country"] = country
            return ("startup.register", f)
        case .investment(let e):
            f["investment"] = e.investment
            switch e {
            case .committed(_, let startup, let round, let instrument, let amount, let ownership, let postMoney):
                f["startup"] = startup
                f["round"] = round
                f["instrument"] = instrument.rawValue
                money("amount", amount)
                f["ownership"] = ownership
                if let postMoney { money("post-money", postMoney) }
                return ("invest.commit", f)
            case .disbursed(_, let amount): money("amount", amount); return ("invest.disburse", f)
            case .marked(_, let fairValue): money("fair-value", fairValue); return ("invest.mark", f)
            case .exited(_, let proceeds): money("proceeds", proceeds); return ("invest.exit", f)
            case .writtenOff(_, let reason): f["reason"] = reason; return ("invest.write-off", f)
            }
        case .lab(let e):
            f["lab"] = e.lab
            switch e {
            case .planned(_, let name, let city, let budget):
                f["name"] = name
                f["city"] = city
                money("budget", budget)
                return ("lab.plan", f)
            case .partnerAdded(_, let partner): f["partner"] = partner; return ("lab.add-partner", f)
            case .budgetRaised(_, let amount, let reason):
                money("amount", amount)
                f["reason"] = reason
                return ("lab.raise-budget", f)
            case .expenseRecorded(_, let category, let amount, let description):
                f["category"] = category.rawValue
                money("amount", amount)
                f["description"] = description
                return ("lab.expense", f)
            case .milestoneReached(_, let name): f["name"] = name; return ("lab.milestone", f)
            case .opened: return ("lab.open", f)
            case .closed: return ("lab.close", f)
            }
        case .supply(.received(let sku, let quantity)):
            f["sku"] = sku
            f["quantity"] = String(quantity)
            return ("supply.receive", f)
        case .supply(.allocated), .supply(.released):
            preconditionFailure("stock sides are checked against their order event")
        case .entry, .period:
            preconditionFailure("reversals and period events are checked above")
        case .order(let e):
            f["order"] = e.order
            switch e {
            case .placed(_, let customer, let sku, let quantity, let unitPrice):
                f["customer"] = customer
                f["sku"] = sku
                f["quantity"] = String(quantity)
                money("unit-price", unitPrice)
                return ("order.place", f)
            case .allocated(_, _, let quantity): f["quantity"] = String(quantity); return ("order.allocate", f)
            case .shipmentDispatched(_, let shipment, _, let quantity):
                f["shipment"] = shipment
                f["quantity"] = String(quantity)
                return ("order.ship", f)
            case .shipmentDelivered(_, let shipment, _, _): f["shipment"] = shipment; return ("order.deliver", f)
            case .invoiced(_, let amount): money("amount", amount); return ("order.invoice", f)
            case .paid(_, let amount): money("amount", amount); return ("order.pay", f)
            case .cancelled(_, _, let reason, _): f["reason"] = reason; return ("order.cancel", f)
            }
        case .fx(.rateRecorded(let pair, let rate, let source)):
            f["base"] = pair.base.code
            f["quote"] = pair.quote.code
            f["rate"] = rate.decimalString
            f["source"] = source
            return ("fx.rate", f)
        }
    }
}
