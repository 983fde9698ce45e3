import Foundation
import JSON
import Postgres
import Testing
import TestSupport

/// `ledger digest`, `prove` and `verify --digest`, checked from outside: a Python script
/// (Tests/Scripts/merkle_check.py) recomputes the root from the event hashes and checks
/// proofs with RFC 9162's algorithm, sharing no code with the ledger.
@Suite struct DigestTests {
    static let script = TestDatabase.repositoryRoot.appendingPathComponent("Tests/Scripts/merkle_check.py").path

    /// JSON Lines for `ledger import`: `n` supply receipts over a few SKUs and some orders.
    static func commands(_ n: Int, from start: Int = 0) -> String {
        (start..<start + n).map { i in
            i % 3 == 0
                ? #"{"command":"order.place","order":"o-\#(i)","customer":"NTT","sku":"h100","quantity":2,"unit-price":"4500000","currency":"JPY","date":"2026-05-01"}"#
                : #"{"command":"supply.receive","sku":"sku-\#(i % 5)","quantity":\#(i + 1),"date":"2026-05-01"}"#
        }.joined(separator: "\n") + "\n"
    }

    /// `url` with its user replaced (a login trusted on loopback, as the test server is).
    static func url(_ url: String, user: String) -> String {
        var components = URLComponents(string: url)!
        components.user = user
        components.password = nil
        return components.string!
    }

    static func leaves(_ url: String) throws -> [String] {
        try PostgresConnection(url: url).query(
            "SELECT encode(hash, 'hex') FROM events ORDER BY transaction_id, position"
        ).map { try $0.decode(String.self, at: 0) }
    }

    /// Runs the Python check with the given files' contents; returns its exit status and output.
    static func python(leaves: [String], digest: String, proof: String? = nil) throws -> (Int32, String) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("digest-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var arguments = [script, dir.appendingPathComponent("leaves").path, dir.appendingPathComponent("digest.json").path]
        try (leaves.joined(separator: "\n") + "\n").write(to: URL(fileURLWithPath: arguments[1]), atomically: true, encoding: .utf8)
        try digest.write(to: URL(fileURLWithPath: arguments[2]), atomically: true, encoding: .utf8)
        if let proof {
            arguments.append(dir.appendingPathComponent("proof.json").path)
            try proof.write(to: URL(fileURLWithPath: arguments[3]), atomically: true, encoding: .utf8)
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3"] + arguments
        let out = Pipe()
        process.standardOutput = out
        process.standardError = out
        try process.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, text)
    }

    @Test func digestAndProofsAreCheckedByAnIndependentScript() throws {
        try withLedger { ledger in
            #expect(try ledger.run(["import", "-"], stdin: Self.commands(37)).status == 0)
            let first = try ledger.run(["digest", "--format", "json"])
            #expect(first.status == 0, "\(first.stderr)")
            let digest = try JSON.parse(first.stdout)
            #expect(digest["size"] == 37)
            let leaves = try Self.leaves(ledger.databaseURL!)
            #expect(try Self.python(leaves: leaves, digest: first.stdout) == (0, "ok\n"))

            // More events: the tree grows from what was stored; every leaf's proof checks out,
            // at sizes that are and are not powers of two.
            #expect(try ledger.run(["import", "-"], stdin: Self.commands(27, from: 37)).status == 0)
            let second = try ledger.run(["digest", "--format", "json"])
            #expect(try JSON.parse(second.stdout)["size"] == 64)
            let all = try Self.leaves(ledger.databaseURL!)
            #expect(try Self.python(leaves: all, digest: second.stdout) == (0, "ok\n"))
            let positions = try PostgresConnection(url: ledger.databaseURL!).query(
                "SELECT position FROM events ORDER BY transaction_id, position").map { try $0.decode(Int64.self, at: 0) }
            for position in [positions[0], positions[1], positions[36], positions[37], positions[63]] {
                let proof = try ledger.run(["prove", "--position", String(position), "--format", "json"])
                #expect(proof.status == 0, "\(proof.stderr)")
                #expect(try Self.python(leaves: all, digest: second.stdout, proof: proof.stdout) == (0, "ok\n"))
            }
            // A proof altered in one hash no longer checks out.
            let proof = try ledger.run(["prove", "--position", String(positions[5]), "--format", "json"]).stdout
            var tampered = try JSON.parse(proof)
            if case .object(var members) = tampered, case .array(var path) = members["path"]! {
                path[0] = .string(String(repeating: "0", count: 64))
                members["path"] = .array(path)
                tampered = .object(members)
            }
            #expect(try Self.python(leaves: all, digest: second.stdout, proof: tampered.canonicalString).0 == 1)
        }
    }

