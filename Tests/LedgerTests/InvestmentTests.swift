import Testing
@testable import Ledger

@Suite struct StartupRules {
    @Test func registeringAStartupRecordsIt() throws {
        var ledger = try TestLedger()
        let events = try ledger.run("startup.register", ["startup": "sakana-ai", "name": "Sakana AI", "country": "jp"])
        #expect(events.map(\.stream) == [.startup("sakana-ai")])
        #expect(events.map(\.event.fact) == [.startup(.registered(startup: "sakana-ai", name: "Sakana AI", sector: nil, country: "JP"))])
    }

    @Test func registeringAStartupTwiceIsRejected() throws {
        var ledger = try TestLedger(Given.startup)
        let rejection = try ledger.rejection("startup.register", ["startup": "sakana-ai", "name": "Sakana"])
        #expect(rejection == Rejection(rule: "already_exists", message: "startup sakana-ai is already registered — choose another id"))
    }
}

@Suite struct InvestmentRules {
    let commit = ["investment": "sakura-seed", "startup": "sakana-ai", "round": "seed", "instrument": "equity",
                  "amount": "500000000", "currency": "JPY", "ownership": "12.5", "post-money": "4000000000"]

    @Test func committingToARegisteredStartupRecordsTheCommitment() throws {
        var ledger = try TestLedger(Given.startup)
        let events = try ledger.run("invest.commit", commit)
        #expect(events.map(\.stream) == [.investment("sakura-seed")])
        #expect(events.map(\.event.fact) == [.investment(.committed(
            investment: "sakura-seed", startup: "sakana-ai", round: "seed", instrument: .equity,
            amount: yen(500_000_000), ownership: "12.5", postMoney: yen(4_000_000_000)))])
        #expect(events[0].event.date == TestLedger.today)
    }

    @Test func committingToAnUnregisteredStartupIsRejected() throws {
        var ledger = try TestLedger()
        #expect(try ledger.rejection("invest.commit", commit) == Rejection(
            rule: "unknown_id",
            message: "startup sakana-ai does not exist — register it first (ledger startup register)"))
        #expect(ledger.log.isEmpty)
    }

    @Test func committingTheSameInvestmentTwiceIsRejected() throws {
        var ledger = try TestLedger(Given.seedCommitment)
        #expect(try ledger.rejection("invest.commit", commit)?.rule == "already_exists")
    }

    @Test func disbursingWithinTheCommitmentIsAccepted() throws {
        var ledger = try TestLedger(Given.seedCommitment)
        try ledger.run("invest.disburse", ["investment": "sakura-seed", "amount": "200000000", "currency": "JPY"])
        try ledger.run("invest.disburse", ["investment": "sakura-seed", "amount": "300000000", "currency": "JPY"])
        #expect(ledger.world.investments["sakura-seed"]?.disbursed == yen(500_000_000))
        #expect(ledger.world.investments["sakura-seed"]?.status == .active)
    }

    @Test func disbursingMoreThanCommittedIsRejected() throws {
        var ledger = try TestLedger(Given.seedCommitment)
        let rejection = try ledger.rejection(
            "invest.disburse", ["investment": "sakura-seed", "amount": "600000000", "currency": "JPY"])
        #expect(rejection == Rejection(
            rule: "over_disbursement",
            message: "cannot disburse ¥600,000,000 to investment sakura-seed: committed ¥500,000,000, already disbursed ¥0 — at most ¥500,000,000 remains to disburse"))
    }

    @Test func disbursingPastTheCommitmentAfterEarlierTranchesIsRejected() throws {
        var ledger = try TestLedger(Given.seedCommitment + [
            ("invest.disburse", ["investment": "sakura-seed", "amount": "400000000", "currency": "JPY"]),
        ])
        let rejection = try ledger.rejection(
            "invest.disburse", ["investment": "sakura-seed", "amount": "100000001", "currency": "JPY"])
        #expect(rejection?.rule == "over_disbursement")
        #expect(rejection?.message.contains("already disbursed ¥400,000,000 — at most ¥100,000,000 remains") == true)
    }

    @Test func disbursingInAnotherCurrencyIsRejected() throws {
        var ledger = try TestLedger(Given.seedCommitment)
        #expect(try ledger.rejection("invest.disburse", ["investment": "sakura-seed", "amount": "100", "currency": "USD"])
            == Rejection(rule: "currency_mismatch",
                         message: "investment sakura-seed is in JPY, not USD — give the amount in JPY (--currency JPY)"))
    }

    @Test func disbursingToAnUnknownInvestmentIsRejected() throws {
        var ledger = try TestLedger(Given.startup)
        #expect(try ledger.rejection("invest.disburse", ["investment": "nope", "amount": "1", "currency": "JPY"])
            == Rejection(rule: "unknown_id", message: "investment nope does not exist — commit it first (ledger invest commit)"))
    }

    @Test func markingAndExitingAreAcceptedInTheInvestmentsCurrency() throws {
        var ledger = try TestLedger(Given.seedCommitment)
        try ledger.run("invest.mark", ["investment": "sakura-seed", "fair-value": "900000000", "currency": "JPY"])
        try ledger.run("invest.exit", ["investment": "sakura-seed", "proceeds": "1200000000", "currency": "JPY"])
        #expect(ledger.types == ["startup.registered", "investment.committed", "investment.marked", "investment.exited"])
        #expect(try ledger.rejection("invest.mark", ["investment": "sakura-seed", "fair-value": "1", "currency": "EUR"])?.rule
            == "investment_closed")
    }

    @Test func markingInAnotherCurrencyIsRejected() throws {
        var ledger = try TestLedger(Given.seedCommitment)
        #expect(try ledger.rejection("invest.mark", ["investment": "sakura-seed", "fair-value": "1", "currency": "USD"])?.rule
            == "currency_mismatch")
        #expect(try ledger.rejection("invest.exit", ["investment": "sakura-seed", "proceeds": "1", "currency": "USD"])?.rule
            == "currency_mismatch")
    }

    @Test(arguments: [
        ("invest.disburse", ["amount": "1", "currency": "JPY"]),
        ("invest.mark", ["fair-value": "1", "currency": "JPY"]),
        ("invest.exit", ["proceeds": "1", "currency": "JPY"]),
        ("invest.write-off", ["reason": "again"]),
    ])
    func nothingFollowsAWriteOff(name: String, fields: [String: String]) throws {
        var ledger = try TestLedger(Given.seedCommitment + [
            ("invest.write-off", ["investment": "sakura-seed", "reason": "company wound down"]),
        ])
        var all = fields
        all["investment"] = "sakura-seed"
        #expect(try ledger.rejection(name, all) == Rejection(
            rule: "investment_closed",
            message: "investment sakura-seed is written off — nothing can be recorded after an exit or a write-off"))
    }

    @Test func nothingFollowsAnExit() throws {
        var ledger = try TestLedger(Given.seedCommitment + [
            ("invest.exit", ["investment": "sakura-seed", "proceeds": "0", "currency": "JPY"]),
        ])
        #expect(try ledger.rejection("invest.disburse", ["investment": "sakura-seed", "amount": "1", "currency": "JPY"])
            == Rejection(rule: "investment_closed",
                         message: "investment sakura-seed is exited — nothing can be recorded after an exit or a write-off"))
    }

    @Test func deciderIsPureGivenWhenThen() throws {
        // Given a commitment with ¥100 disbursed…
        let state = [
            InvestmentEvent.committed(investment: "i", startup: "s", round: "seed", instrument: .safe, amount: yen(300),
                                      ownership: nil, postMoney: nil),
            .disbursed(investment: "i", amount: yen(100)),
        ].reduce(nil, Investment.evolve)
        // …when ¥200 more is disbursed, then it is recorded, and the same state decides the same way twice.
        let first = try Investment.decide(.disburse(amount: yen(200)), id: "i", state: state, startupExists: true)
        let second = try Investment.decide(.disburse(amount: yen(200)), id: "i", state: state, startupExists: true)
        #expect(first == [.disbursed(investment: "i", amount: yen(200))])
        #expect(first == second)
        #expect(throws: Rejection.self) {
            try Investment.decide(.disburse(amount: yen(201)), id: "i", state: state, startupExists: true)
        }
    }
}
