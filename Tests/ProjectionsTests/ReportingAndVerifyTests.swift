import EventStore
import Foundation
import JSON
import Ledger
import Postgres
@testable import Projections
import Testing
import TestSupport

@Suite struct ReportingAndVerifyTests {
    /// A LOGIN role granted ledger_reporting, connected as itself.
    func analyst(_ url: String, _ admin: PostgresConnection) throws -> PostgresConnection {
        let name = "analyst_" + UUID().uuidString.prefix(8).lowercased()
        try admin.execute(script: "CREATE ROLE \(name) LOGIN; GRANT ledger_reporting TO \(name)")
        var components = URLComponents(string: url)!
        components.user = name
        return try PostgresConnection(url: components.string!)
    }

    @Test func reportingViewsReturnTheRowsJSON() throws {
        try TestDatabase.with { url in
            let db = try PostgresConnection(url: url)
            var rng = SeededGenerator(seed: 5)
            let driver = LedgerDriver(connection: db)
            try driver.loadReferenceScenario()
            try driver.loadRandom(200, rng: &rng)
            try catchUp(db)
            let reader = ReportReader(connection: db)
            func viewJSON(_ view: String, _ key: String) throws -> [JSON] {
                try db.query("SELECT to_jsonb(v)::text FROM reporting.\(view) v ORDER BY \(key)").map {
                    try JSON.parse(try $0.decode(String.self, at: 0))
                }
            }
            func columns(_ view: String) throws -> [String] {
                try db.query("SELECT * FROM reporting.\(view) LIMIT 0").columns
            }
            #expect(try columns("portfolio") == PortfolioPosition.columns)
            #expect(try columns("labs") == LabSummary.columns)
            #expect(try columns("orders") == OrderSummary.columns)
            #expect(try columns("supply") == SupplyPosition.columns)
            #expect(try columns("events") == ["position", "stream", "version", "type", "date", "recorded_at", "payload", "metadata"])
            // Amounts are NUMERIC in the views, decimal strings in JSON: compare as text.
            func normalized(_ json: JSON) -> JSON {
                switch json {
                case .number(let n): .string(n)
                case .array(let a): .array(a.map(normalized))
                case .object(let o): .object(o.mapValues(normalized))
                default: json
                }
            }
            #expect(try viewJSON("portfolio", "investment").map(normalized) == reader.portfolio().map { normalized($0.json) })
            #expect(try viewJSON("labs", "lab").map(normalized) == reader.labs().map { normalized($0.json) })
            #expect(try viewJSON("orders", "\"order\"").map(normalized) == reader.orders().map { normalized($0.json) })
            #expect(try viewJSON("supply", "sku").map(normalized) == reader.supply().map { normalized($0.json) })
            let events = try db.query("SELECT count(*) FROM reporting.events")[0].decode(Int.self, at: 0)
            #expect(events == (try db.query("SELECT count(*) FROM events")[0].decode(Int.self, at: 0)))
        }
    }

    @Test func theReportingRoleReadsTheViewsAndNothingElse() throws {
        try TestDatabase.with { url in
            let db = try PostgresConnection(url: url)
            try LedgerDriver(connection: db).loadReferenceScenario()
            try catchUp(db)
            let analyst = try analyst(url, db)
            for view in ["portfolio", "labs", "orders", "supply", "events"] {
                #expect(try analyst.query("SELECT * FROM reporting.\(view)").count > 0, "reporting.\(view)")
            }
            let denied = [
                "SELECT * FROM events", "SELECT * FROM public.events", "SELECT * FROM idempotency_keys",
                "SELECT * FROM projections.orders", "SELECT * FROM projections.checkpoints",
                "SELECT * FROM projections.report_pages",
                "SELECT * FROM schema_migrations",
                "SELECT * FROM append_events('[]'::jsonb, '[]'::jsonb, NULL, NULL)",
                "INSERT INTO events (stream, version, type, schema_version, payload, metadata, business_date, event_id, hash) VALUES ('x', 1, 't', 1, '{}', '{}', '2024-01-01', gen_random_uuid(), '\\x00')",
                "DELETE FROM reporting.orders", "UPDATE reporting.supply SET received = 0",
                "INSERT INTO reporting.supply VALUES ('x', 1, 1, 1, 0)",
                "CREATE TABLE public.mine (x int)", "CREATE TABLE reporting.mine (x int)",
                "CREATE VIEW reporting.mine AS SELECT 1",
            ]
            for sql in denied {
                #expect(throws: PostgresError.self, "\(sql)") { try analyst.query(sql) }
            }
        }
    }

