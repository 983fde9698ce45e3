/// The decider states of the aggregates a command handler has loaded: what a command is
/// decided against. Only the streams a command asks for (`LedgerCommand.streams(in:)`) are
/// folded in, so a decision costs a few streams, not the whole log.
public struct LedgerWorld: Sendable, Equatable {
    public private(set) var startups: [String: Startup] = [:]
    public private(set) var investments: [String: Investment] = [:]
    public private(set) var labs: [String: Lab] = [:]
    public private(set) var orders: [String: Order] = [:]
    public private(set) var supplies: [String: Supply] = [:]

    public init() {}

    /// Folds one event of a loaded stream into the state of its aggregate.
    public mutating func apply(_ event: LedgerEvent, in stream: StreamName) {
        apply(event)
    }

    /// Folds one event into the state of its aggregate (the event names its own stream).
    public mutating func apply(_ event: LedgerEvent) {
        switch event.fact {
        case .startup(let e): startups[e.startup] = Startup.evolve(startups[e.startup], e)
        case .investment(let e): investments[e.investment] = Investment.evolve(investments[e.investment], e)
        case .lab(let e): labs[e.lab] = Lab.evolve(labs[e.lab], e)
        case .supply(let e): supplies[e.sku] = Supply.evolve(supplies[e.sku], e)
        case .order(let e): orders[e.order] = Order.evolve(orders[e.order], e)
        }
    }
}
