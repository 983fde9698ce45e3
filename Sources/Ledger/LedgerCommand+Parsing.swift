extension LedgerCommand {
    /// The flags a write command takes: long names without the leading dashes.
    public struct Flags: Sendable, Equatable {
        public let required: [String]
        public let optional: [String]
    }

    /// Every write command with its flags, in the contract's order. `--date` is accepted by
    /// every command (default today), so that imports can carry the business date of any fact.
    public static let flags: [(name: String, flags: Flags)] = [
        ("startup.register", Flags(required: ["startup", "name"], optional: ["sector", "country"])),
        ("invest.commit", Flags(required: ["investment", "startup", "round", "instrument", "amount", "currency"],
                                optional: ["ownership", "post-money"])),
        ("invest.disburse", Flags(required: ["investment", "amount", "currency"], optional: [])),
        ("invest.mark", Flags(required: ["investment", "fair-value", "currency"], optional: [])),
        ("invest.exit", Flags(required: ["investment", "proceeds", "currency"], optional: [])),
        ("invest.write-off", Flags(required: ["investment", "reason"], optional: [])),
        ("lab.plan", Flags(required: ["lab", "name", "city", "budget", "currency"], optional: [])),
        ("lab.add-partner", Flags(required: ["lab", "partner"], optional: [])),
        ("lab.raise-budget", Flags(required: ["lab", "amount", "currency", "reason"], optional: [])),
        ("lab.expense", Flags(required: ["lab", "category", "amount", "currency"], optional: ["description"])),
        ("lab.milestone", Flags(required: ["lab", "name"], optional: [])),
        ("lab.open", Flags(required: ["lab"], optional: [])),
        ("lab.close", Flags(required: ["lab"], optional: [])),
        ("supply.receive", Flags(required: ["sku", "quantity"], optional: [])),
        ("order.place", Flags(required: ["order", "customer", "sku", "quantity", "unit-price", "currency"], optional: [])),
        ("order.allocate", Flags(required: ["order", "quantity"], optional: [])),
        ("order.ship", Flags(required: ["order", "shipment", "quantity"], optional: [])),
        ("order.deliver", Flags(required: ["order", "shipment"], optional: [])),
        ("order.invoice", Flags(required: ["order", "amount", "currency"], optional: [])),
        ("order.pay", Flags(required: ["order", "amount", "currency"], optional: [])),
        ("order.cancel", Flags(required: ["order", "reason"], optional: [])),
    ].map { ($0.0, Flags(required: $0.1.required, optional: $0.1.optional + ["date"])) }

    /// All write command names, for help and import.
    public static let names: [String] = flags.map(\.name)

    /// Parses a write command from its name (`"order.place"`) and flag values keyed by long
    /// flag name without dashes. A missing required flag, an unknown flag or a malformed
    /// value is bad usage: the error names the flag and says how to fix it. No `date` means
    /// `today`.
    public static func parse(name: String, fields: [String: String], today: Day) throws(ValueError) -> LedgerCommand {
        guard let spec = flags.first(where: { $0.name == name })?.flags else {
            throw ValueError("unknown command '\(name)' — use one of: \(names.joined(separator: ", "))")
        }
        let known = Set(spec.required + spec.optional)
        for key in fields.keys.sorted() where !known.contains(key) {
            throw ValueError(
                "--\(key): not a flag of \(name) — it takes \((spec.required + spec.optional).map { "--" + $0 }.joined(separator: ", "))")
        }
        for key in spec.required where fields[key] == nil {
            throw ValueError("--\(key): missing — \(name) needs \(spec.required.map { "--" + $0 }.joined(separator: ", "))")
        }
        let f = FieldReader(fields: fields)
        let date = try f.date(today: today)
        switch name {
        case "startup.register":
            return .startup(
                id: try f.id("startup"),
                .register(name: try f.text("name"), sector: try f.optionalText("sector"), country: try f.country()),
                date: date)
        case "invest.commit":
            let amount = try f.positiveMoney("amount")
            return .investment(
                id: try f.id("investment"),
                .commit(startup: try f.id("startup"), round: try f.text("round"), instrument: try f.instrument(),
                        amount: amount, ownership: try f.ownership(), postMoney: try f.optionalMoney("post-money")),
                date: date)
        case "invest.disburse":
            return .investment(id: try f.id("investment"), .disburse(amount: try f.positiveMoney("amount")), date: date)
        case "invest.mark":
            return .investment(id: try f.id("investment"), .mark(fairValue: try f.money("fair-value")), date: date)
        case "invest.exit":
            return .investment(id: try f.id("investment"), .exit(proceeds: try f.money("proceeds")), date: date)
        case "invest.write-off":
            return .investment(id: try f.id("investment"), .writeOff(reason: try f.text("reason")), date: date)
        case "lab.plan":
            return .lab(id: try f.id("lab"), .plan(name: try f.text("name"), city: try f.text("city"), budget: try f.money("budget")), date: date)
        case "lab.add-partner":
            return .lab(id: try f.id("lab"), .addPartner(partner: try f.text("partner")), date: date)
        case "lab.raise-budget":
            return .lab(id: try f.id("lab"), .raiseBudget(amount: try f.positiveMoney("amount"), reason: try f.text("reason")), date: date)
        case "lab.expense":
            return .lab(
                id: try f.id("lab"),
                .recordExpense(category: try f.category(), amount: try f.positiveMoney("amount"),
                               description: try f.optionalText("description")),
                date: date)
        case "lab.milestone":
            return .lab(id: try f.id("lab"), .reachMilestone(name: try f.text("name")), date: date)
        case "lab.open":
            return .lab(id: try f.id("lab"), .open, date: date)
        case "lab.close":
            return .lab(id: try f.id("lab"), .close, date: date)
        case "supply.receive":
            return .supply(sku: try f.id("sku"), .receive(quantity: try f.quantity()), date: date)
        case "order.place":
            return .order(
                id: try f.id("order"),
                .place(customer: try f.text("customer"), sku: try f.id("sku"), quantity: try f.quantity(),
                       unitPrice: try f.money("unit-price")),
                date: date)
        case "order.allocate":
            return .order(id: try f.id("order"), .allocate(quantity: try f.quantity()), date: date)
        case "order.ship":
            return .order(id: try f.id("order"), .ship(shipment: try f.id("shipment"), quantity: try f.quantity()), date: date)
        case "order.deliver":
            return .order(id: try f.id("order"), .deliver(shipment: try f.id("shipment")), date: date)
        case "order.invoice":
            return .order(id: try f.id("order"), .invoice(amount: try f.positiveMoney("amount")), date: date)
        case "order.pay":
            return .order(id: try f.id("order"), .pay(amount: try f.positiveMoney("amount")), date: date)
        case "order.cancel":
            return .order(id: try f.id("order"), .cancel(reason: try f.text("reason")), date: date)
        default:
            preconditionFailure("every name in LedgerCommand.flags is parsed above")
        }
    }
}

