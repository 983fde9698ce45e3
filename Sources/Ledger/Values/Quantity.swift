/// A count of chips: a positive whole number. Chips are not divisible and a zero or negative
/// movement of stock is never what the user meant.
public struct Quantity: Hashable, Sendable, CustomStringConvertible {
    public let units: Int64

    public init(_ text: String) throws(ValueError) {
        guard !text.isEmpty, text.utf8.count <= 18,
            text.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
            let units = Int64(text), units > 0
        else {
            throw ValueError("'\(text)' is not a quantity — write a positive whole number of units, e.g. 64")
        }
        self.units = units
    }

    public var description: String { String(units) }
}
