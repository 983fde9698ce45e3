/// How many units of a quote currency one unit of a base currency buys (USD/JPY 151.25), as
/// an exact decimal with at most 10 fraction digits. Kept as an integer count of 10⁻¹⁰ so
/// that converting an amount is integer arithmetic: a rate that went through a Double could
/// move a converted ¥10,000,000,000 by a yen.
public struct ExchangeRate: Hashable, Sendable, CustomStringConvertible {
    /// Fraction digits a rate may have.
    public static let scaleDigits = 10
    static let scale: Int128 = 10_000_000_000

    /// The rate × 10¹⁰, positive.
    public let scaled: UInt64

    init(scaled: UInt64) {
        precondition(scaled > 0, "an exchange rate is positive")
        self.scaled = scaled
    }

    /// Parses a user's rate strictly: digits with an optional `.` and at most 10 fraction
    /// digits, positive, no sign or exponent (`151.25`, `0.0066115702`).
    public init(parsing text: String) throws(ValueError) {
        var value: UInt64 = 0
        var integerDigits = 0
        var fractionDigits = 0
        var seenPoint = false
        let malformed = ValueError(
            "'\(text)' is not a rate — write a positive decimal with at most 10 fraction digits, e.g. 151.25")
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                if seenPoint { fractionDigits += 1 } else { integerDigits += 1 }
                guard fractionDigits <= ExchangeRate.scaleDigits else {
                    throw ValueError("'\(text)' has more than 10 fraction digits — round the rate to 10")
                }
                let (times10, o1) = value.multipliedReportingOverflow(by: 10)
                let (sum, o2) = times10.addingReportingOverflow(UInt64(byte - UInt8(ascii: "0")))
                guard !o1, !o2 else { throw ValueError("'\(text)' is too large a rate") }
                value = sum
            case UInt8(ascii: "."):
                guard !seenPoint, integerDigits > 0 else { throw malformed }
                seenPoint = true
            default:
                throw malformed
            }
        }
        guard integerDigits > 0, !(seenPoint && fractionDigits == 0) else { throw malformed }
        for _ in fractionDigits..<ExchangeRate.scaleDigits {
            let (times10, overflow) = value.multipliedReportingOverflow(by: 10)
            guard !overflow else { throw ValueError("'\(text)' is too large a rate") }
            value = times10
        }
        guard value > 0 else { throw ValueError("'\(text)' is not a rate — a rate is greater than zero") }
        self.init(scaled: value)
    }

    /// The rate as a decimal string without trailing fraction zeros: `151.25`, `0.0066115702`, `150`.
    public var decimalString: String {
        let whole = scaled / 10_000_000_000
        var fraction = String(scaled % 10_000_000_000)
        fraction = String(repeating: "0", count: ExchangeRate.scaleDigits - fraction.count) + fraction
        while fraction.last == "0" { fraction.removeLast() }
        return fraction.isEmpty ? String(whole) : "\(whole).\(fraction)"
    }

    public var description: String { decimalString }

    /// `amount` in `target` at this rate (`inverted`: at 1/rate, for the inverse pair), rounded
    /// once to the target's minor unit, half away from zero. Exact: the whole computation is
    /// one integer fraction, rounded at the end.
    public func convert(_ amount: Money, to target: Currency, inverted: Bool = false) throws(ValueError) -> Money {
        // minor_t = minor_s × 10^(e_t − e_s) × rate, with rate = scaled / 10¹⁰ (or its inverse).
        var numerator = Int128(amount.minorUnits)
        var denominator: Int128 = 1
        func scale(_ value: inout Int128, by factor: Int128) throws(ValueError) {
            let (product, overflow) = value.multipliedReportingOverflow(by: factor)
            guard !overflow else { throw ValueError("\(amount.formatted) is too large to convert to \(target.code)") }
            value = product
        }
        if inverted {
            try scale(&numerator, by: ExchangeRate.scale)
            try scale(&denominator, by: Int128(scaled))
        } else {
            try scale(&numerator, by: Int128(scaled))
            try scale(&denominator, by: ExchangeRate.scale)
        }
        let shift = target.exponent - amount.currency.exponent
        for _ in 0..<abs(shift) {
            if shift > 0 { try scale(&numerator, by: 10) } else { try scale(&denominator, by: 10) }
        }
        let rounded = ExchangeRate.divideRoundingHalfAwayFromZero(numerator, denominator)
        guard let minor = Int64(exactly: rounded) else {
            throw ValueError("\(amount.formatted) is too large to convert to \(target.code)")
        }
        return Money(minorUnits: minor, currency: target)
    }

    /// n / d (d > 0) rounded to an integer, a half away from zero.
    static func divideRoundingHalfAwayFromZero(_ n: Int128, _ d: Int128) -> Int128 {
        let (quotient, remainder) = n.quotientAndRemainder(dividingBy: d)
        // |remainder| ≥ d/2, compared without halving: 2|r| ≥ d.
        guard remainder.magnitude * 2 >= d.magnitude else { return quotient }
        return n < 0 ? quotient - 1 : quotient + 1
    }
}
