/// The stock of one SKU: the decider state that makes scarce chips go to at most as many
/// orders as there are units. Every allocation is appended to this one stream, so the event
/// store's per-stream version check serialises concurrent allocators: the total allocated
/// never exceeds the total received, whatever the number of writers.
public struct Supply: Sendable, Equatable {
    public let sku: String
    public var received: Int64
    /// Units allocated to orders, net of releases by cancels.
    public var allocated: Int64

    public var available: Int64 { received - allocated }

    /// A SKU nothing has been received for yet.
    public static func empty(_ sku: String) -> Supply { Supply(sku: sku, received: 0, allocated: 0) }

    /// Decides a stock command against the current state (nil: nothing received yet).
    public static func decide(_ command: SupplyCommand, sku: String, state: Supply?) throws(Rejection) -> [SupplyEvent] {
        let state = state ?? .empty(sku)
        switch command {
        case .receive(let quantity):
            if state.received.addingReportingOverflow(quantity).overflow {
                throw .tooLarge("receiving \(quantity) more units of \(sku)")
            }
            return [.received(sku: sku, quantity: quantity)]
        }
    }

    /// Decides the stock side of an order's allocation.
    public static func allocate(_ quantity: Int64, of sku: String, to order: String, state: Supply?) throws(Rejection) -> SupplyEvent {
        let state = state ?? .empty(sku)
        guard quantity <= state.available else {
            throw Rejection(
                rule: "insufficient_supply",
                message: "cannot allocate \(quantity) units of \(sku) to order \(order): received \(state.received), already allocated \(state.allocated), available \(state.available) — receive more stock first (ledger supply receive)")
        }
        return .allocated(sku: sku, order: order, quantity: quantity)
    }

    /// The stock side of an order's cancel: its unshipped units go back to stock.
    public static func release(_ quantity: Int64, of sku: String, from order: String) -> SupplyEvent {
        .released(sku: sku, order: order, quantity: quantity)
    }

    /// Folds one event into the state.
    public static func evolve(_ state: Supply?, _ event: SupplyEvent) -> Supply {
        var state = state ?? .empty(event.sku)
        switch event {
        case .received(_, let quantity): state.received &+= quantity
        case .allocated(_, _, let quantity): state.allocated &+= quantity
        case .released(_, _, let quantity): state.allocated &-= quantity
        }
        return state
    }
}