    /// Past 256 events the tree keeps complete blocks of 256 leaves (Schema/018): proofs of
    /// leaves at block edges, inside blocks and in the tail, for the application and for a
    /// reporting login, all check out independently.
    @Test func proofsFromCompleteBlocksAreCheckedByTheIndependentScript() throws {
        try withLedger { ledger in
            let admin = try PostgresConnection(url: ledger.databaseURL!)
            #expect(try ledger.run(["import", "-"], stdin: Self.commands(600)).status == 0)
            let digest = try ledger.run(["digest", "--format", "json"])
            #expect(try JSON.parse(digest.stdout)["size"] == 600)
            #expect(try admin.query("SELECT count(*)::int FROM log_blocks")[0].decode(Int.self, at: 0) == 2)
            #expect(try admin.query("SELECT count(*)::int FROM log_tail")[0].decode(Int.self, at: 0) == 88)
            let leaves = try Self.leaves(ledger.databaseURL!)
            #expect(try Self.python(leaves: leaves, digest: digest.stdout) == (0, "ok\n"))
            let role = "reader_" + UUID().uuidString.prefix(8).lowercased()
            try admin.execute(script: "CREATE ROLE \(role) LOGIN IN ROLE ledger_reporting")
            defer { _ = try? admin.execute(script: "DROP OWNED BY \(role); DROP ROLE \(role)") }
            var reader = ledger
            reader.databaseURL = Self.url(ledger.databaseURL!, user: role)
            #expect(try reader.run(["digest", "--format", "json"]).stdout == digest.stdout)
            let positions = try admin.query("SELECT position FROM events ORDER BY transaction_id, position").map {
                try $0.decode(Int64.self, at: 0)
            }
            for index in [0, 1, 130, 255, 256, 511, 512, 599] {
                let proof = try ledger.run(["prove", "--position", String(positions[index]), "--format", "json"])
                #expect(proof.status == 0, "\(proof.stderr)")
                #expect(try JSON.parse(proof.stdout)["index"] == JSON(index))
                #expect(try Self.python(leaves: leaves, digest: digest.stdout, proof: proof.stdout) == (0, "ok\n"))
                #expect(try reader.run(["prove", "--position", String(positions[index]), "--format", "json"]).stdout == proof.stdout)
            }
        }
    }

    @Test func proveOfAnUnknownPositionIsRefused() throws {
        try withLedger { ledger in
            #expect(try ledger.run(["import", "-"], stdin: Self.commands(3)).status == 0)
            expectOneLineError(try ledger.run(["prove", "--position", "999"]), status: 65, containing: "no event at position 999")
            expectOneLineError(try ledger.run(["prove", "--position", "0"]), status: 64, containing: "--position")
        }
    }

