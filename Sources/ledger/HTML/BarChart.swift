/// A horizontal bar chart as inline SVG: one group per category (an investment, a lab, a
/// SKU, a customer), one or more bars per group, each bar a stack of segments coloured by
/// series, with a legend. Inline SVG needs no script or font download and prints sharply.
struct BarChart {
    struct Segment {
        var series: Int
        var value: Double
    }

    struct Bar {
        var segments: [Segment]
        /// Printed at the end of the bar (the exact figure, e.g. `¥450,000,000`).
        var label: String
        var total: Double { segments.reduce(0) { $0 + max($1.value, 0) } }
    }

    struct Group {
        var name: String
        var bars: [Bar]
    }

    var series: [String]
    var groups: [Group]

    /// Colour per series: muted, distinguishable, legible in greyscale print.
    static let palette = ["#1f3a5f", "#2a9d8f", "#e9a23b", "#d1495b", "#6c8ead", "#8e7dbe", "#66a182", "#b5838d"]

    static func colour(_ series: Int) -> String { palette[series % palette.count] }

    func svg() -> String {
        let width = 560.0, labelWidth = 132.0, valueWidth = 118.0
        let barHeight = 13.0, barGap = 3.0, groupGap = 10.0, legendHeight = 22.0
        let plotWidth = width - labelWidth - valueWidth
        let maxValue = max(groups.flatMap(\.bars).map(\.total).max() ?? 0, 1)
        var height = legendHeight
        for group in groups { height += Double(group.bars.count) * (barHeight + barGap) - barGap + groupGap }
        height += 4
        var out = """
            <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 \(Int(width)) \(Int(height.rounded(.up)))" \
            role="img" font-family="system-ui, -apple-system, 'Segoe UI', 'Noto Sans', 'Noto Sans CJK JP', Arial, sans-serif" \
            font-size="10">
            """
        // Legend.
        var x = 0.0
        for (i, name) in series.enumerated() {
            out += "<rect x=\"\(fmt(x))\" y=\"3\" width=\"10\" height=\"10\" rx=\"2\" fill=\"\(Self.colour(i))\"/>"
            out += "<text x=\"\(fmt(x + 14))\" y=\"12\" fill=\"#3d4a58\">\(HTMLPage.escape(name))</text>"
            x += 26 + Double(name.count) * 6.2
        }
        var y = legendHeight
        // Grid lines at quarters of the largest bar.
        let plotTop = y, plotBottom = height - 4
        for quarter in 1...4 {
            let gx = labelWidth + plotWidth * Double(quarter) / 4
            out += "<line x1=\"\(fmt(gx))\" y1=\"\(fmt(plotTop - 2))\" x2=\"\(fmt(gx))\" y2=\"\(fmt(plotBottom))\" stroke=\"#edf1f4\"/>"
        }
        out += "<line x1=\"\(fmt(labelWidth))\" y1=\"\(fmt(plotTop - 2))\" x2=\"\(fmt(labelWidth))\" y2=\"\(fmt(plotBottom))\" stroke=\"#9aa8b6\"/>"
        for group in groups {
            let groupHeight = Double(group.bars.count) * (barHeight + barGap) - barGap
            out += "<text x=\"\(fmt(labelWidth - 6))\" y=\"\(fmt(y + groupHeight / 2 + 3.5))\" text-anchor=\"end\" fill=\"#1b2430\">"
            out += HTMLPage.escape(Self.truncated(group.name, to: 22)) + "<title>\(HTMLPage.escape(group.name))</title></text>"
            for bar in group.bars {
                var bx = labelWidth
                for segment in bar.segments where segment.value > 0 {
                    let w = max(plotWidth * segment.value / maxValue, 0.5)
                    out += "<rect x=\"\(fmt(bx))\" y=\"\(fmt(y))\" width=\"\(fmt(w))\" height=\"\(fmt(barHeight))\" "
                    out += "fill=\"\(Self.colour(segment.series))\"><title>\(HTMLPage.escape(series[segment.series]))</title></rect>"
                    bx += w
                }
                out += "<text x=\"\(fmt(bx + 4))\" y=\"\(fmt(y + barHeight - 3))\" fill=\"#3d4a58\" font-size=\"9\">"
                out += HTMLPage.escape(bar.label) + "</text>"
                y += barHeight + barGap
            }
            y += groupGap - barGap
        }
        return out + "</svg>"
    }

    private func fmt(_ value: Double) -> String {
        let tenths = (value * 10).rounded()
        return tenths.truncatingRemainder(dividingBy: 10) == 0 ? String(Int(tenths / 10)) : String(tenths / 10)
    }

    static func truncated(_ text: String, to count: Int) -> String {
        text.count <= count ? text : String(text.prefix(count - 1)) + "…"
    }
}
