import JSON

// Full-fidelity saving of report rows, for projections that keep a row in one JSONB
// column: `savedState` is the report's `json` plus what the report derives its figures
// from (the latest mark, shipments, the cancelled flag), and `init(savedState:)` reads it back
// so that `init(savedState: row.savedState) == row`.

/// Reads typed values out of a saved row, naming the key in errors.
struct SavedStateReader {
    let row: String
    let members: [String: JSON]

    init(row: String, _ json: JSON) throws(RowDecodingError) {
        guard case .object(let members) = json else { throw RowDecodingError(row: row, reason: "not a JSON object") }
        self.row = row
        self.members = members
    }

    func fail(_ reason: String) -> RowDecodingError { RowDecodingError(row: row, reason: reason) }

    func string(_ key: String) throws(RowDecodingError) -> String {
        guard case .string(let value)? = members[key] else { throw fail("'\(key)' is missing or not a string") }
        return value
    }

    func int(_ key: String) throws(RowDecodingError) -> Int64 {
        guard let value = members[key]?.intValue else { throw fail("'\(key)' is missing or not an integer") }
        return value
    }

    func bool(_ key: String) throws(RowDecodingError) -> Bool {
        guard case .bool(let value)? = members[key] else { throw fail("'\(key)' is missing or not a boolean") }
        return value
    }

    func currency() throws(RowDecodingError) -> Currency {
        let code = try string("currency")
        do { return try Currency(code: code) } catch { throw fail(error.message) }
    }

    func money(_ text: String, _ currency: Currency) throws(RowDecodingError) -> Money {
        do { return try Money.parse(text, currency: currency) } catch { throw fail(error.message) }
    }

    func money(_ key: String) throws(RowDecodingError) -> Money { try money(try string(key), try currency()) }

    func enumeration<E: RawRepresentable>(_ key: String, _: E.Type) throws(RowDecodingError) -> E where E.RawValue == String {
        guard let value = E(rawValue: try string(key)) else { throw fail("'\(key)' has an unknown value") }
        return value
    }
}

extension PortfolioPosition {
    public var savedState: JSON {
        guard case .object(var members) = json else { return json }
        members["latest_mark"] = latestMark.map { .string($0.decimalString) } ?? .null
        return .object(members)
    }

    public init(savedState: JSON) throws(RowDecodingError) {
        let r = try SavedStateReader(row: "portfolio", savedState)
        let currency = try r.currency()
        var latestMark: Money?
        if case .string(let text)? = r.members["latest_mark"] { latestMark = try r.money(text, currency) }
        self.init(
            investment: try r.string("investment"), startup: try r.string("startup"), round: try r.string("round"),
            instrument: try r.enumeration("instrument", Instrument.self), currency: currency,
            committed: try r.money("committed"), disbursed: try r.money("disbursed"), latestMark: latestMark,
            proceeds: try r.money("proceeds"), status: try r.enumeration("status", Investment.Status.self))
    }
}

extension LabSummary {
    public var savedState: JSON { json }

    public init(savedState: JSON) throws(RowDecodingError) {
        let r = try SavedStateReader(row: "labs", savedState)
        let currency = try r.currency()
        guard let partners = r.members["partners"]?.arrayValue?.compactMap(\.stringValue),
            let milestoneItems = r.members["milestones"]?.arrayValue,
            let byCategory = r.members["spent_by_category"]?.objectValue
        else { throw r.fail("'partners', 'milestones' or 'spent_by_category' is missing") }
        var milestones: [Milestone] = []
        for item in milestoneItems {
            guard let name = item["name"]?.stringValue, let date = item["date"]?.stringValue else {
                throw r.fail("a milestone lacks its name or date")
            }
            do { milestones.append(Milestone(name: name, date: try Day(date))) } catch { throw r.fail(error.message) }
        }
        var spentByCategory: [ExpenseCategory: Money] = [:]
        for (key, value) in byCategory {
            guard let category = ExpenseCategory(rawValue: key), let text = value.stringValue else {
                throw r.fail("'spent_by_category' has an unknown category or amount")
            }
            spentByCategory[category] = try r.money(text, currency)
        }
        self.init(
            lab: try r.string("lab"), name: try r.string("name"), city: try r.string("city"), currency: currency,
            budget: try r.money("budget"), spent: try r.money("spent"), status: try r.enumeration("status", Lab.Status.self),
            partners: partners, milestones: milestones, spentByCategory: spentByCategory)
    }
}

extension OrderSummary {
    public var savedState: JSON {
        guard case .object(var members) = json else { return json }
        members["cancelled"] = .bool(cancelled)
        members["shipments"] = .object(shipments.mapValues { ["quantity": JSON($0.quantity), "delivered": .bool($0.delivered)] })
        return .object(members)
    }

    public init(savedState: JSON) throws(RowDecodingError) {
        let r = try SavedStateReader(row: "orders", savedState)
        guard let saved = r.members["shipments"]?.objectValue else { throw r.fail("'shipments' is missing") }
        var shipments: [String: Order.Shipment] = [:]
        for (id, value) in saved {
            guard let quantity = value["quantity"]?.intValue, let delivered = value["delivered"]?.boolValue else {
                throw r.fail("shipment \(id) lacks its quantity or delivered flag")
            }
            shipments[id] = Order.Shipment(quantity: quantity, delivered: delivered)
        }
        self.init(
            order: try r.string("order"), customer: try r.string("customer"), sku: try r.string("sku"),
            currency: try r.currency(), quantity: try r.int("quantity"), unitPrice: try r.money("unit_price"),
            allocated: try r.int("allocated"), shipped: try r.int("shipped"), delivered: try r.int("delivered"),
            invoiced: try r.money("invoiced"), paid: try r.money("paid"), cancelled: try r.bool("cancelled"),
            shipments: shipments)
    }
}

extension SupplyPosition {
    public var savedState: JSON { json }

    public init(savedState: JSON) throws(RowDecodingError) {
        let r = try SavedStateReader(row: "supply", savedState)
        self.init(sku: try r.string("sku"), received: try r.int("received"), allocated: try r.int("allocated"),
                  shipped: try r.int("shipped"))
    }
}
