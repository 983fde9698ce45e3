import Testing
@testable import Ledger

/// `verify`'s audit builds each event's command straight from its typed values
/// (`LedgerAudit.checkedAction`) instead of writing them out as flag text and parsing them
/// back (`command(recording:)`). These hold the two to the same verdict for every event
/// kind, one value at a time good and bad: the same action when the values pass, the same
/// rule and message when one fails.
@Suite struct LedgerAuditTests {
    static let day = try! Day("2026-03-02")
    static let jpy = Currency.jpy
    static let usd = Currency.usd

    static func money(_ units: Int64, _ currency: Currency = usd) -> Money { Money(minorUnits: units, currency: currency) }

    /// Ids: good, and each way a slug can be wrong.
    static let ids = ["ntt-001", "a", String(repeating: "a", count: 63), String(repeating: "a", count: 64), "", "-a", "NTT", "a b", "ä"]
    /// Text: good, and each way the one rule for text refuses it.
    static let texts = [
        "NTT", "Sakura Internet 株式会社", String(repeating: "x", count: 1_000), String(repeating: "x", count: 1_001),
        String(repeating: "é", count: 1_000), "", " ", "\u{200B}", "a\u{7}b", "line\nbreak", "a\u{2028}b", "gpj\u{202E}exe",
        "bad \u{FFFD}", "tab\there",
    ]
    static let optionalTexts: [String?] = [nil] + texts
    static let quantities: [Int64] = [1, 64, 999_999_999_999_999_999, 1_000_000_000_000_000_000, .max, 0, -1, .min]
    static let amounts: [Money] = [money(1), money(125_050), money(0), money(-1), money(.max), money(0, jpy), money(7, jpy)]
    static let countries: [String?] = [nil, "JP", "US", "jp", "Jp", "J", "JPN", "", "1A"]
    static let percentages: [String?] = [nil, "5", "7.5", "100", "100.0000", "0.0001", "0", "0.0", "100.5", "1.23456", "abc", "-5", "05"]

    /// Every event kind a command records, varied one value at a time.
    static var events: [LedgerEvent] {
        var facts: [LedgerEvent.Fact] = []
        for id in ids {
            facts.append(.startup(.registered(startup: id, name: "Sakana AI", sector: "AI", country: "JP")))
            facts.append(.investment(.disbursed(investment: id, amount: money(5))))
            facts.append(.lab(.opened(lab: id)))
            facts.append(.lab(.closed(lab: id)))
            facts.append(.supply(.received(sku: id, quantity: 8)))
            facts.append(.order(.placed(order: id, customer: "NTT", sku: "h100", quantity: 8, unitPrice: money(10))))
            facts.append(.order(.placed(order: "o1", customer: "NTT", sku: id, quantity: 8, unitPrice: money(10))))
            facts.append(.order(.shipmentDispatched(order: "o1", shipment: id, sku: "h100", quantity: 8)))
            facts.append(.order(.shipmentDelivered(order: id, shipment: id, sku: "h100", quantity: 8)))
            facts.append(.investment(.committed(
                investment: "seed", startup: id, round: "seed", instrument: .equity, amount: money(5), ownership: nil,
                postMoney: nil)))
        }
        for text in texts {
            facts.append(.startup(.registered(startup: "s", name: text, sector: nil, country: nil)))
            facts.append(.investment(.committed(
                investment: "seed", startup: "s", round: text, instrument: .safe, amount: money(5), ownership: nil, postMoney: nil)))
            facts.append(.investment(.writtenOff(investment: "seed", reason: text)))
            facts.append(.lab(.planned(lab: "l", name: text, city: "Tokyo", budget: money(5))))
            facts.append(.lab(.planned(lab: "l", name: "Lab", city: text, budget: money(5))))
            facts.append(.lab(.partnerAdded(lab: "l", partner: text)))
            facts.append(.lab(.budgetRaised(lab: "l", amount: money(5), reason: text)))
            facts.append(.lab(.milestoneReached(lab: "l", name: text)))
            facts.append(.order(.placed(order: "o1", customer: text, sku: "h100", quantity: 8, unitPrice: money(10))))
            facts.append(.order(.cancelled(order: "o1", sku: "h100", reason: text, released: 3)))
        }
        for text in optionalTexts {
            facts.append(.startup(.registered(startup: "s", name: "S", sector: text, country: nil)))
            facts.append(.lab(.expenseRecorded(lab: "l", category: .compute, amount: money(5), description: text)))
        }
        for country in countries {
            facts.append(.startup(.registered(startup: "s", name: "S", sector: nil, country: country)))
        }
        for ownership in percentages {
            facts.append(.investment(.committed(
                investment: "seed", startup: "s", round: "seed", instrument: .note, amount: money(5), ownership: ownership,
                postMoney: money(1_000))))
        }
        for amount in amounts {
            facts.append(.investment(.committed(
                investment: "seed", startup: "s", round: "seed", instrument: .equity, amount: amount, ownership: "5",
                postMoney: nil)))
            facts.append(.investment(.committed(
                investment: "seed", startup: "s", round: "seed", instrument: .equity, amount: money(5, amount.currency),
                ownership: nil, postMoney: amount)))
            facts.append(.investment(.disbursed(investment: "seed", amount: amount)))
            facts.append(.investment(.marked(investment: "seed", fairValue: amount)))
            facts.append(.investment(.exited(investment: "seed", proceeds: amount)))
            facts.append(.lab(.planned(lab: "l", name: "Lab", city: "Tokyo", budget: amount)))
            facts.append(.lab(.budgetRaised(lab: "l", amount: amount, reason: "more")))
            facts.append(.lab(.expenseRecorded(lab: "l", category: .staff, amount: amount, description: nil)))
            facts.append(.order(.placed(order: "o1", customer: "NTT", sku: "h100", quantity: 8, unitPrice: amount)))
            facts.append(.order(.invoiced(order: "o1", amount: amount)))
            facts.append(.order(.paid(order: "o1", amount: amount)))
        }
        for quantity in quantities {
            facts.append(.supply(.received(sku: "h100", quantity: quantity)))
            facts.append(.order(.placed(order: "o1", customer: "NTT", sku: "h100", quantity: quantity, unitPrice: money(10))))
            facts.append(.order(.allocated(order: "o1", sku: "h100", quantity: quantity)))
            facts.append(.order(.shipmentDispatched(order: "o1", shipment: "s1", sku: "h100", quantity: quantity)))
            facts.append(.order(.shipmentDelivered(order: "o1", shipment: "s1", sku: "h100", quantity: quantity)))
            facts.append(.order(.cancelled(order: "o1", sku: "h100", reason: "late", released: quantity)))
        }
        for category in ExpenseCategory.allCases {
            facts.append(.lab(.expenseRecorded(lab: "l", category: category, amount: money(5), description: "GPUs")))
        }
        for instrument in Instrument.allCases {
            facts.append(.investment(.committed(
                investment: "seed", startup: "s", round: "seed", instrument: instrument, amount: money(5), ownership: nil,
                postMoney: nil)))
        }
        let dates = [day, try! Day("0001-01-01"), try! Day("9999-12-31"), try! Day("2024-02-29")]
        return dates.flatMap { date in facts.map { LedgerEvent(date: date, fact: $0) } }
    }

