import Testing
@testable import Ledger

@Suite struct SupplyAndAllocationRules {
    @Test func receivingStockRecordsIt() throws {
        var ledger = try TestLedger()
        let events = try ledger.run("supply.receive", ["sku": "h100", "quantity": "100", "date": "2024-03-15"])
        #expect(events.map(\.stream) == [.supply(sku: "h100")])
        #expect(events.map(\.event) == [LedgerEvent(date: day("2024-03-15"), fact: .supply(.received(sku: "h100", quantity: 100)))])
    }

    @Test func allocatingIsOneCommandWithEventsOnTheOrderAndTheSupply() throws {
        var ledger = try TestLedger(Given.stockAndOrder)
        let events = try ledger.run("order.allocate", ["order": "ntt-001", "quantity": "40"])
        #expect(events.map(\.stream) == [.order("ntt-001"), .supply(sku: "h100")])
        #expect(events.map(\.event.fact) == [
            .order(.allocated(order: "ntt-001", sku: "h100", quantity: 40)),
            .supply(.allocated(sku: "h100", order: "ntt-001", quantity: 40)),
        ])
        #expect(ledger.world.supplies["h100"]?.available == 60)
    }

    @Test func allocationReadsTheOrderFirstThenItsSKUsSupply() throws {
        let ledger = try TestLedger(Given.stockAndOrder)
        let command = try LedgerCommand.parse(name: "order.allocate", fields: ["order": "ntt-001", "quantity": "1"], today: TestLedger.today)
        #expect(command.streams(in: LedgerWorld()) == [.order("ntt-001"), .periods])
        #expect(command.streams(in: ledger.world) == [.order("ntt-001"), .supply(sku: "h100"), .periods])
    }

    @Test func allocatingMoreThanOrderedIsRejected() throws {
        var ledger = try TestLedger(Given.stockAndOrder + [("order.allocate", ["order": "ntt-001", "quantity": "60"])])
        #expect(try ledger.rejection("order.allocate", ["order": "ntt-001", "quantity": "5"]) == Rejection(
            rule: "over_allocation",
            message: "cannot allocate 5 units to order ntt-001: ordered 64, already allocated 60 — at most 4 more can be allocated"))
    }

    @Test func allocatingMoreThanAvailableStockIsRejected() throws {
        var ledger = try TestLedger(Given.stockAndOrder + [
            ("order.place", ["order": "kddi-001", "customer": "KDDI", "sku": "h100", "quantity": "50", "unit-price": "4400000", "currency": "JPY"]),
            ("order.allocate", ["order": "ntt-001", "quantity": "64"]),
        ])
        #expect(try ledger.rejection("order.allocate", ["order": "kddi-001", "quantity": "40"]) == Rejection(
            rule: "insufficient_supply",
            message: "cannot allocate 40 units of h100 to order kddi-001: received 100, already allocated 64, available 36 — receive more stock first (ledger supply receive)"))
        #expect(ledger.log.count == 5, "a rejected allocation appends to neither stream")
    }

    @Test func allocatingASKUNeverReceivedIsRejected() throws {
        var ledger = try TestLedger([Given.stockAndOrder[1]])
        #expect(try ledger.rejection("order.allocate", ["order": "ntt-001", "quantity": "1"])?.rule == "insufficient_supply")
    }

    @Test func allocatingToAnUnknownOrderIsRejected() throws {
        var ledger = try TestLedger()
        #expect(try ledger.rejection("order.allocate", ["order": "ntt-001", "quantity": "1"])
            == Rejection(rule: "unknown_id", message: "order ntt-001 does not exist — place it first (ledger order place)"))
    }

    @Test func cancellingReleasesTheUnshippedAllocationToTheSupply() throws {
        var ledger = try TestLedger(Given.stockAndOrder + [
            ("order.allocate", ["order": "ntt-001", "quantity": "50"]),
            ("order.ship", ["order": "ntt-001", "shipment": "s1", "quantity": "20"]),
        ])
        let events = try ledger.run("order.cancel", ["order": "ntt-001", "reason": "customer withdrew"])
        #expect(events.map(\.stream) == [.order("ntt-001"), .supply(sku: "h100")])
        #expect(events.map(\.event.fact) == [
            .order(.cancelled(order: "ntt-001", sku: "h100", reason: "customer withdrew", released: 30)),
            .supply(.released(sku: "h100", order: "ntt-001", quantity: 30)),
        ])
        #expect(ledger.world.supplies["h100"]?.allocated == 20)
        #expect(ledger.world.orders["ntt-001"]?.allocated == 20)
    }

    @Test func cancellingWithNothingUnshippedTouchesOnlyTheOrder() throws {
        var ledger = try TestLedger(Given.stockAndOrder)
        let events = try ledger.run("order.cancel", ["order": "ntt-001", "reason": "duplicate"])
        #expect(events.map(\.stream) == [.order("ntt-001")])
    }

    @Test(arguments: [
        ("order.allocate", ["quantity": "1"]),
        ("order.ship", ["shipment": "s9", "quantity": "1"]),
        ("order.deliver", ["shipment": "s1"]),
        ("order.invoice", ["amount": "1", "currency": "JPY"]),
        ("order.pay", ["amount": "1", "currency": "JPY"]),
        ("order.cancel", ["reason": "again"]),
    ])
    func nothingFollowsACancel(name: String, fields: [String: String]) throws {
        var ledger = try TestLedger(Given.stockAndOrder + [
            ("order.allocate", ["order": "ntt-001", "quantity": "10"]),
            ("order.ship", ["order": "ntt-001", "shipment": "s1", "quantity": "5"]),
            ("order.invoice", ["order": "ntt-001", "amount": "100", "currency": "JPY"]),
            ("order.cancel", ["order": "ntt-001", "reason": "customer withdrew"]),
        ])
        var all = fields
        all["order"] = "ntt-001"
        #expect(try ledger.rejection(name, all)
            == Rejection(rule: "order_cancelled", message: "order ntt-001 is cancelled — nothing can be recorded after a cancel"))
    }

    @Test func placingTheSameOrderTwiceIsRejected() throws {
        var ledger = try TestLedger(Given.stockAndOrder)
        let (name, fields) = Given.stockAndOrder[1]
        #expect(try ledger.rejection(name, fields)
            == Rejection(rule: "already_exists", message: "order ntt-001 is already placed — choose another id"))
    }

    @Test func placingAnOrderWhoseValueOverflowsIsRejected() throws {
        var ledger = try TestLedger()
        #expect(try ledger.rejection("order.place", ["order": "x", "customer": "X", "sku": "h100", "quantity": "1000000000",
                                                     "unit-price": "1000000000000", "currency": "JPY"])?.rule == "amount_too_large")
    }
}

