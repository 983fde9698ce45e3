import Testing
@testable import Ledger

@Suite struct LabRules {
    func expense(_ amount: String, _ category: String = "equipment", currency: String = "JPY") -> (String, [String: String]) {
        ("lab.expense", ["lab": "tokyo-ai-lab", "category": category, "amount": amount, "currency": currency])
    }

    @Test func planningALabRecordsItsBudget() throws {
        var ledger = try TestLedger()
        let events = try ledger.run(Given.lab[0].0, Given.lab[0].1)
        #expect(events.map(\.event.fact) == [.lab(.planned(lab: "tokyo-ai-lab", name: "Tokyo AI Lab", city: "Tokyo", budget: yen(1_000_000_000)))])
        #expect(try ledger.rejection(Given.lab[0].0, Given.lab[0].1)
            == Rejection(rule: "already_exists", message: "lab tokyo-ai-lab is already planned — choose another id"))
    }

    @Test func expensesOnAnUnplannedLabAreRejected() throws {
        var ledger = try TestLedger()
        let (name, fields) = expense("1")
        #expect(try ledger.rejection(name, fields)
            == Rejection(rule: "unknown_id", message: "lab tokyo-ai-lab does not exist — plan it first (ledger lab plan)"))
    }

    @Test func spendingUpToTheBudgetIsAccepted() throws {
        var ledger = try TestLedger(Given.lab + [expense("980000000", "facility")])
        let (name, fields) = expense("20000000")
        try ledger.run(name, fields)
        #expect(ledger.world.labs["tokyo-ai-lab"]?.spent == yen(1_000_000_000))
    }

    @Test func spendingPastTheBudgetIsRejected() throws {
        var ledger = try TestLedger(Given.lab + [expense("980000000", "facility")])
        let (name, fields) = expense("50000000")
        #expect(try ledger.rejection(name, fields) == Rejection(
            rule: "overspend",
            message: "lab tokyo-ai-lab would overspend: budget ¥1,000,000,000, spent ¥980,000,000, expense ¥50,000,000 — raise the budget first (ledger lab raise-budget)"))
    }

    @Test func raisingTheBudgetMakesRoomForTheExpense() throws {
        var ledger = try TestLedger(Given.lab + [expense("980000000", "facility")])
        try ledger.run("lab.raise-budget", ["lab": "tokyo-ai-lab", "amount": "30000000", "currency": "JPY", "reason": "second cluster"])
        let (name, fields) = expense("50000000")
        try ledger.run(name, fields)
        #expect(ledger.world.labs["tokyo-ai-lab"]?.budget == yen(1_030_000_000))
    }

    @Test func spendingOrRaisingInAnotherCurrencyIsRejected() throws {
        var ledger = try TestLedger(Given.lab)
        let (name, fields) = expense("10", currency: "USD")
        #expect(try ledger.rejection(name, fields) == Rejection(
            rule: "currency_mismatch", message: "lab tokyo-ai-lab is in JPY, not USD — give the amount in JPY (--currency JPY)"))
        #expect(try ledger.rejection("lab.raise-budget", ["lab": "tokyo-ai-lab", "amount": "1", "currency": "EUR", "reason": "x"])?.rule
            == "currency_mismatch")
    }

    @Test func aLabOpensOnce() throws {
        var ledger = try TestLedger(Given.lab + [("lab.open", ["lab": "tokyo-ai-lab"])])
        #expect(try ledger.rejection("lab.open", ["lab": "tokyo-ai-lab"])
            == Rejection(rule: "lab_already_open", message: "lab tokyo-ai-lab is already open — a lab opens once"))
    }

    @Test func closingALabThatNeverOpenedIsRejected() throws {
        var ledger = try TestLedger(Given.lab)
        #expect(try ledger.rejection("lab.close", ["lab": "tokyo-ai-lab"])
            == Rejection(rule: "lab_not_open", message: "lab tokyo-ai-lab has not opened yet — open it first (ledger lab open)"))
    }

    @Test(arguments: [
        ("lab.expense", ["category": "staff", "amount": "1", "currency": "JPY"]),
        ("lab.raise-budget", ["amount": "1", "currency": "JPY", "reason": "late invoice"]),
        ("lab.add-partner", ["partner": "RIKEN"]),
        ("lab.milestone", ["name": "afterparty"]),
        ("lab.open", [:]),
        ("lab.close", [:]),
    ])
    func nothingFollowsAClose(name: String, fields: [String: String]) throws {
        var ledger = try TestLedger(Given.lab + [("lab.open", ["lab": "tokyo-ai-lab"]), ("lab.close", ["lab": "tokyo-ai-lab"])])
        var all = fields
        all["lab"] = "tokyo-ai-lab"
        #expect(try ledger.rejection(name, all)
            == Rejection(rule: "lab_closed", message: "lab tokyo-ai-lab is closed — nothing can be recorded after a close"))
    }

    @Test func aPartnerJoinsOnce() throws {
        var ledger = try TestLedger(Given.lab + [("lab.add-partner", ["lab": "tokyo-ai-lab", "partner": "University of Tokyo"])])
        try ledger.run("lab.add-partner", ["lab": "tokyo-ai-lab", "partner": "RIKEN"])
        #expect(ledger.world.labs["tokyo-ai-lab"]?.partners == ["University of Tokyo", "RIKEN"])
        #expect(try ledger.rejection("lab.add-partner", ["lab": "tokyo-ai-lab", "partner": "RIKEN"])
            == Rejection(rule: "duplicate_partner", message: "RIKEN is already a partner of lab tokyo-ai-lab"))
    }

    @Test func expensesAndMilestonesAreAllowedBeforeOpening() throws {
        var ledger = try TestLedger(Given.lab)
        let (name, fields) = expense("5000000", "facility")
        try ledger.run(name, fields)
        try ledger.run("lab.milestone", ["lab": "tokyo-ai-lab", "name": "lease signed", "date": "2024-04-01"])
        #expect(ledger.types == ["lab.planned", "lab.expense_recorded", "lab.milestone_reached"])
        #expect(ledger.log.last?.event.date == day("2024-04-01"))
    }
}