    /// The flag path's verdict: the event's values as flag text, parsed and read back.
    static func byFlags(_ event: LedgerEvent) -> Result<LedgerCommand.Action, Rejection> {
        Result { () throws(Rejection) in try LedgerAudit.command(recording: event).action }
    }

    @Test func theTypedCheckGivesTheFlagPathsVerdictForEveryEventKind() {
        var accepted = 0
        var refused = 0
        var rules: Set<String> = []
        for event in Self.events {
            let flags = Self.byFlags(event)
            #expect(LedgerAudit.command(for: event) == flags, "\(event)")
            switch flags {
            case .success(let action):
                accepted += 1
                // The typed check covers every event the flags accept (so verify never
                // needs the flag text for an event that keeps the rules).
                #expect(LedgerAudit.checkedAction(recording: event) == action, "\(event)")
            case .failure(let rejection):
                refused += 1
                rules.insert(rejection.rule)
                #expect(LedgerAudit.checkedAction(recording: event) == nil, "\(event)")
            }
        }
        // Both sides of every check were exercised.
        #expect(accepted > 100 && refused > 100, "\(accepted) accepted, \(refused) refused")
        #expect(rules == ["malformed_value"])
    }

    /// The messages name the flag and the problem as bad usage would (not the typed check).
    @Test(arguments: [
        (LedgerEvent.Fact.order(.allocated(order: "o1", sku: "h100", quantity: -3)),
         "order.allocated holds a value no command accepts: --quantity: '-3' is not a quantity"),
        (.order(.paid(order: "o1", amount: money(0))), "order.paid holds a value no command accepts: --amount: must be greater than 0"),
        (.startup(.registered(startup: "s", name: "S", sector: nil, country: "jp")),
         "startup.registered holds a value no command accepts: its values do not read back as given"),
        (.order(.placed(order: "O1", customer: "NTT", sku: "h100", quantity: 1, unitPrice: money(1))),
         "order.placed holds a value no command accepts: --order: 'O1' is not an identifier"),
        (.lab(.partnerAdded(lab: "l", partner: "a\u{1B}[31m")),
         "lab.partner_added holds a value no command accepts: --partner: must be one line without control characters (found U+001B)"),
    ])
    func aValueNoCommandAcceptsIsNamedWithItsFlag(fact: LedgerEvent.Fact, message: String) throws {
        let event = LedgerEvent(date: Self.day, fact: fact)
        #expect(LedgerAudit.checkedAction(recording: event) == nil)
        let result = try #require(LedgerAudit.command(for: event))
        guard case .failure(let rejection) = result else {
            Issue.record("accepted \(event)")
            return
        }
        #expect(rejection.rule == "malformed_value")
        #expect(rejection.message.hasPrefix(message), "\(rejection.message)")
    }
}
