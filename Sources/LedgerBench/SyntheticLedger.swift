import EventCodec
import EventStore
import Foundation
import JSON
import Ledger
import Postgres

/// Loads a large, realistic log fast, for `ledger bench rebuild|report` and for measuring
/// projections: GPU orders through their whole lifecycle (the bulk, as in production),
/// stock receipts, investments with tranches and marks, lab expenses. Events are valid
/// (every rule holds) and hash-chained exactly as appends chain them, so `verify` passes;
/// they are written with COPY, one transaction per `transactionSize` events, bypassing
/// `append_events` (which is the point: appending a million events one command at a time
/// measures something else).
public enum SyntheticLedger {
    /// Appends about `count` events (stops at a whole order or step, never over `count`).
    /// Returns how many were written.
    @discardableResult
    public static func append(
        events count: Int, to connection: PostgresConnection, seed: UInt64 = 1, transactionSize: Int = 50_000,
        progress: ((Int) -> Void)? = nil
    ) throws -> Int {
        var generator = Generator(seed: seed, heads: [:])
        // Ids are new on every run; only the SKUs' supply streams are shared with what the
        // database already holds, and their chains are continued.
        generator.prefix = "b" + UUID().uuidString.prefix(6).lowercased()
        var written = 0
        var batch: [(String, LedgerEvent)] = []
        while written < count {
            batch.removeAll(keepingCapacity: true)
            while batch.count < min(transactionSize, count - written) {
                let step = generator.nextStep()
                if batch.count + step.count > min(transactionSize, count - written) {
                    if batch.isEmpty { batch.append(contentsOf: step.prefix(count - written)) }
                    break
                }
                batch.append(contentsOf: step)
            }
            try connection.transaction { db in
                // Stream heads of streams this run did not create (the shared SKUs).
                let unknown = Set(batch.map(\.0)).filter { $0.hasPrefix("supply-") && generator.heads[$0] == nil }
                if !unknown.isEmpty {
                    for (stream, head) in try EventStore(connection: db).heads(of: Array(unknown)) {
                        generator.heads[stream] = head
                    }
                }
                try db.copyIn(
                    "COPY events (stream, version, type, schema_version, payload, metadata, business_date, event_id, hash) FROM STDIN"
                ) { writer in
                    for (stream, event) in batch {
                        let head = generator.heads[stream] ?? .empty
                        let version = head.version + 1
                        let id = UUID.random()
                        let payload = event.payload
                        let metadata: JSON = ["actor": "bench"]
                        let date = event.date.sqlDate
                        let hash = EventHash.hash(
                            previous: head.hash, eventID: id, stream: stream, version: version, type: event.type,
                            schemaVersion: event.schemaVersion, businessDate: date, payload: payload, metadata: metadata)
                        generator.heads[stream] = StreamHead(version: version, hash: hash)
                        try writer.writeRow([
                            stream, String(version), event.type, String(event.schemaVersion), payload.canonicalString,
                            metadata.canonicalString, date.description, id.lowercasedString, "\\x" + hexString(hash),
                        ])
                    }
                }
            }
            written += batch.count
            progress?(written)
        }
        return written
    }

    struct Generator {
        var rng: SplitMix64
        var heads: [String: StreamHead]
        var prefix = "b"
        var serial = 0
        var stock: [String: Int64] = [:]
        var labs: Set<String> = []
        let skus = ["h100-sxm5-80gb", "h200-141gb", "a100-80gb", "l40s-48gb", "gb200-nvl72"]
        let customers = ["NTT", "KDDI", "SoftBank", "Sakura Internet", "Fujitsu", "NEC", "Mitsubishi Corp", "Rakuten"]

        init(seed: UInt64, heads: [String: StreamHead]) {
            rng = SplitMix64(seed: seed)
            self.heads = heads
        }

        mutating func day() -> Day {
            try! Day(year: 2024 + Int(rng.next() % 2), month: 1 + Int(rng.next() % 12), day: 1 + Int(rng.next() % 28))
        }

