import Ledger

/// `ledger report dashboard`: one self-contained page for investors and management — the
/// fund metrics on top, the four charts of the contract, then every report as a table.
/// Built from the same domain rows and table cells as the other formats, so its figures
/// are the reports' figures.
struct Dashboard {
    /// A report's table, as `Listing` holds it for the text formats.
    struct Table {
        var title: String
        var note: String
        var columns: [String]
        var cells: [[String]]
        var emphasized: [Bool] = []
    }

    var reportDate: Day
    /// The reporting currency of the fund figures, nil for each investment's own.
    var reportingCurrency: Currency?
    var fund: [FundRow]
    var labs: [LabSummary]
    var orders: [OrderSummary]
    var supply: [SupplyPosition]
    var tables: [Table]

    func html() -> String {
        var body = "<header><h1>AI ecosystem programme — dashboard</h1><div class=\"meta\">"
        body += "Report date \(reportDate)<br>"
        body += reportingCurrency.map { "Fund figures in \($0.code), converted at recorded FX rates" }
            ?? "Fund figures in each investment’s currency"
        body += "</div></header>\n"
        body += "<section><h2>Fund metrics</h2>\n\(kpis())</section>\n"
        body += "<section><h2>At a glance</h2><div class=\"charts\">\n"
        body += chartBox("Value by investment", "Paid-in against NAV + distributions", valueCharts())
        body += chartBox("Lab budget and spend", "Budget against spend by category", labCharts())
        body += chartBox("Stock per SKU", "Units received, allocated and shipped", stockChart())
        body += chartBox("Outstanding by customer", "Invoiced and not yet paid", outstandingCharts())
        body += "</div></section>\n"
        for table in tables {
            body += "<section class=\"report\"><h2>\(HTMLPage.escape(table.title))</h2>\n"
            body += HTMLPage.table(
                columns: table.columns.map(HTMLPage.heading), rows: table.cells,
                numeric: HTMLPage.numericColumns(table.columns, table.cells), emphasized: table.emphasized)
            if !table.note.isEmpty { body += "<p class=\"note\">\(HTMLPage.escape(table.note))</p>" }
            body += "</section>\n"
        }
        return HTMLPage.document(title: "Programme dashboard — \(reportDate)", body: body)
    }

    /// Paid-in, distributions, NAV, DPI, RVPI, TVPI and IRR of each TOTAL row.
    func kpis() -> String {
        let totals = fund.filter(\.isTotal)
        guard !totals.isEmpty else { return "<p class=\"empty\">No investments yet.</p>" }
        var out = ""
        for total in totals {
            if totals.count > 1 { out += "<div class=\"kpi-currency\">\(total.currency.code)</div>" }
            let irr = total.irr.flatMap(Double.init).map { Self.percent($0) } ?? "—"
            let figures: [(String, String)] = [
                ("Paid-in", total.paidIn.formatted), ("Distributions", total.distributions.formatted),
                ("NAV", total.nav.formatted), ("DPI", total.dpi.map { $0 + "×" } ?? "—"),
                ("RVPI", total.rvpi.map { $0 + "×" } ?? "—"), ("TVPI", total.tvpi.map { $0 + "×" } ?? "—"), ("IRR", irr),
            ]
            out += "<div class=\"kpis\">"
            for (label, value) in figures {
                out += "<div class=\"kpi\"><div class=\"label\">\(label)</div><div class=\"value\">\(HTMLPage.escape(value))</div></div>"
            }
            out += "</div>\n"
        }
        return out
    }

    /// 0.28052 → `28.1%`.
    static func percent(_ rate: Double) -> String {
        let tenths = (rate * 1000).rounded(.toNearestOrAwayFromZero)
        let value = Int64(tenths)
        let sign = value < 0 ? "-" : ""
        return "\(sign)\(value.magnitude / 10).\(value.magnitude % 10)%"
    }

    func chartBox(_ title: String, _ subtitle: String, _ charts: [(String?, BarChart?)]) -> String {
        var out = "<div class=\"chart\"><h3>\(HTMLPage.escape(title))</h3><p class=\"note\">\(HTMLPage.escape(subtitle))</p>"
        if charts.isEmpty { out += "<p class=\"empty\">Nothing to show.</p>" }
        for (caption, chart) in charts {
            if let caption { out += "<p class=\"note\"><strong>\(HTMLPage.escape(caption))</strong></p>" }
            out += chart?.svg() ?? "<p class=\"empty\">Nothing to show.</p>"
        }
        return out + "</div>\n"
    }

