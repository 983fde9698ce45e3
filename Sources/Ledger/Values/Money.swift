/// An exact amount of one currency, as an integer count of minor units (yen, cents).
/// Never a float: a ledger must add up to the unit. Arithmetic is overflow-checked and
/// refuses to mix currencies, because a figure in two currencies means nothing.
public struct Money: Hashable, Sendable, CustomStringConvertible {
    public let currency: Currency
    public let minorUnits: Int64

    public init(minorUnits: Int64, currency: Currency) {
        self.minorUnits = minorUnits
        self.currency = currency
    }

    public static func zero(_ currency: Currency) -> Money { Money(minorUnits: 0, currency: currency) }

    public var isZero: Bool { minorUnits == 0 }

    /// Parses a user's amount in major units, strictly: digits with an optional `.` and at
    /// most as many fraction digits as the currency has; no sign, exponent, spaces or
    /// thousands separators, so that what is stored is exactly what was meant.
    public static func parse(_ text: String, currency code: String) throws(ValueError) -> Money {
        let currency = try Currency(code: code)
        return try parse(text, currency: currency)
    }

    public static func parse(_ text: String, currency: Currency) throws(ValueError) -> Money {
        var units: Int64 = 0
        var fractionDigits = 0
        var seenPoint = false
        var integerDigits = 0
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                if seenPoint {
                    fractionDigits += 1
                    if fractionDigits > currency.exponent {
                        throw ValueError(
                            "'\(text)' has more decimals than \(currency.code) allows (\(currency.exponent))")
                    }
                } else {
                    integerDigits += 1
                }
                let (times10, o1) = units.multipliedReportingOverflow(by: 10)
                let (sum, o2) = times10.addingReportingOverflow(Int64(byte - UInt8(ascii: "0")))
                if o1 || o2 { throw tooLarge(text, currency) }
                units = sum
            case UInt8(ascii: "."):
                if seenPoint || integerDigits == 0 { throw malformed(text) }
                if currency.exponent == 0 {
                    throw ValueError(
                        "'\(text)' has more decimals than \(currency.code) allows (0)")
                }
                seenPoint = true
            default:
                throw malformed(text)
            }
        }
        guard integerDigits > 0, !(seenPoint && fractionDigits == 0) else { throw malformed(text) }
        for _ in fractionDigits..<currency.exponent {
            let (times10, overflow) = units.multipliedReportingOverflow(by: 10)
            if overflow { throw tooLarge(text, currency) }
            units = times10
        }
        return Money(minorUnits: units, currency: currency)
    }

    private static func malformed(_ text: String) -> ValueError {
        ValueError(
            "'\(text)' is not an amount — write digits with an optional decimal point, e.g. 4500000 or 1250.50")
    }

    private static func tooLarge(_ text: String, _ currency: Currency) -> ValueError {
        ValueError("'\(text)' is too large an amount of \(currency.code)")
    }

    /// Exact major units with exactly the currency's fraction digits: `"500000000"`, `"1250.50"`.
    public var decimalString: String { Money.decimal(minorUnits, exponent: currency.exponent, grouped: false) }

    /// For people: `¥500,000,000`, `$1,250.50`, `€10.00`, `1,250.50 CNY`.
    public var formatted: String {
        let number = Money.decimal(minorUnits, exponent: currency.exponent, grouped: true)
        if let symbol = currency.symbol {
            return minorUnits < 0 ? "-" + symbol + number.dropFirst() : symbol + number
        }
        return number + " " + currency.code
    }

    public var description: String { formatted }

    static func decimal(_ value: Int64, exponent: Int, grouped: Bool) -> String {
        let negative = value < 0
        var digits = Array(String(value.magnitude).utf8)
        if digits.count <= exponent {
            digits.insert(contentsOf: repeatElement(UInt8(ascii: "0"), count: exponent + 1 - digits.count), at: 0)
        }
        let integerPart = digits[..<(digits.count - exponent)]
        let fractionPart = digits[(digits.count - exponent)...]
        var out: [UInt8] = []
        out.reserveCapacity(digits.count + digits.count / 3 + 2)
        if negative { out.append(UInt8(ascii: "-")) }
        for (i, d) in integerPart.enumerated() {
            if grouped, i > 0, (integerPart.count - i) % 3 == 0 { out.append(UInt8(ascii: ",")) }
            out.append(d)
        }
        if exponent > 0 {
            out.append(UInt8(ascii: "."))
            out.append(contentsOf: fractionPart)
        }
        return String(decoding: out, as: UTF8.self)
    }

    // MARK: Arithmetic

    /// The sum; throws when the currencies differ or the sum does not fit.
    public func adding(_ other: Money) throws(ValueError) -> Money {
        try checkSameCurrency(other)
        let (sum, overflow) = minorUnits.addingReportingOverflow(other.minorUnits)
        if overflow { throw ValueError("\(formatted) + \(other.formatted) is too large to record") }
        return Money(minorUnits: sum, currency: currency)
    }

    /// The difference; throws when the currencies differ or the result does not fit.
    public func subtracting(_ other: Money) throws(ValueError) -> Money {
        try checkSameCurrency(other)
        let (difference, overflow) = minorUnits.subtractingReportingOverflow(other.minorUnits)
        if overflow { throw ValueError("\(formatted) − \(other.formatted) is too large to record") }
        return Money(minorUnits: difference, currency: currency)
    }

    /// This amount times a count (order value = quantity × unit price); throws on overflow.
    public func multiplied(by count: Int64) throws(ValueError) -> Money {
        let (product, overflow) = minorUnits.multipliedReportingOverflow(by: count)
        if overflow { throw ValueError("\(count) × \(formatted) is too large to record") }
        return Money(minorUnits: product, currency: currency)
    }

    private func checkSameCurrency(_ other: Money) throws(ValueError) {
        guard currency == other.currency else {
            throw ValueError("cannot combine \(currency.code) and \(other.currency.code) amounts in one figure")
        }
    }

    /// Addition for folding already-accepted events, where the decider has checked that the
    /// sum fits; it saturates instead of trapping so a damaged log cannot crash a rebuild.
    func plus(_ other: Money) -> Money {
        let (sum, overflow) = minorUnits.addingReportingOverflow(other.minorUnits)
        return Money(minorUnits: overflow ? (other.minorUnits > 0 ? .max : .min) : sum, currency: currency)
    }

    func minus(_ other: Money) -> Money {
        let (difference, overflow) = minorUnits.subtractingReportingOverflow(other.minorUnits)
        return Money(minorUnits: overflow ? (other.minorUnits > 0 ? .min : .max) : difference, currency: currency)
    }
}
