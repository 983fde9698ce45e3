/// What the team does with a customer's GPU order: place it, allocate stock to it, ship
/// and deliver it in shipments, invoice it and record payments, or cancel it.
public enum OrderCommand: Sendable, Equatable {
    case place(customer: String, sku: String, quantity: Int64, unitPrice: Money)
    case allocate(quantity: Int64)
    case ship(shipment: String, quantity: Int64)
    case deliver(shipment: String)
    case invoice(amount: Money)
    case pay(amount: Money)
    case cancel(reason: String)
}
