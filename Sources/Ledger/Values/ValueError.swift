/// A value given by the user is malformed: a bad amount, currency, date, identifier or
/// quantity. It is bad usage (the CLI exits 64), never a business-rule rejection, so it is
/// raised while parsing, before any stream is read.
public struct ValueError: Error, Sendable, Equatable, CustomStringConvertible {
    /// One line that says what is wrong and how to fix it.
    public let message: String

    public init(_ message: String) { self.message = message }

    public var description: String { message }

    /// The same error, prefixed with the flag the value came from (`--amount: …`).
    func naming(flag: String) -> ValueError { ValueError("--\(flag): \(message)") }
}
