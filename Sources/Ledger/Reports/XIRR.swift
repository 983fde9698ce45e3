#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The internal rate of return of dated cash flows, as Excel's and LibreOffice's XIRR
/// define it: the annual rate r with Σ cfᵢ / (1 + r)^((dᵢ − d₀) / 365) = 0, d₀ the earliest
/// date. A rate is an estimate, not an amount, so it is solved in Double (amounts stay exact
/// everywhere else); the result is rounded to 4 decimals for reports.
public enum XIRR {
    /// One dated cash flow: negative paid out (a disbursement), positive received.
    public struct Flow: Sendable, Equatable {
        public var date: Day
        public var amount: Double

        public init(date: Day, amount: Double) {
            self.date = date
            self.amount = amount
        }
    }

    /// The rate, or nil when none solves the equation: no flows, flows all of one sign
    /// (everything written off), or no root in (−100%, +10⁹%).
    ///
    /// Newton's method from 10% (Excel's default guess) converges in a few steps for the
    /// usual shape (payments, then receipts); when it leaves the domain or stalls, bisection
    /// on a bracket where the sum changes sign finds the root instead.
    public static func rate(_ flows: [Flow]) -> Double? {
        let flows = flows.filter { $0.amount != 0 }
        guard flows.contains(where: { $0.amount < 0 }), flows.contains(where: { $0.amount > 0 }) else { return nil }
        let first = flows.map(\.date.daysSinceEpoch).min()!
        let terms = flows.map { (years: Double($0.date.daysSinceEpoch - first) / 365, amount: $0.amount) }
        let scale = terms.map { abs($0.amount) }.max()!

        func value(_ r: Double) -> Double {
            var sum = 0.0
            for t in terms { sum += t.amount / pow1p(r, t.years) }
            return sum
        }
        func derivative(_ r: Double) -> Double {
            var sum = 0.0
            for t in terms where t.years != 0 { sum -= t.years * t.amount / pow1p(r, t.years + 1) }
            return sum
        }
        // Converged when the step is tiny and the residual is negligible next to the flows.
        let tolerance = 1e-12

        var r = 0.1
        for _ in 0..<100 {
            let f = value(r), d = derivative(r)
            guard f.isFinite, d.isFinite, d != 0 else { break }
            let next = r - f / d
            guard next > -1, next.isFinite else { break }
            if abs(next - r) <= tolerance * max(1, abs(next)) {
                if abs(value(next)) <= 1e-9 * scale, next < 1e7 { return next }
                break
            }
            r = next
        }
        return bisect(value, scale: scale)
    }

    /// Bisection on the first sign change found scanning out from 0 in both directions.
    private static func bisect(_ value: (Double) -> Double, scale: Double) -> Double? {
        let grid: [Double] = [-0.999_999, -0.99, -0.9, -0.75, -0.5, -0.25, 0, 0.25, 0.5, 1, 2, 5, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7]
        var bracket: (Double, Double)?
        for (a, b) in zip(grid, grid.dropFirst()) {
            let fa = value(a), fb = value(b)
            guard fa.isFinite, fb.isFinite else { continue }
            if fa == 0 { return a }
            if (fa < 0) != (fb < 0) {
                bracket = (a, b)
                break
            }
        }
        guard var (low, high) = bracket else { return nil }
        var fLow = value(low)
        for _ in 0..<200 {
            let mid = (low + high) / 2
            let fMid = value(mid)
            if fMid == 0 || (high - low) <= 1e-15 * max(1, abs(mid)) { return mid }
            if (fMid < 0) == (fLow < 0) {
                low = mid
                fLow = fMid
            } else {
                high = mid
            }
        }
        return (low + high) / 2
    }

    /// (1 + r)^t.
    private static func pow1p(_ r: Double, _ t: Double) -> Double {
        t == 0 ? 1 : exp(t * log1p(r))
    }

    /// The rate as the reports print it: 4 decimals, half away from zero (`"0.1523"`, `"-0.0450"`).
    public static func formatted(_ rate: Double) -> String {
        let tenThousandths = (rate * 10_000).rounded(.toNearestOrAwayFromZero)
        let units = Int64(tenThousandths)
        let magnitude = units.magnitude
        let fraction = String(magnitude % 10_000)
        let sign = units < 0 ? "-" : ""
        return "\(sign)\(magnitude / 10_000).\(String(repeating: "0", count: 4 - fraction.count))\(fraction)"
    }
}
