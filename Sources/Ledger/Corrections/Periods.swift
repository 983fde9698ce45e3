import JSON

/// What a period command asks: close the books through a date, or move the lock back.
public enum PeriodCommand: Sendable, Equatable {
    /// `digest` is filled in by the application (the log's digest just before the close);
    /// it is not part of what the user typed, so it takes no part in idempotency.
    case close(through: Day, reason: String?, digest: JSON)
    case reopen(through: Day, reason: String)
}

/// The state of the `periods` stream: through which business date the books are closed.
///
/// Every write command reads it and refuses a business date on or before `closedThrough`;
/// the command handler also expects the stream's version on its append (and the append path
/// takes a lock a close waits for), so no write dated inside a period can commit after the
/// period's close, however the two race.
public struct Periods: Sendable, Equatable {
    /// The business dates on or before this one are locked; nil: nothing is closed.
    public var closedThrough: Day?

    public init(closedThrough: Day? = nil) { self.closedThrough = closedThrough }

    public static func decide(_ command: PeriodCommand, state: Periods, today: Day?) throws(Rejection) -> [PeriodEvent] {
        switch command {
        case .close(let through, let reason, let digest):
            if let today, through > today {
                throw Rejection(
                    rule: "date_in_future",
                    message: "cannot close the period through \(through): it has not ended (today is \(today))")
            }
            if let closed = state.closedThrough, through <= closed {
                throw Rejection(
                    rule: "period_already_closed",
                    message: "the books are already closed through \(closed) — close through a later date, or reopen first (ledger period reopen)")
            }
            return [.closed(through: through, reason: reason, digest: digest)]
        case .reopen(let through, let reason):
            guard let closed = state.closedThrough, through < closed else {
                throw Rejection(
                    rule: "period_not_closed",
                    message: state.closedThrough.map {
                        "cannot reopen through \(through): the books are closed through \($0) — give an earlier date"
                    } ?? "cannot reopen through \(through): no period is closed")
            }
            return [.reopened(through: through, reason: reason)]
        }
    }

    public static func evolve(_ state: Periods, _ event: PeriodEvent) -> Periods {
        Periods(closedThrough: event.through)
    }

    /// Refuses a business date inside the closed period.
    public func check(_ date: Day) throws(Rejection) {
        if let closed = closedThrough, date <= closed {
            throw Rejection(
                rule: "period_closed",
                message: "the period through \(closed) is closed — \(date) is inside it: date the entry after \(closed) (a mistake in a closed period is corrected by a reversal dated after it), or reopen the period (ledger period reopen)")
        }
    }
}
