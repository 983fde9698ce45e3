import JSON

/// Facts about a lab, recorded on `lab-<id>`. `lab.expense_recorded` is at schema version 2:
/// version 1 had no category, and such expenses read as `other`.
public enum LabEvent: Sendable, Equatable {
    case planned(lab: String, name: String, city: String, budget: Money)
    case partnerAdded(lab: String, partner: String)
    case budgetRaised(lab: String, amount: Money, reason: String)
    case expenseRecorded(lab: String, category: ExpenseCategory, amount: Money, description: String?)
    case milestoneReached(lab: String, name: String)
    case opened(lab: String)
    case closed(lab: String)

    public var lab: String {
        switch self {
        case .planned(let id, _, _, _), .partnerAdded(let id, _), .budgetRaised(let id, _, _),
            .expenseRecorded(let id, _, _, _), .milestoneReached(let id, _), .opened(let id), .closed(let id):
            id
        }
    }

    public var type: String {
        switch self {
        case .planned: "lab.planned"
        case .partnerAdded: "lab.partner_added"
        case .budgetRaised: "lab.budget_raised"
        case .expenseRecorded: "lab.expense_recorded"
        case .milestoneReached: "lab.milestone_reached"
        case .opened: "lab.opened"
        case .closed: "lab.closed"
        }
    }

    var schemaVersion: Int { LedgerEvent.schemaVersion(of: type) }

    var payload: JSON {
        var p = PayloadBuilder(["lab": .string(lab)])
        switch self {
        case .planned(_, let name, let city, let budget):
            p.set("name", name)
            p.set("city", city)
            p.set("budget", budget)
        case .partnerAdded(_, let partner): p.set("partner", partner)
        case .budgetRaised(_, let amount, let reason):
            p.set("amount", amount)
            p.set("reason", reason)
        case .expenseRecorded(_, let category, let amount, let description):
            p.set("category", category.rawValue)
            p.set("amount", amount)
            p.set("description", description)
        case .milestoneReached(_, let name): p.set("name", name)
        case .opened, .closed: break
        }
        return p.json
    }

    static func decode(type: String, schemaVersion: Int, payload: EventPayload) throws(EventDecodingError) -> LabEvent? {
        guard type.hasPrefix("lab.") else { return nil }
        let r = try PayloadReader(type: type, payload: payload)
        let id = try r.string("lab")
        switch type {
        case "lab.planned":
            return .planned(lab: id, name: try r.string("name"), city: try r.string("city"),
                            budget: try r.money("budget", try r.currency()))
        case "lab.partner_added":
            return .partnerAdded(lab: id, partner: try r.string("partner"))
        case "lab.budget_raised":
            return .budgetRaised(lab: id, amount: try r.money("amount", try r.currency()), reason: try r.string("reason"))
        case "lab.expense_recorded":
            // Upcast: version 1 was recorded before expenses had categories.
            let category: ExpenseCategory
            switch schemaVersion {
            case 1:
                category = .other
            case 2:
                guard let parsed = ExpenseCategory(rawValue: try r.string("category")) else {
                    throw r.fail("'category' is not facility, equipment, staff, compute or other")
                }
                category = parsed
            default:
                throw r.fail("unknown schema version \(schemaVersion) (this program reads 1 and 2)")
            }
            return .expenseRecorded(lab: id, category: category, amount: try r.money("amount", try r.currency()),
                                    description: try r.optionalString("description"))
        case "lab.milestone_reached":
            return .milestoneReached(lab: id, name: try r.string("name"))
        case "lab.opened":
            return .opened(lab: id)
        case "lab.closed":
            return .closed(lab: id)
        default:
            return nil
        }
    }
}
