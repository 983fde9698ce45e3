/// `ledger supply receive`
public enum ReceiveSupply: CommandSpec {
    public static let name = "supply.receive"
    public static let abstract = "Receive units of a SKU into stock."
    public static let example = "ledger supply receive --sku h100-sxm5-80gb --quantity 512"
    public static let flags: [CommandFlag] = [
        .required("sku", .id, "GPU product code (slug), e.g. h100-sxm5-80gb."),
        .required("quantity", .quantity, "Units received (positive integer)."),
        .businessDate,
    ]
    public static let events = ["supply.received"]
    public static func action(_ a: CommandArguments) -> LedgerCommand.Action {
        .supply(sku: a.id("sku"), .receive(quantity: a.quantity()), date: a.date)
    }
}
