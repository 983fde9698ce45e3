import JSON

/// Facts about exchange rates, recorded on `fx-<base>-<quote>` (lower case).
public enum FXEvent: Sendable, Equatable {
    /// On `date`, 1 unit of the pair's base was worth `rate` units of its quote.
    case rateRecorded(pair: CurrencyPair, rate: ExchangeRate, source: String?)

    public var pair: CurrencyPair {
        switch self { case .rateRecorded(let pair, _, _): pair }
    }

    public var type: String {
        switch self { case .rateRecorded: "fx.rate_recorded" }
    }

    var payload: JSON {
        switch self {
        case .rateRecorded(let pair, let rate, let source):
            var p = PayloadBuilder([
                "base": .string(pair.base.code), "quote": .string(pair.quote.code), "rate": .string(rate.decimalString),
            ])
            p.set("source", source)
            return p.json
        }
    }

    static func decode(type: String, payload: EventPayload) throws(EventDecodingError) -> FXEvent? {
        guard type == "fx.rate_recorded" else { return nil }
        let r = try PayloadReader(type: type, payload: payload)
        do {
            let pair = CurrencyPair(base: try Currency(code: try r.string("base")), quote: try Currency(code: try r.string("quote")))
            return .rateRecorded(pair: pair, rate: try ExchangeRate(parsing: try r.string("rate")), source: try r.optionalString("source"))
        } catch let error as ValueError {
            throw r.fail(error.message)
        } catch let error as EventDecodingError {
            throw error
        } catch {
            throw r.fail("\(error)")
        }
    }
}

/// What can be done to a currency pair's rates.
public enum FXCommand: Sendable, Equatable {
    /// `ledger fx rate --base USD --quote JPY --rate 151.25 --date D [--source TEXT]`.
    case recordRate(rate: ExchangeRate, source: String?)

    /// Any rate may be recorded, for any date up to today: rates have no lower bound (a
    /// missing historical rate is recorded late), and a correction is a reversal plus the
    /// right rate.
    static func decide(_ command: FXCommand, pair: CurrencyPair) -> [FXEvent] {
        switch command {
        case .recordRate(let rate, let source): [.rateRecorded(pair: pair, rate: rate, source: source)]
        }
    }
}
