import EventStore
import Foundation
import Ledger
import LedgerApp
import Postgres
import Projections
import Testing
import TestSupport

@Suite struct ImporterTests {
    func importer(_ url: String, background: Bool) throws -> Importer {
        let importer = Importer(
            connection: try PostgresConnection(url: url),
            writerConnection: background ? try PostgresConnection(url: url) : nil, actor: "t", today: today)
        importer.batchSize = 50
        return importer
    }

    func lines(_ count: Int, sku: String) -> [String] {
        (0..<count).map { _ in #"{"command":"supply.receive","sku":"\#(sku)","quantity":1,"date":"2026-05-01"}"# }
    }

    @Test func importedEventsCarryTheSameEnvelopeAsCommands() throws {
        try TestDatabase.with { url in
            let input = [
                #"{"command":"supply.receive","sku":"h100","quantity":8,"date":"2026-04-01"}"#,
                #"{"command":"order.place","order":"o1","customer":"NTT","sku":"h100","quantity":4,"unit-price":"10","currency":"USD","date":"2026-04-02"}"#,
                #"{"command":"order.allocate","order":"o1","quantity":4,"date":"2026-04-03"}"#,
            ]
            var lines = input.makeIterator()
            _ = try importer(url, background: false).run { lines.next() }
            let events = try EventStore(connection: try PostgresConnection(url: url)).readAll(after: .start, limit: 10)
            #expect(events.count == 4)
            for event in events {
                for key in ["actor", "command", "correlation_id", "idempotency_key", "import_line"] {
                    #expect(event.metadata[key] != nil, "\(event.type) lacks \(key)")
                }
            }
            // One command, one correlation id: the allocation's two events share it.
            #expect(events[2].metadata["correlation_id"] == events[3].metadata["correlation_id"])
            #expect(events[1].metadata["correlation_id"] != events[2].metadata["correlation_id"])
        }
    }

    @Test(arguments: [false, true])
    func anImportRacingAnotherWriterOnItsStreamsLosesNothing(background: Bool) throws {
        try TestDatabase.with { url in
            let results = runConcurrently(2) { i -> Int in
                if i == 0 {
                    var input = lines(2_000, sku: "h100").makeIterator()
                    return try importer(url, background: background).run { input.next() }.events
                }
                let handler = CommandHandler(connection: try PostgresConnection(url: url), actor: "w", maxAttempts: 50)
                for _ in 0..<150 { try handler.handle(try command("supply.receive", ["sku": "h100", "quantity": "1"])) }
                return 150
            }
            let appended = try results.map { try $0.get() }
            #expect(appended == [2_000, 150])
            let db = try PostgresConnection(url: url)
            #expect(try count(db) == 2_150)
            #expect(try count(db, "SELECT max(version)::int FROM events WHERE stream = 'supply-h100'") == 2_150)
            #expect(try verify(connection: db).isIntact)
        }
    }

    @Test func aRepeatedExplicitKeyInOneFileIsImportedOnce() throws {
        try TestDatabase.with { url in
            var input = [
                #"{"command":"supply.receive","sku":"h100","quantity":1,"idempotency-key":"k1"}"#,
                #"{"command":"supply.receive","sku":"h100","quantity":1,"idempotency-key":"k1"}"#,
                #"{"command":"supply.receive","sku":"h100","quantity":2,"idempotency-key":"k1"}"#,
            ].makeIterator()
            let summary = try importer(url, background: true).run { input.next() }
            #expect(summary.events == 1)
            #expect(summary.alreadyImported == 1)
            #expect(summary.errors.map(\.line) == [3])
            #expect(try count(try PostgresConnection(url: url)) == 1)
        }
    }
}
