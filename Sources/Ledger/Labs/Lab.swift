/// A research lab being set up with institutes and universities: the decider state that
/// keeps spending within the budget. The budget only grows by an explicit raise with a
/// reason, so an overspend is always a visible decision; a lab opens once and a close is final.
public struct Lab: Sendable, Equatable {
    /// `planned` → `open` (once) → `closed` (final).
    public enum Status: String, Sendable, Equatable {
        case planned, open, closed
    }

    public let id: String
    public let currency: Currency
    public var budget: Money
    public var spent: Money
    public var status: Status
    public var partners: [String]

    /// Decides a lab command against the current state (nil: not planned yet).
    public static func decide(_ command: LabCommand, id: String, state: Lab?) throws(Rejection) -> [LabEvent] {
        if case .plan(let name, let city, let budget) = command {
            if state != nil { throw .alreadyExists("lab", id) }
            return [.planned(lab: id, name: name, city: city, budget: budget)]
        }
        guard let state else { throw .unknown("lab", id, create: "lab plan") }
        if state.status == .closed {
            throw Rejection(rule: "lab_closed", message: "lab \(id) is closed — nothing can be recorded after a close")
        }
        switch command {
        case .plan:
            preconditionFailure("handled above")
        case .addPartner(let partner):
            if state.partners.contains(partner) {
                throw Rejection(rule: "duplicate_partner", message: "\(partner) is already a partner of lab \(id)")
            }
            return [.partnerAdded(lab: id, partner: partner)]
        case .raiseBudget(let amount, let reason):
            try state.checkCurrency(amount)
            if state.budget.minorUnits.addingReportingOverflow(amount.minorUnits).overflow {
                throw .tooLarge("a budget of \(state.budget.formatted) + \(amount.formatted)")
            }
            return [.budgetRaised(lab: id, amount: amount, reason: reason)]
        case .recordExpense(let category, let amount, let description):
            try state.checkCurrency(amount)
            let (total, overflow) = state.spent.minorUnits.addingReportingOverflow(amount.minorUnits)
            if overflow || total > state.budget.minorUnits {
                throw Rejection(
                    rule: "overspend",
                    message: "lab \(id) would overspend: budget \(state.budget.formatted), spent \(state.spent.formatted), expense \(amount.formatted) — raise the budget first (ledger lab raise-budget)")
            }
            return [.expenseRecorded(lab: id, category: category, amount: amount, description: description)]
        case .reachMilestone(let name):
            return [.milestoneReached(lab: id, name: name)]
        case .open:
            if state.status == .open {
                throw Rejection(rule: "lab_already_open", message: "lab \(id) is already open — a lab opens once")
            }
            return [.opened(lab: id)]
        case .close:
            if state.status == .planned {
                throw Rejection(rule: "lab_not_open", message: "lab \(id) has not opened yet — open it first (ledger lab open)")
            }
            return [.closed(lab: id)]
        }
    }

    private func checkCurrency(_ amount: Money) throws(Rejection) {
        guard amount.currency == currency else {
            throw .currencyMismatch("lab", id, is: currency, got: amount.currency)
        }
    }

    /// Folds one event into the state.
    public static func evolve(_ state: Lab?, _ event: LabEvent) -> Lab? {
        if case .planned(let id, _, _, let budget) = event {
            return Lab(id: id, currency: budget.currency, budget: budget, spent: .zero(budget.currency),
                       status: .planned, partners: [])
        }
        guard var state else { return nil }
        switch event {
        case .planned, .milestoneReached: break
        case .partnerAdded(_, let partner): state.partners.append(partner)
        case .budgetRaised(_, let amount, _): state.budget = state.budget.plus(amount)
        case .expenseRecorded(_, _, let amount, _): state.spent = state.spent.plus(amount)
        case .opened: state.status = .open
        case .closed: state.status = .closed
        }
        return state
    }
}
