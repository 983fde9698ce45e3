import Foundation
import Ledger
import Postgres
@testable import Projections
import Testing
import TestSupport

/// The history's states are built as JSON in the client and COPYed straight in
/// (`ReportHistory.write`, `StateColumns`); each must be the jsonb `to_jsonb` of the
/// projection row gives, which is what the history held before and what readers expect.
@Suite struct HistoryStateTests {
    static func yen(_ amount: Int64) -> Money { Money(minorUnits: amount, currency: .jpy) }
    static func usd(_ cents: Int64) -> Money { Money(minorUnits: cents, currency: .usd) }

    /// Texts that need escaping in JSON, in COPY, or in an array literal.
    static let awkward = ["plain", "quote \" inside", "back\\slash", "tab\there", "new\nline", "cr\rret", "ctl\u{01}x",
        "ソフトバンク", "emoji 🚀", "", " padded ", "NULL", "{braces}", "a,b"]

    /// Writes `rows` as one chain each through `write`, stages the same rows for `to_jsonb`,
    /// and returns how many states differ from it (as jsonb and as text) and how many there are.
    static func compare<Row: ProjectionTable>(_ rows: [Row], on db: PostgresConnection) throws -> (differ: Int, total: Int) {
        var chains: [(String, MonthChain<Row>)] = []
        for row in rows {
            var chain = MonthChain<Row>()
            chain.append(month: try Day("2024-01-31"), row: row, positions: [1, 2], ordered: true)
            chain.append(month: try Day("2024-02-29"), row: nil, positions: [3], ordered: false)
            chains.append((row.key, chain))
        }
        #expect(try StateColumns.of(Row.self, on: db) != nil, "\(Row.table): every column written as JSON")
        try ReportHistory.write(chains, on: db)
        var differ = -1
        try ReportHistory.stage(rows.map { ($0.key, $0) }, on: db) { stage in
            differ = Int(
                try db.query(
                    """
                    SELECT count(*) FROM \(stage) s
                    LEFT JOIN projections.report_history h
                      ON h.projection = $1 AND h.key = s.\(Row.keyColumn) AND h.month = '2024-01-31' AND NOT h.gone
                    WHERE h.state IS NULL OR h.state <> to_jsonb(s) - 'history_at'
                       OR h.state::text <> (to_jsonb(s) - 'history_at')::text
                    """, [Row.projection.rawValue])[0].decode(Int64.self, at: 0))
        }
        // The gone entries: no state, their positions and flag.
        let gone = try db.query(
            """
            SELECT count(*) FROM projections.report_history
            WHERE projection = $1 AND month = '2024-02-29' AND gone AND state IS NULL AND NOT ordered AND positions = '{3}'
            """, [Row.projection.rawValue])[0].decode(Int64.self, at: 0)
        #expect(Int(gone) == rows.count, "\(Row.table): gone entries")
        return (differ, rows.count)
    }

