/// An ISO 4217 currency with its minor-unit exponent, which decides how many fraction
/// digits an amount may have (JPY 0, USD 2). Only currencies the ledger knows the exponent
/// of are accepted: guessing an exponent would silently misstate amounts by 100×.
public struct Currency: Hashable, Sendable, CustomStringConvertible {
    /// The three-letter ISO 4217 code, upper case.
    public let code: String
    /// Number of fraction digits of the minor unit.
    public let exponent: Int

    /// Looks the code up (case-sensitive: ISO codes are upper case).
    public init(code: String) throws(ValueError) {
        guard let exponent = Currency.exponents[code] else {
            throw ValueError(
                "unknown currency '\(code)' — use an ISO 4217 code such as JPY, USD or EUR")
        }
        self.code = code
        self.exponent = exponent
    }

    public var description: String { code }

    /// The display symbol for currencies whose symbol is unambiguous in a Japanese
    /// finance team's reports; others are shown with their code after the amount.
    var symbol: String? {
        switch code {
        case "JPY": "¥"
        case "USD": "$"
        case "EUR": "€"
        case "GBP": "£"
        default: nil
        }
    }

    static let exponents: [String: Int] = [
        "JPY": 0, "KRW": 0, "VND": 0, "CLP": 0, "ISK": 0,
        "USD": 2, "EUR": 2, "GBP": 2, "CNY": 2, "TWD": 2, "SGD": 2, "CHF": 2, "AUD": 2,
        "CAD": 2, "HKD": 2, "INR": 2, "NZD": 2, "SEK": 2, "NOK": 2, "DKK": 2, "THB": 2,
        "MYR": 2, "IDR": 2, "PHP": 2, "AED": 2, "SAR": 2, "ILS": 2, "BRL": 2, "MXN": 2,
        "ZAR": 2, "PLN": 2, "CZK": 2,
        "KWD": 3, "BHD": 3, "OMR": 3, "JOD": 3, "TND": 3,
    ]

    public static let jpy = try! Currency(code: "JPY")
    public static let usd = try! Currency(code: "USD")
    public static let eur = try! Currency(code: "EUR")
}
