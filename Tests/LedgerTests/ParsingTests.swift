import JSON
import Testing
@testable import Ledger

@Suite struct CommandParsing {
    func parse(_ name: String, _ fields: [String: String]) throws(ValueError) -> LedgerCommand {
        try LedgerCommand.parse(name: name, fields: fields, today: TestLedger.today)
    }

    /// One valid example of every write command, in the contract's order.
    static let examples: [(String, [String: String])] = [
        ("startup.register", ["startup": "sakana-ai", "name": "Sakana AI", "sector": "foundation models", "country": "JP"]),
        ("invest.commit", ["investment": "sakana-a", "startup": "sakana-ai", "round": "series-a", "instrument": "safe",
                           "amount": "1250.5", "currency": "USD", "ownership": "7.25", "post-money": "1000000"]),
        ("invest.disburse", ["investment": "sakana-a", "amount": "100", "currency": "USD", "date": "2024-02-29"]),
        ("invest.mark", ["investment": "sakana-a", "fair-value": "0", "currency": "USD"]),
        ("invest.exit", ["investment": "sakana-a", "proceeds": "9.99", "currency": "USD"]),
        ("invest.write-off", ["investment": "sakana-a", "reason": "wound down"]),
        ("lab.plan", ["lab": "tokyo-ai-lab", "name": "Tokyo AI Lab", "city": "Tokyo", "budget": "1000000000", "currency": "JPY"]),
        ("lab.add-partner", ["lab": "tokyo-ai-lab", "partner": "RIKEN"]),
        ("lab.raise-budget", ["lab": "tokyo-ai-lab", "amount": "5", "currency": "JPY", "reason": "cluster"]),
        ("lab.expense", ["lab": "tokyo-ai-lab", "category": "compute", "amount": "5", "currency": "JPY", "description": "GPU hours"]),
        ("lab.milestone", ["lab": "tokyo-ai-lab", "name": "first cluster online"]),
        ("lab.open", ["lab": "tokyo-ai-lab"]),
        ("lab.close", ["lab": "tokyo-ai-lab", "date": "2030-03-31"]),
        ("supply.receive", ["sku": "h100-sxm5-80gb", "quantity": "128"]),
        ("order.place", ["order": "ntt-001", "customer": "NTT", "sku": "h100-sxm5-80gb", "quantity": "64",
                         "unit-price": "4500000", "currency": "JPY"]),
        ("order.allocate", ["order": "ntt-001", "quantity": "64"]),
        ("order.ship", ["order": "ntt-001", "shipment": "ntt-001-s1", "quantity": "32"]),
        ("order.deliver", ["order": "ntt-001", "shipment": "ntt-001-s1"]),
        ("order.invoice", ["order": "ntt-001", "amount": "144000000", "currency": "JPY"]),
        ("order.pay", ["order": "ntt-001", "amount": "144000000", "currency": "JPY"]),
        ("order.cancel", ["order": "ntt-001", "reason": "customer withdrew"]),
        ("reverse", ["position": "118", "reason": "booked under equipment, was compute"]),
        ("period.close", ["through": "2024-03-31", "reason": "Q1 issued"]),
        ("period.reopen", ["through": "2023-12-31", "reason": "audit adjustment"]),
        ("fx.rate", ["base": "USD", "quote": "JPY", "rate": "151.2500", "date": "2024-03-29", "source": "MUFG TTM"]),
    ]

    @Test func everyContractCommandHasAnExampleThatParsesUnderItsName() throws {
        #expect(Self.examples.map(\.0) == LedgerCommand.names)
        for (name, fields) in Self.examples {
            #expect(try parse(name, fields).name == name)
        }
    }

    @Test func parsedFieldsParseBackToTheSameCommand() throws {
        for (name, fields) in Self.examples {
            let command = try parse(name, fields)
            #expect(try parse(name, command.fields) == command, "\(name)")
        }
    }

    @Test func equalCommandsHaveEqualCanonicalJSONAndDifferentOnesDiffer() throws {
        let a = try parse("invest.disburse", ["investment": "x", "amount": "1250.5", "currency": "USD"])
        let b = try parse("invest.disburse", ["investment": "x", "amount": "1250.50", "currency": "USD", "date": "2024-04-01"])
        let c = try parse("invest.disburse", ["investment": "x", "amount": "1250.51", "currency": "USD"])
        #expect(a == b)
        #expect(a.canonicalJSON.canonicalString == b.canonicalJSON.canonicalString)
        #expect(a.canonicalJSON != c.canonicalJSON)
        #expect(a.canonicalJSON.canonicalString
            == #"{"amount":"1250.50","command":"invest.disburse","currency":"USD","date":"2024-04-01","investment":"x"}"#)
    }

