/// What the team does to a SKU's stock directly: receive units. Allocations and releases
/// are not commands of their own; they happen as part of an order's allocation or cancel
/// (see `Supply.allocate` and `Supply.release`).
public enum SupplyCommand: Sendable, Equatable {
    case receive(quantity: Int64)
}
