/// `ledger invest commit`
public enum CommitInvestment: CommandSpec {
    public static let name = "invest.commit"
    public static let abstract = "Commit an amount to a startup in a round."
    public static let discussion =
        "The startup must be registered. Ownership is a percentage; post-money is in the investment's currency."
    public static let example = """
        ledger invest commit --investment sakana-seed --startup sakana-ai --round seed \\
          --instrument equity --amount 500000000 --currency JPY --ownership 5 --post-money 10000000000
        """
    public static let flags: [CommandFlag] = [
        .required("investment", .id, "Investment id (slug)."),
        .required("startup", .id, "Registered startup id."),
        .required("round", .text, "Round, e.g. seed, series-a."),
        .required("instrument", .choice(Instrument.self), "equity, safe or note."),
        .required("amount", .money(positive: true), "Committed amount in major units, e.g. 500000000 or 1250.50."),
        .required("currency", .currency, "ISO 4217 currency code: JPY, USD, EUR…"),
        .optional("ownership", .percentage, "Ownership percentage, e.g. 7.5."),
        .optional("post-money", .money(positive: false), "Post-money valuation."),
        .businessDate,
    ]
    public static let events = ["investment.committed"]
    public static func action(_ a: CommandArguments) -> LedgerCommand.Action {
        .investment(
            id: a.id("investment"),
            .commit(
                startup: a.id("startup"), round: a.text("round"), instrument: a.choice("instrument"),
                amount: a.money("amount"), ownership: a.optionalText("ownership"),
                postMoney: a.optionalMoney("post-money")),
            date: a.date)
    }
}

/// `ledger invest disburse`
public enum DisburseInvestment: CommandSpec {
    public static let name = "invest.disburse"
    public static let abstract = "Pay a tranche of a commitment (never more than committed)."
    public static let example =
        "ledger invest disburse --investment sakana-seed --amount 250000000 --currency JPY --date 2026-04-01"
    public static let flags: [CommandFlag] = [
        .required("investment", .id, "Investment id."),
        .required("amount", .money(positive: true), "Amount in major units."),
        .required("currency", .currency, "Currency of the investment."),
        .businessDate,
    ]
    public static let events = ["investment.disbursed"]
    public static func action(_ a: CommandArguments) -> LedgerCommand.Action {
        .investment(id: a.id("investment"), .disburse(amount: a.money("amount")), date: a.date)
    }
}

/// `ledger invest mark`
public enum MarkInvestment: CommandSpec {
    public static let name = "invest.mark"
    public static let abstract = "Record a fair-value estimate of a holding (the latest mark wins)."
    public static let example =
        "ledger invest mark --investment sakana-seed --fair-value 900000000 --currency JPY --date 2026-09-30"
    public static let flags: [CommandFlag] = [
        .required("investment", .id, "Investment id."),
        .required("fair-value", .money(positive: false), "Fair value in major units."),
        .required("currency", .currency, "Currency of the investment."),
        .businessDate,
    ]
    public static let events = ["investment.marked"]
    public static func action(_ a: CommandArguments) -> LedgerCommand.Action {
        .investment(id: a.id("investment"), .mark(fairValue: a.money("fair-value")), date: a.date)
    }
}

/// `ledger invest exit`
public enum ExitInvestment: CommandSpec {
    public static let name = "invest.exit"
    public static let abstract = "Record the sale of a holding for proceeds; nothing may follow."
    public static let example = "ledger invest exit --investment preferred-a --proceeds 3000000 --currency USD"
    public static let flags: [CommandFlag] = [
        .required("investment", .id, "Investment id."),
        .required("proceeds", .money(positive: false), "Proceeds in major units."),
        .required("currency", .currency, "Currency of the investment."),
        .businessDate,
    ]
    public static let events = ["investment.exited"]
    public static func action(_ a: CommandArguments) -> LedgerCommand.Action {
        .investment(id: a.id("investment"), .exit(proceeds: a.money("proceeds")), date: a.date)
    }
}

/// `ledger invest write-off`
public enum WriteOffInvestment: CommandSpec {
    public static let name = "invest.write-off"
    public static let abstract = "Write a holding off (fair value 0, no proceeds); nothing may follow."
    public static let example = #"ledger invest write-off --investment robo-note --reason "company wound down""#
    public static let flags: [CommandFlag] = [
        .required("investment", .id, "Investment id."),
        .required("reason", .text, "Why, for the record."),
        .businessDate,
    ]
    public static let events = ["investment.written_off"]
    public static func action(_ a: CommandArguments) -> LedgerCommand.Action {
        .investment(id: a.id("investment"), .writeOff(reason: a.text("reason")), date: a.date)
    }
}
