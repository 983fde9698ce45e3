import JSON

/// Facts about a customer's order, recorded on `order-<id>`. Events that move chips carry
/// the SKU so reports never need to look across streams.
public enum OrderEvent: Sendable, Equatable {
    case placed(order: String, customer: String, sku: String, quantity: Int64, unitPrice: Money)
    case allocated(order: String, sku: String, quantity: Int64)
    case shipmentDispatched(order: String, shipment: String, sku: String, quantity: Int64)
    case shipmentDelivered(order: String, shipment: String, sku: String, quantity: Int64)
    case invoiced(order: String, amount: Money)
    case paid(order: String, amount: Money)
    /// `released` is the unshipped allocation given back to the SKU's stock.
    case cancelled(order: String, sku: String, reason: String, released: Int64)

    public var order: String {
        switch self {
        case .placed(let id, _, _, _, _), .allocated(let id, _, _), .shipmentDispatched(let id, _, _, _),
            .shipmentDelivered(let id, _, _, _), .invoiced(let id, _), .paid(let id, _), .cancelled(let id, _, _, _):
            id
        }
    }

    public var type: String {
        switch self {
        case .placed: "order.placed"
        case .allocated: "order.allocated"
        case .shipmentDispatched: "order.shipment_dispatched"
        case .shipmentDelivered: "order.shipment_delivered"
        case .invoiced: "order.invoiced"
        case .paid: "order.paid"
        case .cancelled: "order.cancelled"
        }
    }

    var payload: JSON {
        var p = PayloadBuilder(["order": .string(order)])
        switch self {
        case .placed(_, let customer, let sku, let quantity, let unitPrice):
            p.set("customer", customer)
            p.set("sku", sku)
            p.set("quantity", quantity: quantity)
            p.set("unit_price", unitPrice)
        case .allocated(_, let sku, let quantity):
            p.set("sku", sku)
            p.set("quantity", quantity: quantity)
        case .shipmentDispatched(_, let shipment, let sku, let quantity),
            .shipmentDelivered(_, let shipment, let sku, let quantity):
            p.set("shipment", shipment)
            p.set("sku", sku)
            p.set("quantity", quantity: quantity)
        case .invoiced(_, let amount), .paid(_, let amount):
            p.set("amount", amount)
        case .cancelled(_, let sku, let reason, let released):
            p.set("sku", sku)
            p.set("reason", reason)
            p.set("released", quantity: released)
        }
        return p.json
    }

    static func decode(type: String, payload: EventPayload) throws(EventDecodingError) -> OrderEvent? {
        guard type.hasPrefix("order.") else { return nil }
        let r = try PayloadReader(type: type, payload: payload)
        let id = try r.string("order")
        switch type {
        case "order.placed":
            return .placed(order: id, customer: try r.string("customer"), sku: try r.string("sku"),
                           quantity: try r.quantity("quantity"), unitPrice: try r.money("unit_price", try r.currency()))
        case "order.allocated":
            return .allocated(order: id, sku: try r.string("sku"), quantity: try r.quantity("quantity"))
        case "order.shipment_dispatched":
            return .shipmentDispatched(order: id, shipment: try r.string("shipment"), sku: try r.string("sku"),
                                       quantity: try r.quantity("quantity"))
        case "order.shipment_delivered":
            return .shipmentDelivered(order: id, shipment: try r.string("shipment"), sku: try r.string("sku"),
                                      quantity: try r.quantity("quantity"))
        case "order.invoiced":
            return .invoiced(order: id, amount: try r.money("amount", try r.currency()))
        case "order.paid":
            return .paid(order: id, amount: try r.money("amount", try r.currency()))
        case "order.cancelled":
            return .cancelled(order: id, sku: try r.string("sku"), reason: try r.string("reason"),
                              released: try r.quantity("released"))
        default:
            return nil
        }
    }
}
