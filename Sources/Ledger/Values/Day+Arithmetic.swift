extension Day {
    /// Days since 1970-01-01 (negative before): the difference of two of these is the number
    /// of calendar days between them, as XIRR's actual/365 day count needs.
    public var daysSinceEpoch: Int {
        // Howard Hinnant's days_from_civil, exact over the proleptic Gregorian calendar.
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}
