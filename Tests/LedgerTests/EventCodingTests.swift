import JSON
import Testing
@testable import Ledger

@Suite struct EventCoding {
    /// One event of every type, with optional fields both present and absent.
    static let samples: [LedgerEvent.Fact] = [
        .startup(.registered(startup: "sakana-ai", name: "Sakana AI", sector: "foundation models", country: "JP")),
        .startup(.registered(startup: "elyza", name: "ELYZA \"LLM\" 株式会社", sector: nil, country: nil)),
        .investment(.committed(investment: "i", startup: "s", round: "seed", instrument: .equity, amount: usd(cents: 125_050),
                               ownership: "12.5", postMoney: usd(cents: 1_000_000_00))),
        .investment(.committed(investment: "i", startup: "s", round: "seed", instrument: .note, amount: yen(1), ownership: nil, postMoney: nil)),
        .investment(.disbursed(investment: "i", amount: yen(500_000_000))),
        .investment(.marked(investment: "i", fairValue: yen(0))),
        .investment(.exited(investment: "i", proceeds: yen(9))),
        .investment(.writtenOff(investment: "i", reason: "wound down")),
        .lab(.planned(lab: "l", name: "Tokyo AI Lab", city: "Tokyo", budget: yen(1_000_000_000))),
        .lab(.partnerAdded(lab: "l", partner: "RIKEN")),
        .lab(.budgetRaised(lab: "l", amount: yen(5), reason: "cluster")),
        .lab(.expenseRecorded(lab: "l", category: .compute, amount: yen(5), description: "GPU hours")),
        .lab(.expenseRecorded(lab: "l", category: .staff, amount: yen(5), description: nil)),
        .lab(.milestoneReached(lab: "l", name: "first cluster online")),
        .lab(.opened(lab: "l")),
        .lab(.closed(lab: "l")),
        .supply(.received(sku: "h100", quantity: 100)),
        .supply(.allocated(sku: "h100", order: "o", quantity: 10)),
        .supply(.released(sku: "h100", order: "o", quantity: 3)),
        .order(.placed(order: "o", customer: "NTT", sku: "h100", quantity: 64, unitPrice: yen(4_500_000))),
        .order(.allocated(order: "o", sku: "h100", quantity: 10)),
        .order(.shipmentDispatched(order: "o", shipment: "s1", sku: "h100", quantity: 7)),
        .order(.shipmentDelivered(order: "o", shipment: "s1", sku: "h100", quantity: 7)),
        .order(.invoiced(order: "o", amount: yen(1))),
        .order(.paid(order: "o", amount: yen(1))),
        .order(.cancelled(order: "o", sku: "h100", reason: "withdrew", released: 3)),
        .entry(.reversed(reverses: 42, reason: "booked under equipment, was compute")),
        .period(.closed(through: try! Day("2024-03-31"), reason: "Q1", digest: ["size": 3, "root": "ab"])),
        .period(.reopened(through: try! Day("2023-12-31"), reason: "audit")),
        .fx(.rateRecorded(pair: CurrencyPair(base: .usd, quote: .jpy), rate: try! ExchangeRate(parsing: "151.25"), source: "BoJ")),
        .fx(.rateRecorded(pair: CurrencyPair(base: .jpy, quote: .eur), rate: try! ExchangeRate(parsing: "0.0061234567"), source: nil)),
    ]

    @Test func samplesCoverEveryEventType() {
        #expect(Set(Self.samples.map { LedgerEvent(date: TestLedger.today, fact: $0).type }) == Set(LedgerEvent.types.map(\.type)))
    }

    @Test func everyEventTypeSurvivesEncodeThenDecode() throws {
        for fact in Self.samples {
            let event = LedgerEvent(date: day("2024-02-29"), fact: fact)
            // Through text too, as the store keeps it.
            let stored = try JSON.parse(event.payload.canonicalString)
            let decoded = try LedgerEvent.decode(type: event.type, schemaVersion: event.schemaVersion, date: event.date, payload: stored)
            #expect(decoded == event, "\(event.type)")
        }
    }

