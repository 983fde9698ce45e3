import JSON

/// A write command, as the user gave it and after its values were checked: which command
/// (its spec), the flag values, and what they mean to the domain (`action`). Deciding it is
/// pure: `streams(in:)` says what to read, `decide(in:)` says what to append or why not.
public struct LedgerCommand: Sendable, Equatable {
    /// `"<group>.<subcommand>"` exactly as in the contract: `invest.commit`, `order.place`.
    public let name: String
    /// The checked flag values the command was built from.
    public let arguments: CommandArguments
    /// What to do, to which aggregate, on which business date.
    public let action: Action

    /// One case per aggregate a command can address, with its id, the aggregate's own
    /// command and the business date.
    public enum Action: Sendable, Equatable {
        case startup(id: String, StartupCommand, date: Day)
        case investment(id: String, InvestmentCommand, date: Day)
        case lab(id: String, LabCommand, date: Day)
        case supply(sku: String, SupplyCommand, date: Day)
        case order(id: String, OrderCommand, date: Day)
        /// `ledger reverse`: undo the command that appended the event at `position`.
        case reverse(position: Int64, reason: String, date: Day)
        /// `ledger period close|reopen`.
        case period(PeriodCommand, date: Day)
        case fx(pair: CurrencyPair, FXCommand, date: Day)
    }

    /// Every write command, in the contract's order: CLI subcommands, import and `--help`
    /// are derived from this list.
    public static let specs: [any CommandSpec.Type] = [
        RegisterStartup.self,
        CommitInvestment.self, DisburseInvestment.self, MarkInvestment.self, ExitInvestment.self,
        WriteOffInvestment.self,
        PlanLab.self, AddLabPartner.self, RaiseLabBudget.self, RecordLabExpense.self, ReachLabMilestone.self,
        OpenLab.self, CloseLab.self,
        ReceiveSupply.self,
        PlaceOrder.self, AllocateOrder.self, ShipOrder.self, DeliverOrder.self, InvoiceOrder.self, PayOrder.self,
        CancelOrder.self,
        ReverseEntry.self, ClosePeriod.self, ReopenPeriod.self,
        RecordFXRate.self,
    ]

    /// All write command names, for help and import.
    public static let names: [String] = specs.map { $0.name }

    private static let specsByName: [String: any CommandSpec.Type] = Dictionary(
        uniqueKeysWithValues: specs.map { ($0.name, $0) })

    /// The spec named `name` (`"order.place"`), if any.
    public static func spec(named name: String) -> (any CommandSpec.Type)? { specsByName[name] }

    /// Parses a write command from its name (`"order.place"`) and flag values keyed by long
    /// flag name without dashes. A missing required flag, an unknown flag or a malformed
    /// value is bad usage: the error names the flag and says how to fix it. No `date` means
    /// `today`.
    public static func parse(name: String, fields: [String: String], today: Day) throws(ValueError) -> LedgerCommand {
        guard let spec = specsByName[name] else {
            throw ValueError("unknown command '\(name)' — use one of: \(names.joined(separator: ", "))")
        }
        return try parse(spec, fields: fields, today: today)
    }

    /// Parses flag values for a known spec.
    public static func parse(_ spec: any CommandSpec.Type, fields: [String: String], today: Day) throws(ValueError) -> LedgerCommand {
        let arguments = try CommandArguments(spec, fields: fields, today: today)
        return LedgerCommand(name: spec.name, arguments: arguments, action: try spec.action(arguments))
    }

    /// The business date of the events this command records.
    public var date: Day { action.date }

    /// The command as flag values (long flag names without dashes), normalised: parsing
    /// these again with `parse(name:fields:today:)` gives back an equal command.
    public var fields: [String: String] { arguments.fields }

    /// A canonical description used to tell "same command" for idempotency: equal commands
    /// give equal JSON (`{"command": name, <flag>: <value as string>, …}`, the shape of an
    /// import line).
    public var canonicalJSON: JSON {
        var members: [String: JSON] = ["command": .string(name)]
        for (key, value) in fields { members[key] = .string(value) }
        return .object(members)
    }

    /// Every command also reads `periods`: the lock it must respect (and whose version its
    /// append expects, see `guardedStreams`).
    public func streams(in world: LedgerWorld) -> [StreamName] { action.streams(in: world) + [.periods] }

