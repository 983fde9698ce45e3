/// What the team can do to a research lab being set up: plan it with a budget, add
/// partners, raise the budget (with a reason), record expenses and milestones, open it once
/// and finally close it.
public enum LabCommand: Sendable, Equatable {
    case plan(name: String, city: String, budget: Money)
    case addPartner(partner: String)
    case raiseBudget(amount: Money, reason: String)
    case recordExpense(category: ExpenseCategory, amount: Money, description: String?)
    case reachMilestone(name: String)
    case open
    case close
}
