import Foundation
import Ledger

extension Day {
    /// Today in the time zone named by `$LEDGER_TIMEZONE` (an IANA name such as
    /// `Asia/Tokyo`), else the system's: entries made in Tokyo before 09:00 are dated today,
    /// not yesterday as in UTC. Business dates later than this are refused.
    public static func ledgerToday(now: Date = Date(), environment: [String: String] = ProcessInfo.processInfo.environment)
        throws(ValueError) -> Day
    {
        var zone = TimeZone.current
        if let name = environment["LEDGER_TIMEZONE"], !name.isEmpty {
            guard let named = TimeZone(identifier: name) else {
                throw ValueError("LEDGER_TIMEZONE: '\(name)' is not an IANA time zone — e.g. Asia/Tokyo or UTC")
            }
            zone = named
        }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let parts = calendar.dateComponents([.year, .month, .day], from: now)
        return try Day(year: parts.year!, month: parts.month!, day: parts.day!)
    }

    /// `ledgerToday()`, or nil when `$LEDGER_TIMEZONE` is not a time zone (the CLI reports that
    /// as bad usage before any command runs).
    public static func todayOrNil() -> Day? { try? ledgerToday() }
}
