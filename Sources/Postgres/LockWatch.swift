import Foundation
import Synchronization

/// Says what a session is waiting for when it waits on a lock: which lock, held by which
/// backend (PID, application, state), for how long.
///
/// A statement blocked by a lock is otherwise silent — a projection table locked by an open
/// `psql` makes `ledger projections run` sit there with no word. The watch runs on a thread
/// of its own and, only once `after` has passed (quick commands never pay for it), opens a
/// second connection and looks at the watched session once a second, reporting each new
/// wait once. It stops with the process or when `stop()` is called; a failure of its own
/// connection only ends the watch.
public final class LockWatch: Sendable {
    /// Shared with the watching thread.
    final class Flag: Sendable {
        let raised = Atomic<Bool>(false)
    }

    private let stopped = Flag()

    /// Starts watching the session with backend `pid`, reached with `url`.
    public init(
        url: String?, pid: Int32, after delay: Duration = .seconds(1), report: @escaping @Sendable (String) -> Void
    ) {
        let stopped = self.stopped
        let thread = Thread {
            Self.watch(url: url, pid: pid, delay: delay, stopped: stopped, report: report)
        }
        thread.stackSize = 1 << 20
        thread.start()
    }

    public func stop() { stopped.raised.store(true, ordering: .relaxed) }

    private static func sleep(_ duration: Duration, unless stopped: Flag) -> Bool {
        var left = duration
        while left > .zero {
            if stopped.raised.load(ordering: .relaxed) { return false }
            let slice = min(left, .milliseconds(100))
            Thread.sleep(forTimeInterval: Double(slice.components.attoseconds) / 1e18 + Double(slice.components.seconds))
            left -= slice
        }
        return !stopped.raised.load(ordering: .relaxed)
    }

    private static func watch(
        url: String?, pid: Int32, delay: Duration, stopped: Flag, report: (String) -> Void
    ) {
        guard sleep(delay, unless: stopped),
            let db = try? PostgresConnection(url: url, applicationName: "ledger lock watch")
        else { return }
        var last = ""
        while sleep(.zero, unless: stopped) {
            if let wait = try? db.query(Self.waitQuery, [Int(pid)], prepared: true).first,
                let what = try? wait.decode(String.self, at: 0),
                let seconds = try? wait.decode(Int64.self, at: 2)
            {
                let holders = (try? wait.decode(String?.self, at: 1)) ?? nil
                if what + (holders ?? "") != last {
                    last = what + (holders ?? "")
                    report(
                        "waiting for a lock on \(what)"
                            + (holders.map { ", held by \($0)" } ?? "")
                            + ", for \(seconds) s so far — it carries on when the lock is released "
                            + "(--lock-timeout gives up instead)")
                }
            } else if !db.isOpen {
                return
            } else {
                // The watched session ended (or the process moved on to another): stop.
                let alive = (try? db.query("SELECT 1 FROM pg_stat_activity WHERE pid = $1", [Int(pid)]).isEmpty == false) ?? false
                if !alive { return }
                last = ""
            }
            guard sleep(.seconds(1), unless: stopped) else { return }
        }
    }

    /// The lock the session waits for, who holds it, and how long it has waited.
    static let waitQuery = """
        SELECT coalesce(
                 (SELECT CASE WHEN l.relation IS NOT NULL THEN 'table ' || l.relation::regclass::text
                              WHEN l.locktype = 'advisory' THEN 'an advisory lock (a projection being updated)'
                              WHEN l.locktype = 'transactionid' THEN 'rows another transaction is changing'
                              ELSE l.locktype END
                  FROM pg_locks l WHERE l.pid = a.pid AND NOT l.granted LIMIT 1),
                 a.wait_event),
               (SELECT string_agg(format('PID %s (%s, %s%s)', b.pid,
                                         coalesce(nullif(b.application_name, ''), 'no application name'),
                                         coalesce(b.state, 'state unknown'),
                                         coalesce(', transaction open ' || round(extract(epoch FROM now() - b.xact_start))::text || ' s', '')),
                                  '; ')
                FROM pg_stat_activity b WHERE b.pid = ANY (pg_blocking_pids(a.pid))),
               round(extract(epoch FROM now() - coalesce(a.state_change, a.query_start)))::bigint
        FROM pg_stat_activity a
        WHERE a.pid = $1 AND a.wait_event_type = 'Lock'
        """
}
