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

    /// The report's columns, in the contract's order (the JSON keys), each with its value.
    /// Tables show partners joined, milestones as `name (date)` and spending as
    /// `compute ¥1,250,000; …` (categories with nothing spent left out).
    public static let report = ReportColumns<LabSummary>([
        .text("lab") { $0.lab }, .text("name") { $0.name }, .text("city") { $0.city },
        .text("currency") { $0.currency.code }, .money("budget") { $0.budget }, .money("spent") { $0.spent },
        .money("remaining") { $0.remaining }, .text("status") { $0.status.rawValue },
        .json("partners") { (.array($0.partners.map(JSON.string)), $0.partners.joined(separator: "; ")) },
        .json("milestones") {
            (.array($0.milestones.map { ["name": .string($0.name), "date": .string($0.date.description)] }),
             $0.milestones.map { "\($0.name) (\($0.date))" }.joined(separator: "; "))
        },
        .json("spent_by_category") { row in
            let spent = row.spentByCategory.sorted { $0.key.rawValue < $1.key.rawValue }
            return (.object(Dictionary(uniqueKeysWithValues: spent.map { ($0.key.rawValue, JSON.string($0.value.decimalString)) })),
                    spent.filter { !$0.value.isZero }.map { "\($0.key.rawValue) \($0.value.formatted)" }.joined(separator: "; "))
        },
    ])
}