    /// Streams a command reads without appending to, whose version its append must still
    /// expect: `periods`, so that a close and a write dated inside the closed period cannot
    /// both commit (the append path also takes a lock a close waits for: see Schema/010).
    public static let guardedStreams: [StreamName] = [.periods]

    /// The same command carrying the log's digest (a period close stores the one taken just
    /// before it; the application takes it, and it is no part of what the user typed).
    public func withDigest(_ digest: JSON) -> LedgerCommand {
        guard case .period(.close(let through, let reason, _), let date) = action else { return self }
        return LedgerCommand(
            name: name, arguments: arguments, action: .period(.close(through: through, reason: reason, digest: digest), date: date))
    }

    public func decide(in world: LedgerWorld) throws(Rejection) -> [(stream: StreamName, event: LedgerEvent)] {
        try action.decide(in: world)
    }
}

extension LedgerCommand.Action {
    /// The business date of the events this command records.
    public var date: Day {
        switch self {
        case .startup(_, _, let date), .investment(_, _, let date), .lab(_, _, let date),
            .supply(_, _, let date), .order(_, _, let date), .reverse(_, _, let date), .period(_, let date),
            .fx(_, _, let date):
            date
        }
    }

    /// The streams this command must read before deciding, as far as the world loaded so far
    /// tells: the handler loads those it has not loaded yet, folds them in and asks again,
    /// until nothing new is asked for. (An allocation first needs `order-<id>`, then
    /// `supply-<sku>` once the order's SKU is known.) Every stream `decide` appends to is
    /// among them, so the handler can append with the versions it read.
    public func streams(in world: LedgerWorld) -> [StreamName] {
        switch self {
        case .reverse(let position, _, _):
            return world.streamsOfCommand[position] ?? []
        case .period:
            return []
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
        case .fx(let pair, _, _):
            return [pair.stream]
        }
    }

    /// Pure decision: the events to append, each with its stream, in order; or the business
    /// rule that refuses the command.
    public func decide(in world: LedgerWorld) throws(Rejection) -> [(stream: StreamName, event: LedgerEvent)] {
        let date = self.date
        if case .period(let c, _) = self {
            return try Periods.decide(c, state: world.periods, today: world.today)
                .map { (.periods, LedgerEvent(date: date, fact: .period($0))) }
        }
        if let today = world.today, date > today {
            throw Rejection(
                rule: "date_in_future",
                message: "\(date) is later than today (\(today)) — a business date cannot be in the future; check --date")
        }
        try world.periods.check(date)
        if let (stream, kind, creates) = aggregate {
            if let created = world.createdOn[stream], date < created {
                throw Rejection(
                    rule: "date_before_creation",
                    message: "\(date) is before \(kind) \(stream.parts?.id ?? stream.rawValue) was \(Rejection.participle(kind)) on \(created) — give --date \(created) or later")
            }
            // An id stays taken even when the event that created it was reversed.
            if creates, world.existingStreams.contains(stream) {
                throw .alreadyExists(kind, stream.parts?.id ?? stream.rawValue)
            }
        }
        switch self {
        case .reverse(let position, let reason, _):
            return try Reversal.decide(position: position, reason: reason, date: date, in: world)
        case .period:
            preconditionFailure("decided above")
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
        case .fx(let pair, let c, _):
            return FXCommand.decide(c, pair: pair).map { (pair.stream, LedgerEvent(date: date, fact: .fx($0))) }
        }
    }
}

extension LedgerCommand.Action {
    /// The aggregate stream this command is about, its kind, and whether the command
    /// creates it; nil for stock receipts, reversals and periods (no lower date bound).
    var aggregate: (stream: StreamName, kind: String, creates: Bool)? {
        switch self {
        case .startup(let id, _, _): (.startup(id), "startup", true)
        case .investment(let id, let c, _):
            if case .commit = c { (.investment(id), "investment", true) } else { (.investment(id), "investment", false) }
        case .lab(let id, let c, _):
            if case .plan = c { (.lab(id), "lab", true) } else { (.lab(id), "lab", false) }
        case .order(let id, let c, _):
            if case .place = c { (.order(id), "order", true) } else { (.order(id), "order", false) }
        case .supply, .reverse, .period, .fx: nil  // FX rates have no lower date bound either
        }
    }
}
