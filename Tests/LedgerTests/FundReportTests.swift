import JSON
import Testing
@testable import Ledger

/// Hand-computed fund figures: three holdings (a marked JPY equity, a USD SAFE that exited,
/// a JPY note written off), native and converted to JPY. IRRs from scipy's brentq on the
/// XIRR equation (see XIRRTests).
@Suite struct FundReport {
    static let reportDate = day("2025-03-31")

    static var ledger: FundLedger {
        var ledger = FundLedger()
        func event(_ date: String, _ fact: LedgerEvent.Fact) { ledger.apply(LedgerEvent(date: day(date), fact: fact)) }
        event("2023-12-01", .startup(.registered(startup: "sakana-ai", name: "Sakana AI", sector: nil, country: "JP")))
        event("2023-12-01", .startup(.registered(startup: "elyza", name: "ELYZA", sector: nil, country: "JP")))
        event("2023-12-02", .investment(.committed(investment: "sakana-a", startup: "sakana-ai", round: "series-a",
                                                   instrument: .equity, amount: yen(500_000_000), ownership: "3.5", postMoney: nil)))
        event("2024-01-10", .investment(.disbursed(investment: "sakana-a", amount: yen(300_000_000))))
        event("2024-12-31", .investment(.marked(investment: "sakana-a", fairValue: yen(450_000_000))))
        event("2024-01-20", .investment(.committed(investment: "elyza-safe", startup: "elyza", round: "seed",
                                                   instrument: .safe, amount: usd(cents: 200_000_000), ownership: nil, postMoney: nil)))
        event("2024-02-01", .investment(.disbursed(investment: "elyza-safe", amount: usd(cents: 100_000_000))))
        event("2025-02-01", .investment(.exited(investment: "elyza-safe", proceeds: usd(cents: 175_000_000))))
        event("2024-02-20", .investment(.committed(investment: "x-note", startup: "sakana-ai", round: "bridge",
                                                   instrument: .note, amount: yen(100_000_000), ownership: nil, postMoney: nil)))
        event("2024-03-01", .investment(.disbursed(investment: "x-note", amount: yen(100_000_000))))
        event("2024-09-30", .investment(.writtenOff(investment: "x-note", reason: "insolvent")))
        let usdJpy = CurrencyPair(base: .usd, quote: .jpy)
        ledger.rates.record(try! ExchangeRate(parsing: "146.5"), for: usdJpy, on: day("2024-01-31"))
        ledger.rates.record(try! ExchangeRate(parsing: "154.8"), for: usdJpy, on: day("2025-01-31"))
        ledger.rates.record(try! ExchangeRate(parsing: "151.0"), for: usdJpy, on: day("2025-02-03"))
        return ledger
    }

    func row(_ rows: [FundRow], _ investment: String, _ currency: String? = nil) throws -> JSON {
        try #require(rows.first { $0.investment == investment && (currency == nil || $0.currency.code == currency) }).json
    }

