import JSON

/// Facts about the stock of one SKU, recorded on `supply-<sku>`. Allocations and releases
/// carry the order id so reports never need to look across streams.
public enum SupplyEvent: Sendable, Equatable {
    case received(sku: String, quantity: Int64)
    case allocated(sku: String, order: String, quantity: Int64)
    case released(sku: String, order: String, quantity: Int64)

    public var sku: String {
        switch self {
        case .received(let sku, _), .allocated(let sku, _, _), .released(let sku, _, _): sku
        }
    }

    public var type: String {
        switch self {
        case .received: "supply.received"
        case .allocated: "supply.allocated"
        case .released: "supply.released"
        }
    }

    var payload: JSON {
        var p = PayloadBuilder(["sku": .string(sku)])
        switch self {
        case .received(_, let quantity):
            p.set("quantity", quantity: quantity)
        case .allocated(_, let order, let quantity), .released(_, let order, let quantity):
            p.set("order", order)
            p.set("quantity", quantity: quantity)
        }
        return p.json
    }

    static func decode(type: String, payload: EventPayload) throws(EventDecodingError) -> SupplyEvent? {
        guard type.hasPrefix("supply.") else { return nil }
        let r = try PayloadReader(type: type, payload: payload)
        let sku = try r.string("sku")
        switch type {
        case "supply.received":
            return .received(sku: sku, quantity: try r.quantity("quantity"))
        case "supply.allocated":
            return .allocated(sku: sku, order: try r.string("order"), quantity: try r.quantity("quantity"))
        case "supply.released":
            return .released(sku: sku, order: try r.string("order"), quantity: try r.quantity("quantity"))
        default:
            return nil
        }
    }
}
