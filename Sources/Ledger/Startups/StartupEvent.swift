import JSON

/// Facts about a startup, recorded on `startup-<id>`.
public enum StartupEvent: Sendable, Equatable {
    case registered(startup: String, name: String, sector: String?, country: String?)

    public var startup: String {
        switch self { case .registered(let id, _, _, _): id }
    }

    public var type: String {
        switch self { case .registered: "startup.registered" }
    }

    var payload: JSON {
        switch self {
        case .registered(let startup, let name, let sector, let country):
            var p = PayloadBuilder(["startup": .string(startup), "name": .string(name)])
            p.set("sector", sector)
            p.set("country", country)
            return p.json
        }
    }

    static func decode(type: String, payload: EventPayload) throws(EventDecodingError) -> StartupEvent? {
        switch type {
        case "startup.registered":
            let r = try PayloadReader(type: type, payload: payload)
            return .registered(
                startup: try r.string("startup"), name: try r.string("name"),
                sector: try r.optionalString("sector"), country: try r.optionalString("country"))
        default:
            return nil
        }
    }
}
