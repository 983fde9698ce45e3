import Foundation
import Ledger

/// Generates realistic write commands as JSON Lines: interleaved order lifecycles on a
/// few dozen GPU SKUs (with deliveries to keep stock), lab expenses, investments.
/// Deterministic (fixed seed), so runs are comparable.
public enum BenchWorkload {
    /// A generated file; remove it when done.
    public struct File: Sendable {
        public var path: String
        public var bytes: Int
        public var events: Int
    }


    /// A business date in 2024–2025, spread by `n`.
    public static func day(_ n: Int) -> Day {
        try! Day(year: 2024 + (n / 336) % 2, month: 1 + (n / 28) % 12, day: 1 + n % 28)
    }

    struct OrderState {
        var id: Int
        var sku: Int
        var quantity: Int
        var price: Int
        var step: Int  // 0 placed, 1 allocated, 2 shipped, 3 delivered, 4 invoiced, 5 paid/done
        var shipment = 0
    }

    /// Writes commands worth about `events` events to a temporary file. `prefix` starts every
    /// id (orders, shipments, SKUs, labs, startups, investments), so a second file can be
    /// imported into a ledger that already holds the first (the scale bench grows one
    /// ledger): its dates start over, and stock received later in the first file's dates
    /// could not be allocated earlier in the second's.
    public static func generate(events target: Int, prefix: String = "") throws -> File {
        let path = NSTemporaryDirectory() + "/ledger-bench-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).jsonl"
        guard let out = fopen(path, "w") else {
            throw BenchError.failed("cannot write \(path): \(String(cString: strerror(errno)))")
        }
        var rng = SplitMix64(seed: 20_240_401)
        var events = 0
        var bytes = 0
        var n = 0
        func emit(_ line: String, _ count: Int) {
            bytes += line.utf8.count + 1
            fputs(line, out)
            fputc(0x0A, out)
            events += count
            n += 1
        }
        // Dates never go back (a fact may not be dated before the event that created its
        // order, lab or investment): they advance a day per 50 lines up to 2025-12-28, then stay.
        func date() -> String { day(min(n / 50, 671)).description }

        let skuCount = 40
        var available = [Int](repeating: 0, count: skuCount)
        let customers = ["NTT", "SoftBank", "Sakura Internet", "KDDI", "Preferred Networks", "Rakuten", "LINE Yahoo", "Fujitsu"]
        var orders: [OrderState] = []
        var nextOrder = 0
        var labs: [(id: Int, spent: Int)] = []
        var nextLab = 0
        var investments: [(id: Int, committed: Int, disbursed: Int)] = []
        var nextStartup = 0
        var shipment = 0

        while events < target {
            let r = rng.below(100)
            if r < 72 {
                // Orders: start a new one or move an open one a step on.
                if orders.count < 2_000 && (orders.isEmpty || rng.below(7) == 0) {
                    let sku = rng.below(skuCount)
                    let o = OrderState(
                        id: nextOrder, sku: sku, quantity: rng.inRange(1...64), price: 1_000 * rng.inRange(3_000...6_000), step: 0)
                    nextOrder += 1
                    orders.append(o)
                    emit(
                        #"{"command":"order.place","order":"\#(prefix)ord-\#(o.id)","customer":"\#(customers[rng.below(customers.count)])","sku":"\#(prefix)gpu-\#(sku)","quantity":\#(o.quantity),"unit-price":"\#(o.price)","currency":"JPY","date":"\#(date())"}"#,
                        1)
                    continue
                }
                let i = rng.below(orders.count)
                var o = orders[i]
                switch o.step {
                case 0:
                    if rng.below(40) == 0 {
                        emit(#"{"command":"order.cancel","order":"\#(prefix)ord-\#(o.id)","reason":"customer withdrew","date":"\#(date())"}"#, 1)
                        orders.swapAt(i, orders.count - 1)
                        orders.removeLast()
                        continue
                    }
                    if available[o.sku] < o.quantity {
                        let q = 500 * rng.inRange(1...4)
                        available[o.sku] += q
                        emit(#"{"command":"supply.receive","sku":"\#(prefix)gpu-\#(o.sku)","quantity":\#(q),"date":"\#(date())"}"#, 1)
                    }
                    available[o.sku] -= o.quantity
                    emit(#"{"command":"order.allocate","order":"\#(prefix)ord-\#(o.id)","quantity":\#(o.quantity),"date":"\#(date())"}"#, 2)
                case 1:
                    shipment += 1
                    emit(
                        #"{"command":"order.ship","order":"\#(prefix)ord-\#(o.id)","shipment":"\#(prefix)shp-\#(shipment)","quantity":\#(o.quantity),"date":"\#(date())"}"#,
                        1)
                    o.shipment = shipment
                case 2:
                    emit(#"{"command":"order.deliver","order":"\#(prefix)ord-\#(o.id)","shipment":"\#(prefix)shp-\#(o.shipment)","date":"\#(date())"}"#, 1)
                case 3, 4:
                    let value = o.quantity * o.price
                    emit(
                        #"{"command":"order.\#(o.step == 3 ? "invoice" : "pay")","order":"\#(prefix)ord-\#(o.id)","amount":"\#(value)","currency":"JPY","date":"\#(date())"}"#,
                        1)
                default:
                    break
                }
                o.step += 1
                if o.step >= 5 {
                    orders.swapAt(i, orders.count - 1)
                    orders.removeLast()
                } else {
                    orders[i] = o
                }
            } else if r < 88 {
                // Labs: a few, each planned and opened, then many expenses.
                if labs.count < 4 + nextLab / 1_000 && labs.count < 40 {
                    let id = nextLab
                    nextLab += 1
                    emit(
                        #"{"command":"lab.plan","lab":"\#(prefix)lab-\#(id)","name":"Research Lab \#(id)","city":"Tokyo","budget":"900000000000","currency":"JPY","date":"\#(date())"}"#,
                        1)
                    emit(#"{"command":"lab.add-partner","lab":"\#(prefix)lab-\#(id)","partner":"University \#(id)","date":"\#(date())"}"#, 1)
                    emit(#"{"command":"lab.open","lab":"\#(prefix)lab-\#(id)","date":"\#(date())"}"#, 1)
                    labs.append((id, 0))
                    continue
                }
                let i = rng.below(labs.count)
                let amount = 1_000 * rng.inRange(10...5_000)
                labs[i].spent += amount
                let category = ["facility", "equipment", "staff", "compute", "other"][rng.below(5)]
                emit(
                    #"{"command":"lab.expense","lab":"\#(prefix)lab-\#(labs[i].id)","category":"\#(category)","amount":"\#(amount)","currency":"JPY","description":"invoice \#(n)","date":"\#(date())"}"#,
                    1)
                if rng.below(500) == 0 {
                    emit(#"{"command":"lab.milestone","lab":"\#(prefix)lab-\#(labs[i].id)","name":"milestone \#(n)","date":"\#(date())"}"#, 1)
                }
            } else {
                // Investments: register a startup and commit, then disburse and mark.
                if investments.isEmpty || rng.below(6) == 0 {
                    let id = nextStartup
                    nextStartup += 1
                    let committed = 1_000_000 * rng.inRange(50...2_000)
                    emit(
                        #"{"command":"startup.register","startup":"\#(prefix)st-\#(id)","name":"Startup \#(id) KK","sector":"AI","country":"JP","date":"\#(date())"}"#,
                        1)
                    emit(
                        #"{"command":"invest.commit","investment":"\#(prefix)inv-\#(id)","startup":"\#(prefix)st-\#(id)","round":"Series A","instrument":"equity","amount":"\#(committed)","currency":"JPY","ownership":"5","date":"\#(date())"}"#,
                        1)
                    investments.append((id, committed, 0))
                    continue
                }
                let i = rng.below(investments.count)
                let inv = investments[i]
                if inv.disbursed < inv.committed && rng.below(2) == 0 {
                    let amount = min(inv.committed - inv.disbursed, inv.committed / 4)
                    investments[i].disbursed += amount
                    emit(
                        #"{"command":"invest.disburse","investment":"\#(prefix)inv-\#(inv.id)","amount":"\#(amount)","currency":"JPY","date":"\#(date())"}"#,
                        1)
                } else {
                    let value = inv.committed / 100 * rng.inRange(50...300)
                    emit(
                        #"{"command":"invest.mark","investment":"\#(prefix)inv-\#(inv.id)","fair-value":"\#(value)","currency":"JPY","date":"\#(date())"}"#,
                        1)
                }
                if investments.count > 5_000 { investments.swapAt(i, investments.count - 1); investments.removeLast() }
            }
        }
        fclose(out)
        return File(path: path, bytes: bytes, events: events)
    }
}
