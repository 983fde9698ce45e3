import EventStore
import Foundation
import Ledger
import LedgerApp
import Postgres
import Testing
import TestSupport

let today = try! Day("2026-05-01")

func command(_ name: String, _ fields: [String: String]) throws -> LedgerCommand {
    try LedgerCommand.parse(name: name, fields: fields, today: today)
}

func count(_ db: PostgresConnection, _ sql: String = "SELECT count(*) FROM events") throws -> Int {
    try db.query(sql)[0].decode(Int.self, at: 0)
}

@Suite struct CommandHandlerTests {
    @Test func aCommandIsDecidedAgainstStoredStateAndAppendedWithItsMetadata() throws {
        try TestDatabase.with { url in
            let db = try PostgresConnection(url: url)
            let handler = CommandHandler(connection: db, actor: "alice")
            try handler.handle(try command("startup.register", ["startup": "sakana-ai", "name": "Sakana AI"]))
            let result = try handler.handle(
                try command(
                    "invest.commit",
                    ["investment": "s-a", "startup": "sakana-ai", "round": "seed", "instrument": "safe", "amount": "100", "currency": "USD"]),
                idempotencyKey: "k1")
            #expect(result.events.map(\.type) == ["investment.committed"])
            #expect(result.events[0].metadata["actor"] == "alice")
            #expect(result.events[0].metadata["idempotency_key"] == "k1")
            #expect(result.events[0].metadata["command"] == "invest.commit")
        }
    }

    @Test func aRejectedCommandWritesNothing() throws {
        try TestDatabase.with { url in
            let db = try PostgresConnection(url: url)
            let handler = CommandHandler(connection: db, actor: "t")
            #expect(throws: Rejection.self) {
                try handler.handle(
                    try command(
                        "invest.commit",
                        ["investment": "x", "startup": "nobody", "round": "seed", "instrument": "safe", "amount": "1", "currency": "USD"]))
            }
            #expect(try count(db) == 0)
        }
    }

    @Test func theSameIdempotencyKeyReturnsTheFirstResultEvenWhenTheCommandWouldNowBeRejected() throws {
        try TestDatabase.with { url in
            let db = try PostgresConnection(url: url)
            let handler = CommandHandler(connection: db, actor: "t")
            let register = try command("startup.register", ["startup": "elyza", "name": "ELYZA"])
            let first = try handler.handle(register, idempotencyKey: "reg-1")
            let again = try handler.handle(register, idempotencyKey: "reg-1")
            #expect(again.replayed)
            #expect(again.events.map(\.position) == first.events.map(\.position))
            #expect(throws: EventStoreError.self) {
                try handler.handle(try command("startup.register", ["startup": "other", "name": "Other"]), idempotencyKey: "reg-1")
            }
            #expect(try count(db) == 1)
        }
    }

    @Test func aStaleRememberedStateConflictsAndIsReloaded() throws {
        try TestDatabase.with { url in
            let cached = CommandHandler(connection: try PostgresConnection(url: url), actor: "a", remembersStreams: true)
            let other = CommandHandler(connection: try PostgresConnection(url: url), actor: "b")
            try cached.handle(try command("supply.receive", ["sku": "h100", "quantity": "10"]))
            try other.handle(try command("supply.receive", ["sku": "h100", "quantity": "5"]))
            // The cached handler still believes version 1; the append conflicts, reloads, succeeds.
            let result = try cached.handle(try command("supply.receive", ["sku": "h100", "quantity": "1"]))
            #expect(result.events[0].version == 3)
        }
    }

    @Test(arguments: 1...3)
    func concurrentAllocatorsNeverOversellScarceStock(round: Int) throws {
        try TestDatabase.with { url in
            let setup = CommandHandler(connection: try PostgresConnection(url: url), actor: "setup")
            try setup.handle(try command("supply.receive", ["sku": "h100", "quantity": "20"]))
            for i in 0..<8 {
                try setup.handle(
                    try command(
                        "order.place",
                        ["order": "o-\(i)", "customer": "C\(i)", "sku": "h100", "quantity": "12", "unit-price": "1", "currency": "JPY"]))
            }
            // 8 allocators, 5 attempts each of 3 units: 120 units wanted, 20 in stock.
            let outcomes = runConcurrently(8) { i -> [String] in
                let handler = CommandHandler(connection: try PostgresConnection(url: url), actor: "a\(i)", maxAttempts: 20)
                var seen: [String] = []
                for _ in 0..<5 {
                    do {
                        try handler.handle(try command("order.allocate", ["order": "o-\(i)", "quantity": "3"]))
                        seen.append("allocated")
                    } catch is Rejection {
                        seen.append("rejected")
                    } catch is CommandHandler.Failure {
                        seen.append("conflicted")
                    }
                }
                return seen
            }
            let all = try outcomes.flatMap { try $0.get() }
            #expect(all.count == 40, "every attempt ends allocated, rejected or conflicted")
            let allocatedAttempts = all.filter { $0 == "allocated" }.count
            let db = try PostgresConnection(url: url)
            let allocatedUnits = try count(
                db, "SELECT coalesce(sum((payload->>'quantity')::int), 0)::int FROM events WHERE type = 'supply.allocated'")
            #expect(allocatedUnits <= 20, "oversold: \(allocatedUnits) of 20")
            #expect(allocatedUnits == allocatedAttempts * 3)
            #expect(try count(db, "SELECT count(*)::int FROM events WHERE type = 'order.allocated'") == allocatedAttempts)
            // Scarce stock is fully used: only 2 units (not a multiple of 3) can remain.
            #expect(allocatedUnits == 18)
        }
    }
}
