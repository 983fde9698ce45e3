/// A customer's order for units of one SKU at a unit price: the decider state that keeps the
/// chain honest — allocated ≤ ordered, shipped ≤ allocated, each shipment delivered once,
/// invoiced ≤ order value, paid ≤ invoiced — and makes a cancel final.
public struct Order: Sendable, Equatable {
    /// One dispatch of units to the customer.
    public struct Shipment: Sendable, Equatable {
        public var quantity: Int64
        public var delivered: Bool

        public init(quantity: Int64, delivered: Bool) {
            self.quantity = quantity
            self.delivered = delivered
        }
    }

    public let id: String
    public let sku: String
    public let currency: Currency
    public let quantity: Int64
    public let unitPrice: Money
    /// Units allocated from stock; after a cancel only the shipped units stay allocated.
    public var allocated: Int64
    public var shipped: Int64
    public var shipments: [String: Shipment]
    public var invoiced: Money
    public var paid: Money
    public var isCancelled: Bool
    /// Deliveries of shipments never dispatched: only a reversal of a dispatch can leave
    /// one, and that reversal is refused (see `Reversal`).
    public var undispatchedDeliveries = 0

    /// Order value = quantity × unit price (checked to fit when the order was placed).
    public var value: Money {
        Money(minorUnits: unitPrice.minorUnits.multipliedReportingOverflow(by: quantity).partialValue, currency: currency)
    }

    /// Decides an order command (state nil: not placed yet). For an allocation only the
    /// order's side is checked here; the stock's side is `Supply.allocate`.
    public static func decide(_ command: OrderCommand, id: String, state: Order?) throws(Rejection) -> [OrderEvent] {
        if case .place(let customer, let sku, let quantity, let unitPrice) = command {
            if state != nil { throw .alreadyExists("order", id) }
            if unitPrice.minorUnits.multipliedReportingOverflow(by: quantity).overflow {
                throw .tooLarge("an order value of \(quantity) × \(unitPrice.formatted)")
            }
            return [.placed(order: id, customer: customer, sku: sku, quantity: quantity, unitPrice: unitPrice)]
        }
        guard let state else { throw .unknown("order", id, create: "order place") }
        if state.isCancelled {
            throw Rejection(rule: "order_cancelled", message: "order \(id) is cancelled — nothing can be recorded after a cancel")
        }
        switch command {
        case .place:
            preconditionFailure("handled above")
        case .allocate(let quantity):
            let (total, overflow) = state.allocated.addingReportingOverflow(quantity)
            if overflow || total > state.quantity {
                throw Rejection(
                    rule: "over_allocation",
                    message: "cannot allocate \(quantity) units to order \(id): ordered \(state.quantity), already allocated \(state.allocated) — at most \(state.quantity - state.allocated) more can be allocated")
            }
            return [.allocated(order: id, sku: state.sku, quantity: quantity)]
        case .ship(let shipment, let quantity):
            if state.shipments[shipment] != nil {
                throw Rejection(
                    rule: "duplicate_shipment",
                    message: "shipment \(shipment) of order \(id) is already dispatched — use a new shipment id")
            }
            let (total, overflow) = state.shipped.addingReportingOverflow(quantity)
            if overflow || total > state.allocated {
                throw Rejection(
                    rule: "over_shipment",
                    message: "cannot ship \(quantity) units of order \(id): allocated \(state.allocated), already shipped \(state.shipped) — allocate more first (ledger order allocate)")
            }
            return [.shipmentDispatched(order: id, shipment: shipment, sku: state.sku, quantity: quantity)]
        case .deliver(let shipment):
            guard let dispatched = state.shipments[shipment] else {
                throw Rejection(
                    rule: "unknown_shipment",
                    message: "order \(id) has no shipment \(shipment) — ship it first (ledger order ship)")
            }
            if dispatched.delivered {
                throw Rejection(
                    rule: "already_delivered",
                    message: "shipment \(shipment) of order \(id) is already delivered — a shipment is delivered once")
            }
            return [.shipmentDelivered(order: id, shipment: shipment, sku: state.sku, quantity: dispatched.quantity)]
        case .invoice(let amount):
            try state.checkCurrency(amount)
            let (total, overflow) = state.invoiced.minorUnits.addingReportingOverflow(amount.minorUnits)
            if overflow || total > state.value.minorUnits {
                throw Rejection(
                    rule: "over_invoicing",
                    message: "cannot invoice \(amount.formatted) on order \(id): order value \(state.value.formatted) (\(state.quantity) × \(state.unitPrice.formatted)), already invoiced \(state.invoiced.formatted) — at most \(state.value.minus(state.invoiced).formatted) can still be invoiced")
            }
            return [.invoiced(order: id, amount: amount)]
        case .pay(let amount):
            try state.checkCurrency(amount)
            let (total, overflow) = state.paid.minorUnits.addingReportingOverflow(amount.minorUnits)
            if overflow || total > state.invoiced.minorUnits {
                throw Rejection(
                    rule: "over_payment",
                    message: "cannot record a payment of \(amount.formatted) on order \(id): invoiced \(state.invoiced.formatted), already paid \(state.paid.formatted) — invoice first (ledger order invoice)")
            }
            return [.paid(order: id, amount: amount)]
        case .cancel(let reason):
            return [.cancelled(order: id, sku: state.sku, reason: reason, released: state.allocated - state.shipped)]
        }
    }

    private func checkCurrency(_ amount: Money) throws(Rejection) {
        guard amount.currency == currency else {
            throw .currencyMismatch("order", id, is: currency, got: amount.currency)
        }
    }

    /// Folds one event into the state.
    public static func evolve(_ state: Order?, _ event: OrderEvent) -> Order? {
        if case .placed(let id, _, let sku, let quantity, let unitPrice) = event {
            return Order(id: id, sku: sku, currency: unitPrice.currency, quantity: quantity, unitPrice: unitPrice,
                         allocated: 0, shipped: 0, shipments: [:], invoiced: .zero(unitPrice.currency),
                         paid: .zero(unitPrice.currency), isCancelled: false)
        }
        guard var state else { return nil }
        switch event {
        case .placed: break
        case .allocated(_, _, let quantity): state.allocated &+= quantity
        case .shipmentDispatched(_, let shipment, _, let quantity):
            state.shipments[shipment] = Shipment(quantity: quantity, delivered: false)
            state.shipped &+= quantity
        case .shipmentDelivered(_, let shipment, _, _):
            if state.shipments[shipment] == nil { state.undispatchedDeliveries += 1 }
            state.shipments[shipment]?.delivered = true
        case .invoiced(_, let amount): state.invoiced = state.invoiced.plus(amount)
        case .paid(_, let amount): state.paid = state.paid.plus(amount)
        case .cancelled(_, _, _, let released):
            state.allocated &-= released
            state.isCancelled = true
        }
        return state
    }
}
