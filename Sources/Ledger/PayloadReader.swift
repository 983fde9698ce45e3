import JSON

/// A payload as the decoders read it: a parsed value, or an object's members in the order
/// written (`JSON.parseMembers`), which verify reads for every event: a payload has a handful
/// of members, so a look-up along them costs less than building a dictionary to look up in.
enum EventPayload {
    case json(JSON)
    case members([(key: String, value: JSON)])
}

/// Reads typed fields out of an event payload, turning any absence or malformation into an
/// `EventDecodingError` that names the event type and the field.
struct PayloadReader {
    let type: String
    private let dictionary: [String: JSON]
    private let list: [(key: String, value: JSON)]?

    init(type: String, payload: EventPayload) throws(EventDecodingError) {
        self.type = type
        switch payload {
        case .json(let json):
            guard case .object(let members) = json else {
                throw EventDecodingError(type: type, reason: "payload is not a JSON object")
            }
            dictionary = members
            list = nil
        case .members(let members):
            dictionary = [:]
            list = members
        }
    }

    /// The member named `key`, if any (`JSON.parseMembers` refuses a key given twice, as
    /// the parser does).
    subscript(key: String) -> JSON? {
        guard let list else { return dictionary[key] }
        for member in list where member.key == key { return member.value }
        return nil
    }

    func fail(_ reason: String) -> EventDecodingError { EventDecodingError(type: type, reason: reason) }

    func string(_ key: String) throws(EventDecodingError) -> String {
        guard case .string(let value)? = self[key] else { throw fail("'\(key)' is missing or not a string") }
        return value
    }

    func optionalString(_ key: String) throws(EventDecodingError) -> String? {
        switch self[key] {
        case nil, .null?: return nil
        case .string(let value)?: return value
        default: throw fail("'\(key)' is not a string")
        }
    }

    func quantity(_ key: String) throws(EventDecodingError) -> Int64 {
        guard case .number(let text)? = self[key], let value = Int64(text) else {
            throw fail("'\(key)' is missing or not an integer")
        }
        return value
    }

    func currency() throws(EventDecodingError) -> Currency {
        let code = try string("currency")
        do { return try Currency(code: code) } catch { throw fail(error.message) }
    }

    func money(_ key: String, _ currency: Currency) throws(EventDecodingError) -> Money {
        let text = try string(key)
        do { return try Money.parse(text, currency: currency) } catch { throw fail("'\(key)': \(error.message)") }
    }

    func optionalMoney(_ key: String, _ currency: Currency) throws(EventDecodingError) -> Money? {
        guard try optionalString(key) != nil else { return nil }
        return try money(key, currency)
    }
}

/// Builds an event payload: amounts as exact decimal strings, quantities as JSON integers,
/// absent optional fields left out.
struct PayloadBuilder {
    var members: [String: JSON] = [:]

    init(_ members: [String: JSON] = [:]) { self.members = members }

    mutating func set(_ key: String, _ value: String?) {
        if let value { members[key] = .string(value) }
    }

    mutating func set(_ key: String, _ money: Money?) {
        if let money {
            members[key] = .string(money.decimalString)
            members["currency"] = .string(money.currency.code)
        }
    }

    mutating func set(_ key: String, quantity: Int64) { members[key] = JSON(quantity) }

    var json: JSON { .object(members) }
}
