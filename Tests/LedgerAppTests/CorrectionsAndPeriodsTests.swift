import EventStore
import Foundation
import JSON
import Ledger
import LedgerApp
import Postgres
import Projections
import Synchronization
import Testing
import TestSupport

/// The reports folded from the log by a route of their own: every event in log order,
/// leaving out the positions a reversal names (no business-date condition: current state).
private func independentFold(_ db: PostgresConnection) throws -> Reports {
    let rows = try db.query(
        "SELECT position, type, schema_version, payload::text, business_date FROM events ORDER BY transaction_id, position")
    var events: [(Int64, LedgerEvent)] = []
    var reversed = Set<Int64>()
    for row in rows {
        let date = try row.decode(SQLDate.self, at: 4)
        let event = try LedgerEvent.decode(
            type: try row.decode(String.self, at: 1), schemaVersion: try row.decode(Int.self, at: 2),
            date: try Day(year: date.year, month: date.month, day: date.day),
            payload: try JSON.parse(try row.decode(String.self, at: 3)))
        if case .entry(let e) = event.fact { reversed.insert(e.reverses) }
        events.append((try row.decode(Int64.self, at: 0), event))
    }
    var reports = Reports()
    for (position, event) in events where !reversed.contains(position) { reports.apply(event) }
    return reports
}

@Suite struct CorrectionsAndPeriodsTests {
    @Test func projectionsAsOfAndVerifyLeaveReversedEventsOut() throws {
        try TestDatabase.with { url in
            let db = try PostgresConnection(url: url)
            let handler = CommandHandler(connection: db, actor: "t", today: today)
            let runner = ProjectionRunner(connection: db)
            for (name, fields) in [
                ("supply.receive", ["sku": "h100", "quantity": "100", "date": "2026-03-01"]),
                ("order.place", ["order": "o1", "customer": "NTT", "sku": "h100", "quantity": "50", "unit-price": "10", "currency": "JPY", "date": "2026-03-02"]),
                ("order.allocate", ["order": "o1", "quantity": "30", "date": "2026-03-03"]),
                ("lab.plan", ["lab": "l", "name": "L", "city": "Tokyo", "budget": "1000", "currency": "JPY", "date": "2026-03-01"]),
                ("lab.expense", ["lab": "l", "category": "equipment", "amount": "450", "currency": "JPY", "date": "2026-03-10"]),
                ("startup.register", ["startup": "s", "name": "S", "date": "2026-03-01"]),
                ("invest.commit", ["investment": "i", "startup": "s", "round": "seed", "instrument": "safe", "amount": "100", "currency": "JPY", "date": "2026-03-01"]),
                ("invest.disburse", ["investment": "i", "amount": "100", "currency": "JPY", "date": "2026-03-02"]),
                ("invest.mark", ["investment": "i", "fair-value": "300", "currency": "JPY", "date": "2026-03-31"]),
                ("invest.mark", ["investment": "i", "fair-value": "900", "currency": "JPY", "date": "2026-04-01"]),
            ] {
                try handler.handle(try command(name, fields))
            }
            // Half applied before the reversals, so the runner meets them in a later batch.
            try runner.runOnce()
            func position(_ type: String, last: Bool = false) throws -> String {
                String(try db.query(
                    "SELECT position FROM events WHERE type = $1 ORDER BY position \(last ? "DESC" : "ASC") LIMIT 1", [type]
                )[0].decode(Int64.self, at: 0))
            }
            let allocation = try handler.handle(try command("reverse", ["position": try position("order.allocated"), "reason": "wrong order", "date": "2026-04-10"]))
            #expect(Set(allocation.events.map(\.stream)) == ["order-o1", "supply-h100"])
            try handler.handle(try command("reverse", ["position": try position("lab.expense_recorded"), "reason": "was compute", "date": "2026-04-10"]))
            try handler.handle(try command("lab.expense", ["lab": "l", "category": "compute", "amount": "450", "currency": "JPY", "date": "2026-04-10"]))
            try handler.handle(try command("reverse", ["position": try position("investment.marked", last: true), "reason": "typo", "date": "2026-04-10"]))
            try runner.runOnce()

            let reader = ReportReader(connection: db)
            let folded = try independentFold(db)
            #expect(try reader.supply() == folded.supply)
            #expect(try reader.orders() == folded.orders)
            #expect(try reader.labs() == folded.labs)
            #expect(try reader.portfolio() == folded.portfolio)
            #expect(try reader.supply()[0].allocated == 0)
            #expect(try reader.labs()[0].spentByCategory[.compute] == Money(minorUnits: 450, currency: .jpy))
            #expect(try reader.labs()[0].spentByCategory[.equipment] == Money(minorUnits: 0, currency: .jpy))
            #expect(try reader.portfolio()[0].fairValue == Money(minorUnits: 300, currency: .jpy))
            // --as-of the day before the reversals still shows the reversed events.
            #expect(try reader.supply(asOf: try Day("2026-04-09"))[0].allocated == 30)
            #expect(try reader.labs(asOf: try Day("2026-04-09"))[0].spentByCategory[.equipment] == Money(minorUnits: 450, currency: .jpy))
            #expect(try reader.supply(asOf: try Day("2026-04-10")) == folded.supply)
            #expect(try reader.labs(asOf: try Day("2099-12-31")) == folded.labs)
            // A rebuild gives the same rows, and verify finds them intact.
            try ProjectionRebuilder(connection: db).rebuild()
            #expect(try reader.labs() == folded.labs)
            #expect(try reader.portfolio() == folded.portfolio)
            #expect(try verify(connection: db).isIntact)
        }
    }

