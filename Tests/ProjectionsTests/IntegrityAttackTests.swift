import EventStore
import Foundation
import JSON
import Ledger
import Postgres
@testable import Projections
import Testing
import TestSupport

/// The attacks of issue #12, tried as an insider with the owner's rights would: each must be
/// found by `verify` (forged events, with their position) or by `verify --digest` (history
/// erased or rewritten, with the first position that differs).
@Suite struct IntegrityAttackTests {
    /// A small ledger: stock for 8 units, an order of 100 with 8 allocated.
    static func smallLedger(_ db: PostgresConnection) throws -> LedgerDriver {
        let driver = LedgerDriver(connection: db)
        try driver.run("supply.receive", ["sku": "h100", "quantity": "8", "date": "2024-03-01"])
        try driver.run(
            "order.place",
            ["order": "o1", "customer": "NTT", "sku": "h100", "quantity": "100", "unit-price": "10",
             "currency": "USD", "date": "2024-03-02"])
        try driver.run("order.allocate", ["order": "o1", "quantity": "8", "date": "2024-03-03"])
        try driver.run("order.invoice", ["order": "o1", "amount": "50", "currency": "USD", "date": "2024-03-04"])
        return driver
    }

    /// Inserts an event straight into the table with a correct hash chain, as a forger who
    /// knows the canonical encoding would; returns its position.
    @discardableResult
    static func forge(_ db: PostgresConnection, stream: String, type: String, payload: JSON) throws -> Int64 {
        let head = try EventStore(connection: db).heads(of: [stream])[stream] ?? .empty
        let id = UUID()
        let date = SQLDate(year: 2024, month: 3, day: 10)
        let hash = EventHash.hash(
            previous: head.hash, eventID: id, stream: stream, version: head.version + 1, type: type, schemaVersion: 1,
            businessDate: date, payload: payload, metadata: [:])
        return try db.query(
            """
            INSERT INTO events (stream, version, type, schema_version, payload, metadata, business_date, event_id, hash)
            VALUES ($1, $2, $3, 1, $4::jsonb, '{}', $5::date, $6::uuid, $7) RETURNING position
            """,
            [stream, head.version + 1, type, payload.canonicalString, date.description, id.uuidString, Bytes(hash)]
        )[0].decode(Int64.self, at: 0)
    }

    func damaged(_ result: VerificationResult) -> VerificationProblem? {
        if case .damaged(let problem) = result { return problem }
        Issue.record("verify said intact")
        return nil
    }

    @Test func aForgedOverAllocationIsFoundWithItsPosition() throws {
        try TestDatabase.with { url in
            let db = try PostgresConnection(url: url)
            _ = try Self.smallLedger(db)
            #expect(try verify(connection: db).isIntact)
            let forged = try Self.forge(
                db, stream: "order-o1", type: "order.allocated", payload: ["order": "o1", "sku": "h100", "quantity": 48])
            try Self.forge(
                db, stream: "supply-h100", type: "supply.allocated", payload: ["sku": "h100", "order": "o1", "quantity": 48])
            let problem = damaged(try verify(connection: db))
            #expect(problem?.position == forged)
            #expect(problem?.description.contains("insufficient_supply") == true, "\(String(describing: problem))")
        }
    }

    /// A reversal that breaks a rule is refused by `ledger reverse`; one inserted by the owner
    /// with a correct chain — here of the receipt whose units are allocated — is named by
    /// verify with its position.
    @Test func aForgedReversalOfAnAllocatedReceiptIsFoundWithItsPosition() throws {
        try TestDatabase.with { url in
            let db = try PostgresConnection(url: url)
            _ = try Self.smallLedger(db)
            let receipt = try db.query("SELECT position FROM events WHERE type = 'supply.received'")[0].decode(Int64.self, at: 0)
            #expect(try verify(connection: db).isIntact)
            let forged = try Self.forge(
                db, stream: "supply-h100", type: "entry.reversed", payload: ["reverses": JSON(receipt), "reason": "forged"])
            let problem = damaged(try verify(connection: db))
            #expect(problem?.position == forged)
            #expect(problem?.description.contains("insufficient_supply") == true, "\(String(describing: problem))")
        }
    }

    /// The same reversal of a receipt nobody allocated from breaks no rule: verify passes.
    @Test func aReversalThatBreaksNoRuleStaysIntact() throws {
        try TestDatabase.with { url in
            let db = try PostgresConnection(url: url)
            let driver = try Self.smallLedger(db)
            try driver.run("supply.receive", ["sku": "a100", "quantity": "3", "date": "2024-03-05"])
            let receipt = try db.query("SELECT position FROM events WHERE stream = 'supply-a100'")[0].decode(Int64.self, at: 0)
            try Self.forge(db, stream: "supply-a100", type: "entry.reversed", payload: ["reverses": JSON(receipt), "reason": "ok"])
            #expect(try verify(connection: db).isIntact)
        }
    }