@Suite struct ShipmentRules {
    let allocated = Given.stockAndOrder + [("order.allocate", ["order": "ntt-001", "quantity": "30"])]

    @Test func shippingWithinTheAllocationCarriesTheSKU() throws {
        var ledger = try TestLedger(allocated)
        let events = try ledger.run("order.ship", ["order": "ntt-001", "shipment": "s1", "quantity": "30"])
        #expect(events.map(\.event.fact) == [.order(.shipmentDispatched(order: "ntt-001", shipment: "s1", sku: "h100", quantity: 30))])
    }

    @Test func shippingMoreThanAllocatedIsRejected() throws {
        var ledger = try TestLedger(allocated + [("order.ship", ["order": "ntt-001", "shipment": "s1", "quantity": "20"])])
        #expect(try ledger.rejection("order.ship", ["order": "ntt-001", "shipment": "s2", "quantity": "11"]) == Rejection(
            rule: "over_shipment",
            message: "cannot ship 11 units of order ntt-001: allocated 30, already shipped 20 — allocate more first (ledger order allocate)"))
    }

    @Test func reusingAShipmentIdIsRejected() throws {
        var ledger = try TestLedger(allocated + [("order.ship", ["order": "ntt-001", "shipment": "s1", "quantity": "1"])])
        #expect(try ledger.rejection("order.ship", ["order": "ntt-001", "shipment": "s1", "quantity": "1"]) == Rejection(
            rule: "duplicate_shipment", message: "shipment s1 of order ntt-001 is already dispatched — use a new shipment id"))
    }

    @Test func deliveringAShipmentOnceIsAccepted() throws {
        var ledger = try TestLedger(allocated + [("order.ship", ["order": "ntt-001", "shipment": "s1", "quantity": "12"])])
        let events = try ledger.run("order.deliver", ["order": "ntt-001", "shipment": "s1"])
        #expect(events.map(\.event.fact) == [.order(.shipmentDelivered(order: "ntt-001", shipment: "s1", sku: "h100", quantity: 12))])
        #expect(try ledger.rejection("order.deliver", ["order": "ntt-001", "shipment": "s1"]) == Rejection(
            rule: "already_delivered", message: "shipment s1 of order ntt-001 is already delivered — a shipment is delivered once"))
    }

    @Test func deliveringAShipmentNeverDispatchedIsRejected() throws {
        var ledger = try TestLedger(allocated)
        #expect(try ledger.rejection("order.deliver", ["order": "ntt-001", "shipment": "s1"]) == Rejection(
            rule: "unknown_shipment", message: "order ntt-001 has no shipment s1 — ship it first (ledger order ship)"))
    }
}

