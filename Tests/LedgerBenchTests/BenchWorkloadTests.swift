import Foundation
import LedgerBench
import Postgres
import Testing
import TestSupport

/// The bench's generated workload is what every import, rebuild, report and verify figure is
/// measured on: it must be the same file on every run (figures comparable) and every line
/// of it must be accepted (a refused line would make the bench measure refusals).
@Suite struct BenchWorkloadTests {
    @Test func theWorkloadIsTheSameOnEveryRun() throws {
        let a = try BenchWorkload.generate(events: 3_000), b = try BenchWorkload.generate(events: 3_000)
        defer {
            try? FileManager.default.removeItem(atPath: a.path)
            try? FileManager.default.removeItem(atPath: b.path)
        }
        #expect(a.events >= 3_000 && a.events < 3_010)
        #expect(a.events == b.events && a.bytes == b.bytes)
        #expect(try Data(contentsOf: URL(fileURLWithPath: a.path)) == Data(contentsOf: URL(fileURLWithPath: b.path)))
    }

    @Test func everyGeneratedLineIsImported() throws {
        let file = try BenchWorkload.generate(events: 5_000)
        defer { try? FileManager.default.removeItem(atPath: file.path) }
        try TestDatabase.with { url in
            let summary = try Bench.importFile(file.path, into: url, batchSize: 1_000)
            #expect(summary.errors.isEmpty)
            #expect(summary.events == file.events)
            let db = try PostgresConnection(url: url)
            #expect(try db.query("SELECT count(*) FROM events")[0].decode(Int64.self, at: 0) == Int64(file.events))
        }
    }

    @Test func theSyntheticLedgerWritesExactlyWhatItIsAskedFor() throws {
        try TestDatabase.with { url in
            let db = try PostgresConnection(url: url)
            let written = try SyntheticLedger.append(events: 1_234, to: db, transactionSize: 500)
            #expect(written == 1_234)
            #expect(try db.query("SELECT count(*) FROM events")[0].decode(Int64.self, at: 0) == 1_234)
        }
    }
}
