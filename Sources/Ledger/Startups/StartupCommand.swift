/// What the team can do to a startup in the ledger: register it, so that investments can
/// name it.
public enum StartupCommand: Sendable, Equatable {
    /// `country` is an ISO 3166-1 alpha-2 code, upper case.
    case register(name: String, sector: String?, country: String?)
}
