/// What the team can do to an investment: commit to it in a round, pay tranches in, mark it
/// to fair value, and end it by an exit or a write-off.
public enum InvestmentCommand: Sendable, Equatable {
    /// `ownership` is a percentage as exact decimal text (`"12.5"`); `postMoney` is in the
    /// commitment's currency.
    case commit(startup: String, round: String, instrument: Instrument, amount: Money, ownership: String?, postMoney: Money?)
    case disburse(amount: Money)
    case mark(fairValue: Money)
    case exit(proceeds: Money)
    case writeOff(reason: String)
}
