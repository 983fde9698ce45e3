/// `ledger startup register`
public enum RegisterStartup: CommandSpec {
    public static let name = "startup.register"
    public static let abstract = "Register a startup (once per id)."
    public static let example =
        #"ledger startup register --startup sakana-ai --name "Sakana AI" --sector "foundation models" --country JP"#
    public static let flags: [CommandFlag] = [
        .required("startup", .id, "Startup id, a slug like sakana-ai."),
        .required("name", .text, "Legal or trading name."),
        .optional("sector", .text, "Sector, free text."),
        .optional("country", .country, "ISO 3166 country code, e.g. JP."),
        .businessDate,
    ]
    public static let events = ["startup.registered"]
    public static func action(_ a: CommandArguments) -> LedgerCommand.Action {
        .startup(
            id: a.id("startup"),
            .register(name: a.text("name"), sector: a.optionalText("sector"), country: a.optionalText("country")),
            date: a.date)
    }
}
