/// A business rule refused a command (the CLI exits 65). It keeps the rule's stable
/// snake_case code, for scripts and tests, and a one-line message in finance words with the
/// numbers involved and how to fix it, for people.
public struct Rejection: Error, Sendable, Equatable, CustomStringConvertible {
    /// Stable code of the rule, e.g. `over_disbursement`; part of the public surface.
    public let rule: String
    public let message: String

    public init(rule: String, message: String) {
        self.rule = rule
        self.message = message
    }

    public var description: String { message }
}

extension Rejection {
    /// Every rule code a command can be rejected with, so they can be listed and documented.
    public static let rules: [String] = [
        "already_exists", "unknown_id", "currency_mismatch", "amount_too_large",
        "over_disbursement", "investment_closed",
        "overspend", "lab_closed", "lab_already_open", "lab_not_open", "duplicate_partner",
        "order_cancelled", "over_allocation", "insufficient_supply", "over_shipment",
        "duplicate_shipment", "unknown_shipment", "already_delivered",
        "over_invoicing", "over_payment",
        "date_in_future", "date_before_creation", "period_closed", "period_already_closed", "period_not_closed",
        "unknown_position", "already_reversed", "cannot_reverse_reversal", "not_reversible", "reversal_before_event",
        "reversal_leaves_events", "missing_rate",
    ]

    static func participle(_ kind: String) -> String {
        switch kind {
        case "investment": "committed"
        case "lab": "planned"
        case "order": "placed"
        default: "registered"
        }
    }

    static func alreadyExists(_ kind: String, _ id: String) -> Rejection {
        let participle = participle(kind)
        return Rejection(
            rule: "already_exists", message: "\(kind) \(id) is already \(participle) — choose another id")
    }

    static func unknown(_ kind: String, _ id: String, create command: String) -> Rejection {
        Rejection(
            rule: "unknown_id",
            message: "\(kind) \(id) does not exist — \(verb(for: kind)) it first (ledger \(command))")
    }

    private static func verb(for kind: String) -> String {
        switch kind {
        case "startup": "register"
        case "investment": "commit"
        case "lab": "plan"
        case "order": "place"
        default: "create"
        }
    }

    static func currencyMismatch(_ kind: String, _ id: String, is expected: Currency, got: Currency) -> Rejection {
        Rejection(
            rule: "currency_mismatch",
            message:
                "\(kind) \(id) is in \(expected.code), not \(got.code) — give the amount in \(expected.code) (--currency \(expected.code))"
        )
    }

    static func tooLarge(_ what: String) -> Rejection {
        Rejection(rule: "amount_too_large", message: "\(what) is too large to record")
    }
}
