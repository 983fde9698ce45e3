/// `ledger reverse`
public enum ReverseEntry: CommandSpec {
    public static let name = "reverse"
    public static let abstract = "Reverse the command that appended an event (a correcting entry)."
    public static let discussion = """
        Events are never changed: a mistake is corrected by reversing the command that recorded \
        it — one entry.reversed per event it appended, each on that event's stream — and, where \
        needed, recording the right figure with the ordinary command. From the reversal's date on, \
        every report treats the reversed events as if they never happened (--as-of an earlier \
        date still shows them). Refused (65, nothing written): an unknown position, an event \
        already reversed, a reversal, a reversal that would break a rule (stock already \
        allocated, an invoice already paid, …), a date before the event's or in a closed period.
        """
    public static let example = #"ledger reverse --position 118 --reason "booked under equipment, was compute""#
    public static let flags: [CommandFlag] = [
        .required("position", .quantity, "Global position of an event of the command to reverse (see ledger events)."),
        .required("reason", .text, "Why (kept in the event)."),
        .businessDate,
    ]
    public static let events = ["entry.reversed"]
    public static func action(_ a: CommandArguments) -> LedgerCommand.Action {
        .reverse(position: a.quantity("position"), reason: a.text("reason"), date: a.date)
    }
}

/// `ledger period close`
public enum ClosePeriod: CommandSpec {
    public static let name = "period.close"
    public static let abstract = "Lock every business date on or before --through."
    public static let discussion = """
        From then on any command dated on or before that date is refused (65); a mistake in \
        the closed period is corrected by a reversal dated after it. The close stores the log's \
        digest, and `ledger report … --as-issued DATE` reproduces the reports as they stood at \
        this close. Closing through a date on or before the current close is refused (65).
        """
    public static let example = #"ledger period close --through 2026-09-30 --reason "Q3 2026 issued to investors""#
    public static let flags: [CommandFlag] = [
        .required("through", .day, "Last business date of the period (YYYY-MM-DD)."),
        .optional("reason", .text, "Why (kept in the event)."),
    ]
    public static let events = ["period.closed"]
    public static func action(_ a: CommandArguments) -> LedgerCommand.Action {
        .period(.close(through: a.day("through"), reason: a.optionalText("reason"), digest: .null), date: a.date)
    }
}

/// `ledger period reopen`
public enum ReopenPeriod: CommandSpec {
    public static let name = "period.reopen"
    public static let abstract = "Move the lock back to an earlier date, with a reason."
    public static let example = #"ledger period reopen --through 2026-06-30 --reason "auditor adjustment to Q3""#
    public static let flags: [CommandFlag] = [
        .required("through", .day, "The new end of the closed period (before the current one)."),
        .required("reason", .text, "Why (required)."),
    ]
    public static let events = ["period.reopened"]
    public static func action(_ a: CommandArguments) -> LedgerCommand.Action {
        .period(.reopen(through: a.day("through"), reason: a.text("reason")), date: a.date)
    }
}
