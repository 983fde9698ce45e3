import JSON

/// A correcting fact: `entry.reversed`, recorded on the stream of the event it reverses.
///
/// The original stays in the log (events are never changed); every fold treats it as if it
/// had never happened from the reversal's business date on. The payload names the reversed
/// event by its global position, which is why the stream cannot be derived from the fact
/// alone: it is the reversed event's.
public enum EntryEvent: Sendable, Equatable {
    case reversed(reverses: Int64, reason: String)

    public var type: String {
        switch self { case .reversed: "entry.reversed" }
    }

    /// The position of the event this one reverses.
    public var reverses: Int64 {
        switch self { case .reversed(let position, _): position }
    }

    var payload: JSON {
        switch self {
        case .reversed(let position, let reason):
            return ["reverses": JSON(position), "reason": .string(reason)]
        }
    }

    static func decode(type: String, payload: EventPayload) throws(EventDecodingError) -> EntryEvent? {
        guard type == "entry.reversed" else { return nil }
        let r = try PayloadReader(type: type, payload: payload)
        return .reversed(reverses: try r.quantity("reverses"), reason: try r.string("reason"))
    }
}
