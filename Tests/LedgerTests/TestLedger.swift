import JSON
@testable import Ledger

/// A whole ledger in memory for given/when/then tests: commands are parsed like the CLI's,
/// decided against the world of the streams they ask for, and their events folded back in,
/// exactly as the command handler does, minus the database.
struct TestLedger {
    static let today = try! Day("2024-04-01")

    var world = LedgerWorld()
    var log: [(stream: StreamName, event: LedgerEvent)] = []

    /// Given: commands that must succeed.
    init(_ given: [(String, [String: String])] = []) throws {
        for (name, fields) in given { try run(name, fields) }
    }

    /// When: one command; returns the events it appended.
    @discardableResult
    mutating func run(_ name: String, _ fields: [String: String]) throws -> [(stream: StreamName, event: LedgerEvent)] {
        let command = try LedgerCommand.parse(name: name, fields: fields, today: TestLedger.today)
        return try run(command)
    }

    @discardableResult
    mutating func run(_ command: LedgerCommand) throws(Rejection) -> [(stream: StreamName, event: LedgerEvent)] {
        // The handler loop: load the streams asked for until nothing new is asked.
        var loaded = Set<StreamName>()
        var scoped = LedgerWorld()
        while true {
            let wanted = command.streams(in: scoped).filter { !loaded.contains($0) }
            if wanted.isEmpty { break }
            for stream in wanted {
                loaded.insert(stream)
                for entry in log where entry.stream == stream { scoped.apply(entry.event, in: stream) }
            }
        }
        let appended = try command.decide(in: scoped)
        for entry in appended {
            precondition(loaded.contains(entry.stream), "decide appended to \(entry.stream), which it did not read")
            log.append(entry)
            world.apply(entry.event, in: entry.stream)
        }
        return appended
    }

    /// The rejection a command meets, or nil if it was accepted.
    mutating func rejection(_ name: String, _ fields: [String: String]) throws -> Rejection? {
        do {
            try run(name, fields)
            return nil
        } catch let rejection as Rejection {
            return rejection
        }
    }

    var reports: Reports {
        var reports = Reports()
        for entry in log { reports.apply(entry.event) }
        return reports
    }

    var types: [String] { log.map(\.event.type) }
}

func day(_ text: String) -> Day { try! Day(text) }
func yen(_ amount: Int64) -> Money { Money(minorUnits: amount, currency: .jpy) }
func usd(cents: Int64) -> Money { Money(minorUnits: cents, currency: .usd) }

/// Reusable given steps.
enum Given {
    static let startup: [(String, [String: String])] = [
        ("startup.register", ["startup": "sakana-ai", "name": "Sakana AI", "country": "JP"]),
    ]
    static let seedCommitment: [(String, [String: String])] = startup + [
        ("invest.commit", ["investment": "sakura-seed", "startup": "sakana-ai", "round": "seed",
                           "instrument": "equity", "amount": "500000000", "currency": "JPY"]),
    ]
    static let lab: [(String, [String: String])] = [
        ("lab.plan", ["lab": "tokyo-ai-lab", "name": "Tokyo AI Lab", "city": "Tokyo",
                      "budget": "1000000000", "currency": "JPY"]),
    ]
    static let stockAndOrder: [(String, [String: String])] = [
        ("supply.receive", ["sku": "h100", "quantity": "100"]),
        ("order.place", ["order": "ntt-001", "customer": "NTT", "sku": "h100", "quantity": "64",
                         "unit-price": "4500000", "currency": "JPY"]),
    ]
}
