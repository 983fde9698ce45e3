import JSON

/// Facts about the books' periods, recorded on the one stream `periods`: a close locks every
/// business date on or before `through`; a reopen moves the lock back.
public enum PeriodEvent: Sendable, Equatable {
    /// `digest` is the log's digest object (`size, root, position, recorded_at`) taken just
    /// before the close, so what was issued can be proven later; kept as given.
    case closed(through: Day, reason: String?, digest: JSON)
    case reopened(through: Day, reason: String)

    public var type: String {
        switch self {
        case .closed: "period.closed"
        case .reopened: "period.reopened"
        }
    }

    public var through: Day {
        switch self {
        case .closed(let through, _, _), .reopened(let through, _): through
        }
    }

    var payload: JSON {
        switch self {
        case .closed(let through, let reason, let digest):
            var p = PayloadBuilder(["through": .string(through.description), "digest": digest])
            p.set("reason", reason)
            return p.json
        case .reopened(let through, let reason):
            return ["through": .string(through.description), "reason": .string(reason)]
        }
    }

    static func decode(type: String, payload: EventPayload) throws(EventDecodingError) -> PeriodEvent? {
        switch type {
        case "period.closed", "period.reopened":
            let r = try PayloadReader(type: type, payload: payload)
            let text = try r.string("through")
            guard let through = try? Day(text) else { throw r.fail("'through': '\(text)' is not a date") }
            if type == "period.closed" {
                return .closed(through: through, reason: try r.optionalString("reason"), digest: r["digest"] ?? .null)
            }
            return .reopened(through: through, reason: try r.string("reason"))
        default:
            return nil
        }
    }
}
