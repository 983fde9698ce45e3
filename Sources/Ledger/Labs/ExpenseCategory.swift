/// What a lab's money was spent on; reports break spending down by it.
public enum ExpenseCategory: String, Sendable, Equatable, Hashable, CaseIterable, Comparable, FlagChoice {
    case facility, equipment, staff, compute, other

    public init(parsing text: String) throws(ValueError) {
        guard let category = ExpenseCategory(rawValue: text) else {
            throw ValueError("'\(text)' is not an expense category — use facility, equipment, staff, compute or other")
        }
        self = category
    }

    public static func < (lhs: ExpenseCategory, rhs: ExpenseCategory) -> Bool { lhs.rawValue < rhs.rawValue }
}
