import EventStore
import Foundation
import Ledger
@testable import LedgerApp
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

    /// A long import keeps only the streams recent lines touched: forgotten streams are
    /// loaded again when a later line needs them, and every rule still holds against them
    /// (stock, an order allocated twice). The same file imported with and without the
    /// bound stores the same events and refuses the same lines.
    @Test(arguments: [false, true])
    func aLongImportForgetsStreamsItIsDoneWithAndDecidesTheSame(background: Bool) throws {
        var input: [String] = []
        input.append(#"{"command":"supply.receive","sku":"h100","quantity":30,"date":"2026-04-01"}"#)
        for i in 0..<200 {
            input.append(
                #"{"command":"order.place","order":"o\#(i)","customer":"NTT","sku":"h100","quantity":1,"unit-price":"10","currency":"USD","date":"2026-04-02"}"#
            )
        }
        // Long after their orders were placed (and forgotten): 30 in stock, so the 31st
        // allocation is refused; o0 allocated again is refused too.
        for i in 0..<35 { input.append(#"{"command":"order.allocate","order":"o\#(i)","quantity":1,"date":"2026-04-03"}"#) }
        input.append(#"{"command":"order.allocate","order":"o0","quantity":1,"date":"2026-04-03"}"#)

        func run(keeping kept: Int?) throws -> (Importer.Summary, [String], Int) {
            var result: (Importer.Summary, [String], Int)!
            try TestDatabase.with { url in
                let importer = try importer(url, background: background)
                importer.batchSize = 10
                if let kept { importer.keptStreams = kept }
                var lines = input.makeIterator()
                let summary = try importer.run { lines.next() }
                let db = try PostgresConnection(url: url)
                let streams = try db.query("SELECT stream || ':' || max(version) FROM events GROUP BY stream ORDER BY stream")
                    .map { try $0.decode(String.self, at: 0) }
                #expect(try verify(connection: db).isIntact)
                result = (summary, streams, importer.loadedStreamCount)
            }
            return result
        }
        let (bounded, boundedStreams, boundedLoaded) = try run(keeping: 20)
        let (whole, wholeStreams, wholeLoaded) = try run(keeping: nil)
        #expect(bounded.events == 1 + 200 + 30 * 2)
        #expect(bounded.errors.map(\.line) == Array(232...237))
        #expect(bounded.events == whole.events)
        #expect(bounded.errors.map(\.description) == whole.errors.map(\.description))
        #expect(boundedStreams == wholeStreams)
        #expect(wholeLoaded > 200)
        #expect(boundedLoaded <= 20 + 2 * 10 + 2)
    }
}
