import JSON

/// One row of the labs report: a lab's budget, spending by category, partners and
/// milestones, folded from its events alone.
public struct LabSummary: Sendable, Equatable {
    /// A named achievement and the business date it was reached.
    public struct Milestone: Sendable, Equatable {
        public var name: String
        public var date: Day

        public init(name: String, date: Day) {
            self.name = name
            self.date = date
        }
    }

    public var lab: String
    public var name: String
    public var city: String
    public var currency: Currency
    public var budget: Money
    public var spent: Money
    public var status: Lab.Status
    public var partners: [String]
    public var milestones: [Milestone]
    /// Every category, zero where nothing was spent, so the keys are stable.
    public var spentByCategory: [ExpenseCategory: Money]

    public init(
        lab: String, name: String, city: String, currency: Currency, budget: Money, spent: Money,
        status: Lab.Status, partners: [String], milestones: [Milestone], spentByCategory: [ExpenseCategory: Money]
    ) {
        self.lab = lab
        self.name = name
        self.city = city
        self.currency = currency
        self.budget = budget
        self.spent = spent
        self.status = status
        self.partners = partners
        self.milestones = milestones
        self.spentByCategory = spentByCategory
    }

    /// The lab id an event touches, nil if it is not a lab event.
    public static func key(of event: LedgerEvent) -> String? {
        if case .lab(let e) = event.fact { return e.lab }
        return nil
    }

    /// A new row from a plan; nil for any other event.
    public init?(startingWith event: LedgerEvent) {
        guard case .lab(.planned(let id, let name, let city, let budget)) = event.fact else { return nil }
        let zero = Money.zero(budget.currency)
        self.init(
            lab: id, name: name, city: city, currency: budget.currency, budget: budget, spent: zero,
            status: .planned, partners: [], milestones: [],
            spentByCategory: Dictionary(uniqueKeysWithValues: ExpenseCategory.allCases.map { ($0, zero) }))
    }

    public mutating func apply(_ event: LedgerEvent) {
        guard case .lab(let e) = event.fact, e.lab == lab else { return }
        switch e {
        case .planned: break
        case .partnerAdded(_, let partner): partners.append(partner)
        case .budgetRaised(_, let amount, _): budget = budget.plus(amount)
        case .expenseRecorded(_, let category, let amount, _):
            spent = spent.plus(amount)
            spentByCategory[category] = (spentByCategory[category] ?? .zero(currency)).plus(amount)
        case .milestoneReached(_, let name): milestones.append(Milestone(name: name, date: event.date))
        case .opened: status = .open
        case .closed: status = .closed
        }
    }

    /// Budget − spent, never negative.
    public var remaining: Money {
        spent.minorUnits >= budget.minorUnits ? .zero(currency) : budget.minus(spent)
    }

    /// The contract's keys, in order: the report's columns.
    public static let columns = [
        "lab", "name", "city", "currency", "budget", "spent", "remaining", "status", "partners", "milestones",
        "spent_by_category",
    ]

    /// The row object of `ledger report labs --format json`.
    public var json: JSON {
        var byCategory: [String: JSON] = [:]
        for (category, amount) in spentByCategory { byCategory[category.rawValue] = .string(amount.decimalString) }
        return [
            "lab": .string(lab), "name": .string(name), "city": .string(city), "currency": .string(currency.code),
            "budget": .string(budget.decimalString), "spent": .string(spent.decimalString),
            "remaining": .string(remaining.decimalString), "status": .string(status.rawValue),
            "partners": .array(partners.map(JSON.string)),
            "milestones": .array(milestones.map { ["name": .string($0.name), "date": .string($0.date.description)] }),
            "spent_by_category": .object(byCategory),
        ]
    }
}