    @Test func aStockMoveWithoutItsOrderIsFound() throws {
        try TestDatabase.with { url in
            let db = try PostgresConnection(url: url)
            _ = try Self.smallLedger(db)
            let forged = try Self.forge(
                db, stream: "supply-h100", type: "supply.released", payload: ["sku": "h100", "order": "o1", "quantity": 8])
            let problem = damaged(try verify(connection: db))
            #expect(problem?.position == forged)
            #expect(problem?.description.contains("unmatched_stock_event") == true, "\(String(describing: problem))")
        }
    }

    @Test func poisonEventsAreReportedByVerifyWithTheirPosition() throws {
        for (type, payload, text) in [
            ("order.paid", ["order": "o1", "amount": "-5", "currency": "USD"] as JSON, "order.paid"),
            ("order.teleported", ["order": "o1"] as JSON, "unknown event type"),
            ("order.allocated", ["order": "o1", "sku": "h100", "quantity": -3] as JSON, "malformed_value"),
        ] {
            try TestDatabase.with { url in
                let db = try PostgresConnection(url: url)
                _ = try Self.smallLedger(db)
                let forged = try Self.forge(db, stream: "order-o1", type: type, payload: payload)
                let problem = damaged(try verify(connection: db))
                #expect(problem?.position == forged, "\(type)")
                #expect(problem?.description.contains(text) == true, "\(String(describing: problem))")
            }
        }
    }

