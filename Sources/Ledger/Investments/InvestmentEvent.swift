import JSON

/// Facts about an investment, recorded on `investment-<id>`.
public enum InvestmentEvent: Sendable, Equatable {
    case committed(investment: String, startup: String, round: String, instrument: Instrument, amount: Money, ownership: String?, postMoney: Money?)
    case disbursed(investment: String, amount: Money)
    case marked(investment: String, fairValue: Money)
    case exited(investment: String, proceeds: Money)
    case writtenOff(investment: String, reason: String)

    public var investment: String {
        switch self {
        case .committed(let id, _, _, _, _, _, _), .disbursed(let id, _), .marked(let id, _),
            .exited(let id, _), .writtenOff(let id, _):
            id
        }
    }

    public var type: String {
        switch self {
        case .committed: "investment.committed"
        case .disbursed: "investment.disbursed"
        case .marked: "investment.marked"
        case .exited: "investment.exited"
        case .writtenOff: "investment.written_off"
        }
    }

    var payload: JSON {
        var p = PayloadBuilder(["investment": .string(investment)])
        switch self {
        case .committed(_, let startup, let round, let instrument, let amount, let ownership, let postMoney):
            p.set("startup", startup)
            p.set("round", round)
            p.set("instrument", instrument.rawValue)
            p.set("amount", amount)
            p.set("ownership", ownership)
            p.set("post_money", postMoney)
        case .disbursed(_, let amount): p.set("amount", amount)
        case .marked(_, let fairValue): p.set("fair_value", fairValue)
        case .exited(_, let proceeds): p.set("proceeds", proceeds)
        case .writtenOff(_, let reason): p.set("reason", reason)
        }
        return p.json
    }

    static func decode(type: String, payload: EventPayload) throws(EventDecodingError) -> InvestmentEvent? {
        guard type.hasPrefix("investment.") else { return nil }
        let r = try PayloadReader(type: type, payload: payload)
        let id = try r.string("investment")
        switch type {
        case "investment.committed":
            let currency = try r.currency()
            guard let instrument = Instrument(rawValue: try r.string("instrument")) else {
                throw r.fail("'instrument' is not equity, safe or note")
            }
            return .committed(
                investment: id, startup: try r.string("startup"), round: try r.string("round"),
                instrument: instrument, amount: try r.money("amount", currency),
                ownership: try r.optionalString("ownership"), postMoney: try r.optionalMoney("post_money", currency))
        case "investment.disbursed":
            return .disbursed(investment: id, amount: try r.money("amount", try r.currency()))
        case "investment.marked":
            return .marked(investment: id, fairValue: try r.money("fair_value", try r.currency()))
        case "investment.exited":
            return .exited(investment: id, proceeds: try r.money("proceeds", try r.currency()))
        case "investment.written_off":
            return .writtenOff(investment: id, reason: try r.string("reason"))
        default:
            return nil
        }
    }
}
