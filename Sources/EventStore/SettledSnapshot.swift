import Foundation
import Postgres

/// A snapshot in which the settled log is complete, for whole-log readers (`verify`, the
/// digest) that read in one snapshot.
///
/// `log_horizon()` counts a transaction of another database that ended after the snapshot
/// was taken as possibly ours (Schema/004_log_horizon.sql), and a repeatable-read snapshot
/// only ages: the longer it is used, the more such transactions end, and the lower the
/// horizon would be if asked again. So the horizon is taken once, first, and passed to every
/// query; and when committed events already lie at or above it (held back by a transaction
/// that was running when the snapshot was taken), the snapshot is dropped and taken again,
/// for up to `timeout` — as `EventStore.readAll` waits for such events — rather than report
/// the log shorter than it is.
public enum SettledSnapshot {
    public static func run<T>(
        on db: PostgresConnection, readOnly: Bool, timeout: Duration = .seconds(2),
        _ body: (PostgresConnection, _ horizon: String) throws -> T
    ) throws -> T {
        if db.isInTransaction { return try body(db, try horizon(db)) }
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        var pause: Duration = .milliseconds(2)
        while true {
            do {
                return try db.transaction(.repeatableRead) { db in
                    if readOnly { try db.execute(script: "SET TRANSACTION READ ONLY") }
                    let horizon = try horizon(db)
                        // The log's last event through the index (a range condition on xid8
                    // would be planned as a scan of the whole table).
                    let heldBack = try db.query(
                        """
                        SELECT coalesce((SELECT transaction_id FROM reporting.event_log
                                         ORDER BY transaction_id DESC, position DESC LIMIT 1) >= $1::xid8, false)
                        """, [horizon], prepared: true)[0].decode(Bool.self, at: 0)
                    if heldBack, clock.now < deadline { throw HeldBack() }
                    return try body(db, horizon)
                }
            } catch is HeldBack {
                pause.sleepThread()
                pause = min(pause * 2, .milliseconds(100))
            }
        }
    }

    private struct HeldBack: Error {}

    static func horizon(_ db: PostgresConnection) throws -> String {
        try db.query("SELECT log_horizon()::text", prepared: true)[0].decode(String.self, at: 0)
    }
}

extension SettledSnapshot {
    /// Calls `body` with every settled event after `after` (below `horizon`), in log order,
    /// at most `limit` of them, reading `columns` of `reporting.event_log` — in keyset pages
    /// that walk the (transaction_id, position) index. One query over the whole log would
    /// not: PostgreSQL has no statistics for xid8 and plans a sort of every row instead.
    /// In `body`, the row holds `columns` from index 2 (0 and 1 are the log place), and
    /// `at` is the event's checkpoint.
    public static func forEachEvent(
        on db: PostgresConnection, horizon: String, after: Checkpoint = .start, limit: Int64? = nil,
        columns: String, pageSize: Int = 20_000, _ body: (Row, _ at: Checkpoint) throws -> Void
    ) throws {
        try forEachPage(on: db, horizon: horizon, after: after, limit: limit, columns: columns, pageSize: pageSize) {
            rows in
            for row in rows {
                try body(
                    row,
                    Checkpoint(
                        transactionID: UInt64(try row.decode(Int64.self, at: 0)), position: try row.decode(Int64.self, at: 1)))
            }
        }
    }

    /// The same events as `forEachEvent`, a page (one whole result) at a time: a reader that
    /// hands pages to other threads gets one allocation per page instead of one per row,
    /// and asks for the next page while they work.
    public static func forEachPage(
        on db: PostgresConnection, horizon: String, after: Checkpoint = .start, limit: Int64? = nil,
        columns: String, pageSize: Int = 20_000, _ body: (Rows) throws -> Void
    ) throws {
        var cursor = after
        var left = limit ?? .max
        while left > 0 {
            let wanted = Int(min(Int64(pageSize), left))
            // Columns are this program's constants; every value is bound.
            let rows = try db.query(
                """
                SELECT transaction_id::text::bigint AS log_transaction, position AS log_position, \(columns)
                FROM reporting.event_log
                WHERE (transaction_id, position) > ($1::text::xid8, $2::bigint) AND transaction_id < $3::xid8
                ORDER BY event_log.transaction_id, event_log.position
                LIMIT $4
                """, [String(cursor.transactionID), cursor.position, horizon, wanted])
            guard let last = rows.last else { return }
            cursor = Checkpoint(
                transactionID: UInt64(try last.decode(Int64.self, at: 0)), position: try last.decode(Int64.self, at: 1))
            try body(rows)
            left -= Int64(rows.count)
            if rows.count < wanted { return }
        }
    }
}

extension Duration {
    /// Blocks the calling thread this long. The readers that wait for held-back events and
    /// the retries of a command run on threads (libpq blocks), not in tasks.
    public func sleepThread() {
        Thread.sleep(forTimeInterval: Double(components.seconds) + Double(components.attoseconds) / 1e18)
    }
}