    @Test func nativeRowsCarryTheirOwnCurrencyAndATotalPerCurrency() throws {
        let rows = try Self.ledger.rows(on: Self.reportDate)
        #expect(rows.map(\.investment) == ["elyza-safe", "sakana-a", "x-note", "TOTAL", "TOTAL"])
        #expect(try row(rows, "sakana-a") == [
            "investment": "sakana-a", "startup": "sakana-ai", "startup_name": "Sakana AI", "instrument": "equity",
            "currency": "JPY", "paid_in": "300000000", "distributions": "0", "nav": "450000000",
            "dpi": "0.00", "rvpi": "1.50", "tvpi": "1.50", "irr": "0.3935",  // 0.39351150785
        ])
        #expect(try row(rows, "elyza-safe") == [
            "investment": "elyza-safe", "startup": "elyza", "startup_name": "ELYZA", "instrument": "safe",
            "currency": "USD", "paid_in": "1000000.00", "distributions": "1750000.00", "nav": "0.00",
            "dpi": "1.75", "rvpi": "0.00", "tvpi": "1.75", "irr": "0.7473",  // 1.75^(365/366) − 1
        ])
        // Written off: nothing comes back, so no rate solves it.
        #expect(try row(rows, "x-note")["irr"] == .null)
        #expect(try row(rows, "x-note")["tvpi"] == "0.00")
        // JPY total: 450,000,000 / 400,000,000 = 1.125 → 1.13 (half away from zero).
        #expect(try row(rows, "TOTAL", "JPY") == [
            "investment": "TOTAL", "startup": .null, "startup_name": .null, "instrument": .null,
            "currency": "JPY", "paid_in": "400000000", "distributions": "0", "nav": "450000000",
            "dpi": "0.00", "rvpi": "1.13", "tvpi": "1.13", "irr": "0.1043",  // 0.10430203872
        ])
        #expect(try row(rows, "TOTAL", "USD")["irr"] == "0.7473")
        #expect(FundRow.columns == Array(try row(rows, "TOTAL", "USD").objectValue!.keys).sorted { a, b in
            FundRow.columns.firstIndex(of: a)! < FundRow.columns.firstIndex(of: b)!
        })
    }

    @Test func convertedRowsUseTheRateOfEachFlowsDate() throws {
        let rows = try Self.ledger.rows(on: Self.reportDate, in: .jpy)
        #expect(rows.map(\.investment) == ["elyza-safe", "sakana-a", "x-note", "TOTAL"])
        // $1,000,000 on 2024-02-01 at 146.5 (2024-01-31); $1,750,000 on 2025-02-01 at 154.8
        // (2025-01-31), not 151.0 (recorded for 2025-02-03).
        #expect(try row(rows, "elyza-safe") == [
            "investment": "elyza-safe", "startup": "elyza", "startup_name": "ELYZA", "instrument": "safe",
            "currency": "JPY", "paid_in": "146500000", "distributions": "270900000", "nav": "0",
            "dpi": "1.85", "rvpi": "0.00", "tvpi": "1.85", "irr": "0.8460",  // 0.84604358440
        ])
        #expect(try row(rows, "TOTAL") == [
            "investment": "TOTAL", "startup": .null, "startup_name": .null, "instrument": .null,
            "currency": "JPY", "paid_in": "546500000", "distributions": "270900000", "nav": "450000000",
            "dpi": "0.50", "rvpi": "0.82", "tvpi": "1.32", "irr": "0.2805",  // 0.28052632910
        ])
    }

    @Test func navIsConvertedAtTheReportDateAndTheInversePairServesJPYToUSD() throws {
        var ledger = Self.ledger
        ledger.apply(LedgerEvent(date: day("2025-03-01"), fact: .investment(.marked(investment: "sakana-a", fairValue: yen(453_000_000)))))
        ledger.rates.record(try ExchangeRate(parsing: "145"), for: CurrencyPair(base: .usd, quote: .jpy), on: day("2024-01-01"))
        let rows = try ledger.rows(on: Self.reportDate, in: .usd)
        // ¥300,000,000 / 145 (2024-01-01) = $2,068,965.517… → $2,068,965.52; NAV ¥453,000,000
        // / 151.0 (2025-02-03, the latest on or before the report date) = $3,000,000.00.
        #expect(try row(rows, "sakana-a")["paid_in"] == "2068965.52")
        #expect(try row(rows, "sakana-a")["nav"] == "3000000.00")
        // USD rows stay as they are: no conversion, no rounding.
        #expect(try row(rows, "elyza-safe")["distributions"] == "1750000.00")
        // ¥100,000,000 / 146.5 (2024-01-31, for 2024-03-01) = $682,593.856… → $682,593.86.
        #expect(try row(rows, "x-note")["paid_in"] == "682593.86")
        #expect(try row(rows, "TOTAL")["paid_in"] == "3751559.38")
    }

    @Test func aMissingRateNamesThePairAndTheDate() {
        #expect {
            try Self.ledger.rows(on: Self.reportDate, in: .usd)
        } throws: { error in
            let rejection = error as? Rejection
            return rejection?.rule == "missing_rate" && rejection!.message.contains("JPY/USD")
                && rejection!.message.contains("2024-01-10")
        }
    }

    @Test func aCommitmentWithNothingPaidInHasNoRatios() throws {
        var ledger = FundLedger()
        ledger.apply(LedgerEvent(date: day("2024-01-01"), fact: .investment(.committed(
            investment: "a", startup: "s", round: "seed", instrument: .safe, amount: yen(5), ownership: nil, postMoney: nil))))
        let rows = try ledger.rows(on: day("2024-02-01"))
        for key in ["dpi", "rvpi", "tvpi", "irr", "startup_name"] { #expect(try row(rows, "a")[key] == .null) }
        #expect(try row(rows, "TOTAL")["paid_in"] == "0")
    }
}
