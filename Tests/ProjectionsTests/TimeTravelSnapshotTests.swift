import EventStore
import Foundation
import JSON
import LedgerBench
import Ledger
import Postgres
@testable import Projections
import Testing
import TestSupport

/// The snapshots behind `--as-of`, `--known-at` and `--as-issued` (`ReportHistory`) never
/// change an answer: every view read through them equals the fold of the whole log.
private func yen(_ amount: Int64) -> Money { Money(minorUnits: amount, currency: .jpy) }

@Suite struct TimeTravelSnapshotTests {
    /// Appends events as they are given (no rules: the folds are total, and these tests are
    /// about which events a view counts, not about the rules).
    final class RawLog {
        let store: EventStore
        var streams: [Int64: String] = [:]
        init(_ db: PostgresConnection) { store = EventStore(connection: db) }

        @discardableResult
        func append(_ fact: LedgerEvent.Fact, _ date: String) throws -> Int64 {
            let event = LedgerEvent(date: try Day(date), fact: fact)
            return try append(event, stream: event.stream!.rawValue)
        }

        @discardableResult
        func reverse(_ position: Int64, _ date: String) throws -> Int64 {
            let event = LedgerEvent(date: try Day(date), fact: .entry(.reversed(reverses: position, reason: "mistake")))
            return try append(event, stream: streams[position]!)
        }

        @discardableResult
        func close(through: String) throws -> Int64 {
            let event = LedgerEvent(date: try Day(through), fact: .period(.closed(through: try Day(through), reason: nil, digest: [:])))
            return try append(event, stream: "periods")
        }

        func append(_ event: LedgerEvent, stream: String) throws -> Int64 {
            let record = try store.append([
                NewEvent(
                    stream: stream, type: event.type, schemaVersion: event.schemaVersion, payload: event.payload,
                    businessDate: event.date.sqlDate)
            ]).events[0]
            streams[record.position] = stream
            return record.position
        }
    }



