/// The recorded FX rates, by pair and date, and the contract's conversion rule: the pair's
/// own rate with the latest date on or before the date needed; only when the pair has
/// none, the inverse pair's (1/R) by the same rule; otherwise a `missing_rate` rejection
/// naming the pair and the date. Rates are folded from `fx.rate_recorded` events in log
/// order, so of two rates for the same pair and date the later recorded one counts.
///
/// It holds only what was recorded (no derived or cross rates): a reversed rate is simply
/// not folded in, and the rule falls back to whatever rate is left.
public struct RateBook: Sendable, Equatable {
    /// Per pair, rates in ascending date order; equal dates in log order.
    private var rates: [CurrencyPair: [(date: Day, rate: ExchangeRate)]] = [:]

    public init() {}

    public static func == (a: RateBook, b: RateBook) -> Bool {
        guard a.rates.keys == b.rates.keys else { return false }
        return a.rates.allSatisfy { pair, list in
            let other = b.rates[pair]!
            return list.count == other.count && zip(list, other).allSatisfy { $0.date == $1.date && $0.rate == $1.rate }
        }
    }

    /// Folds in one recorded rate.
    public mutating func record(_ rate: ExchangeRate, for pair: CurrencyPair, on date: Day) {
        var list = rates[pair, default: []]
        // Insert after every rate of the same or an earlier date: later records win ties.
        var index = list.count
        while index > 0, list[index - 1].date > date { index -= 1 }
        list.insert((date, rate), at: index)
        rates[pair] = list
    }

    /// The rate of the latest date on or before `date`, nil when the pair has none by then.
    public func latestRate(for pair: CurrencyPair, on date: Day) -> (date: Day, rate: ExchangeRate)? {
        guard let list = rates[pair] else { return nil }
        return list.last { $0.date <= date }
    }

    /// `amount` in `target` at the rate that applies on `date`, rounded once, half away from
    /// zero. The same currency needs no rate.
    public func convert(_ amount: Money, to target: Currency, on date: Day) throws(Rejection) -> Money {
        if amount.currency == target { return amount }
        // Nothing is nothing in any currency: a holding written off needs no rate for its NAV.
        if amount.isZero { return .zero(target) }
        let pair = CurrencyPair(base: amount.currency, quote: target)
        do {
            if let direct = latestRate(for: pair, on: date) {
                return try direct.rate.convert(amount, to: target)
            }
            if let inverse = latestRate(for: pair.inverse, on: date) {
                return try inverse.rate.convert(amount, to: target, inverted: true)
            }
        } catch {
            throw Rejection(rule: "amount_too_large", message: error.message)
        }
        throw Rejection.missingRate(pair, on: date)
    }
}

extension Rejection {
    /// No rate of the pair or its inverse on or before the date a conversion needs.
    static func missingRate(_ pair: CurrencyPair, on date: Day) -> Rejection {
        Rejection(
            rule: "missing_rate",
            message: "no \(pair) rate on or before \(date) (nor \(pair.inverse)) — record one first "
                + "(ledger fx rate --base \(pair.base.code) --quote \(pair.quote.code) --rate R --date \(date))")
    }
}
