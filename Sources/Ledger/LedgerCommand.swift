import JSON

/// A write command, as the user gave it and after its values were validated: one aggregate
/// id, what to do to it (one case per write command of the contract, grouped by aggregate),
/// and the business date. Deciding it is pure: `streams(in:)` says what to read,
/// `decide(in:)` says what to append or why not.
public enum LedgerCommand: Sendable, Equatable {
    case startup(id: String, StartupCommand, date: Day)
    case investment(id: String, InvestmentCommand, date: Day)
    case lab(id: String, LabCommand, date: Day)
    case supply(sku: String, SupplyCommand, date: Day)
    case order(id: String, OrderCommand, date: Day)
}

extension LedgerCommand {
    /// The business date of the events this command records.
    public var date: Day {
        switch self {
        case .startup(_, _, let date), .investment(_, _, let date), .lab(_, _, let date),
            .supply(_, _, let date), .order(_, _, let date):
            date
        }
    }

    /// `"<group>.<subcommand>"` exactly as in the contract: `invest.commit`, `order.place`.
    public var name: String {
        switch self {
        case .startup(_, let c, _):
            switch c { case .register: "startup.register" }
        case .investment(_, let c, _):
            switch c {
            case .commit: "invest.commit"
            case .disburse: "invest.disburse"
            case .mark: "invest.mark"
            case .exit: "invest.exit"
            case .writeOff: "invest.write-off"
            }
        case .lab(_, let c, _):
            switch c {
            case .plan: "lab.plan"
            case .addPartner: "lab.add-partner"
            case .raiseBudget: "lab.raise-budget"
            case .recordExpense: "lab.expense"
            case .reachMilestone: "lab.milestone"
            case .open: "lab.open"
            case .close: "lab.close"
            }
        case .supply(_, let c, _):
            switch c { case .receive: "supply.receive" }
        case .order(_, let c, _):
            switch c {
            case .place: "order.place"
            case .allocate: "order.allocate"
            case .ship: "order.ship"
            case .deliver: "order.deliver"
            case .invoice: "order.invoice"
            case .pay: "order.pay"
            case .cancel: "order.cancel"
            }
        }
    }

    /// The command as flag values (long flag names without dashes), normalised: parsing
    /// these again with `parse(name:fields:today:)` gives back an equal command.
    public var fields: [String: String] {
        var f: [String: String] = ["date": date.description]
        func money(_ flag: String, _ amount: Money) {
            f[flag] = amount.decimalString
            f["currency"] = amount.currency.code
        }
        switch self {
        case .startup(let id, .register(let name, let sector, let country), _):
            f["startup"] = id
            f["name"] = name
            f["sector"] = sector
            f["country"] = country
        case .investment(let id, let c, _):
            f["investment"] = id
            switch c {
            case .commit(let startup, let round, let instrument, let amount, let ownership, let postMoney):
                f["startup"] = startup
                f["round"] = round
                f["instrument"] = instrument.rawValue
                money("amount", amount)
                f["ownership"] = ownership
                if let postMoney { money("post-money", postMoney) }
            case .disburse(let amount): money("amount", amount)
            case .mark(let fairValue): money("fair-value", fairValue)
            case .exit(let proceeds): money("proceeds", proceeds)
            case .writeOff(let reason): f["reason"] = reason
            }
        case .lab(let id, let c, _):
            f["lab"] = id
            switch c {
            case .plan(let name, let city, let budget):
                f["name"] = name
                f["city"] = city
                money("budget", budget)
            case .addPartner(let partner): f["partner"] = partner
            case .raiseBudget(let amount, let reason):
                money("amount", amount)
                f["reason"] = reason
            case .recordExpense(let category, let amount, let description):
                f["category"] = category.rawValue
                money("amount", amount)
                f["description"] = description
            case .reachMilestone(let name): f["name"] = name
            case .open, .close: break
            }
        case .supply(let sku, .receive(let quantity), _):
            f["sku"] = sku
            f["quantity"] = String(quantity)
        case .order(let id, let c, _):
            f["order"] = id
            switch c {
            case .place(let customer, let sku, let quantity, let unitPrice):
                f["customer"] = customer
                f["sku"] = sku
                f["quantity"] = String(quantity)
                money("unit-price", unitPrice)
            case .allocate(let quantity): f["quantity"] = String(quantity)
            case .ship(let shipment, let quantity):
                f["shipment"] = shipment
                f["quantity"] = String(quantity)
            case .deliver(let shipment): f["shipment"] = shipment
            case .invoice(let amount), .pay(let amount): money("amount", amount)
            case .cancel(let reason): f["reason"] = reason
            }
        }
        return f
    }