    @Test func anEventOnANewStreamNamingAnotherOrderIsFound() throws {
        try TestDatabase.with { url in
            let db = try PostgresConnection(url: url)
            _ = try Self.smallLedger(db)
            let forged = try Self.forge(
                db, stream: "order-o2", type: "order.invoiced", payload: ["order": "o1", "amount": "900", "currency": "USD"])
            let problem = damaged(try verify(connection: db))
            #expect(problem?.position == forged)
            #expect(problem?.description.contains("wrong_stream") == true, "\(String(describing: problem))")
            // The stream is named as users write it (it once printed as "Optional(order-o1)").
            #expect(
                problem?.description.contains("order.invoiced names order-o1 in its payload but is recorded on stream order-o2")
                    == true, "\(String(describing: problem))")
        }
    }

    @Test func anOverPaymentForgedWithAValidChainIsFound() throws {
        try TestDatabase.with { url in
            let db = try PostgresConnection(url: url)
            _ = try Self.smallLedger(db)
            let forged = try Self.forge(
                db, stream: "order-o1", type: "order.paid", payload: ["order": "o1", "amount": "60", "currency": "USD"])
            let problem = damaged(try verify(connection: db))
            #expect(problem?.position == forged)
            #expect(problem?.description.contains("over_payment") == true, "\(String(describing: problem))")
        }
    }

    // MARK: History erased or rewritten: found by the digest

    /// Loads the reference scenario, takes a digest, runs `tamper` as the owner with the
    /// triggers off, and checks the log against the digest.
    func afterTampering(_ tamper: (PostgresConnection) throws -> Int64?) throws -> (DigestCheck, Int64?) {
        try TestDatabase.with { url in
            let db = try PostgresConnection(url: url)
            try LedgerDriver(connection: db).loadReferenceScenario()
            let digest = try LogDigest.current(on: db)
            #expect(try digest.check(on: db) == .holds)
            try db.execute(script: "SET session_replication_role = replica")
            let expected = try tamper(db)
            try db.execute(script: "SET session_replication_role = origin")
            // The digest read back from its JSON, as `verify --digest FILE` does.
            return (try LogDigest(json: try JSON.parse(digest.json.canonicalString)).check(on: db), expected)
        }
    }

    static func logOrder(_ db: PostgresConnection) throws -> [(position: Int64, stream: String, version: Int64)] {
        try db.query("SELECT position, stream, version FROM events ORDER BY transaction_id, position").map {
            (try $0.decode(Int64.self, at: 0), try $0.decode(String.self, at: 1), try $0.decode(Int64.self, at: 2))
        }
    }

    func expectDiffers(_ outcome: (DigestCheck, Int64?), _ text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        guard case .differs(let position, let message) = outcome.0 else {
            Issue.record("the digest still holds", sourceLocation: sourceLocation)
            return
        }
        #expect(position == outcome.1, "\(message)", sourceLocation: sourceLocation)
        #expect(message.contains(text), "\(message)", sourceLocation: sourceLocation)
    }

    @Test func deletingTheLastEventOfAStreamIsFound() throws {
        expectDiffers(
            try afterTampering { db in
                let last = try Self.logOrder(db).last { $0.stream == "order-ntt-001" }!
                try db.execute(script: "DELETE FROM events WHERE position = \(last.position)")
                return last.position
            }, "deleted")
    }

    @Test func deletingAWholeStreamIsFound() throws {
        expectDiffers(
            try afterTampering { db in
                let first = try Self.logOrder(db).first { $0.stream == "lab-tokyo-ai-lab" }!
                try db.execute(script: "DELETE FROM events WHERE stream = 'lab-tokyo-ai-lab'")
                return first.position
            }, "event")
    }

    @Test func aRewriteWithARecomputedChainIsFound() throws {
        expectDiffers(
            try afterTampering { db in
                // Change an amount and recompute that event's hash and every later one of its
                // stream: the chains hold again, only the digest can tell.
                let events = try EventStore(connection: db).readStream("order-ntt-001")
                let target = events.firstIndex { $0.type == "order.invoiced" }!
                var previous = target == 0 ? EventHash.genesis : events[target - 1].hash
                for (i, var event) in events.enumerated() where i >= target {
                    if i == target, case .object(var payload) = event.payload {
                        payload["amount"] = "1"
                        event.payload = .object(payload)
                    }
                    let hash = EventHash.hash(of: event, previous: previous)
                    try db.query(
                        "UPDATE events SET payload = $1::jsonb, hash = $2 WHERE position = $3",
                        [event.payload.canonicalString, Bytes(hash), event.position])
                    previous = hash
                }
                let (chains, _) = try Self.chainCheck(db)
                #expect(chains == nil, "the rewritten chain still verifies on its own")
                return events[target].position
            }, "changed")
    }

    @Test func reorderingEventsIsFound() throws {
        expectDiffers(
            try afterTampering { db in
                let order = try Self.logOrder(db)
                let (a, b) = (order[3].position, order[4].position)
                try db.execute(
                    script: """
                        UPDATE events SET transaction_id = CASE position
                          WHEN \(a) THEN (SELECT transaction_id FROM events WHERE position = \(b))
                          ELSE (SELECT transaction_id FROM events WHERE position = \(a)) END
                        WHERE position IN (\(a), \(b))
                        """)
                return a
            }, "reordered")
    }

    @Test func truncatingTheLogIsFound() throws {
        expectDiffers(
            try afterTampering { db in
                let tail = try Self.logOrder(db).suffix(3)
                try db.execute(script: "DELETE FROM events WHERE position IN (\(tail.map { String($0.position) }.joined(separator: ",")))")
                return tail.first!.position
            }, "missing")
    }

    /// A log of several blocks of 256 leaves (Schema/018 keeps, per leaf of a complete block,
    /// only its position and hash prefix): a change is named inside the digest's last block
    /// after that block was completed, and a deletion inside a complete block; a proof is
    /// refused for a block whose events are no longer the ones digested, and still given
    /// for the others.
    @Test func changesInsideStoredBlocksAreNamed() throws {
        try TestDatabase.with { url in
            let db = try PostgresConnection(url: url)
            let driver = LedgerDriver(connection: db)
            try driver.loadReferenceScenario()
            var rng = SeededGenerator(seed: 18)
            var digest = try LogDigest.current(on: db)
            while digest.size < 300 || digest.size % 256 == 0 {  // end inside the second block or later
                try driver.loadRandom(digest.size < 300 ? 100 : 1, rng: &rng)
                digest = try LogDigest.current(on: db)
            }
            // More events, until the digest's last block is complete and stored.
            while try LogDigest.current(on: db).size < (digest.size / 256 + 1) * 256 { try driver.loadRandom(50, rng: &rng) }
            let blocks = try db.query("SELECT count(*) FROM log_blocks")[0].decode(Int64.self, at: 0)
            #expect(blocks * 256 > digest.size)
            #expect(try digest.check(on: db) == .holds)
            let order = try Self.logOrder(db)

            try db.execute(script: "SET session_replication_role = replica")
            let changed = order[Int(digest.size) - 3].position
            try db.execute(script: "UPDATE events SET hash = sha256(hash) WHERE position = \(changed)")
            guard case .differs(let first, let message) = try digest.check(on: db) else {
                Issue.record("the digest still holds")
                return
            }
            #expect(first == changed && message.contains("changed"), "\(message)")

            let deleted = order[100].position
            try db.execute(script: "DELETE FROM events WHERE position = \(deleted)")
            try db.execute(script: "SET session_replication_role = origin")
            guard case .differs(let second, let text) = try digest.check(on: db) else {
                Issue.record("the digest still holds")
                return
            }
            #expect(second == deleted && text.contains("deleted"), "\(text)")

            // No proof from block 0 any more; the last event's proof still leads to the stored
            // root (through the stored roots of the blocks before it).
            #expect {
                try LogDigest.proof(ofPosition: order[3].position, on: db)
            } throws: { error in
                guard case .tamperedLog(let message)? = error as? EventStoreError else { return false }
                return message.contains("leaves 0…255") && message.contains("no longer the ones digested")
            }
            let now = try LogDigest.current(on: db)
            let proof = try #require(try LogDigest.proof(ofPosition: order.last!.position, on: db))
            #expect(proof.index == now.size - 1 && proof.root == now.root)
            #expect(MerkleHash.verifyInclusion(eventHash: proof.leaf, index: proof.index, size: now.size, path: proof.path, root: now.root))
        }
    }

    /// Only the hash chains (as `verify` checks them), for showing what they miss.
    static func chainCheck(_ db: PostgresConnection) throws -> (VerificationProblem?, Int) {
        let scan = LogScan(through: [:])
        try SettledSnapshot.run(on: db, readOnly: true) { db, horizon in try scan.run(on: db, horizon: horizon) }
        return (scan.chains.first?.problem, scan.events)
    }
}
