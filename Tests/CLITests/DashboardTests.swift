import Foundation
import JSON
import Testing
import TestSupport

/// The dashboard as a person sees it: rendered by a real headless Chromium (Debian's
/// `chromium`, which scripts/test installs when missing) to a screenshot and a PDF.
@Suite struct DashboardTests {
    static var chromium: String? {
        for name in ["chromium", "chromium-browser", "google-chrome"] {
            for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
                let path = "\(dir)/\(name)"
                if FileManager.default.isExecutableFile(atPath: path) { return path }
            }
        }
        return nil
    }

    /// Runs a tool to completion; its output is returned, not shown.
    @discardableResult
    static func run(_ tool: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["timeout", "180", tool] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// Renders a page to a PNG of 1024×768 in headless Chromium and returns its distinct colours.
    static func screenshotColours(of html: URL, in dir: URL) throws -> Int {
        let chromium = try #require(chromium, "chromium is not installed: run scripts/install-deps (as root) or apt-get install chromium")
        let png = dir.appendingPathComponent(html.deletingPathExtension().lastPathComponent + ".png")
        let shot = try run(chromium, [
            "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
            "--user-data-dir=\(dir.appendingPathComponent("profile").path)", "--window-size=1024,768",
            "--screenshot=\(png.path)", html.absoluteString,
        ])
        #expect(FileManager.default.fileExists(atPath: png.path), "no screenshot: \(shot.output)")
        let stats = try run("python3", [TestDatabase.repositoryRoot.appendingPathComponent("scripts/lib/png_stats.py").path, png.path])
        let numbers = stats.output.split(whereSeparator: \.isWhitespace).compactMap { Int($0) }
        #expect(numbers.count == 3 && numbers[0] == 1024 && numbers[1] == 768, "png_stats: \(stats.output)")
        return numbers.count == 3 ? numbers[2] : 0
    }

    @Test func everyReportsHTMLPageRendersInHeadlessChromium() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ledger-report-html-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var pages: [URL] = []
        try withLedger { ledger in
            #expect(try ledger.run(["demo"]).status == 0)
            for arguments in [["portfolio"], ["labs"], ["orders", "--as-of", "2026-06-30"], ["supply"], ["fund", "--currency", "JPY"]] {
                let output = try ledger.run(["report"] + arguments + ["--format", "html"])
                #expect(output.status == 0, "\(arguments): \(output.stderr)")
                let page = dir.appendingPathComponent("\(arguments[0]).html")
                try Data(output.stdout.utf8).write(to: page)
                pages.append(page)
            }
        }
        for page in pages {
            // A blank or failed render has one or two colours; a table of text, anti-aliased,
            // with its shaded header and rows, has many.
            let colours = try Self.screenshotColours(of: page, in: dir)
            #expect(colours > 30, "\(page.lastPathComponent): only \(colours) colours in the screenshot")
        }
    }

    @Test func theDemosDashboardRendersInHeadlessChromiumAsAScreenshotAndAPDF() throws {
        let chromium = try #require(Self.chromium, "chromium is not installed: run scripts/install-deps (as root) or apt-get install chromium")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ledger-dashboard-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let html = dir.appendingPathComponent("dashboard.html")
        try withLedger { ledger in
            #expect(try ledger.run(["demo"]).status == 0)
            let written = try ledger.run(["report", "dashboard", "--out", html.path, "--currency", "JPY"])
            #expect(written.status == 0, "\(written.stderr)")
            let page = try String(contentsOf: html, encoding: .utf8)
            for text in ["Fund metrics", "TVPI", "IRR", "Value by investment", "Lab budget and spend", "Stock per SKU",
                         "Outstanding by customer", "Fund report", "Portfolio", "Labs", "Orders", "Supply",
                         "Sakana AI", "Tokyo AI Research Lab", "h100-sxm5-80gb", "SoftBank", "Mitsui &amp; Co."] {
                #expect(page.contains(text), "dashboard lacks \(text)")
            }
            #expect(page.components(separatedBy: "<svg").count - 1 >= 4)
            #expect(page.contains("@page { size: A4"))
            InvestorReportingTests().expectSelfContained(page, "dashboard")
            // `--out -` writes the same page to standard output.
            let stdout = try ledger.run(["report", "dashboard", "--out", "-", "--currency", "JPY"])
            #expect(stdout.status == 0)
            #expect(stdout.stdout == page)
            // Without --currency the fund figures stay in each currency: a KPI row per currency.
            let native = try ledger.run(["report", "dashboard", "--out", "-"])
            #expect(native.stdout.contains("kpi-currency\">USD"))
            expectOneLineError(try ledger.run(["report", "dashboard"]), status: 64, containing: "--out")
            expectOneLineError(
                try ledger.run(["report", "dashboard", "--out", "-", "--currency", "EUR"]), status: 65, containing: "EUR")
        }

        let png = dir.appendingPathComponent("dashboard.png")
        let pdf = dir.appendingPathComponent("dashboard.pdf")
        let common = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
                      "--user-data-dir=\(dir.appendingPathComponent("profile").path)"]
        let shot = try Self.run(chromium, common + ["--window-size=1280,1600", "--screenshot=\(png.path)", html.absoluteString])
        #expect(FileManager.default.fileExists(atPath: png.path), "no screenshot: \(shot.output)")
        let printed = try Self.run(chromium, common + ["--no-pdf-header-footer", "--print-to-pdf=\(pdf.path)", html.absoluteString])
        #expect(FileManager.default.fileExists(atPath: pdf.path), "no PDF: \(printed.output)")

        // Not blank: a page of text, tables and charts has many distinct colours (a blank
        // or failed render has one or two).
        let stats = try Self.run("python3", [TestDatabase.repositoryRoot.appendingPathComponent("scripts/lib/png_stats.py").path, png.path])
        let numbers = stats.output.split(whereSeparator: \.isWhitespace).compactMap { Int($0) }
        #expect(numbers.count == 3, "png_stats: \(stats.output)")
        if numbers.count == 3 {
            #expect(numbers[0] == 1280 && numbers[1] == 1600)
            #expect(numbers[2] > 100, "only \(numbers[2]) colours in the screenshot")
        }
        let pdfBytes = try Data(contentsOf: pdf)
        #expect(pdfBytes.count > 1024)
        #expect(pdfBytes.starts(with: Array("%PDF".utf8)))
        // The page tree's count (`/Count N` of `/Type /Pages`): the dashboard takes a few A4 pages.
        let text = String(decoding: pdfBytes, as: UTF8.self)
        let counts = text.components(separatedBy: "/Count ").dropFirst().compactMap { Int($0.prefix { $0.isNumber }) }
        // One page would mean Chromium shrank a page too wide for A4 to fit it: unreadable.
        #expect((counts.max() ?? 0) >= 2, "the dashboard should print on several A4 pages: \(counts)")
        // Kept for people to look at (scripts/test prints where).
        if let keep = ProcessInfo.processInfo.environment["LEDGER_DASHBOARD_KEEP"] {
            try? FileManager.default.removeItem(atPath: keep + ".png")
            try? FileManager.default.copyItem(atPath: png.path, toPath: keep + ".png")
            try? FileManager.default.removeItem(atPath: keep + ".pdf")
            try? FileManager.default.copyItem(atPath: pdf.path, toPath: keep + ".pdf")
            try? FileManager.default.removeItem(atPath: keep + ".html")
            try? FileManager.default.copyItem(atPath: html.path, toPath: keep + ".html")
        }
    }
}
