/// A user-chosen identifier (a slug): `[a-z0-9][a-z0-9-]{0,62}`. Slugs become part of
/// stream names (`order-ntt-001`) and URLs, so they stay lower case, short and unambiguous.
public struct Identifier: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String

    public init(_ text: String) throws(ValueError) {
        let bytes = text.utf8
        guard let first = bytes.first, bytes.count <= 63,
            Identifier.isLowerAlphanumeric(first),
            bytes.allSatisfy({ Identifier.isLowerAlphanumeric($0) || $0 == UInt8(ascii: "-") })
        else {
            throw ValueError(
                "'\(text)' is not an identifier — use 1 to 63 lower-case letters, digits and '-', starting with a letter or digit, e.g. sakana-ai")
        }
        rawValue = text
    }

    public var description: String { rawValue }

    private static func isLowerAlphanumeric(_ b: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(b) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b)
    }
}
