import Foundation
import JSON

/// A Swift value that can be sent as a statement parameter (`$1`, `$2`, …).
/// Values go to the server in PostgreSQL's text format, never spliced into SQL.
public protocol PostgresBindable: Sendable {
    /// The text form PostgreSQL parses for this value, or nil for SQL NULL.
    var postgresText: String? { get }
}

extension String: PostgresBindable { public var postgresText: String? { self } }
extension Substring: PostgresBindable { public var postgresText: String? { String(self) } }
extension Int: PostgresBindable { public var postgresText: String? { String(self) } }
extension Int64: PostgresBindable { public var postgresText: String? { String(self) } }
extension Int32: PostgresBindable { public var postgresText: String? { String(self) } }
extension Bool: PostgresBindable { public var postgresText: String? { self ? "t" : "f" } }
extension UUID: PostgresBindable { public var postgresText: String? { lowercasedString } }
extension JSON: PostgresBindable { public var postgresText: String? { canonicalString } }

extension Optional: PostgresBindable where Wrapped: PostgresBindable {
    public var postgresText: String? {
        switch self {
        case .none: return nil
        case .some(let value): return value.postgresText
        }
    }
}

/// A `bytea` parameter.
public struct Bytes: PostgresBindable, Hashable {
    public var bytes: [UInt8]
    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public var postgresText: String? { "\\x" + hexString(bytes) }
}

/// An array parameter (`text[]`, `bigint[]`), encoded as a PostgreSQL array literal.
public struct PostgresArray<Element: PostgresBindable>: PostgresBindable {
    public var elements: [Element]
    public init(_ elements: [Element]) { self.elements = elements }
    public var postgresText: String? {
        var out: [UInt8] = [UInt8(ascii: "{")]
        for (i, element) in elements.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            guard let text = element.postgresText else { out.append(contentsOf: "NULL".utf8); continue }
            out.append(UInt8(ascii: "\""))
            for byte in text.utf8 {
                if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { out.append(UInt8(ascii: "\\")) }
                out.append(byte)
            }
            out.append(UInt8(ascii: "\""))
        }
        out.append(UInt8(ascii: "}"))
        return String(decoding: out, as: UTF8.self)
    }
}
