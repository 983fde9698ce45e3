import JSON
import Projections
import Testing

/// The CSV rules for spreadsheets, cell by cell: which text a spreadsheet would take for a
/// formula, and how a report's lists and objects become one flat cell.
@Suite struct SpreadsheetCellTests {
    @Test func textThatASpreadsheetWouldEvaluateIsGuardedNumbersAreNot() {
        for formula in ["=1+1", "+81 3", "-cmd", "@SUM(A1)", "\tx", "\rx", "'quoted", "-", "-1e5", "-1.", "--5"] {
            #expect(ReportText.formulaGuarded(formula) == "'" + formula, "\(formula)")
        }
        for plain in ["", "Sakana AI", "1.50", "-0.1256", "-12", "0", "a=b", "x-y", "ソフトバンク"] {
            #expect(ReportText.formulaGuarded(plain) == plain, "\(plain)")
        }
    }

    @Test func listsAndObjectsBecomeOneFlatCell() {
        #expect(ReportText.flatCell(["RIKEN", "University of Tokyo"]) == "RIKEN; University of Tokyo")
        #expect(ReportText.flatCell([["name": "lease signed", "date": "2026-02-10"], ["name": "online", "date": "2026-05-28"]])
            == "lease signed (2026-02-10); online (2026-05-28)")
        #expect(ReportText.flatCell(["staff": "0", "compute": "1250000"]) == "compute 1250000; staff 0")
        #expect(ReportText.flatCell([]) == "")
        #expect(ReportText.flatCell(["=evil()", "RIKEN"]) == "'=evil(); RIKEN")
    }
}