    /// A canonical description used to tell "same command" for idempotency: equal commands
    /// give equal JSON (`{"command": name, <flag>: <value as string>, …}`, the shape of an
    /// import line).
    public var canonicalJSON: JSON {
        var members: [String: JSON] = ["command": .string(name)]
        for (key, value) in fields { members[key] = .string(value) }
        return .object(members)
    }

    /// The streams this command must read before deciding, as far as the world loaded so far
    /// tells: the handler loads those it has not loaded yet, folds them in and asks again,
    /// until nothing new is asked for. (An allocation first needs `order-<id>`, then
    /// `supply-<sku>` once the order's SKU is known.) Every stream `decide` appends to is
    /// among them, so the handler can append with the versions it read.
    public func streams(in world: LedgerWorld) -> [StreamName] {
        switch self {
        case .startup(let id, _, _):
            return [.startup(id)]
        case .investment(let id, let c, _):
            if case .commit(let startup, _, _, _, _, _) = c { return [.investment(id), .startup(startup)] }
            return [.investment(id)]
        case .lab(let id, _, _):
            return [.lab(id)]
        case .supply(let sku, _, _):
            return [.supply(sku: sku)]
        case .order(let id, let c, _):
            switch c {
            case .allocate, .cancel:
                if let sku = world.orders[id]?.sku { return [.order(id), .supply(sku: sku)] }
                return [.order(id)]
            default:
                return [.order(id)]
            }
        }
    }

    /// Pure decision: the events to append, each with its stream, in order; or the business
    /// rule that refuses the command.
    public func decide(in world: LedgerWorld) throws(Rejection) -> [(stream: StreamName, event: LedgerEvent)] {
        let date = self.date
        switch self {
        case .startup(let id, let c, _):
            return try Startup.decide(c, id: id, state: world.startups[id])
                .map { (.startup(id), LedgerEvent(date: date, fact: .startup($0))) }
        case .investment(let id, let c, _):
            var startupExists = true
            if case .commit(let startup, _, _, _, _, _) = c { startupExists = world.startups[startup] != nil }
            return try Investment.decide(c, id: id, state: world.investments[id], startupExists: startupExists)
                .map { (.investment(id), LedgerEvent(date: date, fact: .investment($0))) }
        case .lab(let id, let c, _):
            return try Lab.decide(c, id: id, state: world.labs[id])
                .map { (.lab(id), LedgerEvent(date: date, fact: .lab($0))) }
        case .supply(let sku, let c, _):
            return try Supply.decide(c, sku: sku, state: world.supplies[sku])
                .map { (.supply(sku: sku), LedgerEvent(date: date, fact: .supply($0))) }
        case .order(let id, let c, _):
            let orderEvents = try Order.decide(c, id: id, state: world.orders[id])
            var out: [(stream: StreamName, event: LedgerEvent)] = []
            for e in orderEvents {
                out.append((.order(id), LedgerEvent(date: date, fact: .order(e))))
                // An allocation and a cancel move stock too: one command, two streams.
                switch e {
                case .allocated(_, let sku, let quantity):
                    let s = try Supply.allocate(quantity, of: sku, to: id, state: world.supplies[sku])
                    out.append((.supply(sku: sku), LedgerEvent(date: date, fact: .supply(s))))
                case .cancelled(_, let sku, _, let released) where released > 0:
                    let s = Supply.release(released, of: sku, from: id)
                    out.append((.supply(sku: sku), LedgerEvent(date: date, fact: .supply(s))))
                default:
                    break
                }
            }
            return out
        }
    }
}