    @Test func exampleQueriesRunAndGiveTheExpectedFigures() throws {
        try TestDatabase.with { url in
            let db = try PostgresConnection(url: url)
            try LedgerDriver(connection: db).loadReferenceScenario()
            try catchUp(db)
            let analyst = try analyst(url, db)
            func example(_ name: String) throws -> [[String?]] {
                let sql = try String(
                    contentsOf: TestDatabase.schemaDirectory.appendingPathComponent("examples/\(name).sql"), encoding: .utf8)
                return try analyst.query(sql).map { row in (0..<row.columnCount).map { row.text(at: $0) } }
            }
            // ntt-001: 40 ordered, 25 shipped; ntt-002: 4 placed; kddi-001 is cancelled.
            #expect(try example("backlog_by_customer") == [["NTT", "JPY", "2", "19", "83000000", "25000000"]])
            #expect(
                try example("moic_by_instrument") == [
                    ["equity", "JPY", "1", "200000000", "300000000", "0", "1.50"],
                    ["safe", "USD", "1", "400000.50", "400000.50", "0.00", "1.00"],
                ])
            #expect(
                try example("lab_spend_by_month") == [
                    ["tokyo-ai-lab", "2024-01-01", "facility", "JPY", "120000000", "1"],
                    ["tokyo-ai-lab", "2024-02-01", "compute", "JPY", "110000000", "2"],
                ])
            #expect(
                try example("stock_by_sku") == [
                    ["a100-80gb", "10", "0", "0", "10", "0"],
                    ["h100-sxm5-80gb", "100", "45", "30", "55", "15"],
                ])
        }
    }

    @Test func verifyIsIntactOnACleanLedger() throws {
        try TestDatabase.with { url in
            let db = try PostgresConnection(url: url)
            var rng = SeededGenerator(seed: 9)
            let driver = LedgerDriver(connection: db)
            try driver.loadReferenceScenario()
            try driver.loadRandom(200, rng: &rng)
            #expect(try verify(connection: db).isIntact)  // projections empty at checkpoint 0
            try catchUp(db)
            let result = try verify(connection: db, pageSize: 17)
            let events = try db.query("SELECT count(*) FROM events")[0].decode(Int.self, at: 0)
            guard case .intact(let checked, let rows, let compared) = result else {
                Issue.record("\(result)")
                return
            }
            #expect(checked == events)
            #expect(rows > 0)
            #expect(compared)
        }
    }

    func tampered(_ sql: String) throws -> VerificationResult {
        try TestDatabase.with { url in
            let db = try PostgresConnection(url: url)
            try LedgerDriver(connection: db).loadReferenceScenario()
            try catchUp(db)
            try db.execute(script: "SET session_replication_role = replica; \(sql); SET session_replication_role = origin")
            return try verify(connection: db)
        }
    }

    func position(ofEventWhere condition: String) -> String {
        "(SELECT position FROM events WHERE \(condition))"
    }

    @Test func verifyFindsAnEditedPayload() throws {
        let result = try tampered(
            "UPDATE events SET payload = jsonb_set(payload, '{amount}', '\"1\"') WHERE stream = 'order-ntt-001' AND type = 'order.paid'")
        guard case .damaged(let problem) = result else { Issue.record("not found: \(result)"); return }
        #expect(problem.position != nil)
        #expect(problem.description.hasPrefix("position \(problem.position!): stream order-ntt-001 version 6"))
    }

    @Test func verifyFindsADeletedEvent() throws {
        let result = try tampered("DELETE FROM events WHERE stream = 'lab-tokyo-ai-lab' AND version = 3")
        guard case .damaged(let problem) = result else { Issue.record("not found: \(result)"); return }
        #expect(problem.description.contains("stream lab-tokyo-ai-lab goes from version 2 to 4"))
    }

    @Test func verifyFindsReorderedEvents() throws {
        let result = try tampered(
            """
            UPDATE events SET version = version + 100 WHERE stream = 'order-ntt-001' AND version IN (2, 3);
            UPDATE events SET version = 105 - version WHERE stream = 'order-ntt-001' AND version IN (102, 103)
            """)
        guard case .damaged(let problem) = result else { Issue.record("not found: \(result)"); return }
        #expect(problem.position != nil)
        #expect(problem.description.contains("stream order-ntt-001 "), "\(problem)")
    }

    @Test func verifyFindsEventsMovedInTheLog() throws {
        let result = try tampered(
            """
            UPDATE events SET position = -position WHERE stream = 'order-ntt-001' AND version IN (2, 3);
            UPDATE events SET position = (SELECT -min(position) FROM events WHERE stream = 'order-ntt-001' AND version IN (2, 3)) + (SELECT -max(position) FROM events WHERE stream = 'order-ntt-001' AND version IN (2, 3)) + position
              WHERE stream = 'order-ntt-001' AND version IN (2, 3)
            """)
        guard case .damaged(let problem) = result else { Issue.record("not found: \(result)"); return }
        // Found as a reordering of the stream, or — when the move splits the allocation's
        // two events — as stock that moved before its order did, whichever comes first.
        #expect(
            problem.description.contains("events were reordered") || problem.description.contains("unmatched_stock_event"),
            "\(problem)")
    }

    @Test func verifyFindsAnEditedProjectionRow() throws {
        let result = try tampered("UPDATE projections.orders SET paid = 200 WHERE \"order\" = 'ntt-001'")
        guard case .damaged(let problem) = result else { Issue.record("not found: \(result)"); return }
        #expect(problem.description == "projection orders row ntt-001: stored paid 200 but events give 100000000")
        let missing = try tampered("DELETE FROM projections.supply WHERE sku = 'a100-80gb'")
        #expect(missing == .damaged(VerificationProblem(projection: .supply, row: "a100-80gb", message: "missing: the events give this row but it is not stored")))
    }

    @Test func verifyFindsAnEditedReportPage() throws {
        let result = try tampered(
            "UPDATE projections.report_pages SET csv = csv || 'forged' WHERE projection = 'orders'")
        guard case .damaged(let problem) = result else { Issue.record("not found: \(result)"); return }
        #expect(problem.projection == .orders)
        #expect(problem.description.contains("report page from key '' does not match its rows"), "\(problem)")
    }

    @Test func staleOrMissingReportPagesAreRenderedFromTheRowsAndRunRendersThemAgain() throws {
        try TestDatabase.with { url in
            let db = try PostgresConnection(url: url)
            try LedgerDriver(connection: db).loadReferenceScenario()
            try catchUp(db)
            let expected = StoredReports(try foldedReports(db)).pages
            #expect(try StoredReports(db).pages == expected)
            func stalePages() throws -> Int64 {
                try db.query("SELECT count(*) FROM projections.report_pages WHERE csv IS NULL")[0].decode(Int64.self, at: 0)
            }
            #expect(try stalePages() == 0)
            try db.execute(
                script: """
                    UPDATE projections.report_pages
                    SET row_count = NULL, csv = NULL, cells = NULL, widths = NULL, numeric = NULL
                    WHERE projection IN ('orders', 'labs')
                    """)
            #expect(try stalePages() == 2)
            #expect(try StoredReports(db).pages == expected)
            try ProjectionRunner(connection: db).runOnce()
            #expect(try stalePages() == 0)
            #expect(try StoredReports(db).pages == expected)
            // No page at all (a table written by hand): readers still print every row.
            try db.execute(script: "DELETE FROM projections.report_pages")
            #expect(try StoredReports(db).pages == expected)
            #expect(try verify(connection: db).isIntact)
            try ProjectionRunner(connection: db).runOnce()
            #expect(try db.query("SELECT count(*) FROM projections.report_pages")[0].decode(Int64.self, at: 0) == 4)
            #expect(try StoredReports(db).pages == expected)
        }
    }

    @Test func theApplicationRoleRunsRebuildsAndPrintsReports() throws {
        try TestDatabase.with { url in
            let owner = try PostgresConnection(url: url)
            try LedgerDriver(connection: owner).loadReferenceScenario()
            let app = try PostgresConnection(url: url)
            try app.execute(script: "SET ROLE ledger_app")
            #expect(try ProjectionRunner(connection: app).runOnce() > 0)
            try ProjectionRebuilder(connection: app).rebuild()
            let expected = StoredReports(try foldedReports(owner)).pages
            #expect(try StoredReports(app).pages == expected)
            #expect(try verify(connection: app).isIntact)
        }
    }
}
