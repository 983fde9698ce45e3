import Testing
@testable import Ledger

@Suite struct MoneyParsing {
    @Test func wholeAndFractionalAmountsParseToMinorUnits() throws {
        #expect(try Money.parse("500000000", currency: "JPY") == yen(500_000_000))
        #expect(try Money.parse("1250.5", currency: "USD") == usd(cents: 125_050))
        #expect(try Money.parse("1250.50", currency: "USD") == usd(cents: 125_050))
        #expect(try Money.parse("0", currency: "USD") == usd(cents: 0))
        #expect(try Money.parse("007", currency: "JPY") == yen(7))
    }

    @Test func moreDecimalsThanTheCurrencyAllowsIsRejected() {
        #expect(throws: ValueError("'1.5' has more decimals than JPY allows (0)")) {
            try Money.parse("1.5", currency: "JPY")
        }
        #expect(throws: ValueError("'1.505' has more decimals than USD allows (2)")) {
            try Money.parse("1.505", currency: "USD")
        }
    }

    @Test(arguments: ["1e3", "-1", "", " 1", "1 ", "1,000", "+1", ".5", "5.", "1.2.3", "¥1", "0x10"])
    func malformedAmountsAreRejected(text: String) {
        #expect(throws: ValueError.self) { try Money.parse(text, currency: "USD") }
    }

    @Test func amountsBeyondSixtyFourBitsAreRejected() throws {
        #expect(throws: ValueError.self) { try Money.parse("9223372036854775808", currency: "JPY") }
        #expect(throws: ValueError.self) { try Money.parse("92233720368547758.08", currency: "USD") }
        #expect(try Money.parse("9223372036854775807", currency: "JPY").minorUnits == .max)
        #expect(try Money.parse("92233720368547758.07", currency: "USD").minorUnits == .max)
    }

    @Test func unknownCurrencyIsRejectedWithAHint() {
        #expect(throws: ValueError("unknown currency 'XYZ' — use an ISO 4217 code such as JPY, USD or EUR")) {
            try Money.parse("1", currency: "XYZ")
        }
        #expect(throws: ValueError.self) { try Currency(code: "jpy") }
    }

    @Test func currencyExponentsFollowISO4217() throws {
        for (code, exponent) in [("JPY", 0), ("KRW", 0), ("USD", 2), ("EUR", 2), ("GBP", 2), ("CNY", 2), ("TWD", 2),
                                 ("SGD", 2), ("CHF", 2), ("AUD", 2), ("CAD", 2), ("HKD", 2), ("INR", 2)] {
            #expect(try Currency(code: code).exponent == exponent, "\(code)")
        }
    }
}

@Suite struct MoneyPresentation {
    @Test func decimalStringHasExactlyTheCurrencyDigits() throws {
        #expect(yen(500_000_000).decimalString == "500000000")
        #expect(usd(cents: 125_050).decimalString == "1250.50")
        #expect(usd(cents: 5).decimalString == "0.05")
        #expect(usd(cents: 0).decimalString == "0.00")
        #expect(usd(cents: -5).decimalString == "-0.05")
        #expect(Money(minorUnits: 1234, currency: try Currency(code: "KWD")).decimalString == "1.234")
    }

    @Test func formattedUsesSymbolsAndThousandsSeparators() throws {
        #expect(yen(500_000_000).formatted == "¥500,000,000")
        #expect(yen(0).formatted == "¥0")
        #expect(yen(999).formatted == "¥999")
        #expect(yen(1000).formatted == "¥1,000")
        #expect(usd(cents: 125_050).formatted == "$1,250.50")
        #expect(Money(minorUnits: 1000, currency: .eur).formatted == "€10.00")
        #expect(try Money.parse("99.99", currency: "GBP").formatted == "£99.99")
        #expect(try Money.parse("1250.5", currency: "CNY").formatted == "1,250.50 CNY")
        #expect(yen(-1_500).formatted == "-¥1,500")
    }

