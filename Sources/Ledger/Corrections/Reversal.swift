/// One stored event of a stream, with what a reversal decision needs to know about it:
/// where it is in the log and which command appended it.
public struct LoggedFact: Sendable, Equatable {
    public var position: Int64
    public var stream: StreamName
    public var event: LedgerEvent
    /// The correlation id of the command that appended it (nil for events without one).
    public var correlation: String?

    public init(position: Int64, stream: StreamName, event: LedgerEvent, correlation: String?) {
        self.position = position
        self.stream = stream
        self.event = event
        self.correlation = correlation
    }
}

/// `ledger reverse`: decides the `entry.reversed` events that undo the command which
/// appended a given position — one per event that command appended, each on that event's
/// stream — or why not.
///
/// A reversal never breaks a rule: the streams are folded again without the reversed
/// events (and without everything reversed before) and every aggregate they hold must still
/// satisfy its invariants (stock allocated ≤ received, shipped ≤ allocated, paid ≤ invoiced,
/// spent ≤ budget, no delivery of an undispatched shipment).
enum Reversal {
    static func decide(position: Int64, reason: String, date: Day, in world: LedgerWorld) throws(Rejection)
        -> [(stream: StreamName, event: LedgerEvent)]
    {
        let streams = world.streamsOfCommand[position] ?? []
        let facts = streams.flatMap { world.history[$0] ?? [] }
        guard let target = facts.first(where: { $0.position == position }) else {
            throw Rejection(
                rule: "unknown_position",
                message: "no event at position \(position) — list positions with ledger events")
        }
        switch target.event.fact {
        case .entry:
            throw Rejection(
                rule: "cannot_reverse_reversal",
                message: "position \(position) is itself a reversal — a reversal cannot be reversed; record the right figure with the ordinary command")
        case .period:
            throw Rejection(
                rule: "not_reversible",
                message: "position \(position) is a \(target.event.type) — periods are not reversed; use ledger period reopen or close")
        default:
            break
        }
        var reversedBy: [Int64: Int64] = [:]
        for fact in facts { if case .entry(let e) = fact.event.fact { reversedBy[e.reverses] = fact.position } }
        let group = facts.filter { fact in
            if case .entry = fact.event.fact { return false }
            if fact.position == position { return true }
            return target.correlation != nil && fact.correlation == target.correlation
        }.sorted { $0.position < $1.position }
        let inGroup = Set(group.map(\.position))
        for fact in group {
            if let by = reversedBy[fact.position] {
                throw Rejection(
                    rule: "already_reversed",
                    message: "position \(fact.position) (\(fact.event.type)) is already reversed, by position \(by)")
            }
            if date < fact.event.date {
                throw Rejection(
                    rule: "reversal_before_event",
                    message: "a reversal dated \(date) cannot precede the event it reverses (position \(fact.position), dated \(fact.event.date)) — give --date \(fact.event.date) or later")
            }
            if fact.event.createsStream {
                let later = (world.history[fact.stream] ?? []).filter { other in
                    if case .entry = other.event.fact { return false }
                    return other.position > fact.position && reversedBy[other.position] == nil
                        && !inGroup.contains(other.position)
                }
                if !later.isEmpty {
                    throw Rejection(
                        rule: "reversal_leaves_events",
                        message: "cannot reverse \(fact.event.type) at position \(fact.position) while \(fact.stream) has later events not reversed (positions \(later.map { String($0.position) }.joined(separator: ", "))) — reverse them first")
                }
            }
        }
        // The streams as they would stand: without what was reversed before, nor this group.
        var after = LedgerWorld()
        for fact in facts where reversedBy[fact.position] == nil && !inGroup.contains(fact.position) {
            after.apply(fact.event, in: fact.stream)
        }
        try after.checkInvariants(reversing: position)
        return group.map { ($0.stream, LedgerEvent(date: date, fact: .entry(.reversed(reverses: $0.position, reason: reason)))) }
    }
}

extension LedgerWorld {
    /// The rules a fold of events must satisfy whatever got in: what a reversal may not break.
    /// `only`: check just that stream's aggregate (verify's audit, after each reversal it
    /// replays); nil checks every aggregate.
    func checkInvariants(reversing position: Int64, only: StreamName? = nil) throws(Rejection) {
        let prefix = "cannot reverse position \(position):"
        let scope = only?.parts
        func inScope(_ kind: String, _ id: String) -> Bool { scope.map { $0.0 == kind && $0.1 == id } ?? true }
        for supply in supplies.values.sorted(by: { $0.sku < $1.sku })
        where inScope("supply", supply.sku) && supply.allocated > supply.received {
            throw Rejection(
                rule: "insufficient_supply",
                message: "\(prefix) \(supply.sku) would have \(supply.allocated) units allocated but only \(supply.received) received — reverse the allocations first")
        }
        for order in orders.values.sorted(by: { $0.id < $1.id }) where inScope("order", order.id) {
            if order.shipped > order.allocated {
                throw Rejection(
                    rule: "over_shipment",
                    message: "\(prefix) order \(order.id) would have \(order.shipped) units shipped but only \(order.allocated) allocated — reverse the shipments first")
            }
            if order.undispatchedDeliveries > 0 {
                throw Rejection(
                    rule: "unknown_shipment",
                    message: "\(prefix) order \(order.id) would have a delivery of a shipment never dispatched — reverse the delivery first")
            }
            if order.paid.minorUnits > order.invoiced.minorUnits {
                throw Rejection(
                    rule: "over_payment",
                    message: "\(prefix) order \(order.id) would have \(order.paid.formatted) paid but only \(order.invoiced.formatted) invoiced — reverse the payment first")
            }
            if order.allocated > order.quantity {
                throw Rejection(
                    rule: "over_allocation",
                    message: "\(prefix) order \(order.id) would have \(order.allocated) units allocated of \(order.quantity) ordered")
            }
        }
        for lab in labs.values.sorted(by: { $0.id < $1.id }) where inScope("lab", lab.id) && lab.spent.minorUnits > lab.budget.minorUnits {
            throw Rejection(
                rule: "overspend",
                message: "\(prefix) lab \(lab.id) would have spent \(lab.spent.formatted) of a \(lab.budget.formatted) budget — reverse expenses first")
        }
        for investment in investments.values.sorted(by: { $0.id < $1.id })
        where inScope("investment", investment.id) && investment.disbursed.minorUnits > investment.committed.minorUnits {
            throw Rejection(
                rule: "over_disbursement",
                message: "\(prefix) investment \(investment.id) would have \(investment.disbursed.formatted) disbursed of \(investment.committed.formatted) committed")
        }
    }
}
