import JSON

/// One row of the fund report: what investors ask of each holding and of the programme —
/// paid-in, distributions, NAV and the ratios DPI, RVPI, TVPI and IRR (DOMAIN.md "Fund
/// metrics"). A `TOTAL` row pools the holdings of one currency (or of the reporting currency).
public struct FundRow: Sendable, Equatable {
    public var investment: String
    /// Null on TOTAL rows.
    public var startup: String?
    public var startupName: String?
    public var instrument: Instrument?
    public var currency: Currency
    public var paidIn: Money
    public var distributions: Money
    public var nav: Money
    /// The dated flows the IRR discounts: −disbursements, +proceeds, +NAV at the report date.
    public var flows: [XIRR.Flow]

    public var isTotal: Bool { startup == nil }

    /// distributions / paid-in, 2 decimals half away from zero; nil when nothing is paid in.
    public var dpi: String? { FundRow.ratio(distributions, paidIn) }
    /// NAV / paid-in.
    public var rvpi: String? { FundRow.ratio(nav, paidIn) }
    /// (distributions + NAV) / paid-in: the MOIC of the whole, computed from the sum (not
    /// DPI + RVPI after rounding, which can be a hundredth off).
    public var tvpi: String? { FundRow.ratio(distributions.plus(nav), paidIn) }
    /// XIRR of `flows`, 4 decimals; nil when no rate solves it (e.g. all written off).
    public var irr: String? { XIRR.rate(flows).map(XIRR.formatted) }

    static func ratio(_ numerator: Money, _ denominator: Money) -> String? {
        guard denominator.minorUnits > 0, numerator.minorUnits >= 0 else { return nil }
        return PortfolioPosition.ratio(UInt64(numerator.minorUnits), UInt64(denominator.minorUnits))
    }

    /// The contract's keys, in order: the report's columns.
    public static let columns = [
        "investment", "startup", "startup_name", "instrument", "currency", "paid_in", "distributions", "nav", "dpi",
        "rvpi", "tvpi", "irr",
    ]

    /// The report's columns and how each cell is read: what every printer prints.
    public static let report = ReportColumns<FundRow>([
        .text("investment") { $0.investment }, .optionalText("startup") { $0.startup },
        .optionalText("startup_name") { $0.startupName }, .optionalText("instrument") { $0.instrument?.rawValue },
        .text("currency") { $0.currency.code }, .money("paid_in") { $0.paidIn },
        .money("distributions") { $0.distributions }, .money("nav") { $0.nav }, .optionalText("dpi") { $0.dpi },
        .optionalText("rvpi") { $0.rvpi }, .optionalText("tvpi") { $0.tvpi }, .optionalText("irr") { $0.irr },
    ])

    /// The row object of `ledger report fund --format json`.
    public var json: JSON {
        func text(_ s: String?) -> JSON { s.map(JSON.string) ?? .null }
        return [
            "investment": .string(investment), "startup": text(startup), "startup_name": text(startupName),
            "instrument": text(instrument?.rawValue), "currency": .string(currency.code),
            "paid_in": .string(paidIn.decimalString), "distributions": .string(distributions.decimalString),
            "nav": .string(nav.decimalString), "dpi": text(dpi), "rvpi": text(rvpi), "tvpi": text(tvpi),
            "irr": text(irr),
        ]
    }
}

/// The fund report folded from the log: investments with their dated disbursements and
/// exits, startup names, and the FX rates to convert with. Folded from events alone, like
/// every report, so `--as-of` is the same fold over fewer events.
public struct FundLedger: Sendable, Equatable {
    struct Holding: Sendable, Equatable {
        var position: PortfolioPosition
        var disbursements: [(date: Day, amount: Money)] = []
        var exits: [(date: Day, amount: Money)] = []

        static func == (a: Holding, b: Holding) -> Bool {
            a.position == b.position && a.disbursements.elementsEqual(b.disbursements) { $0 == $1 }
                && a.exits.elementsEqual(b.exits) { $0 == $1 }
        }
    }