    @Test func absentDateMeansToday() throws {
        #expect(try parse("lab.open", ["lab": "x"]).date == TestLedger.today)
        #expect(try parse("lab.open", ["lab": "x", "date": "2024-02-29"]).date == day("2024-02-29"))
    }

    @Test func tooManyDecimalsNamesTheFlag() {
        #expect(throws: ValueError("--amount: '1.5' has more decimals than JPY allows (0)")) {
            try parse("invest.disburse", ["investment": "x", "amount": "1.5", "currency": "JPY"])
        }
        #expect(throws: ValueError("--unit-price: '4.501' has more decimals than USD allows (2)")) {
            try parse("order.place", ["order": "o", "customer": "C", "sku": "s", "quantity": "1", "unit-price": "4.501", "currency": "USD"])
        }
    }

    @Test func missingRequiredFlagIsNamed() {
        #expect(throws: ValueError("--currency: missing — invest.disburse needs --investment, --amount, --currency")) {
            try parse("invest.disburse", ["investment": "x", "amount": "1"])
        }
    }

    @Test func unknownFlagIsNamed() {
        #expect(throws: ValueError("--colour: not a flag of lab.open — it takes --lab, --date")) {
            try parse("lab.open", ["lab": "x", "colour": "red"])
        }
    }

    @Test func unknownCommandIsRejected() {
        #expect(throws: ValueError.self) { try parse("order.teleport", ["order": "x"]) }
    }

    @Test(arguments: [
        ("invest.disburse", ["investment": "X", "amount": "1", "currency": "JPY"], "--investment:"),
        ("invest.disburse", ["investment": "x", "amount": "1", "currency": "YEN"], "--currency: unknown currency 'YEN'"),
        ("invest.disburse", ["investment": "x", "amount": "0", "currency": "JPY"], "--amount: must be greater than 0"),
        ("invest.disburse", ["investment": "x", "amount": "1e3", "currency": "JPY"], "--amount: '1e3' is not an amount"),
        ("invest.disburse", ["investment": "x", "amount": "1", "currency": "JPY", "date": "2023-02-30"], "--date: 2023-02-30"),
        ("invest.commit", ["investment": "x", "startup": "s", "round": "seed", "instrument": "bond", "amount": "1", "currency": "JPY"], "--instrument: 'bond'"),
        ("invest.commit", ["investment": "x", "startup": "s", "round": "seed", "instrument": "equity", "amount": "1", "currency": "JPY", "ownership": "101"], "--ownership:"),
        ("invest.commit", ["investment": "x", "startup": "s", "round": "seed", "instrument": "equity", "amount": "1", "currency": "JPY", "ownership": "0"], "--ownership:"),
        ("invest.commit", ["investment": "x", "startup": "s", "round": " ", "instrument": "equity", "amount": "1", "currency": "JPY"], "--round: must not be empty"),
        ("lab.expense", ["lab": "l", "category": "travel", "amount": "1", "currency": "JPY"], "--category: 'travel'"),
        ("lab.milestone", ["lab": "l", "name": "two\nlines"], "--name: must be one line"),
        ("supply.receive", ["sku": "h100", "quantity": "0"], "--quantity: '0' is not a quantity"),
        ("order.ship", ["order": "o", "shipment": "S 1", "quantity": "1"], "--shipment:"),
        ("startup.register", ["startup": "s", "name": "S", "country": "JPN"], "--country:"),
    ])
    func malformedValuesAreBadUsageNamingTheFlag(name: String, fields: [String: String], prefix: String) {
        do {
            _ = try parse(name, fields)
            Issue.record("\(name) \(fields) was accepted")
        } catch {
            #expect(error.message.hasPrefix(prefix), "\(error.message)")
        }
    }

    @Test func ownershipAcceptsPercentagesUpToAHundred() throws {
        for text in ["100", "100.0", "0.01", "12.5", "99.9999"] {
            var fields = Self.examples[1].1
            fields["ownership"] = text
            guard case .investment(_, .commit(_, _, _, _, let ownership, _), _) = try parse("invest.commit", fields).action else {
                Issue.record("not a commit"); continue
            }
            #expect(ownership == text)
        }
    }

    @Test func postMoneyIsInTheCommitmentsCurrency() throws {
        let command = try parse("invest.commit", Self.examples[1].1)
        guard case .investment(_, .commit(_, _, _, let amount, _, let postMoney), _) = command.action else {
            Issue.record("not a commit"); return
        }
        #expect(amount == usd(cents: 125_050))
        #expect(postMoney == usd(cents: 100_000_000))
    }
}