    /// Charts never mix currencies on one scale: one chart per currency.
    static func byCurrency<T>(_ items: [T], _ currency: (T) -> Currency) -> [(Currency, [T])] {
        Dictionary(grouping: items, by: currency).sorted { $0.key.code < $1.key.code }.map { ($0.key, $0.value) }
    }

    func valueCharts() -> [(String?, BarChart?)] {
        let rows = fund.filter { !$0.isTotal }
        let groups = Self.byCurrency(rows, \.currency)
        return groups.map { currency, rows in
            let chart = BarChart(
                series: ["Paid-in", "NAV", "Distributions"],
                groups: rows.map { row in
                    BarChart.Group(
                        name: row.startupName ?? row.investment,
                        bars: [
                            BarChart.Bar(segments: [.init(series: 0, value: major(row.paidIn))], label: row.paidIn.formatted),
                            BarChart.Bar(
                                segments: [.init(series: 1, value: major(row.nav)), .init(series: 2, value: major(row.distributions))],
                                label: (try? row.nav.adding(row.distributions).formatted) ?? ""),
                        ])
                })
            return (groups.count > 1 ? currency.code : nil, chart)
        }
    }

    func labCharts() -> [(String?, BarChart?)] {
        let groups = Self.byCurrency(labs, \.currency)
        return groups.map { currency, labs in
            let categories = ExpenseCategory.allCases
            let chart = BarChart(
                series: ["Budget"] + categories.map(\.rawValue),
                groups: labs.map { lab in
                    BarChart.Group(
                        name: lab.name,
                        bars: [
                            BarChart.Bar(segments: [.init(series: 0, value: major(lab.budget))], label: lab.budget.formatted),
                            BarChart.Bar(
                                segments: categories.enumerated().map { i, category in
                                    .init(series: i + 1, value: major(lab.spentByCategory[category] ?? .zero(currency)))
                                },
                                label: "spent \(lab.spent.formatted)"),
                        ])
                })
            return (groups.count > 1 ? currency.code : nil, chart)
        }
    }

    func stockChart() -> [(String?, BarChart?)] {
        guard !supply.isEmpty else { return [] }
        let chart = BarChart(
            series: ["Received", "Allocated", "Shipped"],
            groups: supply.map { s in
                BarChart.Group(
                    name: s.sku,
                    bars: [(0, s.received), (1, s.allocated), (2, s.shipped)].map { series, units in
                        BarChart.Bar(segments: [.init(series: series, value: Double(units))], label: "\(units)")
                    })
            })
        return [(nil, chart)]
    }

    func outstandingCharts() -> [(String?, BarChart?)] {
        var byCustomer: [Currency: [String: Money]] = [:]
        for order in orders {
            let outstanding = order.outstanding
            guard outstanding.minorUnits > 0 else { continue }
            byCustomer[order.currency, default: [:]][order.customer, default: .zero(order.currency)] =
                (try? byCustomer[order.currency]?[order.customer]?.adding(outstanding) ?? outstanding) ?? outstanding
        }
        let currencies = byCustomer.keys.sorted { $0.code < $1.code }
        return currencies.map { currency in
            let customers = byCustomer[currency]!.sorted { $0.value.minorUnits > $1.value.minorUnits || ($0.value == $1.value && $0.key < $1.key) }
            let chart = BarChart(
                series: ["Outstanding"],
                groups: customers.map { customer, amount in
                    BarChart.Group(name: customer, bars: [BarChart.Bar(segments: [.init(series: 0, value: major(amount))], label: amount.formatted)])
                })
            return (currencies.count > 1 ? currency.code : nil, chart)
        }
    }

    /// Major units as a Double: only for the length of a bar.
    func major(_ money: Money) -> Double {
        var divisor = 1.0
        for _ in 0..<money.currency.exponent { divisor *= 10 }
        return Double(money.minorUnits) / divisor
    }
}
