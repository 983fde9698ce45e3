/// `ledger fx rate`
public enum RecordFXRate: CommandSpec {
    public static let name = "fx.rate"
    public static let abstract = "Record that 1 unit of BASE was worth RATE units of QUOTE on a date."
    public static let discussion = """
        Rates are events on stream fx-<base>-<quote> (fx-usd-jpy). A conversion on a date uses \
        the pair's rate with the latest date on or before it; only when the pair has none, the \
        inverse pair's (1/R); converted amounts are rounded once to the target's minor unit, \
        half away from zero. A wrong rate is reversed and the right one recorded.
        """
    public static let example = #"ledger fx rate --base USD --quote JPY --rate 151.25 --date 2026-09-30 --source "MUFG TTM""#
    public static let flags: [CommandFlag] = [
        .required("base", .currency, "Base currency (ISO 4217), e.g. USD."),
        .required("quote", .currency, "Quote currency (ISO 4217), e.g. JPY."),
        .required("rate", .text, "Units of QUOTE per unit of BASE: a positive decimal, at most 10 fraction digits."),
        // Required: a rate has no sensible default day.
        .required("date", .day, "The day the rate applies from, YYYY-MM-DD."),
        .optional("source", .text, "Where the rate comes from, kept with the event."),
    ]
    public static let events = ["fx.rate_recorded"]
    public static func action(_ a: CommandArguments) throws(ValueError) -> LedgerCommand.Action {
        let pair = CurrencyPair(base: a.currency("base"), quote: a.currency("quote"))
        guard pair.base != pair.quote else {
            throw ValueError("--quote: \(pair.quote.code) is the base currency too — a rate needs two currencies")
        }
        let rate: ExchangeRate
        do { rate = try ExchangeRate(parsing: a.text("rate")) } catch { throw error.naming(flag: "rate") }
        return .fx(pair: pair, .recordRate(rate: rate, source: a.optionalText("source")), date: a.date)
    }
}
