import JSON
import Postgres

/// How a projection row is written as the JSON of its history state: the JSON text
/// `to_jsonb` of the row would give, built in the client from the row's COPY values
/// (`ProjectionTable.columnValues`), so the history is COPYed straight in and the server only
/// parses it. jsonb keeps values, not text: an object's key order, a string's escapes and a
/// number's spelling (`numeric_in` either way) do not matter, only each value's JSON type.
///
/// Each column's type comes from the table's own catalog entry, not from a list kept here,
/// so the one mapping of a row to columns stays `ProjectionTable`'s; a column of a type this
/// does not write (`of` answers nil) sends the writer back to `to_jsonb` on the server.
struct StateColumns {
    enum Kind: Equatable {
        /// text: a JSON string.
        case string
        /// numeric, bigint, integer: the value's text is a JSON number (`to_jsonb` makes it one).
        case number
        /// boolean: COPY's t/f as true/false.
        case bool
        /// text[] and other one-dimensional arrays of strings: a JSON array of strings.
        case stringArray
        /// jsonb, json: the value is already JSON.
        case json
    }

    /// Each column's key (its name, as `to_jsonb` writes it) and kind, in `tableColumns` order.
    let columns: [(key: [UInt8], kind: Kind)]

    /// The columns of `Row`'s table, or nil when one has a type not written here or the table
    /// does not match `tableColumns`.
    static func of<Row: ProjectionTable>(_ type: Row.Type, on db: PostgresConnection) throws -> StateColumns? {
        let rows = try db.query(
            """
            SELECT a.attname::text, t.typcategory::text, t.typname::text, e.typcategory::text
            FROM pg_catalog.pg_attribute a
            JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
            LEFT JOIN pg_catalog.pg_type e ON e.oid = t.typelem AND t.typcategory = 'A'
            WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped
            ORDER BY a.attnum
            """, [Row.table], prepared: true)
        // `to_jsonb` writes every column of the table: one the row does not write sends the
        // writer back to it.
        guard rows.count == Row.tableColumns.count else { return nil }
        var kinds: [String: Kind] = [:]
        for row in rows {
            let kind: Kind
            switch (try row.decode(String.self, at: 1), try row.decode(String.self, at: 2), try row.decode(String?.self, at: 3)) {
            case ("S", _, _): kind = .string
            case ("N", "numeric", _), ("N", "int8", _), ("N", "int4", _), ("N", "int2", _): kind = .number
            case ("B", _, _): kind = .bool
            case ("A", _, "S"?): kind = .stringArray
            case (_, "jsonb", _), (_, "json", _): kind = .json
            default: return nil
            }
            kinds[try row.decode(String.self, at: 0)] = kind
        }
        // In `columnValues` order (`tableColumns`, which need not be the table's: a column
        // added by a later migration may come before one added earlier).
        var columns: [(key: [UInt8], kind: Kind)] = []
        for quoted in Row.tableColumns {
            let name = quoted.replacingOccurrences(of: "\"", with: "")
            guard let kind = kinds[name] else { return nil }
            var key: [UInt8] = []
            JSON.writeString(name, into: &key)
            columns.append((key, kind))
        }
        return StateColumns(columns: columns)
    }

    /// Appends the JSON object of one row's COPY values (`columnValues`, table order).
    func write(_ values: [String?], into out: inout [UInt8]) throws {
        guard values.count == columns.count else { throw StateColumnsError(reason: "\(values.count) values for \(columns.count) columns") }
        out.append(UInt8(ascii: "{"))
        for (i, column) in columns.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: column.key)
            out.append(UInt8(ascii: ":"))
            guard let value = values[i] else {
                out.append(contentsOf: "null".utf8)
                continue
            }
            switch column.kind {
            case .string: JSON.writeString(value, into: &out)
            case .number, .json: out.append(contentsOf: value.utf8)
            case .bool:
                switch value {
                case "t": out.append(contentsOf: "true".utf8)
                case "f": out.append(contentsOf: "false".utf8)
                default: throw StateColumnsError(reason: "boolean '\(value)'")
                }
            case .stringArray: try Self.writeArray(value, into: &out)
            }
        }
        out.append(UInt8(ascii: "}"))
    }

    /// A one-dimensional PostgreSQL array literal of strings (`{"a","b \"c\"",d,NULL}`) as a
    /// JSON array: quoted elements with their backslash escapes, unquoted ones trimmed, an
    /// unquoted NULL as null.
    static func writeArray(_ literal: String, into out: inout [UInt8]) throws {
        let bytes = Array(literal.utf8)
        guard bytes.first == UInt8(ascii: "{"), bytes.last == UInt8(ascii: "}") else {
            throw StateColumnsError(reason: "array '\(literal)'")
        }
        out.append(UInt8(ascii: "["))
        var i = 1
        let end = bytes.count - 1
        var first = true
        var element: [UInt8] = []
        while i < end {
            if !first {
                guard bytes[i] == UInt8(ascii: ",") else { throw StateColumnsError(reason: "array '\(literal)'") }
                i += 1
                out.append(UInt8(ascii: ","))
            }
            first = false
            element.removeAll(keepingCapacity: true)
            if i < end, bytes[i] == UInt8(ascii: "\"") {
                i += 1
                while i < end, bytes[i] != UInt8(ascii: "\"") {
                    if bytes[i] == UInt8(ascii: "\\") { i += 1 }
                    guard i < end else { break }
                    element.append(bytes[i])
                    i += 1
                }
                guard i < end else { throw StateColumnsError(reason: "array '\(literal)'") }
                i += 1
                element.withUnsafeBufferPointer { JSON.writeString(utf8: $0, into: &out) }
            } else {
                while i < end, bytes[i] != UInt8(ascii: ",") {
                    element.append(bytes[i])
                    i += 1
                }
                while let last = element.last, last == UInt8(ascii: " ") { element.removeLast() }
                while let head = element.first, head == UInt8(ascii: " ") { element.removeFirst() }
                guard !element.isEmpty, element.first != UInt8(ascii: "{") else {
                    throw StateColumnsError(reason: "array '\(literal)'")
                }
                if element.count == 4, String(decoding: element, as: UTF8.self).uppercased() == "NULL" {
                    out.append(contentsOf: "null".utf8)
                } else {
                    element.withUnsafeBufferPointer { JSON.writeString(utf8: $0, into: &out) }
                }
            }
        }
        out.append(UInt8(ascii: "]"))
    }
}

/// A projection row whose COPY values cannot be written as its JSON state: a bug in a
/// `columnValues`, never the user's input.
struct StateColumnsError: Error, CustomStringConvertible {
    var reason: String
    var description: String { "a projection row cannot be written as its history state: \(reason)" }
}
