/// The decider states of the aggregates a command handler has loaded: what a command is
/// decided against. Only the streams a command asks for (`LedgerCommand.streams(in:)`) are
/// folded in, so a decision costs a few streams, not the whole log.
///
/// Reversed events are not folded in: the loader leaves out every event an `entry.reversed`
/// of the same stream names (a reversal is always on its event's stream, so each stream
/// folds on its own). The decision of a reversal needs the events themselves: the loader
/// keeps them in `history` for the streams of `streamsOfCommand`.
public struct LedgerWorld: Sendable, Equatable {
    public private(set) var startups: [String: Startup] = [:]
    public private(set) var investments: [String: Investment] = [:]
    public private(set) var labs: [String: Lab] = [:]
    public private(set) var orders: [String: Order] = [:]
    public private(set) var supplies: [String: Supply] = [:]
    public private(set) var periods = Periods()
    /// Streams that hold at least one event: an id stays taken even when the event that
    /// created it was reversed.
    public private(set) var existingStreams: Set<StreamName> = []
    /// The business date of the event that created each aggregate: nothing about it may be
    /// dated earlier.
    public private(set) var createdOn: [StreamName: Day] = [:]
    /// Today in the ledger's time zone: later business dates are refused (nil: not checked).
    public var today: Day?
    /// For `reverse`: the streams the command that appended a position touched (the
    /// application looks them up by position).
    public var streamsOfCommand: [Int64: [StreamName]] = [:]
    /// For `reverse`: every stored event of those streams, reversed ones and reversals
    /// included, in stream order.
    public var history: [StreamName: [LoggedFact]] = [:]

    public init() {}

    /// Folds one event of a loaded stream into the state of its aggregate.
    public mutating func apply(_ event: LedgerEvent, in stream: StreamName) {
        existingStreams.insert(stream)
        if event.createsStream, createdOn[stream] == nil { createdOn[stream] = event.date }
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
        case .period(let e): periods = Periods.evolve(periods, e)
        // The loader leaves reversed events out; the reversal itself changes no state.
        case .entry: break
        case .fx: break  // recording a rate depends on no earlier rate
        }
    }

    /// Folds a stream again from scratch (after a reversal): its aggregate's state is
    /// forgotten, then its events are folded as `apply(stream:events:)` does.
    public mutating func replay(_ stream: StreamName, events: [(position: Int64, event: LedgerEvent)]) {
        clearState(of: stream)
        apply(stream: stream, events: events)
    }

    /// Forgets a loaded stream entirely, as if it had never been loaded: a long import keeps
    /// only the streams its recent lines touched, so its memory does not grow with the log.
    /// The stream must be loaded again before a command that needs it is decided.
    public mutating func forget(_ stream: StreamName) {
        clearState(of: stream)
        existingStreams.remove(stream)
        createdOn[stream] = nil
        history[stream] = nil
    }

    private mutating func clearState(of stream: StreamName) {
        if let (kind, id) = stream.parts {
            switch kind {
            case "startup": startups[id] = nil
            case "investment": investments[id] = nil
            case "lab": labs[id] = nil
            case "order": orders[id] = nil
            case "supply": supplies[id] = nil
            default: break
            }
        } else if stream == .periods {
            periods = Periods()
        }
    }

    /// Folds a whole stream as stored: every event except those reversed on it, and
    /// except the reversals themselves.
    public mutating func apply(stream: StreamName, events: [(position: Int64, event: LedgerEvent)]) {
        var reversed = Set<Int64>()
        for (_, event) in events { if case .entry(let e) = event.fact { reversed.insert(e.reverses) } }
        for (position, event) in events where !reversed.contains(position) {
            if case .entry = event.fact {
                existingStreams.insert(stream)
                continue
            }
            apply(event, in: stream)
        }
    }
}
