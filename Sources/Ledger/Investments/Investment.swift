/// An investment in one startup's round: the decider state that guards the money.
/// Cash paid in (disbursed) never exceeds what was committed, one currency throughout, and
/// an exit or write-off is final — after it the holding no longer exists to pay into or mark.
public struct Investment: Sendable, Equatable {
    /// `committed` until cash is paid in, then `active`; `exited` and `written_off` are final.
    public enum Status: String, Sendable, Equatable {
        case committed, active, exited
        case writtenOff = "written_off"
    }

    public let id: String
    public let startup: String
    public let currency: Currency
    public var committed: Money
    /// Cost basis: the sum of disbursements.
    public var disbursed: Money
    public var status: Status

    public var isClosed: Bool { status == .exited || status == .writtenOff }

    /// Decides an investment command. `startupExists` tells whether the startup a commitment
    /// names is registered (read from its own stream).
    public static func decide(
        _ command: InvestmentCommand, id: String, state: Investment?, startupExists: Bool
    ) throws(Rejection) -> [InvestmentEvent] {
        if case .commit(let startup, let round, let instrument, let amount, let ownership, let postMoney) = command {
            if state != nil { throw .alreadyExists("investment", id) }
            guard startupExists else { throw .unknown("startup", startup, create: "startup register") }
            return [.committed(investment: id, startup: startup, round: round, instrument: instrument,
                               amount: amount, ownership: ownership, postMoney: postMoney)]
        }
        guard let state else { throw .unknown("investment", id, create: "invest commit") }
        if state.isClosed {
            let what = state.status == .exited ? "exited" : "written off"
            throw Rejection(
                rule: "investment_closed",
                message: "investment \(id) is \(what) — nothing can be recorded after an exit or a write-off")
        }
        switch command {
        case .commit:
            preconditionFailure("handled above")
        case .disburse(let amount):
            try state.checkCurrency(amount)
            let (total, overflow) = state.disbursed.minorUnits.addingReportingOverflow(amount.minorUnits)
            if overflow || total > state.committed.minorUnits {
                let remaining = Money(minorUnits: state.committed.minorUnits - state.disbursed.minorUnits, currency: state.currency)
                throw Rejection(
                    rule: "over_disbursement",
                    message: "cannot disburse \(amount.formatted) to investment \(id): committed \(state.committed.formatted), already disbursed \(state.disbursed.formatted) — at most \(remaining.formatted) remains to disburse")
            }
            return [.disbursed(investment: id, amount: amount)]
        case .mark(let fairValue):
            try state.checkCurrency(fairValue)
            return [.marked(investment: id, fairValue: fairValue)]
        case .exit(let proceeds):
            try state.checkCurrency(proceeds)
            return [.exited(investment: id, proceeds: proceeds)]
        case .writeOff(let reason):
            return [.writtenOff(investment: id, reason: reason)]
        }
    }

    private func checkCurrency(_ amount: Money) throws(Rejection) {
        guard amount.currency == currency else {
            throw .currencyMismatch("investment", id, is: currency, got: amount.currency)
        }
    }

    /// Folds one event into the state.
    public static func evolve(_ state: Investment?, _ event: InvestmentEvent) -> Investment? {
        if case .committed(let id, let startup, _, _, let amount, _, _) = event {
            return Investment(id: id, startup: startup, currency: amount.currency, committed: amount,
                              disbursed: .zero(amount.currency), status: .committed)
        }
        guard var state else { return nil }
        switch event {
        case .committed: break
        case .disbursed(_, let amount):
            state.disbursed = state.disbursed.plus(amount)
            if state.status == .committed { state.status = .active }
        case .marked: break
        case .exited: state.status = .exited
        case .writtenOff: state.status = .writtenOff
        }
        return state
    }
}
