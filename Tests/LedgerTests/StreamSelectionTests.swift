import Testing
@testable import Ledger

/// What a command asks the handler to read, and that it never appends elsewhere. Every
/// command also reads `periods`, the lock it must respect.
@Suite struct StreamSelection {
    func command(_ name: String, _ fields: [String: String]) throws -> LedgerCommand {
        try LedgerCommand.parse(name: name, fields: fields, today: TestLedger.today)
    }

    @Test func aCommitmentReadsTheInvestmentAndItsStartup() throws {
        let commit = try command("invest.commit", ["investment": "i", "startup": "s", "round": "seed", "instrument": "safe",
                                                   "amount": "1", "currency": "JPY"])
        #expect(commit.streams(in: LedgerWorld()) == [.investment("i"), .startup("s"), .periods])
    }

    @Test func aCancelReadsTheOrderThenItsSKUsSupply() throws {
        let ledger = try TestLedger(Given.stockAndOrder)
        let cancel = try command("order.cancel", ["order": "ntt-001", "reason": "x"])
        #expect(cancel.streams(in: LedgerWorld()) == [.order("ntt-001"), .periods])
        #expect(cancel.streams(in: ledger.world) == [.order("ntt-001"), .supply(sku: "h100"), .periods])
    }

    @Test func singleAggregateCommandsReadOnlyTheirOwnStream() throws {
        #expect(try command("lab.open", ["lab": "l"]).streams(in: LedgerWorld()) == [.lab("l"), .periods])
        #expect(try command("supply.receive", ["sku": "h100", "quantity": "1"]).streams(in: LedgerWorld()) == [.supply(sku: "h100"), .periods])
        #expect(try command("order.ship", ["order": "o", "shipment": "s", "quantity": "1"]).streams(in: LedgerWorld()) == [.order("o"), .periods])
        #expect(try command("startup.register", ["startup": "s", "name": "S"]).streams(in: LedgerWorld()) == [.startup("s"), .periods])
    }

    @Test func everyEventDecidedNamesTheStreamItIsAppendedTo() throws {
        var ledger = try TestLedger(Given.seedCommitment + Given.lab + Given.stockAndOrder)
        try ledger.run("order.allocate", ["order": "ntt-001", "quantity": "10"])
        try ledger.run("order.cancel", ["order": "ntt-001", "reason": "x"])
        for entry in ledger.log { #expect(entry.event.stream == entry.stream) }
    }
}