@Suite struct BillingRules {
    @Test func invoicingUpToTheOrderValueIsAccepted() throws {
        var ledger = try TestLedger(Given.stockAndOrder)
        try ledger.run("order.invoice", ["order": "ntt-001", "amount": "288000000", "currency": "JPY"])
        #expect(ledger.world.orders["ntt-001"]?.invoiced == yen(288_000_000))
    }

    @Test func invoicingMoreThanTheOrderValueIsRejected() throws {
        var ledger = try TestLedger(Given.stockAndOrder + [("order.invoice", ["order": "ntt-001", "amount": "200000000", "currency": "JPY"])])
        #expect(try ledger.rejection("order.invoice", ["order": "ntt-001", "amount": "88000001", "currency": "JPY"]) == Rejection(
            rule: "over_invoicing",
            message: "cannot invoice ¥88,000,001 on order ntt-001: order value ¥288,000,000 (64 × ¥4,500,000), already invoiced ¥200,000,000 — at most ¥88,000,000 can still be invoiced"))
    }

    @Test func payingMoreThanInvoicedIsRejected() throws {
        var ledger = try TestLedger(Given.stockAndOrder + [
            ("order.invoice", ["order": "ntt-001", "amount": "100000000", "currency": "JPY"]),
            ("order.pay", ["order": "ntt-001", "amount": "60000000", "currency": "JPY"]),
        ])
        #expect(try ledger.rejection("order.pay", ["order": "ntt-001", "amount": "40000001", "currency": "JPY"]) == Rejection(
            rule: "over_payment",
            message: "cannot record a payment of ¥40,000,001 on order ntt-001: invoiced ¥100,000,000, already paid ¥60,000,000 — invoice first (ledger order invoice)"))
        try ledger.run("order.pay", ["order": "ntt-001", "amount": "40000000", "currency": "JPY"])
        #expect(ledger.world.orders["ntt-001"]?.paid == yen(100_000_000))
    }

    @Test func billingInAnotherCurrencyIsRejected() throws {
        var ledger = try TestLedger(Given.stockAndOrder)
        #expect(try ledger.rejection("order.invoice", ["order": "ntt-001", "amount": "1", "currency": "USD"]) == Rejection(
            rule: "currency_mismatch", message: "order ntt-001 is in JPY, not USD — give the amount in JPY (--currency JPY)"))
        #expect(try ledger.rejection("order.pay", ["order": "ntt-001", "amount": "1", "currency": "USD"])?.rule == "currency_mismatch")
    }
}