    @Test func aStateBuiltInTheClientIsTheJsonbOfTheRow() throws {
        try TestDatabase.with { url in
            let db = try PostgresConnection(url: url)
            try db.transaction { db in
                var portfolio: [PortfolioPosition] = []
                for (i, text) in Self.awkward.enumerated() {
                    var row = PortfolioPosition(
                        investment: "inv-\(i)-\(text)", startup: text, round: "seed", instrument: .safe, currency: i % 2 == 0 ? .jpy : .usd,
                        committed: i % 2 == 0 ? Self.yen(1_000_000) : Self.usd(123_456), disbursed: i % 2 == 0 ? Self.yen(500_000) : Self.usd(5),
                        latestMark: i % 3 == 0 ? nil : (i % 2 == 0 ? Self.yen(-7) : Self.usd(-1_050)), proceeds: i % 2 == 0 ? Self.yen(0) : Self.usd(10),
                        status: .active, startupName: i % 4 == 0 ? nil : text, ownership: i % 5 == 0 ? nil : "12.5%",
                        postMoney: i % 2 == 0 ? nil : Self.usd(99_999_999_999))
                    if i == 1 { row.status = .writtenOff }
                    portfolio.append(row)
                }
                var labs: [LabSummary] = []
                for (i, text) in Self.awkward.enumerated() {
                    labs.append(LabSummary(
                        lab: "lab-\(i)", name: text, city: text, currency: .usd, budget: Self.usd(1_000_000_00), spent: Self.usd(Int64(i) * 333),
                        status: .open, partners: i % 3 == 0 ? [] : Array(Self.awkward.prefix(i)),
                        milestones: i % 2 == 0 ? [] : [.init(name: text, date: try Day("2024-03-01"))],
                        spentByCategory: [.compute: Self.usd(Int64(i) * 333), .staff: Self.usd(0)]))
                }
                var orders: [OrderSummary] = []
                for (i, text) in Self.awkward.enumerated() {
                    orders.append(OrderSummary(
                        order: "o-\(i)\(text)", customer: text, sku: "h100", currency: .jpy, quantity: Int64(i) * 10, unitPrice: Self.yen(12_345),
                        allocated: Int64(i), shipped: 0, delivered: 0, invoiced: Self.yen(Int64(i) * 100), paid: Self.yen(-3),
                        cancelled: i % 2 == 1,
                        shipments: i % 3 == 0 ? [:] : [text: .init(quantity: Int64(i), delivered: i % 2 == 0), "s2": .init(quantity: 1, delivered: true)]))
                }
                let supply = Self.awkward.enumerated().map { i, text in
                    SupplyPosition(sku: "sku-\(text)", received: Int64(i) * 1_000_000_000_000, allocated: -Int64(i), shipped: 0)
                }
                for (differ, total) in [
                    try Self.compare(portfolio, on: db), try Self.compare(labs, on: db), try Self.compare(orders, on: db),
                    try Self.compare(supply, on: db),
                ] {
                    #expect(total == Self.awkward.count)
                    #expect(differ == 0)
                }
            }
        }
    }

    /// A projection column of a type the client does not write as JSON sends the history back
    /// to `to_jsonb` on the server: every state is still the row's jsonb.
    @Test func aColumnOfAnotherTypeIsWrittenByTheServer() throws {
        try TestDatabase.with { url in
            let db = try PostgresConnection(url: url)
            try db.transaction { db in
                #expect(try StateColumns.of(SupplyPosition.self, on: db) != nil)
                try db.execute(script: "ALTER TABLE projections.supply ADD COLUMN note date")
                #expect(try StateColumns.of(SupplyPosition.self, on: db) == nil)
                var chain = MonthChain<SupplyPosition>()
                chain.append(
                    month: try Day("2024-01-31"), row: SupplyPosition(sku: "h100", received: 5, allocated: 2, shipped: 1),
                    positions: [1], ordered: true)
                try ReportHistory.write([("h100", chain)], on: db)
                let state = try db.query("SELECT state::text FROM projections.report_history WHERE key = 'h100'")[0]
                    .decode(String.self, at: 0)
                #expect(state == #"{"sku": "h100", "note": null, "shipped": 1, "received": 5, "allocated": 2, "available": 3}"#)
            }
        }
    }

    @Test func arrayLiteralsBecomeJSONArrays() throws {
        func json(_ literal: String) throws -> String {
            var out: [UInt8] = []
            try StateColumns.writeArray(literal, into: &out)
            return String(decoding: out, as: UTF8.self)
        }
        #expect(try json("{}") == "[]")
        #expect(try json(#"{"a","b \"c\"","d\\e"}"#) == #"["a","b \"c\"","d\\e"]"#)
        #expect(try json("{a, b ,NULL,\"NULL\"}") == #"["a","b",null,"NULL"]"#)
        #expect(throws: StateColumnsError.self) { try json("a,b") }
        #expect(throws: StateColumnsError.self) { try json(#"{"a"#) }
        #expect(throws: StateColumnsError.self) { try json("{{1},{2}}") }
    }
}