    @Test func schemaVersionsAreCurrent() {
        for (type, version) in LedgerEvent.types {
            let sample = Self.samples.map { LedgerEvent(date: TestLedger.today, fact: $0) }.first { $0.type == type }
            #expect(sample?.schemaVersion == version, "\(type)")
        }
        #expect(LedgerEvent.types.first { $0.type == "lab.expense_recorded" }?.schemaVersion == 2)
    }

    @Test func payloadsUseSnakeCaseDecimalStringsAndIntegerQuantities() {
        let placed = LedgerEvent(date: TestLedger.today, fact: Self.samples[19])
        #expect(placed.payload.canonicalString
            == #"{"currency":"JPY","customer":"NTT","order":"o","quantity":64,"sku":"h100","unit_price":"4500000"}"#)
        let committed = LedgerEvent(date: TestLedger.today, fact: Self.samples[2])
        #expect(committed.payload.canonicalString
            == #"{"amount":"1250.50","currency":"USD","instrument":"equity","investment":"i","ownership":"12.5","post_money":"1000000.00","round":"seed","startup":"s"}"#)
        #expect(committed.stream == .investment("i"))
    }

    @Test func aVersionOneExpenseWithoutCategoryReadsAsOther() throws {
        let v1: JSON = ["lab": "tokyo-ai-lab", "amount": "50000000", "currency": "JPY", "description": "chairs"]
        let event = try LedgerEvent.decode(type: "lab.expense_recorded", schemaVersion: 1, date: day("2023-06-01"), payload: v1)
        #expect(event.fact == .lab(.expenseRecorded(lab: "tokyo-ai-lab", category: .other, amount: yen(50_000_000), description: "chairs")))
        #expect(event.schemaVersion == 2)
        #expect(event.payload["category"] == "other")
    }

    @Test func unknownTypesVersionsAndBrokenPayloadsAreReportedNotGuessed() {
        let date = TestLedger.today
        #expect(throws: EventDecodingError(type: "order.teleported", reason: "unknown event type")) {
            try LedgerEvent.decode(type: "order.teleported", schemaVersion: 1, date: date, payload: ["order": "o"])
        }
        #expect(throws: EventDecodingError.self) {
            try LedgerEvent.decode(type: "order.paid", schemaVersion: 2, date: date, payload: ["order": "o", "amount": "1", "currency": "JPY"])
        }
        #expect(throws: EventDecodingError.self) {
            try LedgerEvent.decode(type: "lab.expense_recorded", schemaVersion: 3, date: date, payload: ["lab": "l"])
        }
        #expect(throws: EventDecodingError(type: "order.paid", reason: "'amount' is missing or not a string")) {
            try LedgerEvent.decode(type: "order.paid", schemaVersion: 1, date: date, payload: ["order": "o", "currency": "JPY"])
        }
        #expect(throws: EventDecodingError.self) {
            try LedgerEvent.decode(type: "supply.received", schemaVersion: 1, date: date, payload: ["sku": "s", "quantity": "many"])
        }
        #expect(throws: EventDecodingError.self) {
            try LedgerEvent.decode(type: "order.paid", schemaVersion: 1, date: date, payload: ["order": "o", "amount": "1.5", "currency": "JPY"])
        }
        #expect(throws: EventDecodingError.self) {
            try LedgerEvent.decode(type: "lab.opened", schemaVersion: 1, date: date, payload: "not an object")
        }
    }

    @Test func decodingIsFastEnoughForRebuilds() throws {
        // The contract's rebuild must decode ~100k events/s; a debug build doing 20k in
        // well under a second leaves an order of magnitude to spare in release.
        let stored = Self.samples.map { LedgerEvent(date: TestLedger.today, fact: $0) }
            .map { ($0.type, $0.schemaVersion, $0.payload) }
        let clock = ContinuousClock()
        var decoded = 0
        let elapsed = try clock.measure {
            for _ in 0..<800 {
                for (type, version, payload) in stored {
                    _ = try LedgerEvent.decode(type: type, schemaVersion: version, date: TestLedger.today, payload: payload)
                    decoded += 1
                }
            }
        }
        #expect(decoded == 800 * stored.count)
        #expect(elapsed < .seconds(2), "decoded \(decoded) events in \(elapsed)")
        print("decoded \(decoded) events in \(elapsed)")
    }
}
