import Foundation
import JSON
import Postgres
import Testing
import TestSupport

/// Issue #12: the ledger runs with least privilege — migrated by the database's owner
/// without CREATEROLE, used by a login that is only a member of ledger_app.
@Suite struct LeastPrivilegeCLITests {
    @Test func theOwnerMigratesWithoutCreateRoleAndAnApplicationLoginRunsEveryWriteImportAndDemo() throws {
        try TestDatabase.with(migrated: false) { url in
            let admin = try PostgresConnection(url: url)
            let database = try admin.query("SELECT current_database()")[0].decode(String.self, at: 0)
            try TestDatabase.withLogin(url, "NOCREATEROLE NOSUPERUSER") { ownerURL in
                let ownerName = try PostgresConnection(url: ownerURL).query("SELECT current_user::text")[0].decode(String.self, at: 0)
                try admin.execute(script: "ALTER DATABASE \(database) OWNER TO \(ownerName)")
                defer { _ = try? admin.execute(script: "ALTER DATABASE \(database) OWNER TO CURRENT_USER") }
                // The roles exist (made once per cluster by a DBA; here by the other tests).
                let migrated = try LedgerBinary(databaseURL: ownerURL).run(["db", "migrate"])
                #expect(migrated.status == 0, "\(migrated.stderr)")

                try TestDatabase.withLogin(url, "IN ROLE ledger_app") { appURL in
                    let app = LedgerBinary(databaseURL: appURL)
                    let steps: [[String]] = [
                        ["startup", "register", "--startup", "sakana-ai", "--name", "Sakana AI", "--country", "JP"],
                        ["invest", "commit", "--investment", "sakana-a", "--startup", "sakana-ai", "--round", "seed",
                         "--instrument", "safe", "--amount", "1000", "--currency", "USD", "--date", "2026-02-01"],
                        ["invest", "disburse", "--investment", "sakana-a", "--amount", "400", "--currency", "USD", "--date", "2026-02-02"],
                        ["supply", "receive", "--sku", "h100", "--quantity", "8", "--date", "2026-05-01"],
                        ["order", "place", "--order", "ntt-001", "--customer", "NTT", "--sku", "h100", "--quantity", "10",
                         "--unit-price", "4500000", "--currency", "JPY", "--date", "2026-05-01", "--idempotency-key", "k-1"],
                        ["order", "allocate", "--order", "ntt-001", "--quantity", "8", "--date", "2026-05-02"],
                        ["projections", "run"],
                    ]
                    for step in steps {
                        let output = try app.run(step)
                        #expect(output.status == 0, "\(step.joined(separator: " ")): \(output.stderr)")
                    }
                    let imported = try app.run(["import", "-"], stdin: """
                        {"command":"supply.receive","sku":"h200","quantity":3,"date":"2026-05-01"}
                        {"command":"order.place","order":"nec-001","customer":"NEC","sku":"h200","quantity":2,"unit-price":"5000000","currency":"JPY","date":"2026-05-02"}
                        """)
                    #expect(imported.status == 0, "\(imported.stderr)")
                    #expect(try app.run(["import", "-"], stdin: "{\"command\":\"supply.receive\",\"sku\":\"h200\",\"quantity\":3,\"date\":\"2026-05-01\"}\n").status == 0)
                    #expect(try app.run(["projections", "rebuild"]).status == 0)
                    #expect(try app.run(["verify"]).status == 0)
                    // The application login cannot write the log itself.
                    let forged = try PostgresConnection(url: appURL)
                    #expect(throws: PostgresError.self) {
                        try forged.query("INSERT INTO idempotency_keys (key, command_hash, positions) VALUES ('k-2', 'x', '{1}')")
                    }
                    #expect(try admin.query("SELECT count(*) FROM events")[0].decode(Int.self, at: 0) == 9)
                }
            }
        }
    }

    @Test func anApplicationLoginRunsTheDemo() throws {
        try TestDatabase.with { url in
            try TestDatabase.withLogin(url, "IN ROLE ledger_app") { appURL in
                let app = LedgerBinary(databaseURL: appURL)
                let demo = try app.run(["demo"])
                #expect(demo.status == 0, "\(demo.stderr)")
                #expect(demo.stdout.contains("SoftBank"))
                #expect(try app.run(["verify"]).status == 0)
            }
        }
    }

    @Test func aReportingLoginThatWritesExits77AndWritesNothing() throws {
        try TestDatabase.with { url in
            try TestDatabase.withLogin(url, "IN ROLE ledger_reporting") { analystURL in
                let analyst = LedgerBinary(databaseURL: analystURL)
                expectOneLineError(
                    try analyst.run(["supply", "receive", "--sku", "h100", "--quantity", "8"]), status: 77,
                    containing: "permission denied")
                expectOneLineError(
                    try analyst.run(["import", "-"], stdin: "{\"command\":\"supply.receive\",\"sku\":\"h200\",\"quantity\":3}\n"),
                    status: 77, containing: "permission denied")
                #expect(try LedgerBinary(databaseURL: url).eventCount() == 0)
            }
        }
    }

    @Test func migratingWithoutTheRolesOrTheRightToCreateThemExits77NamingTheStatement() throws {
        try TestDatabase.with(migrated: false) { url in
            let admin = try PostgresConnection(url: url)
            let database = try admin.query("SELECT current_database()")[0].decode(String.self, at: 0)
            // A later migration that needs a role nobody has made yet, in the released form.
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("schema-\(UUID().uuidString)")
            try FileManager.default.copyItem(at: TestDatabase.schemaDirectory, to: dir)
            defer { try? FileManager.default.removeItem(at: dir) }
            let role = "ledger_auditor_" + UUID().uuidString.prefix(8).lowercased()
            try """
                DO $$
                BEGIN
                    CREATE ROLE \(role) NOLOGIN;
                EXCEPTION WHEN duplicate_object OR unique_violation THEN
                    NULL;
                END
                $$;
                """.write(to: dir.appendingPathComponent("999_auditor.sql"), atomically: true, encoding: .utf8)
            try TestDatabase.withLogin(url, "NOCREATEROLE NOSUPERUSER") { ownerURL in
                let ownerName = try PostgresConnection(url: ownerURL).query("SELECT current_user::text")[0].decode(String.self, at: 0)
                try admin.execute(script: "ALTER DATABASE \(database) OWNER TO \(ownerName)")
                defer { _ = try? admin.execute(script: "ALTER DATABASE \(database) OWNER TO CURRENT_USER") }
                var owner = LedgerBinary(databaseURL: ownerURL)
                owner.environment["LEDGER_SCHEMA_DIR"] = dir.path
                expectOneLineError(try owner.run(["db", "migrate"]), status: 77, containing: "CREATE ROLE \(role) NOLOGIN;")
                #expect(try admin.query("SELECT to_regclass('events') IS NULL")[0].decode(Bool.self, at: 0))
            }
        }
    }
}