    private var holdings: [String: Holding] = [:]
    private var startupNames: [String: String] = [:]
    /// The FX rates recorded so far.
    public var rates = RateBook()

    public init() {}

    /// Folds one startup, investment or FX event in; others are ignored.
    public mutating func apply(_ event: LedgerEvent) {
        switch event.fact {
        case .startup(.registered(let id, let name, _, _)):
            startupNames[id] = name
        case .investment(let e):
            if holdings[e.investment] == nil {
                guard let position = PortfolioPosition(startingWith: event) else { return }
                holdings[e.investment] = Holding(position: position)
                return
            }
            holdings[e.investment]!.position.apply(event)
            switch e {
            case .disbursed(_, let amount): holdings[e.investment]!.disbursements.append((event.date, amount))
            case .exited(_, let amount): holdings[e.investment]!.exits.append((event.date, amount))
            default: break
            }
        case .fx(.rateRecorded(let pair, let rate, _)):
            rates.record(rate, for: pair, on: event.date)
        default:
            break
        }
    }

    /// One row per investment (by id), then a TOTAL row per currency (by code) — with a
    /// reporting currency, every amount converted (paid-in at each disbursement's date,
    /// distributions at each exit's date, NAV at `reportDate`) and one TOTAL row.
    /// Throws `missing_rate` when a conversion has no rate.
    public func rows(on reportDate: Day, in reporting: Currency? = nil) throws(Rejection) -> [FundRow] {
        var rows: [FundRow] = []
        for id in holdings.keys.sorted() {
            let holding = holdings[id]!
            let p = holding.position
            let currency = reporting ?? p.currency
            func converted(_ amount: Money, _ date: Day) throws(Rejection) -> Money {
                try rates.convert(amount, to: currency, on: date)
            }
            var paidIn = Money.zero(currency), distributions = Money.zero(currency)
            var flows: [XIRR.Flow] = []
            for (date, amount) in holding.disbursements {
                let value = try converted(amount, date)
                paidIn = paidIn.plus(value)
                flows.append(XIRR.Flow(date: date, amount: -FundLedger.major(value)))
            }
            for (date, amount) in holding.exits {
                let value = try converted(amount, date)
                distributions = distributions.plus(value)
                flows.append(XIRR.Flow(date: date, amount: FundLedger.major(value)))
            }
            let nav = try converted(p.fairValue, reportDate)
            flows.append(XIRR.Flow(date: reportDate, amount: FundLedger.major(nav)))
            rows.append(
                FundRow(
                    investment: id, startup: p.startup, startupName: startupNames[p.startup], instrument: p.instrument,
                    currency: currency, paidIn: paidIn, distributions: distributions, nav: nav, flows: flows))
        }
        var totals: [Currency: FundRow] = [:]
        if let reporting { totals[reporting] = FundLedger.emptyTotal(reporting) }
        for row in rows {
            var total = totals[row.currency] ?? FundLedger.emptyTotal(row.currency)
            total.paidIn = total.paidIn.plus(row.paidIn)
            total.distributions = total.distributions.plus(row.distributions)
            total.nav = total.nav.plus(row.nav)
            total.flows += row.flows
            totals[row.currency] = total
        }
        return rows + totals.values.sorted { $0.currency.code < $1.currency.code }
    }

    static func emptyTotal(_ currency: Currency) -> FundRow {
        FundRow(
            investment: "TOTAL", startup: nil, startupName: nil, instrument: nil, currency: currency,
            paidIn: .zero(currency), distributions: .zero(currency), nav: .zero(currency), flows: [])
    }

    /// Major units as a Double, for the rate solver only.
    static func major(_ money: Money) -> Double {
        var divisor = 1.0
        for _ in 0..<money.currency.exponent { divisor *= 10 }
        return Double(money.minorUnits) / divisor
    }
}
