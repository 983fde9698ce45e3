import JSON
import Testing
@testable import Ledger

@Suite struct PortfolioReport {
    func position(_ commands: [(String, [String: String])]) throws -> PortfolioPosition {
        let ledger = try TestLedger(Given.seedCommitment + commands)
        return try #require(ledger.reports.portfolio.first)
    }

    func disburse(_ amount: String) -> (String, [String: String]) {
        ("invest.disburse", ["investment": "sakura-seed", "amount": amount, "currency": "JPY"])
    }

    func mark(_ amount: String) -> (String, [String: String]) {
        ("invest.mark", ["investment": "sakura-seed", "fair-value": amount, "currency": "JPY"])
    }

    @Test func aCommitmentWithNothingDisbursedHasNoMOIC() throws {
        let row = try position([])
        #expect(row.status == .committed)
        #expect(row.fairValue == yen(0))
        #expect(row.moic == nil)
        #expect(row.json["moic"] == .null)
    }

    @Test func fairValueIsTheCostBasisUntilMarkedThenTheLatestMark() throws {
        #expect(try position([disburse("200000000")]).fairValue == yen(200_000_000))
        #expect(try position([disburse("200000000")]).moic == "1.00")
        let marked = try position([disburse("200000000"), mark("700000000"), mark("500000000")])
        #expect(marked.fairValue == yen(500_000_000))
        #expect(marked.moic == "2.50")
        #expect(marked.status == .active)
    }

    @Test func anExitZeroesFairValueAndCountsProceeds() throws {
        let row = try position([disburse("500000000"), mark("900000000"),
                                ("invest.exit", ["investment": "sakura-seed", "proceeds": "1200000000", "currency": "JPY"])])
        #expect(row.status == .exited)
        #expect(row.fairValue == yen(0))
        #expect(row.proceeds == yen(1_200_000_000))
        #expect(row.moic == "2.40")
    }

    @Test func aWriteOffZeroesFairValue() throws {
        let row = try position([disburse("500000000"), ("invest.write-off", ["investment": "sakura-seed", "reason": "wound down"])])
        #expect(row.status == .writtenOff)
        #expect(row.moic == "0.00")
        #expect(row.json["status"] == "written_off")
    }

    @Test func moicRoundsHalfUpToTwoDecimals() {
        #expect(PortfolioPosition.ratio(2, 3) == "0.67")
        #expect(PortfolioPosition.ratio(1, 3) == "0.33")
        #expect(PortfolioPosition.ratio(1, 8) == "0.13")
        #expect(PortfolioPosition.ratio(1, 200) == "0.01")
        #expect(PortfolioPosition.ratio(1, 201) == "0.00")
        #expect(PortfolioPosition.ratio(0, 7) == "0.00")
        #expect(PortfolioPosition.ratio(2_999_999, 1_000_000) == "3.00")
        #expect(PortfolioPosition.ratio(1_994_999, 1_000_000) == "1.99")
        #expect(PortfolioPosition.ratio(1_995_000, 1_000_000) == "2.00")
        #expect(PortfolioPosition.ratio(UInt64(Int64.max), UInt64(Int64.max)) == "1.00")
        #expect(PortfolioPosition.ratio(UInt64(Int64.max), 1) == "9223372036854775807.00")
        #expect(PortfolioPosition.ratio(UInt64(Int64.max), UInt64(Int64.max) - 1) == "1.00")
        #expect(PortfolioPosition.ratio(199, 100) == "1.99")
        #expect(PortfolioPosition.ratio(9_995, 10_000) == "1.00")
    }

    @Test func jsonHasExactlyTheContractKeysWithDecimalStrings() throws {
        let row = try position([disburse("200000000")])
        #expect(row.json.objectValue.map { Set($0.keys) } == Set(PortfolioPosition.columns))
        #expect(row.json == [
            "investment": "sakura-seed", "startup": "sakana-ai", "round": "seed", "instrument": "equity", "currency": "JPY",
            "committed": "500000000", "disbursed": "200000000", "fair_value": "200000000", "proceeds": "0",
            "moic": "1.00", "status": "active", "startup_name": "Sakana AI", "ownership": nil, "post_money": nil,
        ])
    }
}

@Suite struct LabsReport {
    @Test func summarisesBudgetSpendingPartnersAndMilestones() throws {
        let ledger = try TestLedger(Given.lab + [
            ("lab.add-partner", ["lab": "tokyo-ai-lab", "partner": "RIKEN"]),
            ("lab.add-partner", ["lab": "tokyo-ai-lab", "partner": "University of Tokyo"]),
            ("lab.expense", ["lab": "tokyo-ai-lab", "category": "facility", "amount": "300000000", "currency": "JPY"]),
            ("lab.expense", ["lab": "tokyo-ai-lab", "category": "compute", "amount": "150000000", "currency": "JPY"]),
            ("lab.expense", ["lab": "tokyo-ai-lab", "category": "compute", "amount": "50000000", "currency": "JPY"]),
            ("lab.milestone", ["lab": "tokyo-ai-lab", "name": "first cluster online", "date": "2024-06-30"]),
            ("lab.open", ["lab": "tokyo-ai-lab"]),
        ])
        let row = try #require(ledger.reports.labs.first)
        #expect(row.remaining == yen(500_000_000))
        #expect(row.json.objectValue.map { Set($0.keys) } == Set(LabSummary.columns))
        #expect(row.json == [
            "lab": "tokyo-ai-lab", "name": "Tokyo AI Lab", "city": "Tokyo", "currency": "JPY",
            "budget": "1000000000", "spent": "500000000", "remaining": "500000000", "status": "open",
            "partners": ["RIKEN", "University of Tokyo"],
            "milestones": [["name": "first cluster online", "date": "2024-06-30"]],
            "spent_by_category": ["facility": "300000000", "equipment": "0", "staff": "0", "compute": "200000000", "other": "0"],
        ])
    }

    @Test func aClosedLabShowsClosed() throws {
        let ledger = try TestLedger(Given.lab + [("lab.open", ["lab": "tokyo-ai-lab"]), ("lab.close", ["lab": "tokyo-ai-lab"])])
        #expect(ledger.reports.labs.first?.status == .closed)
    }
}