/// Validates flag values one by one, naming the flag in every error.
private struct FieldReader {
    let fields: [String: String]

    func value(_ flag: String) throws(ValueError) -> String {
        guard let v = fields[flag] else { throw ValueError("--\(flag): missing") }
        return v
    }

    func date(today: Day) throws(ValueError) -> Day {
        guard let text = fields["date"] else { return today }
        do { return try Day(text) } catch { throw error.naming(flag: "date") }
    }

    func id(_ flag: String) throws(ValueError) -> String {
        do { return try Identifier(try value(flag)).rawValue } catch { throw error.naming(flag: flag) }
    }

    /// Free text (names, reasons): the one rule for text (`FreeText`).
    func text(_ flag: String) throws(ValueError) -> String {
        try FreeText.parse(try value(flag), flag: flag)
    }

    func optionalText(_ flag: String) throws(ValueError) -> String? {
        fields[flag] == nil ? nil : try text(flag)
    }

    func currency() throws(ValueError) -> Currency {
        do { return try Currency(code: try value("currency")) } catch { throw error.naming(flag: "currency") }
    }

    func money(_ flag: String) throws(ValueError) -> Money {
        let currency = try currency()
        do { return try Money.parse(try value(flag), currency: currency) } catch { throw error.naming(flag: flag) }
    }

    func positiveMoney(_ flag: String) throws(ValueError) -> Money {
        let amount = try money(flag)
        if amount.isZero { throw ValueError("--\(flag): must be greater than 0") }
        return amount
    }

    func optionalMoney(_ flag: String) throws(ValueError) -> Money? {
        fields[flag] == nil ? nil : try money(flag)
    }

    func quantity() throws(ValueError) -> Int64 {
        do { return try Quantity(try value("quantity")).units } catch { throw error.naming(flag: "quantity") }
    }

    func instrument() throws(ValueError) -> Instrument {
        do { return try Instrument(parsing: try value("instrument")) } catch { throw error.naming(flag: "instrument") }
    }

    func category() throws(ValueError) -> ExpenseCategory {
        do { return try ExpenseCategory(parsing: try value("category")) } catch { throw error.naming(flag: "category") }
    }

    /// ISO 3166-1 alpha-2, stored upper case (`jp` → `JP`).
    func country() throws(ValueError) -> String? {
        guard let v = fields["country"] else { return nil }
        let letters = Array(v.utf8)
        guard letters.count == 2, letters.allSatisfy({ (65...90).contains($0) || (97...122).contains($0) }) else {
            throw ValueError("--country: '\(v)' is not a country code — use two letters (ISO 3166-1), e.g. JP")
        }
        return String(decoding: letters.map { (97...122).contains($0) ? $0 - 32 : $0 }, as: UTF8.self)
    }

    /// A percentage as exact decimal text, more than 0 and at most 100, at most 4 decimals.
    func ownership() throws(ValueError) -> String? {
        guard let v = fields["ownership"] else { return nil }
        let bad = ValueError("--ownership: '\(v)' is not a percentage — write a number above 0 and at most 100, e.g. 12.5")
        let parts = v.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2, let whole = parts.first, !whole.isEmpty, whole.count <= 3,
            whole.utf8.allSatisfy({ (48...57).contains($0) }),
            parts.count == 1 || (1...4).contains(parts[1].count) && parts[1].utf8.allSatisfy({ (48...57).contains($0) }),
            let wholeValue = Int(whole)
        else { throw bad }
        let fractionIsZero = parts.count == 1 || parts[1].utf8.allSatisfy { $0 == 48 }
        guard wholeValue < 100 || (wholeValue == 100 && fractionIsZero), wholeValue > 0 || !fractionIsZero else { throw bad }
        return v
    }
}
