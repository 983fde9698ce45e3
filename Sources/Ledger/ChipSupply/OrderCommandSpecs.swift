/// `ledger order place`
public enum PlaceOrder: CommandSpec {
    public static let name = "order.place"
    public static let abstract = "Record a customer's order for a quantity of one SKU."
    public static let example = """
        ledger order place --order ntt-001 --customer NTT --sku h100-sxm5-80gb --quantity 64 \\
          --unit-price 4500000 --currency JPY
        """
    public static let flags: [CommandFlag] = [
        .required("order", .id, "Order id (slug)."),
        .required("customer", .text, "Customer name."),
        .required("sku", .id, "GPU product code."),
        .required("quantity", .quantity, "Units ordered."),
        .required("unit-price", .money(positive: false), "Price per unit in major units."),
        .required("currency", .currency, "Currency of the order."),
        .businessDate,
    ]
    public static let events = ["order.placed"]
    public static func action(_ a: CommandArguments) -> LedgerCommand.Action {
        .order(
            id: a.id("order"),
            .place(customer: a.text("customer"), sku: a.id("sku"), quantity: a.quantity(), unitPrice: a.money("unit-price")),
            date: a.date)
    }
}

/// `ledger order allocate`
public enum AllocateOrder: CommandSpec {
    public static let name = "order.allocate"
    public static let abstract = "Allocate received stock to an order (never more than available)."
    public static let discussion = "Safe under any number of concurrent allocators: a conflict reloads and decides again."
    public static let example = "ledger order allocate --order ntt-001 --quantity 32"
    public static let flags: [CommandFlag] = [
        .required("order", .id, "Order id."),
        .required("quantity", .quantity, "Units to allocate."),
        .businessDate,
    ]
    /// The order's allocation and the SKU's, in one append.
    public static let events = ["order.allocated", "supply.allocated"]
    public static func action(_ a: CommandArguments) -> LedgerCommand.Action {
        .order(id: a.id("order"), .allocate(quantity: a.quantity()), date: a.date)
    }
}

/// `ledger order ship`
public enum ShipOrder: CommandSpec {
    public static let name = "order.ship"
    public static let abstract = "Dispatch a shipment of allocated units."
    public static let example = "ledger order ship --order ntt-001 --shipment ntt-001-a --quantity 16"
    public static let flags: [CommandFlag] = [
        .required("order", .id, "Order id."),
        .required("shipment", .id, "Shipment id (slug, unique within the order)."),
        .required("quantity", .quantity, "Units shipped."),
        .businessDate,
    ]
    public static let events = ["order.shipment_dispatched"]
    public static func action(_ a: CommandArguments) -> LedgerCommand.Action {
        .order(id: a.id("order"), .ship(shipment: a.id("shipment"), quantity: a.quantity()), date: a.date)
    }
}

/// `ledger order deliver`
public enum DeliverOrder: CommandSpec {
    public static let name = "order.deliver"
    public static let abstract = "Record a dispatched shipment as delivered (once)."
    public static let example = "ledger order deliver --order ntt-001 --shipment ntt-001-a"
    public static let flags: [CommandFlag] = [
        .required("order", .id, "Order id."),
        .required("shipment", .id, "Shipment id."),
        .businessDate,
    ]
    public static let events = ["order.shipment_delivered"]
    public static func action(_ a: CommandArguments) -> LedgerCommand.Action {
        .order(id: a.id("order"), .deliver(shipment: a.id("shipment")), date: a.date)
    }
}

/// `ledger order invoice`
public enum InvoiceOrder: CommandSpec {
    public static let name = "order.invoice"
    public static let abstract = "Invoice the customer (in total never more than quantity × unit price)."
    public static let example = "ledger order invoice --order ntt-001 --amount 72000000 --currency JPY"
    public static let flags: [CommandFlag] = [
        .required("order", .id, "Order id."),
        .required("amount", .money(positive: true), "Amount in major units."),
        .required("currency", .currency, "Currency of the order."),
        .businessDate,
    ]
    public static let events = ["order.invoiced"]
    public static func action(_ a: CommandArguments) -> LedgerCommand.Action {
        .order(id: a.id("order"), .invoice(amount: a.money("amount")), date: a.date)
    }
}

/// `ledger order pay`
public enum PayOrder: CommandSpec {
    public static let name = "order.pay"
    public static let abstract = "Record a customer payment (in total never more than invoiced)."
    public static let example = "ledger order pay --order ntt-001 --amount 72000000 --currency JPY"
    public static let flags: [CommandFlag] = [
        .required("order", .id, "Order id."),
        .required("amount", .money(positive: true), "Amount in major units."),
        .required("currency", .currency, "Currency of the order."),
        .businessDate,
    ]
    public static let events = ["order.paid"]
    public static func action(_ a: CommandArguments) -> LedgerCommand.Action {
        .order(id: a.id("order"), .pay(amount: a.money("amount")), date: a.date)
    }
}

/// `ledger order cancel`
public enum CancelOrder: CommandSpec {
    public static let name = "order.cancel"
    public static let abstract = "Cancel an order; its unshipped allocation returns to stock."
    public static let example = #"ledger order cancel --order mitsui-001 --reason "customer withdrew""#
    public static let flags: [CommandFlag] = [
        .required("order", .id, "Order id."),
        .required("reason", .text, "Why, for the record."),
        .businessDate,
    ]
    /// The cancel, and the release of its unshipped allocation back to the SKU.
    public static let events = ["order.cancelled", "supply.released"]
    public static func action(_ a: CommandArguments) -> LedgerCommand.Action {
        .order(id: a.id("order"), .cancel(reason: a.text("reason")), date: a.date)
    }
}