@Suite struct OrdersAndSupplyReports {
    func order(_ commands: [(String, [String: String])]) throws -> (OrderSummary, SupplyPosition) {
        let reports = try TestLedger(Given.stockAndOrder + commands).reports
        return (try #require(reports.orders.first), try #require(reports.supply.first))
    }

    func allocate(_ n: Int) -> (String, [String: String]) { ("order.allocate", ["order": "ntt-001", "quantity": String(n)]) }
    func ship(_ id: String, _ n: Int) -> (String, [String: String]) {
        ("order.ship", ["order": "ntt-001", "shipment": id, "quantity": String(n)])
    }
    func deliver(_ id: String) -> (String, [String: String]) { ("order.deliver", ["order": "ntt-001", "shipment": id]) }

    @Test func statusFollowsTheFirstMatchingStage() throws {
        #expect(try order([]).0.status == .placed)
        #expect(try order([allocate(10)]).0.status == .allocated)
        #expect(try order([allocate(10), ship("s1", 10)]).0.status == .partiallyShipped)
        #expect(try order([allocate(64), ship("s1", 64)]).0.status == .shipped)
        #expect(try order([allocate(64), ship("s1", 60), ship("s2", 4), deliver("s1")]).0.status == .shipped)
        #expect(try order([allocate(64), ship("s1", 60), ship("s2", 4), deliver("s1"), deliver("s2")]).0.status == .delivered)
        #expect(try order([allocate(64), ship("s1", 64), deliver("s1"), ("order.cancel", ["order": "ntt-001", "reason": "x"])]).0.status == .cancelled)
    }

    @Test func cancelKeepsOnlyShippedUnitsAllocatedAndGivesTheRestBack() throws {
        let (row, supply) = try order([allocate(50), ship("s1", 20), deliver("s1"),
                                       ("order.cancel", ["order": "ntt-001", "reason": "customer withdrew"])])
        #expect(row.allocated == 20)
        #expect(row.backlog == 0)
        #expect(row.json["status"] == "cancelled")
        #expect(supply.json == ["sku": "h100", "received": 100, "allocated": 20, "shipped": 20, "available": 80])
    }

    @Test func moneyAndUnitsAreReportedWithContractKeys() throws {
        let (row, supply) = try order([
            allocate(40), ship("s1", 30), deliver("s1"),
            ("order.invoice", ["order": "ntt-001", "amount": "135000000", "currency": "JPY"]),
            ("order.pay", ["order": "ntt-001", "amount": "100000000", "currency": "JPY"]),
        ])
        #expect(row.backlog == 34)
        #expect(row.json.objectValue.map { Set($0.keys) } == Set(OrderSummary.columns))
        #expect(row.json == [
            "order": "ntt-001", "customer": "NTT", "sku": "h100", "currency": "JPY", "quantity": 64,
            "unit_price": "4500000", "allocated": 40, "shipped": 30, "delivered": 30, "invoiced": "135000000",
            "paid": "100000000", "outstanding": "35000000", "status": "partially_shipped",
        ])
        #expect(supply.json.objectValue.map { Set($0.keys) } == Set(SupplyPosition.columns))
        #expect(supply.json == ["sku": "h100", "received": 100, "allocated": 40, "shipped": 30, "available": 60])
    }

    @Test func reportsAsOfADateFoldOnlyEventsOnOrBeforeIt() throws {
        let ledger = try TestLedger([
            ("supply.receive", ["sku": "h100", "quantity": "100", "date": "2024-01-10"]),
            ("order.place", ["order": "ntt-001", "customer": "NTT", "sku": "h100", "quantity": "64",
                             "unit-price": "4500000", "currency": "JPY", "date": "2024-01-15"]),
            ("order.allocate", ["order": "ntt-001", "quantity": "64", "date": "2024-02-01"]),
        ])
        var asOf = Reports()
        for entry in ledger.log where entry.event.date <= day("2024-01-31") { asOf.apply(entry.event) }
        #expect(asOf.orders.map(\.status) == [.placed])
        #expect(asOf.supply.map(\.available) == [100])
        #expect(ledger.reports.supply.map(\.available) == [36])
    }

    @Test func rowsAreSortedByKey() throws {
        let ledger = try TestLedger([
            ("supply.receive", ["sku": "mi300x", "quantity": "1"]),
            ("supply.receive", ["sku": "b200", "quantity": "1"]),
            ("supply.receive", ["sku": "h100", "quantity": "1"]),
        ])
        #expect(ledger.reports.supply.map(\.sku) == ["b200", "h100", "mi300x"])
    }
}