        /// One business step: mostly an order's whole life; sometimes stock, an
        /// investment or a lab's spending.
        mutating func nextStep() -> [(String, LedgerEvent)] {
            serial += 1
            let date = day()
            func e(_ fact: LedgerEvent.Fact) -> (String, LedgerEvent) {
                let event = LedgerEvent(date: date, fact: fact)
                return (event.stream!.rawValue, event)
            }
            let jpy = Currency.jpy
            switch rng.next() % 20 {
            case 0:
                let sku = skus[Int(rng.next() % UInt64(skus.count))]
                let units = Int64(500 + rng.next() % 1000)
                stock[sku, default: 0] += units
                return [e(.supply(.received(sku: sku, quantity: units)))]
            case 1:
                let id = "\(prefix)-inv-\(serial)"
                let startup = "\(prefix)-startup-\(serial)"
                let committed = Money(minorUnits: Int64(100 + rng.next() % 900) * 1_000_000, currency: jpy)
                let tranche = Money(minorUnits: committed.minorUnits / 2, currency: jpy)
                return [
                    e(.startup(.registered(startup: startup, name: "Startup \(serial)", sector: "ai", country: "JP"))),
                    e(.investment(.committed(
                        investment: id, startup: startup, round: "seed", instrument: .equity, amount: committed,
                        ownership: nil, postMoney: nil))),
                    e(.investment(.disbursed(investment: id, amount: tranche))),
                    e(.investment(.disbursed(investment: id, amount: tranche))),
                    e(.investment(.marked(
                        investment: id, fairValue: Money(minorUnits: committed.minorUnits * Int64(1 + rng.next() % 3), currency: jpy)))),
                ]
            case 2:
                let id = "\(prefix)-lab-\(serial % 50)"
                if !labs.contains(id) {
                    labs.insert(id)
                    return [
                        e(.lab(.planned(lab: id, name: "Lab \(serial)", city: "Tokyo", budget: Money(minorUnits: 1 << 50, currency: jpy)))),
                        e(.lab(.partnerAdded(lab: id, partner: "University of Tokyo"))),
                        e(.lab(.opened(lab: id))),
                    ]
                }
                let category = ExpenseCategory.allCases[Int(rng.next() % 5)]
                return [
                    e(.lab(.expenseRecorded(
                        lab: id, category: category, amount: Money(minorUnits: Int64(1 + rng.next() % 100) * 10_000, currency: jpy),
                        description: "bench")))
                ]
            default:
                let sku = skus[Int(rng.next() % UInt64(skus.count))]
                let id = "\(prefix)-ord-\(serial)"
                let customer = customers[Int(rng.next() % UInt64(customers.count))]
                let quantity = Int64(1 + rng.next() % 16)
                let price = Money(minorUnits: Int64(3_000_000 + rng.next() % 3_000_000), currency: jpy)
                var out = [e(.order(.placed(order: id, customer: customer, sku: sku, quantity: quantity, unitPrice: price)))]
                guard stock[sku, default: 0] >= quantity else { return out }
                stock[sku, default: 0] -= quantity
                out.append(e(.order(.allocated(order: id, sku: sku, quantity: quantity))))
                out.append(e(.supply(.allocated(sku: sku, order: id, quantity: quantity))))
                if rng.next() % 10 == 0 {
                    stock[sku, default: 0] += quantity
                    out.append(e(.order(.cancelled(order: id, sku: sku, reason: "plans changed", released: quantity))))
                    out.append(e(.supply(.released(sku: sku, order: id, quantity: quantity))))
                    return out
                }
                let value = Money(minorUnits: price.minorUnits * quantity, currency: jpy)
                out.append(e(.order(.shipmentDispatched(order: id, shipment: "s1", sku: sku, quantity: quantity))))
                out.append(e(.order(.shipmentDelivered(order: id, shipment: "s1", sku: sku, quantity: quantity))))
                out.append(e(.order(.invoiced(order: id, amount: value))))
                if rng.next() % 3 != 0 { out.append(e(.order(.paid(order: id, amount: value)))) }
                return out
            }
        }
    }

}

/// SplitMix64 (Steele, Lea & Flood): a small seedable generator, so synthetic data sets and
/// random tests give the same sequence for the same seed and a run can be replayed.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A number in 0..<n.
    public mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    /// A number in `r`.
    public mutating func inRange(_ r: ClosedRange<Int>) -> Int { r.lowerBound + below(r.count) }
}
