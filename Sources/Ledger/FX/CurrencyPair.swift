/// A base and a quote currency, as an FX rate names them (USD/JPY: 1 USD = R JPY). Its
/// rates live on stream `fx-<base>-<quote>` in lower case, e.g. `fx-usd-jpy`.
public struct CurrencyPair: Hashable, Sendable, CustomStringConvertible {
    public let base: Currency
    public let quote: Currency

    public init(base: Currency, quote: Currency) {
        self.base = base
        self.quote = quote
    }

    /// Quote per base, reversed.
    public var inverse: CurrencyPair { CurrencyPair(base: quote, quote: base) }

    /// `USD/JPY`.
    public var description: String { "\(base.code)/\(quote.code)" }

    /// `fx-usd-jpy`.
    public var stream: StreamName {
        StreamName(rawValue: "fx-\(base.code.lowercased())-\(quote.code.lowercased())")
    }
}
