import JSON

/// One row of the portfolio report: an investment's money figures. Computed here once, from
/// events alone, so the live projection, `--as-of` reports and `verify` cannot disagree.
public struct PortfolioPosition: Sendable, Equatable {
    public var investment: String
    public var startup: String
    public var round: String
    public var instrument: Instrument
    public var currency: Currency
    public var committed: Money
    /// Cost basis: the sum of disbursements.
    public var disbursed: Money
    public var latestMark: Money?
    public var proceeds: Money
    public var status: Investment.Status
    /// The startup's registered name. It is on the startup's stream, not the investment's:
    /// a fold that sees the registration (`Reports`) or the projections' lookup
    /// (`ProjectionTable.complete`) fills it in; nil until then.
    public var startupName: String?
    /// The ownership percentage as the commitment recorded it (`"3.5"`), and the post-money
    /// valuation (in the investment's currency); nil when not recorded.
    public var ownership: String?
    public var postMoney: Money?

    public init(
        investment: String, startup: String, round: String, instrument: Instrument, currency: Currency,
        committed: Money, disbursed: Money, latestMark: Money?, proceeds: Money, status: Investment.Status,
        startupName: String? = nil, ownership: String? = nil, postMoney: Money? = nil
    ) {
        self.investment = investment
        self.startup = startup
        self.round = round
        self.instrument = instrument
        self.currency = currency
        self.committed = committed
        self.disbursed = disbursed
        self.latestMark = latestMark
        self.proceeds = proceeds
        self.status = status
        self.startupName = startupName
        self.ownership = ownership
        self.postMoney = postMoney
    }

    /// The investment id an event touches, nil if it is not an investment event.
    public static func key(of event: LedgerEvent) -> String? {
        if case .investment(let e) = event.fact { return e.investment }
        return nil
    }

    /// A new row from a commitment; nil for any other event.
    public init?(startingWith event: LedgerEvent) {
        guard
            case .investment(.committed(let id, let startup, let round, let instrument, let amount, let ownership, let postMoney)) =
                event.fact
        else { return nil }
        self.init(
            investment: id, startup: startup, round: round, instrument: instrument, currency: amount.currency,
            committed: amount, disbursed: .zero(amount.currency), latestMark: nil, proceeds: .zero(amount.currency),
            status: .committed, ownership: ownership, postMoney: postMoney)
    }

    public mutating func apply(_ event: LedgerEvent) {
        guard case .investment(let e) = event.fact, e.investment == investment else { return }
        switch e {
        case .committed: break
        case .disbursed(_, let amount):
            disbursed = disbursed.plus(amount)
            if status == .committed { status = .active }
        case .marked(_, let fairValue): latestMark = fairValue
        case .exited(_, let amount):
            proceeds = proceeds.plus(amount)
            status = .exited
        case .writtenOff: status = .writtenOff
        }
    }

    /// The latest mark; before any mark, the cost basis; 0 once exited or written off.
    public var fairValue: Money {
        if status == .exited || status == .writtenOff { return .zero(currency) }
        return latestMark ?? disbursed
    }

    /// (fair value + proceeds) / cost basis with 2 decimals, rounded half up, computed in
    /// integers so it is exact; nil when nothing is disbursed.
    public var moic: String? {
        guard disbursed.minorUnits > 0 else { return nil }
        let numerator = fairValue.plus(proceeds).minorUnits
        guard numerator >= 0 else { return nil }
        return PortfolioPosition.ratio(UInt64(numerator), UInt64(disbursed.minorUnits))
    }

    /// n / d to 2 decimals, half up, exact for any 64-bit n and d > 0.
    static func ratio(_ n: UInt64, _ d: UInt64) -> String {
        var whole = n / d
        // remainder < d, so remainder × 100 / d < 100 and the wide division cannot overflow.
        var (hundredths, rest) = d.dividingFullWidth((n % d).multipliedFullWidth(by: 100))
        if rest >= d - rest { hundredths += 1 }
        if hundredths == 100 {
            whole += 1
            hundredths = 0
        }
        return "\(whole).\(hundredths < 10 ? "0" : "")\(hundredths)"
    }

    /// The report's columns, in the contract's order (the JSON keys), each with its value.
    public static let report = ReportColumns<PortfolioPosition>([
        .text("investment") { $0.investment }, .text("startup") { $0.startup }, .text("round") { $0.round },
        .text("instrument") { $0.instrument.rawValue }, .text("currency") { $0.currency.code },
        .money("committed") { $0.committed }, .money("disbursed") { $0.disbursed },
        .money("fair_value") { $0.fairValue }, .money("proceeds") { $0.proceeds },
        .optionalText("moic") { $0.moic }, .text("status") { $0.status.rawValue },
        .optionalText("startup_name") { $0.startupName }, .optionalText("ownership") { $0.ownership },
        .optionalMoney("post_money") { $0.postMoney },
    ])
}
