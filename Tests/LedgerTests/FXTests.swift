import Testing
@testable import Ledger

@Suite struct ExchangeRates {
    func rate(_ text: String) -> ExchangeRate { try! ExchangeRate(parsing: text) }

    @Test func ratesAreExactDecimalsWithAtMostTenFractionDigits() throws {
        #expect(rate("151.25").decimalString == "151.25")
        #expect(rate("151.2500").decimalString == "151.25")
        #expect(rate("0.0066115702").decimalString == "0.0066115702")
        #expect(rate("150").decimalString == "150")
        #expect(throws: ValueError.self) { try ExchangeRate(parsing: "0.00661157024") }
        for bad in ["0", "0.000", "-151", "1e3", "", ".5", "5.", "151,25", " 151", "1.2.3"] {
            #expect(throws: ValueError.self, "\(bad)") { try ExchangeRate(parsing: bad) }
        }
    }

    @Test func convertingRoundsOnceHalfAwayFromZeroToTheTargetMinorUnit() throws {
        // $1.01 × 150.5 = ¥152.005 → ¥152; $0.01 × 150 = ¥1.5 → ¥2; −$0.01 → −¥2.
        #expect(try rate("150.5").convert(usd(cents: 101), to: .jpy) == yen(152))
        #expect(try rate("150").convert(usd(cents: 1), to: .jpy) == yen(2))
        #expect(try rate("150").convert(usd(cents: -1), to: .jpy) == yen(-2))
        // $100,000,000.00 × 149.9999999949 = ¥14,999,999,999.49 → ¥14,999,999,999: a Double rate would not keep the digits.
        #expect(try rate("149.9999999949").convert(usd(cents: 100_000_000_00), to: .jpy) == yen(14_999_999_999))
        // ¥300,000,000 at 1/146.5 = $2,047,781.5699… → $2,047,781.57.
        #expect(try rate("146.5").convert(yen(300_000_000), to: .usd, inverted: true) == usd(cents: 204_778_157))
        // JPY → USD at a direct rate with 10 fraction digits: ¥1,000,000 × 0.0066115702 = $6,611.5702 → $6,611.57.
        #expect(try rate("0.0066115702").convert(yen(1_000_000), to: .usd) == usd(cents: 661_157))
        // A half cent up and down: ¥1 at 1/200 = $0.005 → $0.01; −¥1 → −$0.01.
        #expect(try rate("200").convert(yen(1), to: .usd, inverted: true) == usd(cents: 1))
        #expect(try rate("200").convert(yen(-1), to: .usd, inverted: true) == usd(cents: -1))
    }

    @Test func anAmountTooLargeToConvertIsAnErrorNotAWrap() {
        #expect(throws: ValueError.self) {
            try rate("1000000").convert(Money(minorUnits: .max, currency: .usd), to: .jpy)
        }
    }
}

@Suite struct ConversionRule {
    var book: RateBook {
        var book = RateBook()
        let usdJpy = CurrencyPair(base: .usd, quote: .jpy)
        book.record(try! ExchangeRate(parsing: "146.5"), for: usdJpy, on: day("2024-01-31"))
        book.record(try! ExchangeRate(parsing: "151.0"), for: usdJpy, on: day("2025-02-03"))
        book.record(try! ExchangeRate(parsing: "154.8"), for: usdJpy, on: day("2025-01-31"))
        return book
    }

    @Test func theLatestRateOnOrBeforeTheDateApplies() throws {
        #expect(try book.convert(usd(cents: 100), to: .jpy, on: day("2024-01-31")) == yen(147))  // 146.5 → 147
        #expect(try book.convert(usd(cents: 100), to: .jpy, on: day("2025-02-02")) == yen(155))  // 154.8, recorded out of order
        #expect(try book.convert(usd(cents: 100), to: .jpy, on: day("2025-02-03")) == yen(151))
        #expect(try book.convert(usd(cents: 100), to: .jpy, on: day("2030-01-01")) == yen(151))
    }

    @Test func ofTwoRatesForTheSameDayTheLaterRecordedOneCounts() throws {
        var book = self.book
        book.record(try ExchangeRate(parsing: "160"), for: CurrencyPair(base: .usd, quote: .jpy), on: day("2025-01-31"))
        #expect(try book.convert(usd(cents: 100), to: .jpy, on: day("2025-02-01")) == yen(160))
    }

    @Test func theInversePairIsUsedOnlyWhenThePairHasNoRate() throws {
        var book = self.book
        // JPY → USD: no JPY/USD rate yet, so 1 / 146.5.
        #expect(try book.convert(yen(300_000_000), to: .usd, on: day("2024-06-01")) == usd(cents: 204_778_157))
        // Once JPY/USD has a rate on or before the date, it wins over any USD/JPY rate.
        book.record(try ExchangeRate(parsing: "0.005"), for: CurrencyPair(base: .jpy, quote: .usd), on: day("2024-05-01"))
        #expect(try book.convert(yen(300_000_000), to: .usd, on: day("2024-06-01")) == usd(cents: 150_000_000))
        // Before that date JPY/USD has none: back to the inverse of USD/JPY.
        #expect(try book.convert(yen(300_000_000), to: .usd, on: day("2024-04-30")) == usd(cents: 204_778_157))
    }

    @Test func aMissingRateIsRejectedNamingThePairAndTheDate() {
        #expect {
            try book.convert(usd(cents: 100), to: .jpy, on: day("2024-01-30"))
        } throws: { error in
            guard let rejection = error as? Rejection else { return false }
            return rejection.rule == "missing_rate" && rejection.message.contains("USD/JPY")
                && rejection.message.contains("2024-01-30") && rejection.message.contains("ledger fx rate")
        }
        #expect(throws: Rejection.self) { try book.convert(Money(minorUnits: 100, currency: .eur), to: .jpy, on: day("2025-01-01")) }
    }

    @Test func theSameCurrencyNeedsNoRate() throws {
        #expect(try RateBook().convert(yen(5), to: .jpy, on: day("2024-01-01")) == yen(5))
    }

    @Test func pairsLiveOnLowerCaseStreams() {
        #expect(CurrencyPair(base: .usd, quote: .jpy).stream.rawValue == "fx-usd-jpy")
        #expect(CurrencyPair(base: .usd, quote: .jpy).description == "USD/JPY")
    }
}
