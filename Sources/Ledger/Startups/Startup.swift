/// A startup the programme may invest in. Its only rule is that it exists once: investments
/// must name a registered startup so the portfolio never points at nobody.
public struct Startup: Sendable, Equatable {
    public let id: String
    public var name: String

    /// Decides a startup command against the current state (nil: not registered yet).
    public static func decide(_ command: StartupCommand, id: String, state: Startup?) throws(Rejection) -> [StartupEvent] {
        switch command {
        case .register(let name, let sector, let country):
            if state != nil { throw .alreadyExists("startup", id) }
            return [.registered(startup: id, name: name, sector: sector, country: country)]
        }
    }

    /// Folds one event into the state.
    public static func evolve(_ state: Startup?, _ event: StartupEvent) -> Startup? {
        switch event {
        case .registered(let id, let name, _, _):
            return Startup(id: id, name: name)
        }
    }
}
