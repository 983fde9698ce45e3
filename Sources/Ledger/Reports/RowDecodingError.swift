/// A saved report row could not be read back (`init(savedState:)`): a projection table
/// holds something this program did not write. Rebuilding the projection fixes it.
public struct RowDecodingError: Error, Sendable, Equatable, CustomStringConvertible {
    public let row: String
    public let reason: String

    public init(row: String, reason: String) {
        self.row = row
        self.reason = reason
    }

    public var description: String { "cannot read saved \(row) row: \(reason)" }
}
