import Foundation
import JSON
import Postgres
import Testing
import TestSupport

/// A streaming hot standby of the server DATABASE_URL names: `LEDGER_STANDBY_URL`, which
/// `scripts/test` sets after starting one (`scripts/pg start-standby`). Without it the
/// standby tests are skipped, and reported so; under CI they fail instead, since CI must
/// test against a real standby.
enum Standby {
    static var url: String? {
        let url = ProcessInfo.processInfo.environment["LEDGER_STANDBY_URL"] ?? ""
        return url.isEmpty ? nil : url
    }

    static var required: Bool { !(ProcessInfo.processInfo.environment["CI"] ?? "").isEmpty }

    static var available: Bool { url != nil || required }

    /// Waits until the standby has replayed everything the primary has written so far (and
    /// so holds the test's database), up to three minutes (a loaded machine replays slowly).
    static func waitForReplay(primary: PostgresConnection, standbyURL: String) throws {
        let target = try primary.query("SELECT pg_current_wal_lsn()::text")[0].decode(String.self, at: 0)
        let admin = try PostgresConnection(url: TestDatabase.url(url!, database: "postgres"))
        for _ in 0..<1800 {
            let replayed = try admin.query("SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn", [target])[0]
                .decode(Bool.self, at: 0)
            if replayed { return }
            Thread.sleep(forTimeInterval: 0.1)
        }
        throw StandbyNotCatchingUp(target: target)
    }

    struct StandbyNotCatchingUp: Error, CustomStringConvertible {
        var target: String
        var description: String { "the standby did not replay up to \(target) within three minutes" }
    }
}

@Suite(.enabled(if: Standby.available, "no hot standby: set LEDGER_STANDBY_URL, or run scripts/test"))
struct StandbyTests {
    /// Reports move to a standby: once it has replayed, it prints what the primary prints,
    /// for the application's login and for a reporting login; writes and projection runs
    /// are refused there (69, naming the standby), and `projections status` gives its
    /// replay lag.
    @Test func everyReportOnAStandbyEqualsThePrimarysOnceReplayed() throws {
        guard let standbyServer = Standby.url else {
            Issue.record("CI must run the hot-standby tests: scripts/test starts a standby and sets LEDGER_STANDBY_URL")
            return
        }
        try withLedger { primary in
            let db = try PostgresConnection(url: primary.databaseURL!)
            #expect(try primary.run(["demo"]).status == 0)
            // An event the projections have not applied: the warning must show on both.
            #expect(try primary.run(["supply", "receive", "--sku", "h100-sxm5-80gb", "--quantity", "2"]).status == 0)
            let database = String(URLComponents(string: primary.databaseURL!)!.path.dropFirst())
            let standby = LedgerBinary(databaseURL: TestDatabase.url(standbyServer, database: database))
            try withReportingLogin(primary) { analystOnPrimary, login in
                try Standby.waitForReplay(primary: db, standbyURL: standbyServer)
                var components = URLComponents(string: standby.databaseURL!)!
                components.user = login
                let analystOnStandby = LedgerBinary(databaseURL: components.string!)

                var reads: [[String]] = [["events", "--format", "json"], ["events", "--stream", "lab-tokyo-ai-lab"]]
                for report in reportNames {
                    for format in formats {
                        reads.append(["report", report, "--format", format])
                        reads.append(["report", report, "--format", format, "--as-of", "2025-03-31"])
                    }
                }
                for arguments in reads {
                    let expected = try primary.run(arguments)
                    #expect(expected.status == 0)
                    for reader in [standby, analystOnStandby] {
                        let output = try reader.run(arguments)
                        #expect(output.status == 0, "\(arguments): \(output.stderr)")
                        #expect(output.stdout == expected.stdout, "\(arguments)")
                        #expect(output.stderr == expected.stderr, "\(arguments)")
                    }
                }
                #expect(try analystOnPrimary.run(["report", "orders"]).stdout == (try analystOnStandby.run(["report", "orders"])).stdout)

                let status = try standby.run(["projections", "status", "--format", "json"])
                #expect(status.status == 0, "\(status.stderr)")
                #expect(status.stderr.contains("hot standby"))
                for row in try JSON.parse(status.stdout).arrayValue ?? [] {
                    #expect(row["lag"] == 1)
                    guard case .number(let seconds)? = row["replay_lag_seconds"] else {
                        Issue.record("no replay lag on a standby: \(row)")
                        continue
                    }
                    #expect((Double(seconds) ?? -1) >= 0)
                }
                let table = try standby.run(["projections", "status"])
                #expect(table.stdout.contains("REPLAY_LAG_SECONDS"))

                let before = try primary.eventCount()
                let refused: [[String]] = [
                    ["supply", "receive", "--sku", "h100", "--quantity", "1"],
                    ["startup", "register", "--startup", "kumo", "--name", "Kumo"],
                    ["projections", "run"], ["projections", "run", "--follow"], ["projections", "rebuild", "orders"],
                ]
                for arguments in refused {
                    expectOneLineError(try standby.run(arguments), status: 69, containing: "standby")
                }
                try Standby.waitForReplay(primary: db, standbyURL: standbyServer)
                #expect(try primary.eventCount() == before)
                let lag = try JSON.parse(try standby.run(["projections", "status", "--format", "json"]).stdout)
                #expect(lag.arrayValue?.allSatisfy { $0["lag"] == 1 } == true, "nothing ran on the standby")

                // Caught up on the primary: the standby follows, and the warning goes.
                #expect(try primary.run(["projections", "run"]).status == 0)
                try Standby.waitForReplay(primary: db, standbyURL: standbyServer)
                for report in reportNames {
                    let expected = try primary.run(["report", report, "--format", "csv"])
                    let output = try standby.run(["report", report, "--format", "csv"])
                    #expect(output.stdout == expected.stdout, "\(report)")
                    #expect(output.stderr == "")
                }
            }
        }
    }
}
