/// `ledger lab plan`
public enum PlanLab: CommandSpec {
    public static let name = "lab.plan"
    public static let abstract = "Plan a lab with a budget in one currency."
    public static let example = """
        ledger lab plan --lab tokyo-ai-lab --name "Tokyo AI Research Lab" --city Tokyo \\
          --budget 3000000000 --currency JPY
        """
    public static let flags: [CommandFlag] = [
        .required("lab", .id, "Lab id (slug)."),
        .required("name", .text, "Lab name."),
        .required("city", .text, "City."),
        .required("budget", .money(positive: false), "Budget in major units."),
        .required("currency", .currency, "Currency of the budget."),
        .businessDate,
    ]
    public static let events = ["lab.planned"]
    public static func action(_ a: CommandArguments) -> LedgerCommand.Action {
        .lab(id: a.id("lab"), .plan(name: a.text("name"), city: a.text("city"), budget: a.money("budget")), date: a.date)
    }
}

/// `ledger lab add-partner`
public enum AddLabPartner: CommandSpec {
    public static let name = "lab.add-partner"
    public static let abstract = "Add a research partner (each once)."
    public static let example = #"ledger lab add-partner --lab tokyo-ai-lab --partner "University of Tokyo""#
    public static let flags: [CommandFlag] = [
        .required("lab", .id, "Lab id."),
        .required("partner", .text, "Partner name."),
        .businessDate,
    ]
    public static let events = ["lab.partner_added"]
    public static func action(_ a: CommandArguments) -> LedgerCommand.Action {
        .lab(id: a.id("lab"), .addPartner(partner: a.text("partner")), date: a.date)
    }
}

/// `ledger lab raise-budget`
public enum RaiseLabBudget: CommandSpec {
    public static let name = "lab.raise-budget"
    public static let abstract = "Raise the lab budget, with a reason."
    public static let example =
        #"ledger lab raise-budget --lab tokyo-ai-lab --amount 500000000 --currency JPY --reason "second GPU hall""#
    public static let flags: [CommandFlag] = [
        .required("lab", .id, "Lab id."),
        .required("amount", .money(positive: true), "Increase in major units."),
        .required("currency", .currency, "Currency of the budget."),
        .required("reason", .text, "Why the budget grows."),
        .businessDate,
    ]
    public static let events = ["lab.budget_raised"]
    public static func action(_ a: CommandArguments) -> LedgerCommand.Action {
        .lab(id: a.id("lab"), .raiseBudget(amount: a.money("amount"), reason: a.text("reason")), date: a.date)
    }
}

/// `ledger lab expense`
public enum RecordLabExpense: CommandSpec {
    public static let name = "lab.expense"
    public static let abstract = "Record lab spending by category (never beyond the budget)."
    public static let example = """
        ledger lab expense --lab tokyo-ai-lab --category compute --amount 120000000 --currency JPY \\
          --description "H100 cluster lease, Q1"
        """
    public static let flags: [CommandFlag] = [
        .required("lab", .id, "Lab id."),
        .required("category", .choice(ExpenseCategory.self), "facility, equipment, staff, compute or other."),
        .required("amount", .money(positive: true), "Amount in major units."),
        .required("currency", .currency, "Currency of the budget."),
        .optional("description", .text, "What was bought."),
        .businessDate,
    ]
    public static let events = ["lab.expense_recorded"]
    public static func action(_ a: CommandArguments) -> LedgerCommand.Action {
        .lab(
            id: a.id("lab"),
            .recordExpense(category: a.choice("category"), amount: a.money("amount"), description: a.optionalText("description")),
            date: a.date)
    }
}

/// `ledger lab milestone`
public enum ReachLabMilestone: CommandSpec {
    public static let name = "lab.milestone"
    public static let abstract = "Record a milestone reached."
    public static let example = #"ledger lab milestone --lab tokyo-ai-lab --name "first cluster online" --date 2026-06-01"#
    public static let flags: [CommandFlag] = [
        .required("lab", .id, "Lab id."),
        .required("name", .text, "What was achieved."),
        .businessDate,
    ]
    public static let events = ["lab.milestone_reached"]
    public static func action(_ a: CommandArguments) -> LedgerCommand.Action {
        .lab(id: a.id("lab"), .reachMilestone(name: a.text("name")), date: a.date)
    }
}

/// `ledger lab open`
public enum OpenLab: CommandSpec {
    public static let name = "lab.open"
    public static let abstract = "Open the lab (once)."
    public static let example = "ledger lab open --lab tokyo-ai-lab --date 2026-07-01"
    public static let flags: [CommandFlag] = [.required("lab", .id, "Lab id."), .businessDate]
    public static let events = ["lab.opened"]
    public static func action(_ a: CommandArguments) -> LedgerCommand.Action {
        .lab(id: a.id("lab"), .open, date: a.date)
    }
}

/// `ledger lab close`
public enum CloseLab: CommandSpec {
    public static let name = "lab.close"
    public static let abstract = "Close the lab; nothing may follow."
    public static let example = "ledger lab close --lab tokyo-ai-lab"
    public static let flags: [CommandFlag] = [.required("lab", .id, "Lab id."), .businessDate]
    public static let events = ["lab.closed"]
    public static func action(_ a: CommandArguments) -> LedgerCommand.Action {
        .lab(id: a.id("lab"), .close, date: a.date)
    }
}
