import Foundation
import Postgres
import TestSupport

/// The built `ledger` executable, run as a subprocess the way users and scripts run it.
struct LedgerBinary {
    struct Output {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static let path: String = {
        // The test bundle and the executable are built into the same directory.
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        if dir.lastPathComponent == "MacOS" { dir = dir.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent() }
        let candidate = dir.appendingPathComponent("ledger").path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        return TestDatabase.repositoryRoot.appendingPathComponent(".build/debug/ledger").path
    }()

    var databaseURL: String?
    var environment: [String: String] = [:]

    @discardableResult
    func run(_ arguments: [String], stdin: String? = nil) throws -> Output {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.path)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["DATABASE_URL"] = databaseURL ?? ""
        env["USER"] = "cli-test"
        for (k, v) in environment { env[k] = v }
        process.environment = env
        process.currentDirectoryURL = TestDatabase.repositoryRoot
        let out = Pipe()
        let err = Pipe()
        let input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        // Read both pipes to the end before waiting, so a large output cannot block the child.
        let stdoutData = out.fileHandleForReading.readDataToEndOfFile()
        let stderrData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Output(
            status: process.terminationStatus, stdout: String(decoding: stdoutData, as: UTF8.self),
            stderr: String(decoding: stderrData, as: UTF8.self))
    }

    func eventCount() throws -> Int {
        let db = try PostgresConnection(url: databaseURL!)
        return try db.query("SELECT count(*)::int FROM events")[0].decode(Int.self, at: 0)
    }
}
