import JSON

/// One fact recorded in the ledger: what happened (a typed event of one aggregate) and its
/// business date. The event store keeps it as a type name, a schema version, a JSON payload
/// and the date; `decode` reads that back, upcasting older schema versions, so the rest of
/// the program only ever sees current, typed facts.
public struct LedgerEvent: Sendable, Equatable {
    /// The typed fact, by aggregate.
    public enum Fact: Sendable, Equatable {
        case startup(StartupEvent)
        case investment(InvestmentEvent)
        case lab(LabEvent)
        case supply(SupplyEvent)
        case order(OrderEvent)
        /// A correction (`entry.reversed`), on the stream of the event it reverses.
        case entry(EntryEvent)
        /// A period close or reopen, on stream `periods`.
        case period(PeriodEvent)
        case fx(FXEvent)
    }

    /// The business date: when it happened, as the user stated it (stored outside the payload).
    public var date: Day
    public var fact: Fact

    public init(date: Day, fact: Fact) {
        self.date = date
        self.fact = fact
    }

    /// `<aggregate>.<past_tense>`, e.g. `investment.committed`.
    public var type: String {
        switch fact {
        case .startup(let e): e.type
        case .investment(let e): e.type
        case .lab(let e): e.type
        case .supply(let e): e.type
        case .order(let e): e.type
        case .entry(let e): e.type
        case .period(let e): e.type
        case .fx(let e): e.type
        }
    }

    /// The current schema version of this type (`lab.expense_recorded` is 2, others 1).
    public var schemaVersion: Int {
        if case .lab(let e) = fact { return e.schemaVersion }
        return 1
    }

    /// snake_case keys; amounts as exact decimal strings with a `currency` key; quantities as
    /// JSON integers; the aggregate's id under its kind (`"order": "ntt-001"`).
    public var payload: JSON {
        switch fact {
        case .startup(let e): e.payload
        case .investment(let e): e.payload
        case .lab(let e): e.payload
        case .supply(let e): e.payload
        case .order(let e): e.payload
        case .entry(let e): e.payload
        case .period(let e): e.payload
        case .fx(let e): e.payload
        }
    }

    /// The stream this event belongs to; nil for a reversal, which goes on the stream of the
    /// event it reverses.
    public var stream: StreamName? {
        switch fact {
        case .startup(let e): .startup(e.startup)
        case .investment(let e): .investment(e.investment)
        case .lab(let e): .lab(e.lab)
        case .supply(let e): .supply(sku: e.sku)
        case .order(let e): .order(e.order)
        case .entry: nil
        case .period: .periods
        case .fx(let e): e.pair.stream
        }
    }

    /// Whether this event creates its aggregate's id (such an event can only be reversed
    /// once every later event of its stream is; the id then stays taken).
    public var createsStream: Bool {
        switch fact {
        case .startup(.registered), .investment(.committed), .lab(.planned), .order(.placed): true
        default: false
        }
    }

    /// Reads a stored event, upcasting older schema versions (a version 1
    /// `lab.expense_recorded` had no category and reads as `other`).
    public static func decode(type: String, schemaVersion: Int, date: Day, payload: JSON) throws(EventDecodingError) -> LedgerEvent {
        try decode(type: type, schemaVersion: schemaVersion, date: date, payload: .json(payload))
    }

    /// The same event from its payload object's members as written (`JSON.parseMembers`):
    /// `verify` reads every event this way, without building a dictionary for a few lookups.
    /// Gives what `decode(…payload: .object(members))` gives, error for error.
    public static func decode(type: String, schemaVersion: Int, date: Day, members: [(key: String, value: JSON)])
        throws(EventDecodingError) -> LedgerEvent
    {
        try decode(type: type, schemaVersion: schemaVersion, date: date, payload: .members(members))
    }

    static func decode(type: String, schemaVersion: Int, date: Day, payload: EventPayload) throws(EventDecodingError) -> LedgerEvent {
        let fact: Fact?
        if type.hasPrefix("lab.") {
            fact = try LabEvent.decode(type: type, schemaVersion: schemaVersion, payload: payload).map(Fact.lab)
        } else {
            guard schemaVersion == 1 else {
                throw EventDecodingError(type: type, reason: "unknown schema version \(schemaVersion) (this program reads 1)")
            }
            if let e = try OrderEvent.decode(type: type, payload: payload) {
                fact = .order(e)
            } else if let e = try SupplyEvent.decode(type: type, payload: payload) {
                fact = .supply(e)
            } else if let e = try InvestmentEvent.decode(type: type, payload: payload) {
                fact = .investment(e)
            } else if let e = try StartupEvent.decode(type: type, payload: payload) {
                fact = .startup(e)
            } else if let e = try EntryEvent.decode(type: type, payload: payload) {
                fact = .entry(e)
            } else if let e = try PeriodEvent.decode(type: type, payload: payload) {
                fact = .period(e)
            } else if let e = try FXEvent.decode(type: type, payload: payload) {
                fact = .fx(e)
            } else {
                fact = nil
            }
        }
        guard let fact else { throw EventDecodingError(type: type, reason: "unknown event type") }
        return LedgerEvent(date: date, fact: fact)
    }

    /// Every event type name, with its current schema version: the types the write
    /// commands declare they append (`CommandSpec.events`).
    public static let types: [(type: String, schemaVersion: Int)] = {
        var seen = Set<String>()
        return LedgerCommand.specs.flatMap { $0.events }.filter { seen.insert($0).inserted }
            .map { ($0, schemaVersion(of: $0)) }
    }()

    /// The schema version written for `type` now: 1, unless its payload changed shape (a
    /// `lab.expense_recorded` gained its category in version 2).
    static func schemaVersion(of type: String) -> Int {
        type == "lab.expense_recorded" ? 2 : 1
    }
}
