import JSON

/// One row of the supply report: a SKU's stock. Shipments are counted from the orders'
/// dispatch events, which carry the SKU, so no cross-stream lookup is needed.
public struct SupplyPosition: Sendable, Equatable {
    public var sku: String
    public var received: Int64
    /// Net of releases: a cancel gives its unshipped units back.
    public var allocated: Int64
    public var shipped: Int64

    public init(sku: String, received: Int64, allocated: Int64, shipped: Int64) {
        self.sku = sku
        self.received = received
        self.allocated = allocated
        self.shipped = shipped
    }

    /// The SKU an event touches: stock events, and order dispatches; nil otherwise.
    public static func key(of event: LedgerEvent) -> String? {
        switch event.fact {
        case .supply(let e): e.sku
        case .order(.shipmentDispatched(_, _, let sku, _)): sku
        default: nil
        }
    }

    /// A new row from any event that touches a SKU (stock may be counted before it is
    /// received when business dates are out of order, as in an `--as-of` report).
    public init?(startingWith event: LedgerEvent) {
        guard let sku = SupplyPosition.key(of: event) else { return nil }
        self.init(sku: sku, received: 0, allocated: 0, shipped: 0)
        apply(event)
    }

    public mutating func apply(_ event: LedgerEvent) {
        switch event.fact {
        case .supply(let e) where e.sku == sku:
            switch e {
            case .received(_, let units): received &+= units
            case .allocated(_, _, let units): allocated &+= units
            case .released(_, _, let units): allocated &-= units
            }
        case .order(.shipmentDispatched(_, _, let eventSKU, let units)) where eventSKU == sku:
            shipped &+= units
        default:
            break
        }
    }

    /// Received − allocated: units free to allocate.
    public var available: Int64 { received - allocated }

    /// The report's columns, in the contract's order (the JSON keys), each with its value.
    public static let report = ReportColumns<SupplyPosition>([
        .text("sku") { $0.sku }, .integer("received") { $0.received }, .integer("allocated") { $0.allocated },
        .integer("shipped") { $0.shipped }, .integer("available") { $0.available },
    ])
}
