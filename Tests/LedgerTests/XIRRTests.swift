import Foundation
import Testing
@testable import Ledger

/// Reference rates from scipy's `brentq` on the same equation (xtol = rtol = 1e-15), which
/// gives Microsoft's documented XIRR example to all nine published digits; our solver must
/// agree to 1e-9 (absolute) on each.
@Suite struct XIRRSolver {
    func flows(_ pairs: [(String, Double)]) -> [XIRR.Flow] { pairs.map { XIRR.Flow(date: day($0.0), amount: $0.1) } }

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var flows: [(String, Double)]
        var expected: Double
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        // Microsoft's XIRR documentation example: 0.373362535.
        Case(name: "microsoft",
             flows: [("2008-01-01", -10000), ("2008-03-01", 2750), ("2008-10-30", 4250), ("2009-02-15", 3250), ("2009-04-01", 2750)],
             expected: 0.3733625335188316),
        Case(name: "a loss", flows: [("2020-01-15", -1_000_000), ("2020-07-01", -500_000), ("2023-12-31", 900_000)],
             expected: -0.12562839760559366),
        Case(name: "a quick exit", flows: [("2024-01-10", -100_000_000), ("2024-03-20", 180_000_000)],
             expected: 20.432053100084488),
        Case(name: "a write-off pooled with an exit",
             flows: [("2021-04-01", -200_000_000), ("2021-06-01", -300_000_000), ("2023-06-01", 450_000_000), ("2023-06-30", 0)],
             expected: -0.049702895462629806),
        Case(name: "flows from two currencies, converted to JPY",
             flows: [("2024-01-05", -144_500_000), ("2024-06-03", -78_450_000), ("2025-03-31", 299_040_000),
                     ("2024-02-01", -100_000_000), ("2025-01-15", 130_000_000), ("2025-03-31", 0)],
             expected: 0.30961754738803837),
        Case(name: "a heavy loss", flows: [("2020-01-01", -1000), ("2025-01-01", 10)], expected: -0.6014912364921026),
    ]

    @Test(arguments: cases)
    func agreesWithTheReferenceSolver(_ reference: Case) throws {
        let rate = try #require(XIRR.rate(flows(reference.flows)), "\(reference.name)")
        #expect(abs(rate - reference.expected) < 1e-9, "\(reference.name): \(rate) vs \(reference.expected)")
    }

    @Test func theMicrosoftExampleRoundsToItsPublishedFigure() {
        let rate = XIRR.rate(flows([("2008-01-01", -10000), ("2008-03-01", 2750), ("2008-10-30", 4250),
                                    ("2009-02-15", 3250), ("2009-04-01", 2750)]))
        #expect(rate.map(XIRR.formatted) == "0.3734")
    }

    @Test func noRateSolvesFlowsOfOneSign() {
        #expect(XIRR.rate(flows([("2024-03-01", -100_000_000), ("2025-03-31", 0)])) == nil)  // written off
        #expect(XIRR.rate(flows([("2024-03-01", 100)])) == nil)
        #expect(XIRR.rate([]) == nil)
    }

    @Test func ratesPrintWithFourDecimalsHalfAwayFromZero() {
        #expect(XIRR.formatted(0.15234) == "0.1523")
        #expect(XIRR.formatted(0.15235) == "0.1524")
        #expect(XIRR.formatted(-0.04505) == "-0.0451")
        #expect(XIRR.formatted(-0.00001) == "0.0000")
        #expect(XIRR.formatted(20.4320531) == "20.4321")
    }

    @Test func daysCountTheCalendar() {
        #expect(day("1970-01-01").daysSinceEpoch == 0)
        #expect(day("2025-02-01").daysSinceEpoch - day("2024-02-01").daysSinceEpoch == 366)
        #expect(day("2000-03-01").daysSinceEpoch - day("2000-02-28").daysSinceEpoch == 2)
        #expect(day("1900-03-01").daysSinceEpoch - day("1900-02-28").daysSinceEpoch == 1)
    }
}

/// The same six flow sets through LibreOffice Calc's own `XIRR` (Debian's
/// `libreoffice-calc-nogui`, which scripts/install-deps installs): a spreadsheet computing the
/// rate the way investors' spreadsheets do. Calc reads a CSV of amounts, ISO dates and one
/// `=XIRR(…)` per set, recalculates, and writes the values back as CSV. Skipped only where
/// LibreOffice is absent and this is not CI (CI installs it, and fails loudly without it).
@Suite(.enabled(if: LibreOffice.soffice != nil || ProcessInfo.processInfo.environment["CI"] != nil,
                "LibreOffice (soffice) is not installed: apt-get install libreoffice-calc-nogui"))
struct XIRRAgainstLibreOffice {
    @Test func calcsXIRRAgreesWithOurSolverOnEveryReferenceSet() throws {
        let soffice = try #require(LibreOffice.soffice, "LibreOffice (soffice) is not installed: apt-get install libreoffice-calc-nogui")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ledger-xirr-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        // Each set in rows of its own: amount, date and, on its first row, its XIRR.
        var csv = ""
        var row = 1
        for reference in XIRRSolver.cases {
            let first = row, last = row + reference.flows.count - 1
            for (i, (date, amount)) in reference.flows.enumerated() {
                csv += "\(Int64(amount)),\(date),\(i == 0 ? "=XIRR(A\(first):A\(last);B\(first):B\(last))" : "")\n"
                row += 1
            }
        }
        try csv.write(to: dir.appendingPathComponent("flows.csv"), atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "timeout", "180", soffice, "--headless", "--norestore",
            "-env:UserInstallation=\(dir.appendingPathComponent("profile").absoluteString)",
            // Comma-separated UTF-8 in, ISO dates recognized, formulas evaluated; values out
            // at full precision.
            "--infilter=CSV:44,34,76,1,,0,false,false,false,false,false",
            "--convert-to", "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false",
            "--outdir", dir.appendingPathComponent("out").path, dir.appendingPathComponent("flows.csv").path,
        ]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let log = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let out = try String(contentsOf: dir.appendingPathComponent("out/flows.csv"), encoding: .utf8)
        let rates = out.split(separator: "\n").compactMap { line -> Substring? in
            let cells = line.split(separator: ",", omittingEmptySubsequences: false)
            return cells.count > 2 && !cells[2].isEmpty ? cells[2] : nil
        }
        #expect(rates.count == XIRRSolver.cases.count, "LibreOffice: \(log)\n\(out)")
        for (reference, calc) in zip(XIRRSolver.cases, rates) {
            let calcRate = try #require(Double(calc), "\(reference.name): Calc gave '\(calc)'")
            let ours = try #require(XIRR.rate(XIRRSolver().flows(reference.flows)))
            // Calc writes 15 significant digits; LibreOffice 7.4 agrees to ~1e-14 on each set.
            #expect(abs(ours - calcRate) < 1e-9, "\(reference.name): ours \(ours), Calc \(calcRate)")
            #expect(XIRR.formatted(ours) == XIRR.formatted(calcRate), "\(reference.name)")
        }
    }
}

/// Where LibreOffice's `soffice` is, if installed.
enum LibreOffice {
    static var soffice: String? {
        for name in ["soffice", "libreoffice"] {
            for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
                let path = "\(dir)/\(name)"
                if FileManager.default.isExecutableFile(atPath: path) { return path }
            }
        }
        return nil
    }
}