    @Test func decimalStringParsesBackToTheSameAmount() throws {
        for units: Int64 in [0, 1, 9, 10, 99, 100, 101, 123_456_789, .max] {
            for currency in [Currency.jpy, .usd, try Currency(code: "KWD")] {
                let money = Money(minorUnits: units, currency: currency)
                #expect(try Money.parse(money.decimalString, currency: currency) == money)
            }
        }
    }
}

@Suite struct MoneyArithmetic {
    @Test func addingAndSubtractingSameCurrency() throws {
        #expect(try yen(5).adding(yen(7)) == yen(12))
        #expect(try yen(5).subtracting(yen(7)) == yen(-2))
        #expect(try yen(5).multiplied(by: 3) == yen(15))
    }

    @Test func overflowIsAnErrorNotATrap() {
        #expect(throws: ValueError.self) { try yen(.max).adding(yen(1)) }
        #expect(throws: ValueError.self) { try yen(.min).subtracting(yen(1)) }
        #expect(throws: ValueError.self) { try yen(.max / 2 + 1).multiplied(by: 2) }
    }

    @Test func mixingCurrenciesIsRejected() {
        #expect(throws: ValueError("cannot combine JPY and USD amounts in one figure")) {
            try yen(5).adding(usd(cents: 5))
        }
        #expect(throws: ValueError.self) { try yen(5).subtracting(usd(cents: 5)) }
    }
}

@Suite struct DayValidation {
    @Test func validDatesRoundTrip() throws {
        for text in ["2024-04-01", "2024-02-29", "2000-02-29", "1999-12-31", "0001-01-01", "9999-12-31"] {
            #expect(try Day(text).description == text)
        }
    }

    @Test(arguments: ["2023-02-29", "1900-02-29", "2023-02-30", "2024-04-31", "2024-13-01", "2024-00-10",
                      "2024-01-00", "2024-1-01", "24-01-01", "2024/01/01", "2024-01-01T00:00", "", "abcd-ef-gh", "0000-01-01"])
    func impossibleOrMalformedDatesAreRejected(text: String) {
        #expect(throws: ValueError.self) { try Day(text) }
    }

    @Test func nonexistentDateMessageSaysWhy() {
        #expect(throws: ValueError("2023-02-30 is not a date in the calendar — check the month and day")) {
            try Day("2023-02-30")
        }
    }

    @Test func daysOrderChronologically() {
        #expect(day("2023-12-31") < day("2024-01-01"))
        #expect(day("2024-01-31") < day("2024-02-01"))
        #expect(!(day("2024-02-01") < day("2024-02-01")))
    }
}

@Suite struct IdentifierAndQuantity {
    @Test(arguments: ["a", "0", "sakana-ai", "ntt-001", "h100-sxm5-80gb", "a-", String(repeating: "a", count: 63)])
    func slugsAreAccepted(text: String) throws {
        #expect(try Identifier(text).rawValue == text)
    }

    @Test(arguments: ["", "-a", "Sakana", "a_b", "a b", "a.b", "é", String(repeating: "a", count: 64)])
    func nonSlugsAreRejected(text: String) {
        #expect(throws: ValueError.self) { try Identifier(text) }
    }

    @Test func quantitiesArePositiveWholeNumbers() throws {
        #expect(try Quantity("64").units == 64)
        for text in ["0", "-1", "1.5", "", "1e3", " 1", "99999999999999999999"] {
            #expect(throws: ValueError.self, "\(text)") { try Quantity(text) }
        }
    }

    @Test func streamNamesSplitIntoKindAndId() {
        #expect(StreamName.supply(sku: "h100-sxm5").rawValue == "supply-h100-sxm5")
        #expect(StreamName.order("ntt-001").parts! == ("order", "ntt-001"))
        #expect(StreamName(rawValue: "investment-sakura-seed").parts! == ("investment", "sakura-seed"))
        #expect(StreamName(rawValue: "bogus-x").parts == nil)
    }
}
