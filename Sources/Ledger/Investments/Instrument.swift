/// How an investment is made: a priced round (`equity`), a SAFE, or a convertible `note`.
/// The instrument decides which terms (ownership, post-money valuation) make sense.
public enum Instrument: String, Sendable, Equatable, CaseIterable, FlagChoice {
    case equity
    case safe
    case note

    public init(parsing text: String) throws(ValueError) {
        guard let instrument = Instrument(rawValue: text) else {
            throw ValueError("'\(text)' is not an instrument — use equity, safe or note")
        }
        self = instrument
    }
}