    @Test func anEmptyLogHasTheEmptyTreesRoot() throws {
        try withLedger { ledger in
            let digest = try JSON.parse(try ledger.run(["digest", "--format", "json"]).stdout)
            #expect(digest["size"] == 0)
            #expect(digest["root"] == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        }
    }

    /// A login granted only ledger_reporting gets the same digest and proofs, computed from
    /// what is stored plus the events after it, and writes nothing.
    @Test func aReportingLoginGetsTheSameDigestAndWritesNothing() throws {
        try withLedger { ledger in
            let admin = try PostgresConnection(url: ledger.databaseURL!)
            let role = "reader_" + UUID().uuidString.prefix(8).lowercased()
            try admin.execute(script: "CREATE ROLE \(role) LOGIN IN ROLE ledger_reporting")
            defer { _ = try? admin.execute(script: "DROP OWNED BY \(role); DROP ROLE \(role)") }
            #expect(try ledger.run(["import", "-"], stdin: Self.commands(21)).status == 0)
            #expect(try ledger.run(["digest"]).status == 0)  // stores 21 leaves
            #expect(try ledger.run(["import", "-"], stdin: Self.commands(12, from: 21)).status == 0)
            let stored = try admin.query("SELECT ((SELECT count(*) * 256 FROM log_blocks) + (SELECT count(*) FROM log_tail))::int")[0].decode(Int.self, at: 0)
            #expect(stored == 21)

            var reader = ledger
            reader.databaseURL = DigestTests.url(ledger.databaseURL!, user: role)
            let digest = try reader.run(["digest", "--format", "json"])
            #expect(digest.status == 0, "\(digest.stderr)")
            #expect(try JSON.parse(digest.stdout)["size"] == 33)
            let position = try admin.query("SELECT max(position) FROM events")[0].decode(Int64.self, at: 0)
            let proof = try reader.run(["prove", "--position", String(position), "--format", "json"])
            #expect(proof.status == 0, "\(proof.stderr)")
            let leaves = try Self.leaves(ledger.databaseURL!)
            #expect(try Self.python(leaves: leaves, digest: digest.stdout, proof: proof.stdout) == (0, "ok\n"))
            #expect(try admin.query("SELECT ((SELECT count(*) * 256 FROM log_blocks) + (SELECT count(*) FROM log_tail))::int")[0].decode(Int.self, at: 0) == 21)
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("digest-\(UUID().uuidString).json")
            try digest.stdout.write(to: file, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(at: file) }
            let verify = try reader.run(["verify", "--digest", file.path])
            #expect(verify.status == 0, "\(verify.stderr)")

            // The application's digest, which stores the rest, is the same.
            let app = try ledger.run(["digest", "--format", "json"])
            #expect(app.stdout == digest.stdout)
            #expect(try admin.query("SELECT ((SELECT count(*) * 256 FROM log_blocks) + (SELECT count(*) FROM log_tail))::int")[0].decode(Int.self, at: 0) == 33)
        }
    }

    /// A read-only session (what a hot standby gives every login) computes digests and
    /// proofs and verifies without writing anything.
    @Test func aReadOnlySessionDigestsProvesAndVerifiesWithoutWriting() throws {
        try withLedger { ledger in
            let admin = try PostgresConnection(url: ledger.databaseURL!)
            #expect(try ledger.run(["import", "-"], stdin: Self.commands(10)).status == 0)
            #expect(try ledger.run(["projections", "run"]).status == 0)  // stores the tree too
            #expect(try admin.query("SELECT ((SELECT count(*) * 256 FROM log_blocks) + (SELECT count(*) FROM log_tail))::int")[0].decode(Int.self, at: 0) == 10)
            #expect(try ledger.run(["import", "-"], stdin: Self.commands(5, from: 10)).status == 0)
            // An application login whose sessions are read-only, as on a standby.
            let role = "ro_" + UUID().uuidString.prefix(8).lowercased()
            try admin.execute(
                script: "CREATE ROLE \(role) LOGIN IN ROLE ledger_app; ALTER ROLE \(role) SET default_transaction_read_only = on")
            defer { _ = try? admin.execute(script: "DROP OWNED BY \(role); DROP ROLE \(role)") }
            var readOnly = ledger
            readOnly.databaseURL = Self.url(ledger.databaseURL!, user: role)
            let digest = try readOnly.run(["digest", "--format", "json"])
            #expect(digest.status == 0, "\(digest.stderr)")
            #expect(try JSON.parse(digest.stdout)["size"] == 15)
            let position = try admin.query("SELECT max(position) FROM events")[0].decode(Int64.self, at: 0)
            let proof = try readOnly.run(["prove", "--position", String(position), "--format", "json"])
            #expect(try Self.python(leaves: try Self.leaves(ledger.databaseURL!), digest: digest.stdout, proof: proof.stdout) == (0, "ok\n"))
            let verify = try readOnly.run(["verify"])
            #expect(verify.status == 0, "\(verify.stderr)")
            #expect(verify.stdout.contains("projections not compared"))
            #expect(try admin.query("SELECT ((SELECT count(*) * 256 FROM log_blocks) + (SELECT count(*) FROM log_tail))::int")[0].decode(Int.self, at: 0) == 10)
        }
    }
}
