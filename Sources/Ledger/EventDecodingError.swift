/// A stored event could not be read back: an unknown type or schema version, or a payload
/// missing a field or holding a malformed value. It means the log and this program disagree
/// (a newer writer, or damage), so rebuilds and `verify` stop and name the event.
public struct EventDecodingError: Error, Sendable, Equatable, CustomStringConvertible {
    public let type: String
    public let reason: String

    public init(type: String, reason: String) {
        self.type = type
        self.reason = reason
    }

    public var description: String { "cannot read event \(type): \(reason)" }
}