    @Test func aRefusedReversalWritesNothing() throws {
        try TestDatabase.with { url in
            let db = try PostgresConnection(url: url)
            let handler = CommandHandler(connection: db, actor: "t", today: today)
            try handler.handle(try command("supply.receive", ["sku": "h100", "quantity": "10", "date": "2026-03-01"]))
            try handler.handle(try command("order.place", ["order": "o1", "customer": "NTT", "sku": "h100", "quantity": "10", "unit-price": "10", "currency": "JPY", "date": "2026-03-02"]))
            try handler.handle(try command("order.allocate", ["order": "o1", "quantity": "10", "date": "2026-03-03"]))
            let before = try count(db)
            for (position, rule) in [("1", "insufficient_supply"), ("999", "unknown_position")] {
                #expect {
                    try handler.handle(try command("reverse", ["position": position, "reason": "x"]))
                } throws: { ($0 as? Rejection)?.rule == rule }
            }
            #expect(try count(db) == before)
        }
    }

    /// Writers with dates spread over a quarter race a closer moving the close forward:
    /// no event dated on or before a close's date may land after that close in the log
    /// (whose order is the order transactions took the period lock in).
    @Test func noWriteDatedInsideAClosedPeriodLandsAfterTheClose() throws {
        try TestDatabase.with { url in
            var quarter: [Day] = []
            for (month, length) in [(1, 31), (2, 28), (3, 31)] {
                for d in 1...length { quarter.append(try Day(year: 2026, month: month, day: d)) }
            }
            let days = quarter
            let refusals = Mutex(0)
            let results = runConcurrently(5) { thread in
                let db = try PostgresConnection(url: url)
                let handler = CommandHandler(connection: db, actor: "t\(thread)", maxAttempts: 50, today: today)
                if thread == 0 {
                    // The closer: through day 10, 20, … 80.
                    for k in 1...8 {
                        usleep(30_000)
                        try handler.handle(try command("period.close", ["through": days[k * 10].description]))
                    }
                    return
                }
                var rng = SystemRandomNumberGenerator()
                for _ in 0..<60 {
                    let date = days[Int.random(in: 0..<90, using: &rng)]
                    do {
                        try handler.handle(try command("supply.receive", ["sku": "h\(thread)", "quantity": "1", "date": date.description]))
                    } catch let rejection as Rejection {
                        #expect(rejection.rule == "period_closed")
                        refusals.withLock { $0 += 1 }
                    }
                }
            }
            for result in results { _ = try result.get() }
            let db = try PostgresConnection(url: url)
            #expect(try count(db, "SELECT count(*) FROM events WHERE type = 'period.closed'") == 8)
            #expect(refusals.withLock { $0 } > 0)
            let late = try count(
                db,
                """
                SELECT count(*) FROM events e JOIN events c ON c.type = 'period.closed'
                WHERE e.stream <> 'periods' AND e.business_date <= (c.payload->>'through')::date
                  AND (e.transaction_id, e.position) > (c.transaction_id, c.position)
                """)
            #expect(late == 0)
        }
    }

    /// A reversal of a receipt races with allocators of the same stock: whichever lands
    /// first, the other is decided again against it, and stock is never oversold.
    @Test func aReversedReceiptRacingWithAllocationsNeverOversells() throws {
        try TestDatabase.with { url in
            let setup = try PostgresConnection(url: url)
            let handler = CommandHandler(connection: setup, actor: "t", today: today)
            try handler.handle(try command("supply.receive", ["sku": "h100", "quantity": "10", "date": "2026-03-01"]))
            try handler.handle(try command("supply.receive", ["sku": "h100", "quantity": "10", "date": "2026-03-01"]))
            for i in 0..<4 {
                try handler.handle(try command("order.place", ["order": "o\(i)", "customer": "C", "sku": "h100", "quantity": "20", "unit-price": "1", "currency": "JPY", "date": "2026-03-02"]))
            }
            let results = runConcurrently(5) { thread in
                let db = try PostgresConnection(url: url)
                let h = CommandHandler(connection: db, actor: "t\(thread)", maxAttempts: 50, today: today)
                do {
                    if thread == 4 {
                        try h.handle(try command("reverse", ["position": "1", "reason": "never arrived"]))
                    } else {
                        for _ in 0..<5 { try h.handle(try command("order.allocate", ["order": "o\(thread)", "quantity": "1"])) }
                    }
                } catch is Rejection {}
            }
            for result in results { _ = try result.get() }
            let supply = try independentFold(setup).supply[0]
            #expect(supply.allocated <= supply.received)
            #expect(supply.received == 10 || supply.received == 20)
        }
    }
}