    /// Every report for `view` through the snapshots and by folding the whole log — and, where
    /// a segment's pages answer it (Schema/028), those pages against the pages rendered from
    /// the fold. Returns how many reports and parts the segment pages answered.
    @discardableResult
    static func expectSame(_ db: PostgresConnection, _ view: ReportView, sourceLocation: SourceLocation = #_sourceLocation)
        throws -> Int
    {
        var paged = 0
        for readable in [false, true] {
            let fast = ReportReader(connection: db, readable: readable)
            let slow = ReportReader(connection: db, readable: readable, useSnapshots: false)
            #expect(try fast.portfolio(view) == slow.portfolio(view), "portfolio \(view)", sourceLocation: sourceLocation)
            #expect(try fast.labs(view) == slow.labs(view), "labs \(view)", sourceLocation: sourceLocation)
            #expect(try fast.orders(view) == slow.orders(view), "orders \(view)", sourceLocation: sourceLocation)
            #expect(try fast.supply(view) == slow.supply(view), "supply \(view)", sourceLocation: sourceLocation)
            paged += try expectSamePages(db, view, readable: readable, sourceLocation: sourceLocation)
        }
        return paged
    }

    /// Each report known at `view`'s instant as a segment's pages (`ReportHistory.segmentPages`),
    /// where they answer, against the page rendered from the whole fold: the same CSV lines,
    /// table cells, row count, widths and alignment — what every printer prints from.
    static func expectSamePages(_ db: PostgresConnection, _ view: ReportView, readable: Bool, sourceLocation: SourceLocation)
        throws -> Int
    {
        var answered = 0
        func check<Row: ProjectionTable>(_ type: Row.Type) throws {
            try db.transaction(.repeatableRead) { db in
                let folded = try ReportReader(connection: db, readable: readable, useSnapshots: false).rows(Row.self, view)
                let expected = ReportPage(firstKey: "", rows: folded)
                for part in [ReportPages.Part.csv, .table] {
                    guard let pages = try ReportHistory.segmentPages(Row.self, view, part, readable: readable, on: db) else { continue }
                    answered += 1
                    var text: [UInt8] = []
                    var rows = 0
                    var widths = Array(repeating: 0, count: expected.widths.count)
                    var numeric = Array(repeating: true, count: expected.numeric.count)
                    for page in pages {
                        page.withText { text.append(contentsOf: $0) }
                        rows += page.rowCount
                        guard page.rowCount > 0, part == .table else { continue }
                        for i in widths.indices {
                            widths[i] = max(widths[i], page.widths[i])
                            numeric[i] = numeric[i] && page.numeric[i]
                        }
                    }
                    let label = "\(Row.projection) \(part) \(view) readable: \(readable)"
                    #expect(String(decoding: text, as: UTF8.self) == (part == .csv ? expected.csv : expected.cells), "\(label)", sourceLocation: sourceLocation)
                    #expect(rows == expected.rowCount, "\(label)", sourceLocation: sourceLocation)
                    if part == .table, expected.rowCount > 0 {
                        #expect(widths == expected.widths, "\(label)", sourceLocation: sourceLocation)
                        #expect(numeric == expected.numeric, "\(label)", sourceLocation: sourceLocation)
                    }
                }
            }
        }
        try check(PortfolioPosition.self)
        try check(LabSummary.self)
        try check(OrderSummary.self)
        try check(SupplyPosition.self)
        return answered
    }

    static func historyCheckpoint(_ db: PostgresConnection) throws -> Int64 {
        try db.query("SELECT position FROM projections.history_checkpoint")[0].decode(Int64.self, at: 0)
    }

    static func recordedAt(_ db: PostgresConnection, _ position: Int64) throws -> Timestamp {
        try db.query("SELECT recorded_at FROM events WHERE position = $1", [position])[0].decode(Timestamp.self, at: 0)
    }

    /// A random ledger — back-dated events, reversals, closes — with the projector run at
    /// random points; at each, every kind of view agrees with the full fold.
    /// Seeds 4 and 5 date most events forward (one in ten back-dated), so most months are
    /// ordered and mid-month reports fold rows on with their month's events (`MonthChain`).
    @Test(arguments: [1, 2, 3, 4, 5] as [UInt64]) func everyViewThroughTheSnapshotsEqualsTheFullFold(seed: UInt64) throws {
        try TestDatabase.with { url in
            let db = try PostgresConnection(url: url)
            let log = RawLog(db)
            var rng = SplitMix64(seed: seed)
            func pick<T>(_ items: [T]) -> T { items[Int(rng.next() % UInt64(items.count))] }
            var day = 0
            func date() -> String {
                guard seed >= 4, rng.next() % 10 != 0 else { return "2024-0\(1 + rng.next() % 6)-\(10 + rng.next() % 19)" }
                day = min(day + Int(rng.next() % 3), 6 * 28 - 1)
                return "2024-0\(1 + day / 28)-\(String(format: "%02d", 1 + day % 28))"
            }
            let investments = ["inv-a", "inv-b", "inv-c"], labs = ["lab-a", "lab-b"]
            let orders = ["o-1", "o-2", "o-3", "o-4", "o-5"], skus = ["h100", "a100"]
            for id in investments {
                try log.append(.investment(.committed(
                    investment: id, startup: "s", round: "seed", instrument: .equity, amount: yen(1_000_000),
                    ownership: nil, postMoney: nil)), "2024-01-0\(1 + rng.next() % 9)")
            }
            // The portfolio names startups from their registrations, on another stream.
            try log.append(.startup(.registered(startup: "s", name: "Sakana AI", sector: "ai", country: "JP")), date())
            for id in labs {
                try log.append(.lab(.planned(lab: id, name: "Lab", city: "Tokyo", budget: yen(1 << 40))), "2024-01-02")
            }
            for (i, id) in orders.enumerated() {
                try log.append(.order(.placed(order: id, customer: "NTT", sku: skus[i % 2], quantity: 50, unitPrice: yen(1000))), date())
            }
            var reversible: [Int64] = []
            var closes: [(position: Int64, through: Day)] = []
            var instants: [Timestamp] = []
            // Known-at views the segments' pages answered (Schema/028).
            var segmentPaged = 0
            func checkAll() throws {
                var days: [Day?] = [nil, try Day("2023-12-31"), try Day("2099-12-31"), try Day("2024-02-29")]
                for month in 1...7 {
                    days.append(ReportHistory.monthEnd(try Day(year: 2024, month: month, day: 1)))
                    days.append(try Day(year: 2024, month: month, day: 1 + Int(rng.next() % 27)))
                }
                let latest = try db.query("SELECT max(recorded_at) FROM events")[0].decode(Timestamp.self, at: 0)
                for asOf in days {
                    if asOf != nil { try Self.expectSame(db, ReportView(asOf: asOf)) }
                    for instant in instants + [latest] where rng.next() % 3 == 0 || instant == latest {
                        segmentPaged += try Self.expectSame(db, ReportView(asOf: asOf, knownAt: instant))
                    }
                }
                for close in closes {
                    let checkpoint = try db.query(
                        "SELECT transaction_id::text::bigint FROM events WHERE position = $1", [close.position])[0]
                        .decode(Int64.self, at: 0)
                    let through = Checkpoint(transactionID: UInt64(checkpoint), position: close.position)
                    try Self.expectSame(db, ReportView(asOf: close.through, through: through))
                    try Self.expectSame(db, ReportView(asOf: try Day("2024-03-31"), through: through))
                }
            }
            for step in 0..<140 {
                let d = date()
                let position: Int64
                switch rng.next() % 12 {
                case 0: position = try log.append(.investment(.disbursed(investment: pick(investments), amount: yen(Int64(1 + rng.next() % 9) * 1000))), d)
                case 1: position = try log.append(.investment(.marked(investment: pick(investments), fairValue: yen(Int64(1 + rng.next() % 9) * 5000))), d)
                case 2: position = try log.append(.lab(.expenseRecorded(lab: pick(labs), category: pick(ExpenseCategory.allCases), amount: yen(Int64(1 + rng.next() % 50)), description: nil)), d)
                case 3: position = try log.append(.lab(.partnerAdded(lab: pick(labs), partner: "Partner \(step)")), d)
                case 4: position = try log.append(.lab(.milestoneReached(lab: pick(labs), name: "M\(step)")), d)
                case 5: position = try log.append(.supply(.received(sku: pick(skus), quantity: Int64(1 + rng.next() % 20))), d)
                case 6:
                    let order = pick(orders), sku = skus[orders.firstIndex(of: order)! % 2]
                    position = try log.append(.order(.allocated(order: order, sku: sku, quantity: 2)), d)
                case 7:
                    let order = pick(orders), sku = skus[orders.firstIndex(of: order)! % 2]
                    position = try log.append(.order(.shipmentDispatched(order: order, shipment: "s\(step)", sku: sku, quantity: 1)), d)
                case 8: position = try log.append(.order(.invoiced(order: pick(orders), amount: yen(500))), d)
                case 9:
                    let order = pick(orders), sku = skus[orders.firstIndex(of: order)! % 2]
                    position = try log.append(.supply(.allocated(sku: sku, order: order, quantity: 1)), d)
                case 10:
                    // A reversal of an earlier event, dated on or after it.
                    guard !reversible.isEmpty else { continue }
                    let target = reversible.remove(at: Int(rng.next() % UInt64(reversible.count)))
                    let original = try db.query("SELECT business_date::text FROM events WHERE position = $1", [target])[0]
                        .decode(String.self, at: 0)
                    try log.reverse(target, max(original, d))
                    continue
                default:
                    if rng.next() % 3 == 0 {
                        let through = try Day("2024-0\(1 + rng.next() % 5)-\(rng.next() % 2 == 0 ? "28" : "15")")
                        closes.append((try log.close(through: through.description), through))
                    } else if rng.next() % 3 == 0 {
                        // The projections alone, so they stand ahead of or behind the history
                        // (a report as of today or later reads their rows).
                        let runner = ProjectionRunner(connection: db, batchSize: Int(3 + rng.next() % 40))
                        runner.keepsHistory = false
                        try runner.runOnce()
                    } else if rng.next() % 2 == 0 {
                        // Small pages and a small bound on the rows held, so rows are carried
                        // across pages and written early (the paths of a long log).
                        let pageSize = Int(3 + rng.next() % 40)
                        // Small segments too (Schema/026), so known-at views read them.
                        // And segment pages of one to three rows (split when past twice that).
                        try ReportHistory.extend(
                            on: db, pageSize: pageSize, rowsHeld: 1 + pageSize % 4, segmentPositions: Int64(1 + pageSize % 9),
                            segmentPageRows: 1 + pageSize % 3)
                        try ReportHistory.storeIssuedReports(on: db)
                    }
                    continue
                }
                reversible.append(position)
                if rng.next() % 10 == 0 { instants.append(try Self.recordedAt(db, position)) }
                if step % 35 == 34 { try checkAll() }
            }
            try ReportHistory.extend(on: db)
            try ReportHistory.storeIssuedReports(on: db)
            try checkAll()
            #expect(segmentPaged > 0)
            // The rebuild folds the history in its own pass, every reversal known beforehand:
            // it writes exactly what the projector wrote run by run, row for row.
            let incremental = try Self.storedHistory(db)
            #expect(incremental.entries.count > 20)
            try ProjectionRebuilder(connection: db, pageSize: Int(5 + seed * 7)).rebuild()
            let rebuilt = try Self.storedHistory(db)
            #expect(rebuilt.checkpoint == incremental.checkpoint)
            #expect(rebuilt.entries.count == incremental.entries.count)
            for (a, b) in zip(rebuilt.entries, incremental.entries) where a != b {
                Issue.record("rebuilt \(a) but the projector wrote \(b)")
                break
            }
            try checkAll()
            // With a writer and room for one to three rows, rows are written out mid-pass and
            // read back when touched again: the same history, rows and pages.
            let tables = try Self.storedProjections(db)
            let writer = try PostgresConnection(url: url)
            let bounded = ProjectionRebuilder(connection: db, writer: writer, pageSize: Int(3 + seed * 2))
            bounded.rowsHeld = Int(1 + seed % 3)
            bounded.pageRows = 2
            let summary = try bounded.rebuild()
            #expect(summary.rowsWrittenOut > 0)
            #expect(summary.rowsReadBack > 0)
            let spilled = try Self.storedHistory(db)
            #expect(spilled.checkpoint == rebuilt.checkpoint)
            #expect(spilled.entries == rebuilt.entries)
            let pagedAgain = try Self.storedProjections(db)
            #expect(pagedAgain.rows == tables.rows)
            #expect(pagedAgain.pages.count > 4)
            // Paged from the table two rows a page, as `replace` pages the rows it holds.
            let unbounded = ProjectionRebuilder(connection: db)
            unbounded.pageRows = 2
            try unbounded.rebuild()
            let paged = try Self.storedProjections(db)
            #expect(paged.rows == tables.rows)
            #expect(pagedAgain.pages == paged.pages)
            try checkAll()
        }
    }

    /// Every projection row (as jsonb's text) and every report page, in key order.
    static func storedProjections(_ db: PostgresConnection) throws -> (rows: [String], pages: [String]) {
        var rows: [String] = []
        for table in ["portfolio", "labs", "orders", "supply"] {
            rows += try db.query("SELECT to_jsonb(t)::text FROM projections.\(table) t ORDER BY 1").map {
                try $0.decode(String.self, at: 0)
            }
        }
        let pages = try db.query(
            """
            SELECT concat_ws(' | ', projection, first_key, row_count, csv, cells, widths, numeric)
            FROM projections.report_pages ORDER BY projection, first_key
            """
        ).map { try $0.decode(String.self, at: 0) }
        return (rows, pages)
    }

    /// Every history entry (in key order, the state as jsonb's text) and the checkpoint row.
    static func storedHistory(_ db: PostgresConnection) throws -> (entries: [String], checkpoint: String) {
        let entries = try db.query(
            """
            SELECT concat_ws(' | ', projection, key, month, gone, state, ordered, positions)
            FROM projections.report_history ORDER BY projection, key, month
            """
        ).map { try $0.decode(String.self, at: 0) }
        let checkpoint = try db.query(
            """
            SELECT concat_ws(' | ', transaction_id, position, max_recorded_at, max_business_date)
            FROM projections.history_checkpoint
            """)[0].decode(String.self, at: 0)
        return (entries, checkpoint)
    }

    /// A small ledger with its history built: an expense in February on lab-a, and stock.
    static func withSnapshottedLedger(_ body: (PostgresConnection, RawLog, String) throws -> Void) throws {
        try TestDatabase.with { url in
            let db = try PostgresConnection(url: url)
            let log = RawLog(db)
            try log.append(.lab(.planned(lab: "lab-a", name: "Lab", city: "Tokyo", budget: yen(1_000_000))), "2024-01-05")
            try log.append(.lab(.expenseRecorded(lab: "lab-a", category: .compute, amount: yen(100), description: nil)), "2024-02-10")
            try log.append(.supply(.received(sku: "h100", quantity: 10)), "2024-02-11")
            try ReportHistory.extend(on: db)
            try body(db, log, url)
        }
    }

    static func spent(_ db: PostgresConnection, _ view: ReportView) throws -> Int64? {
        try ReportReader(connection: db, readable: true).labs(view).first?.spent.minorUnits
    }

    @Test func anEventBackDatedIntoASnapshottedMonthAndRecordedAfterItCounts() throws {
        try Self.withSnapshottedLedger { db, log, _ in
            let feb = try Day("2024-02-29"), mid = try Day("2024-02-20")
            #expect(try Self.spent(db, ReportView(asOf: feb)) == 100)
            let covered = try Self.historyCheckpoint(db)
            try log.append(.lab(.expenseRecorded(lab: "lab-a", category: .staff, amount: yen(7), description: nil)), "2024-02-01")
            // Not yet in the history: folded on top of February's entry.
            #expect(try Self.historyCheckpoint(db) == covered)
            #expect(try Self.spent(db, ReportView(asOf: feb)) == 107)
            #expect(try Self.spent(db, ReportView(asOf: mid)) == 107)
            #expect(try Self.spent(db, ReportView(asOf: try Day("2024-01-31"))) == 0)
            try Self.expectSame(db, ReportView(asOf: feb))
            // And once the history has it.
            try ReportHistory.extend(on: db)
            #expect(try Self.historyCheckpoint(db) > covered)
            #expect(try Self.spent(db, ReportView(asOf: feb)) == 107)
            #expect(try Self.spent(db, ReportView(asOf: mid)) == 107)
            try Self.expectSame(db, ReportView(asOf: mid))
        }
    }

    @Test func aReversalRecordedAfterTheSnapshotOfAnEventInsideItCounts() throws {
        try Self.withSnapshottedLedger { db, log, _ in
            let expense = try db.query("SELECT position FROM events WHERE type = 'lab.expense_recorded'")[0].decode(Int64.self, at: 0)
            try log.reverse(expense, "2024-03-05")
            for _ in 0..<2 {
                // February still shows it (reversed from March 5 on); March and later do not.
                #expect(try Self.spent(db, ReportView(asOf: try Day("2024-02-29"))) == 100)
                #expect(try Self.spent(db, ReportView(asOf: try Day("2024-03-04"))) == 100)
                #expect(try Self.spent(db, ReportView(asOf: try Day("2024-03-05"))) == 0)
                #expect(try Self.spent(db, ReportView(asOf: try Day("2024-03-31"))) == 0)
                #expect(try Self.spent(db, ReportView(asOf: try Day("2099-12-31"))) == 0)
                try Self.expectSame(db, ReportView(asOf: try Day("2024-03-10")))
                try ReportHistory.extend(on: db)
            }
        }
    }

    /// A row that began and went within one month (its creating event reversed in that
    /// month) has a gone entry there, and keeps it when a later run reads its entries back
    /// to fold another event in: a day inside that month still shows the row.
    @Test func aRowThatCameAndWentWithinAMonthKeepsItsEntryAcrossRuns() throws {
        try TestDatabase.with { url in
            let db = try PostgresConnection(url: url)
            let log = RawLog(db)
            let placed = try log.append(
                .order(.placed(order: "o-1", customer: "NTT", sku: "h100", quantity: 5, unitPrice: yen(1000))), "2024-01-05")
            try log.reverse(placed, "2024-01-20")
            try ReportHistory.extend(on: db)
            let inside = ReportView(asOf: try Day("2024-01-10"))
            #expect(try ReportReader(connection: db).orders(inside).map(\.order) == ["o-1"])
            // A later event of the row: the next run loads its entries, folds it, rewrites them.
            try log.append(.order(.invoiced(order: "o-1", amount: yen(500))), "2024-03-02")
            try ReportHistory.extend(on: db)
            let january = try db.query(
                "SELECT gone, positions::text FROM projections.report_history WHERE key = 'o-1' AND month = '2024-01-31'")
            #expect(january.count == 1)
            #expect(try january.first?.decode(String?.self, at: 1) == "{\(placed)}")
            #expect(try ReportReader(connection: db).orders(inside).map(\.order) == ["o-1"])
            try Self.expectSame(db, inside)
            try Self.expectSame(db, ReportView(asOf: try Day("2024-03-10")))
        }
    }

    @Test func knownAtBeforeTheSnapshotsRecordingHorizonFallsBackToTheFold() throws {
        try Self.withSnapshottedLedger { db, log, _ in
            let first = try db.query("SELECT min(position) FROM events")[0].decode(Int64.self, at: 0)
            let instant = try Self.recordedAt(db, first)
            // Everything the history covers was recorded after `instant` except the plan.
            #expect(try Self.spent(db, ReportView(knownAt: instant)) == 0)
            #expect(try Self.spent(db, ReportView(asOf: try Day("2024-02-29"), knownAt: instant)) == 0)
            #expect(try ReportReader(connection: db).supply(ReportView(knownAt: instant)).isEmpty)
            try Self.expectSame(db, ReportView(knownAt: instant))
            // At or after its last event: the history answers, with later events on top.
            try log.append(.lab(.expenseRecorded(lab: "lab-a", category: .staff, amount: yen(5), description: nil)), "2024-02-12")
            let last = try db.query("SELECT max(position) FROM events")[0].decode(Int64.self, at: 0)
            let before = try Self.recordedAt(db, last - 1)
            #expect(try Self.spent(db, ReportView(knownAt: before)) == 100)
            #expect(try Self.spent(db, ReportView(knownAt: try Self.recordedAt(db, last))) == 105)
            try Self.expectSame(db, ReportView(knownAt: before))
        }
    }

    /// Known at an instant before the history's latest recorded event (Schema/026): the rows
    /// as of the latest segment whose every event was recorded by then, with the later events
    /// recorded by then folded on top — and the whole-log fold when no segment counts.
    @Test func knownAtMidLogReadsTheLatestSegmentRecordedByThenAndFoldsTheRest() throws {
        try TestDatabase.with { url in
            let db = try PostgresConnection(url: url)
            let log = RawLog(db)
            try log.append(.lab(.planned(lab: "lab-a", name: "Lab", city: "Tokyo", budget: yen(1_000_000))), "2024-01-05")
            var positions: [Int64] = []
            for (i, day) in ["2024-02-10", "2024-01-20", "2024-03-01", "2024-02-15", "2024-03-10", "2024-03-12"].enumerated() {
                positions.append(try log.append(
                    .lab(.expenseRecorded(lab: "lab-a", category: .compute, amount: yen(Int64(10 << i)), description: nil)), day))
                try log.append(.supply(.received(sku: "h100", quantity: Int64(1 + i))), day)
            }
            try log.reverse(positions[1], "2024-03-11")
            try ReportHistory.extend(on: db, pageSize: 3, segmentPositions: 3)
            let segments = try db.query("SELECT count(*)::int FROM reporting.history_segments")[0].decode(Int.self, at: 0)
            #expect(segments >= 3)
            try log.append(.lab(.expenseRecorded(lab: "lab-a", category: .staff, amount: yen(1000), description: nil)), "2024-03-20")
            let instants = try db.query("SELECT recorded_at FROM events ORDER BY position").map { try $0.decode(Timestamp.self, at: 0) }
            for instant in instants {
                for asOf in [nil, try Day("2024-02-29"), try Day("2024-03-11"), try Day("2099-12-31")] as [Day?] {
                    try Self.expectSame(db, ReportView(asOf: asOf, knownAt: instant))
                }
            }
            // Known at the sixth event (the third expense: 10 + 20 + 40, the reversal comes
            // later): the segment is what is read —
            // changing its state changes the answer (so the test can fail).
            let mid = instants[5]
            #expect(try Self.spent(db, ReportView(knownAt: mid)) == 70)
            let read = try db.query(
                "SELECT max(segment) FROM reporting.history_segments WHERE max_recorded_at <= $1::timestamptz", [mid])[0]
                .decode(Int64.self, at: 0)
            try db.query(
                "UPDATE projections.segment_states SET state = jsonb_set(state, '{spent}', '\"1\"') WHERE projection = 'labs' AND segment <= $1",
                [read])
            #expect(try Self.spent(db, ReportView(knownAt: mid)) != 70)
            // Before the first segment's last event: no segment counts, the log is folded.
            #expect(try Self.spent(db, ReportView(knownAt: instants[0])) == 0)
            // A rebuild (reset) forgets the segments; the next extend cuts them again.
            try ReportHistory.reset(on: db)
            #expect(try db.query("SELECT count(*)::int FROM reporting.segment_states")[0].decode(Int.self, at: 0) == 0)
            try ReportHistory.extend(on: db, pageSize: 2, segmentPositions: 2)
            #expect(try Self.spent(db, ReportView(knownAt: mid)) == 70)
            for instant in instants { try Self.expectSame(db, ReportView(knownAt: instant)) }
            // A history without segments (`projections rebuild` writes none; a history kept
            // before 026 has none): the next extend cuts them through the log it covers, from
            // the rows' current states, and carries on.
            try db.execute(script: """
                DELETE FROM projections.segment_states; DELETE FROM projections.segment_pending;
                DELETE FROM projections.history_segments;
                """)
            try log.append(.lab(.expenseRecorded(lab: "lab-a", category: .staff, amount: yen(2000), description: nil)), "2024-03-21")
            try ReportHistory.extend(on: db, pageSize: 2, segmentPositions: 3)
            #expect(try db.query("SELECT count(*)::int FROM reporting.history_segments")[0].decode(Int.self, at: 0) >= 4)
            #expect(try Self.spent(db, ReportView(knownAt: mid)) == 70)
            for _ in 0..<2 {
                for instant in try db.query("SELECT recorded_at FROM events ORDER BY position").map({ try $0.decode(Timestamp.self, at: 0) }) {
                    try Self.expectSame(db, ReportView(knownAt: instant))
                    try Self.expectSame(db, ReportView(asOf: try Day("2099-12-31"), knownAt: instant))
                }
                for quantity in [5, 6, 7] as [Int64] { try log.append(.supply(.received(sku: "a100", quantity: quantity)), "2024-03-22") }
                try ReportHistory.extend(on: db, pageSize: 2, segmentPositions: 3)
            }
            // The backfilled segment is what is read.
            try db.query(
                "UPDATE projections.segment_states SET state = jsonb_set(state, '{spent}', '\"1\"') WHERE projection = 'labs' AND segment <= $1",
                [read])
            #expect(try Self.spent(db, ReportView(knownAt: mid)) != 70)
        }
    }

    /// Known at an instant mid-log, a report is its segment's pages (Schema/028) with the rows
    /// the later events recorded by then change put in: editing a stored page changes the
    /// answer (the pages are read); a segment without pages leaves the answer to the rows;
    /// the next extend pages it again, the same.
    @Test func knownAtMidLogIsTheSegmentsPagesWithTheChangedRowsPutIn() throws {
        try TestDatabase.with { url in
            let db = try PostgresConnection(url: url)
            let log = RawLog(db)
            try log.append(.lab(.planned(lab: "lab-a", name: "Lab A", city: "Tokyo", budget: yen(1_000_000))), "2024-01-05")
            try log.append(.lab(.planned(lab: "lab-b", name: "Lab B", city: "Osaka", budget: yen(1_000_000))), "2024-01-05")
            for i in 0..<6 {
                try log.append(.lab(.expenseRecorded(lab: "lab-a", category: .compute, amount: yen(Int64(10 << i)), description: nil)), "2024-02-10")
                try log.append(.supply(.received(sku: "h\(i % 3)", quantity: Int64(1 + i))), "2024-02-10")
            }
            try ReportHistory.extend(on: db, pageSize: 2, segmentPositions: 2, segmentPageRows: 1)
            let instants = try db.query("SELECT recorded_at FROM events ORDER BY position").map { try $0.decode(Timestamp.self, at: 0) }
            var answered = 0
            for instant in instants { answered += try Self.expectSame(db, ReportView(knownAt: instant)) }
            #expect(answered > 0)
            // Known at the seventh event: a segment ends at the sixth or before, the rest is put in.
            let view = ReportView(knownAt: instants[6])
            func labs() throws -> String? {
                try ReportHistory.segmentPages(.labs, view, .csv, on: db).map { pages in
                    pages.map { page in page.withText { String(decoding: $0, as: UTF8.self) } }.joined()
                }
            }
            let before = try labs()
            #expect(before?.contains("lab-b,Lab B,Osaka") == true, "\(before ?? "nil")")
            try db.query("UPDATE projections.segment_pages SET csv = replace(csv, 'Lab B', 'Bal B') WHERE projection = 'labs'")
            #expect(try labs()?.contains("lab-b,Bal B,Osaka") == true)
            // Without pages: the rows answer (nil here); the next extend pages the segments again.
            try db.query("DELETE FROM projections.paged_segments")
            #expect(try labs() == nil)
            try Self.expectSame(db, view)
            try ReportHistory.extend(on: db, pageSize: 2, segmentPositions: 2, segmentPageRows: 1)
            #expect(try labs() == before)
            // More rows than a page holds: pages split, every key on one page.
            for sku in ["a1", "a2", "a3", "a4", "a5"] { try log.append(.supply(.received(sku: sku, quantity: 1)), "2024-02-11") }
            try ReportHistory.extend(on: db, pageSize: 2, segmentPositions: 2, segmentPageRows: 1)
            #expect(try db.query("SELECT count(DISTINCT first_key)::int FROM reporting.segment_pages WHERE projection = 'supply'")[0].decode(Int.self, at: 0) > 2)
            for instant in try db.query("SELECT recorded_at FROM events ORDER BY position").map({ try $0.decode(Timestamp.self, at: 0) }) {
                try Self.expectSame(db, ReportView(knownAt: instant))
            }
        }
    }

    /// Pages measured from their bytes (`PageLines`) are the pages `ReportPage` renders.
    @Test func cellsMeasuredFromTheirBytesAreMeasuredAsTheirText() {
        let cells = [
            "", "0", "-12", "1,250.50", "¥4,500,000", "$1,250.50", "€3", "£4.5", "1,250.50 CNY", "12 cny", "1.2.3", "-", "¥",
            "ソフトバンク", "e\u{301}", "ab", "12 ABCD", "12 AB", "12 ÅBC", "-¥5", "¥-5", ".5", "5.", "1,,2", "5 ABC\u{301}", "¥\u{301}5",
        ]
        for cell in cells {
            var text = cell
            text.withUTF8 { bytes in
                #expect(ReportText.looksNumeric(utf8: bytes) == ReportText.looksNumeric(cell), "\(cell)")
                #expect(ReportText.displayWidth(utf8: bytes) == ReportText.displayWidth(cell), "\(cell)")
            }
        }
    }

    /// A page's rows are its CSV rows (a newline inside a quoted field does not end one), each
    /// keyed by its first field; changes replace, add and remove rows in key order.
    @Test func pageLinesSplitAtRowsAndMergeChangesInKeyOrder() throws {
        var csv = "a,1\n\"b,\"\"x\",\"two\nlines\"\nc,3\n"
        var cells = "a\u{1F}1\nb\u{1F}two lines\nc\u{1F}3\n"
        let lines: [PageLine] = try csv.withUTF8 { csv in try cells.withUTF8 { cells in try PageLines.split(csv: csv, cells: cells) } }
        #expect(lines.map(\.key) == ["a", "b,\"x", "c"])
        #expect(lines.map { String(decoding: $0.csv, as: UTF8.self) }.joined() == csv)
        func line(_ key: String) -> PageLine { PageLine(key: key, csv: Array("\(key),9\n".utf8), cells: Array("\(key)\u{1F}9\n".utf8)) }
        let merged: [PageLine] = PageLines.merge(lines, with: [("b,\"x", nil), ("bb", line("bb")), ("c", line("c")), ("d", line("d"))])
        #expect(merged.map(\.key) == ["a", "bb", "c", "d"])
        let page = PageLines.page(firstKey: "", lines: merged[...], columnCount: 2)
        #expect(page.csv == "a,1\nbb,9\nc,9\nd,9\n")
        #expect(page.widths == [2, 1])
        #expect(page.numeric == [false, true])
        #expect(PageLines.pages(firstKey: "", lines: merged, changes: [], pageRows: 1, columnCount: 2).map(\.firstKey) == ["", "bb", "c"])
    }

    /// An event recorded (its transaction started) before events that take earlier places in
    /// the log lands in a later segment; known at its recorded time, it counts, and the events
    /// recorded after that, in the segments between, do not.
    @Test func anEventRecordedBeforeItsPlaceInTheLogCountsKnownAtItsTimeFromALaterSegment() throws {
        try Self.withSnapshottedLedger { db, log, url in
            let slow = try PostgresConnection(url: url)
            // The transaction starts (its recorded time) but takes its place in the log only
            // when it writes, after the others.
            try slow.execute(script: "BEGIN; SELECT now()")
            let started = try slow.query("SELECT now()")[0].decode(Timestamp.self, at: 0)
            for quantity in [1, 2, 3] as [Int64] { try log.append(.supply(.received(sku: "h100", quantity: quantity)), "2024-02-12") }
            try ReportHistory.extend(on: db, pageSize: 1, segmentPositions: 1)
            try RawLog(slow).append(.lab(.expenseRecorded(lab: "lab-a", category: .staff, amount: yen(7), description: nil)), "2024-02-13")
            try slow.execute(script: "COMMIT")
            try log.append(.supply(.received(sku: "h100", quantity: 100)), "2024-02-14")
            try ReportHistory.extend(on: db, pageSize: 1, segmentPositions: 1)
            let late = try db.query("SELECT recorded_at FROM events WHERE type = 'lab.expense_recorded' ORDER BY position DESC LIMIT 1")[0]
                .decode(Timestamp.self, at: 0)
            #expect(late == started)
            #expect(try db.query("SELECT count(*)::int FROM reporting.history_segments WHERE min_recorded_at <= $1::timestamptz AND max_recorded_at > $1::timestamptz", [late])[0].decode(Int.self, at: 0) >= 1)
            let view = ReportView(knownAt: late)
            #expect(try Self.spent(db, view) == 107)
            #expect(try ReportReader(connection: db).supply(view).first?.received == 10)
            try Self.expectSame(db, view)
            try Self.expectSame(db, ReportView(asOf: try Day("2024-02-29"), knownAt: late))
        }
    }

    /// A transaction that took an earlier place in the log commits after the history was
    /// extended past a later one: the history stops before it, and readers fold it in.
    @Test func anEventCommittingLateAroundTheHistoryHorizonIsNeverSkipped() throws {
        try Self.withSnapshottedLedger { db, log, url in
            let slow = try PostgresConnection(url: url)
            try slow.execute(script: "BEGIN")
            // Another stream than the later writer's (the same one would wait on its version).
            let late = RawLog(slow)
            try late.append(.supply(.received(sku: "a100", quantity: 30)), "2024-02-03")
            try log.append(.supply(.received(sku: "h100", quantity: 4)), "2024-02-04")
            func received(_ day: String) throws -> [String: Int64] {
                Dictionary(uniqueKeysWithValues: try ReportReader(connection: db, readable: true)
                    .supply(ReportView(asOf: try Day(day))).map { ($0.sku, $0.received) })
            }
            let covered = try Self.historyCheckpoint(db)
            try ReportHistory.extend(on: db)
            // Held back by the open transaction: neither is in the history yet.
            #expect(try Self.historyCheckpoint(db) == covered)
            #expect(try received("2024-02-29") == ["h100": 14])
            try slow.execute(script: "COMMIT")
            #expect(try received("2024-02-29") == ["h100": 14, "a100": 30])
            try ReportHistory.extend(on: db)
            #expect(try Self.historyCheckpoint(db) > covered)
            #expect(try received("2024-02-29") == ["h100": 14, "a100": 30])
            #expect(try received("2024-02-03") == ["a100": 30])
            try Self.expectSame(db, ReportView(asOf: try Day("2024-02-03")))
        }
    }

    @Test func asIssuedReadsTheCopyStoredAtTheCloseAndFallsBackWithoutIt() throws {
        try Self.withSnapshottedLedger { db, log, _ in
            let close = try log.close(through: "2024-02-29")
            let tx = try db.query("SELECT transaction_id::text::bigint FROM events WHERE position = $1", [close])[0]
                .decode(Int64.self, at: 0)
            let view = ReportView(asOf: try Day("2024-02-29"), through: Checkpoint(transactionID: UInt64(tx), position: close))
            #expect(try Self.spent(db, view) == 100)  // folded: no copy yet
            #expect(try ReportHistory.storeIssuedReports(on: db) == 1)
            #expect(try ReportHistory.storeIssuedReports(on: db) == 0)
            // Later entries dated inside the period (after a reopen) do not change it.
            try log.append(.lab(.expenseRecorded(lab: "lab-a", category: .staff, amount: yen(9), description: nil)), "2024-02-15")
            try ReportHistory.extend(on: db)
            #expect(try Self.spent(db, view) == 100)
            #expect(try Self.spent(db, ReportView(asOf: try Day("2024-02-29"))) == 109)
            // The copy is what is read: changing it changes the answer (so the test can fail).
            try db.query("UPDATE projections.issued_reports SET state = jsonb_set(state, '{spent}', '\"1\"') WHERE projection = 'labs'")
            #expect(try Self.spent(db, view) == 1)
        }
    }

    /// As of a date on or after every event, or known at an instant after every one, a
    /// report is the projection's rows with the log after its checkpoint folded on top.
    @Test func aReportAsOfEveryEventReadsTheProjectionsRowsAndFoldsTheRestOnTop() throws {
        try Self.withSnapshottedLedger { db, log, _ in
            try ProjectionRunner(connection: db).runOnce()
            let later = ReportView(asOf: try Day("2099-12-31")), lastDate = ReportView(asOf: try Day("2024-02-11"))
            func latest() throws -> ReportView {
                ReportView(knownAt: try db.query("SELECT max(recorded_at) FROM events")[0].decode(Timestamp.self, at: 0))
            }
            #expect(try Self.spent(db, later) == 100)
            // The projection's row is what is read: changing it changes the answer (so the test can fail).
            try db.query("UPDATE projections.labs SET spent = 1")
            #expect(try Self.spent(db, later) == 1)
            #expect(try Self.spent(db, lastDate) == 1)
            #expect(try Self.spent(db, try latest()) == 1)
            // Not as of a day before an event the rows hold (the expense of 2024-02-10 counts
            // there, the receipt of 2024-02-11 would not), nor known at an earlier instant.
            #expect(try Self.spent(db, ReportView(asOf: try Day("2024-02-10"))) == 100)
            let second = try db.query("SELECT recorded_at FROM events ORDER BY position LIMIT 1 OFFSET 1")[0].decode(Timestamp.self, at: 0)
            #expect(try Self.spent(db, ReportView(knownAt: second)) == 100)
            try db.query("UPDATE projections.labs SET spent = 100")
            // Events after the projection's checkpoint are folded on top, as the view selects them.
            let expense = try log.append(
                .lab(.expenseRecorded(lab: "lab-a", category: .staff, amount: yen(5), description: nil)), "2024-03-01")
            #expect(try Self.spent(db, later) == 105)
            #expect(try Self.spent(db, lastDate) == 100)
            try Self.expectSame(db, later)
            try Self.expectSame(db, try latest())
            // The projection ahead of the history: the events between them are checked too.
            let runner = ProjectionRunner(connection: db)
            runner.keepsHistory = false
            try runner.runOnce()
            #expect(try Self.historyCheckpoint(db) < ProjectionSQL.checkpoint(of: .labs, on: db).position)
            try db.query("UPDATE projections.labs SET spent = 1")
            #expect(try Self.spent(db, later) == 1)
            #expect(try Self.spent(db, ReportView(asOf: try Day("2024-02-29"))) == 100)
            try db.query("UPDATE projections.labs SET spent = 105")
            // A reversal after the checkpoint folds its row again from its events.
            try log.reverse(expense, "2024-03-02")
            #expect(try Self.spent(db, later) == 100)
            #expect(try Self.spent(db, ReportView(asOf: try Day("2024-03-01"))) == 105)
            for view in [later, lastDate, try latest(), ReportView(asOf: try Day("2024-03-01"))] { try Self.expectSame(db, view) }
        }
    }

    /// Mid-month, a row whose month is ordered is its previous month end's state folded on
    /// with the month's events dated by then, read by position; a back-dated event or a
    /// reversal in the month makes it fold the row again, as before.
    @Test func midMonthARowIsItsPreviousMonthEndFoldedOnWithTheMonthsEvents() throws {
        try Self.withSnapshottedLedger { db, log, _ in
            @discardableResult func expense(_ amount: Int64, _ date: String) throws -> Int64 {
                try log.append(.lab(.expenseRecorded(lab: "lab-a", category: .staff, amount: yen(amount), description: nil)), date)
            }
            func march() throws -> (ordered: Bool, positions: String?) {
                let row = try db.query(
                    "SELECT ordered, positions::text FROM projections.report_history WHERE projection = 'labs' AND month = '2024-03-31'")[0]
                return (try row.decode(Bool.self, at: 0), try row.decode(String?.self, at: 1))
            }
            let first = try expense(5, "2024-03-05"), second = try expense(7, "2024-03-20")
            try ReportHistory.extend(on: db)
            #expect(try march() == (true, "{\(first),\(second)}"))
            let tenth = ReportView(asOf: try Day("2024-03-10")), later = ReportView(asOf: try Day("2024-03-25"))
            #expect(try Self.spent(db, tenth) == 105)
            #expect(try Self.spent(db, later) == 112)
            // The positions are what is read (so the test can fail).
            try db.query("UPDATE projections.report_history SET positions = ARRAY[\(second)::bigint] WHERE projection = 'labs' AND month = '2024-03-31'")
            #expect(try Self.spent(db, later) == 107)
            try db.query("UPDATE projections.report_history SET positions = ARRAY[\(first), \(second)]::bigint[] WHERE projection = 'labs' AND month = '2024-03-31'")
            // Events after the history are folded on top.
            try expense(1, "2024-03-08")
            #expect(try Self.spent(db, tenth) == 106)
            try Self.expectSame(db, tenth)
            // An event dated before March, recorded after March's: March is no longer ordered.
            try expense(9, "2024-02-15")
            try ReportHistory.extend(on: db)
            #expect(try march().ordered == false)
            #expect(try Self.spent(db, tenth) == 115)
            try Self.expectSame(db, tenth)
            // April: ordered, then a reversal dated in it of a March expense.
            try expense(3, "2024-04-03")
            try ReportHistory.extend(on: db)
            let aprilView = ReportView(asOf: try Day("2024-04-10"))
            #expect(try Self.spent(db, aprilView) == 125)
            try log.reverse(first, "2024-04-05")
            #expect(try Self.spent(db, aprilView) == 120)
            try ReportHistory.extend(on: db)
            #expect(try db.query(
                "SELECT ordered FROM projections.report_history WHERE projection = 'labs' AND month = '2024-04-30'")[0]
                .decode(Bool.self, at: 0) == false)
            for day in ["2024-03-04", "2024-03-10", "2024-04-04", "2024-04-05", "2024-04-10"] {
                try Self.expectSame(db, ReportView(asOf: try Day(day)))
            }
            #expect(try Self.spent(db, ReportView(asOf: try Day("2024-04-04"))) == 125)
            #expect(try Self.spent(db, aprilView) == 120)
        }
    }

    /// A history kept before Schema/019 (no latest business date, no positions) migrates to
    /// one that answers exactly: 019 reads the latest business date of the events it covers,
    /// and its entries, having no positions, are folded again mid-month as before.
    @Test func aHistoryKeptBefore019MigratesAndAnswersExactly() throws {
        try TestDatabase.with(migrated: false) { url in
            let db = try PostgresConnection(url: url)
            let head = try Migrator(directory: TestDatabase.schemaDirectory)
            try Migrator(migrations: head.migrations.filter { $0.version < 19 }).migrate(db)
            let log = RawLog(db)
            try log.append(.lab(.planned(lab: "lab-a", name: "Lab", city: "Tokyo", budget: yen(1_000_000))), "2024-02-05")
            try log.append(.lab(.expenseRecorded(lab: "lab-a", category: .compute, amount: yen(100), description: nil)), "2024-02-10")
            try log.append(.lab(.expenseRecorded(lab: "lab-a", category: .staff, amount: yen(7), description: nil)), "2024-02-20")
            try log.append(.supply(.received(sku: "h100", quantity: 10)), "2024-03-05")
            let runner = ProjectionRunner(connection: db)
            runner.keepsHistory = false
            try runner.runOnce()
            // The history as 015's projector kept it: each row's month-end state, and its checkpoint.
            try db.execute(script: """
                INSERT INTO projections.report_history (projection, key, month, gone, state)
                SELECT 'labs', lab, '2024-02-29', false, to_jsonb(l) FROM projections.labs l;
                INSERT INTO projections.report_history (projection, key, month, gone, state)
                SELECT 'supply', sku, '2024-03-31', false, to_jsonb(s) FROM projections.supply s;
                UPDATE projections.history_checkpoint SET
                    transaction_id = (SELECT transaction_id::text::bigint FROM events ORDER BY position DESC LIMIT 1),
                    position = (SELECT max(position) FROM events), max_recorded_at = (SELECT max(recorded_at) FROM events);
                """)
            let covered = try Self.historyCheckpoint(db)
            try head.migrate(db)
            #expect(try db.query("SELECT max_business_date::text FROM reporting.history_checkpoint")[0].decode(String.self, at: 0) == "2024-03-05")
            #expect(try db.query("SELECT count(*)::int FROM reporting.report_history WHERE NOT ordered AND positions IS NULL")[0]
                .decode(Int.self, at: 0) == 2)
            #expect(try Self.historyCheckpoint(db) == covered)
            let views = [
                ReportView(asOf: try Day("2024-02-15")), ReportView(asOf: try Day("2024-02-29")), ReportView(asOf: try Day("2024-03-04")),
                ReportView(asOf: try Day("2099-12-31")),
                ReportView(knownAt: try db.query("SELECT max(recorded_at) FROM events")[0].decode(Timestamp.self, at: 0)),
            ]
            #expect(try Self.spent(db, views[0]) == 100)
            for view in views { try Self.expectSame(db, view) }
            // The next run carries on from it.
            try log.append(.lab(.expenseRecorded(lab: "lab-a", category: .staff, amount: yen(5), description: nil)), "2024-02-25")
            try ProjectionRunner(connection: db).runOnce()
            #expect(try Self.historyCheckpoint(db) > covered)
            #expect(try Self.spent(db, ReportView(asOf: try Day("2024-02-26"))) == 112)
            for view in views { try Self.expectSame(db, view) }
        }
    }

    /// A database with no history yet (upgraded from before 015) answers by folding, and the
    /// next run builds the history.
    @Test func withoutAHistoryReportsFoldTheLogAndTheNextRunBuildsIt() throws {
        try TestDatabase.with { url in
            let db = try PostgresConnection(url: url)
            let log = RawLog(db)
            try log.append(.supply(.received(sku: "h100", quantity: 10)), "2024-02-11")
            try log.append(.supply(.received(sku: "h100", quantity: 5)), "2024-03-11")
            #expect(try Self.historyCheckpoint(db) == 0)
            #expect(try ReportReader(connection: db).supply(ReportView(asOf: try Day("2024-02-29"))).first?.received == 10)
            _ = try catchUp(db)
            #expect(try Self.historyCheckpoint(db) > 0)
            #expect(try db.query("SELECT count(*)::int FROM projections.report_history WHERE projection = 'supply'")[0].decode(Int.self, at: 0) == 2)
            #expect(try ReportReader(connection: db).supply(ReportView(asOf: try Day("2024-02-29"))).first?.received == 10)
            #expect(try ReportReader(connection: db).supply(ReportView(asOf: try Day("2024-03-31"))).first?.received == 15)
        }
    }
}
