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
                    let heldBack = try db.query(
                        "SELECT EXISTS (SELECT 1 FROM reporting.event_log WHERE transaction_id >= $1::xid8)", [horizon],
                        prepared: true)[0].decode(Bool.self, at: 0)
                    if heldBack, clock.now < deadline { throw HeldBack() }
                    return try body(db, horizon)
                }
            } catch is HeldBack {
                let (seconds, attoseconds) = pause.components
                usleep(UInt32(seconds * 1_000_000 + attoseconds / 1_000_000_000_000))
                pause = min(pause * 2, .milliseconds(100))
            }
        }
    }

    private struct HeldBack: Error {}

    static func horizon(_ db: PostgresConnection) throws -> String {
        try db.query("SELECT log_horizon()::text", prepared: true)[0].decode(String.self, at: 0)
    }
}
