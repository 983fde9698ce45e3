import JSON

/// One row of the orders report: where a customer's order stands, in units and money,
/// folded from its events alone.
public struct OrderSummary: Sendable, Equatable {
    /// The order's stage; the first that applies wins.
    public enum Status: String, Sendable, Equatable {
        case placed, allocated
        case partiallyShipped = "partially_shipped"
        case shipped, delivered, cancelled
    }

    public var order: String
    public var customer: String
    public var sku: String
    public var currency: Currency
    public var quantity: Int64
    public var unitPrice: Money
    /// Units allocated; after a cancel only what stays allocated (the shipped units).
    public var allocated: Int64
    public var shipped: Int64
    public var delivered: Int64
    public var invoiced: Money
    public var paid: Money
    public var cancelled: Bool
    public var shipments: [String: Order.Shipment]

    public init(
        order: String, customer: String, sku: String, currency: Currency, quantity: Int64, unitPrice: Money,
        allocated: Int64, shipped: Int64, delivered: Int64, invoiced: Money, paid: Money, cancelled: Bool,
        shipments: [String: Order.Shipment]
    ) {
        self.order = order
        self.customer = customer
        self.sku = sku
        self.currency = currency
        self.quantity = quantity
        self.unitPrice = unitPrice
        self.allocated = allocated
        self.shipped = shipped
        self.delivered = delivered
        self.invoiced = invoiced
        self.paid = paid
        self.cancelled = cancelled
        self.shipments = shipments
    }

    /// The order id an event touches, nil if it is not an order event.
    public static func key(of event: LedgerEvent) -> String? {
        if case .order(let e) = event.fact { return e.order }
        return nil
    }

    /// A new row from a placement; nil for any other event.
    public init?(startingWith event: LedgerEvent) {
        guard case .order(.placed(let id, let customer, let sku, let quantity, let unitPrice)) = event.fact
        else { return nil }
        let zero = Money.zero(unitPrice.currency)
        self.init(
            order: id, customer: customer, sku: sku, currency: unitPrice.currency, quantity: quantity,
            unitPrice: unitPrice, allocated: 0, shipped: 0, delivered: 0, invoiced: zero, paid: zero,
            cancelled: false, shipments: [:])
    }

    public mutating func apply(_ event: LedgerEvent) {
        guard case .order(let e) = event.fact, e.order == order else { return }
        switch e {
        case .placed: break
        case .allocated(_, _, let units): allocated &+= units
        case .shipmentDispatched(_, let shipment, _, let units):
            shipments[shipment] = Order.Shipment(quantity: units, delivered: false)
            shipped &+= units
        case .shipmentDelivered(_, let shipment, _, _):
            if let dispatched = shipments[shipment], !dispatched.delivered {
                shipments[shipment]?.delivered = true
                delivered &+= dispatched.quantity
            }
        case .invoiced(_, let amount): invoiced = invoiced.plus(amount)
        case .paid(_, let amount): paid = paid.plus(amount)
        case .cancelled(_, _, _, let released):
            allocated &-= released
            cancelled = true
        }
    }

    /// Invoiced − paid: what the customer still owes.
    public var outstanding: Money { invoiced.minus(paid) }

    /// Units still to ship; 0 for a cancelled order.
    public var backlog: Int64 { cancelled ? 0 : quantity - shipped }

    public var status: Status {
        if cancelled { return .cancelled }
        if delivered >= quantity { return .delivered }
        if shipped >= quantity { return .shipped }
        if shipped > 0 { return .partiallyShipped }
        if allocated > 0 { return .allocated }
        return .placed
    }

    /// The report's columns, in the contract's order (the JSON keys), each with its value.
    public static let report = ReportColumns<OrderSummary>([
        .text("order") { $0.order }, .text("customer") { $0.customer }, .text("sku") { $0.sku },
        .text("currency") { $0.currency.code }, .integer("quantity") { $0.quantity },
        .money("unit_price") { $0.unitPrice }, .integer("allocated") { $0.allocated },
        .integer("shipped") { $0.shipped }, .integer("delivered") { $0.delivered },
        .money("invoiced") { $0.invoiced }, .money("paid") { $0.paid }, .money("outstanding") { $0.outstanding },
        .text("status") { $0.status.rawValue },
    ])
}
