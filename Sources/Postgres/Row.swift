import CLibPQ
import Foundation
import JSON

/// Owns one `PGresult` and clears it when the last row referring to it goes away.
///
/// `@unchecked Sendable`: a `PGresult` is never modified after libpq hands it over, and
/// libpq documents results as safe to read from any thread; this class only reads it.
final class ResultStorage: @unchecked Sendable {
    let result: OpaquePointer
    let rowCount: Int
    let columnCount: Int

    init(_ result: OpaquePointer) {
        self.result = result
        self.rowCount = Int(PQntuples(result))
        self.columnCount = Int(PQnfields(result))
    }

    deinit { PQclear(result) }

    func columnIndex(_ name: String) -> Int? {
        let i = Int(PQfnumber(result, name))
        return i >= 0 ? i : nil
    }

    func columnName(_ index: Int) -> String { String(cString: PQfname(result, Int32(index))) }

    func isNull(row: Int, column: Int) -> Bool { PQgetisnull(result, Int32(row), Int32(column)) == 1 }

    func withValue<T>(row: Int, column: Int, _ body: (UnsafeBufferPointer<UInt8>) throws -> T) rethrows -> T {
        let pointer = PQgetvalue(result, Int32(row), Int32(column))!
        let length = Int(PQgetlength(result, Int32(row), Int32(column)))
        return try pointer.withMemoryRebound(to: UInt8.self, capacity: length) {
            try body(UnsafeBufferPointer(start: $0, count: length))
        }
    }
}

/// The rows a statement returned, in order.
public struct Rows: RandomAccessCollection, Sendable {
    let storage: ResultStorage?
    /// Rows affected by an INSERT/UPDATE/DELETE/COPY (`PQcmdTuples`), 0 otherwise.
    public let affectedRows: Int

    init(storage: ResultStorage?, affectedRows: Int) {
        self.storage = storage
        self.affectedRows = affectedRows
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { storage?.rowCount ?? 0 }
    public subscript(position: Int) -> Row { Row(storage: storage!, index: position) }

    /// Column names in result order.
    public var columns: [String] {
        guard let storage else { return [] }
        return (0..<storage.columnCount).map(storage.columnName)
    }
}

/// One result row. Decode columns by name or by position:
/// `row.decode(Int64.self, column: "position")`, `row.decode(String?.self, at: 2)`.
public struct Row: Sendable {
    let storage: ResultStorage
    let index: Int

    public var columnCount: Int { storage.columnCount }

    func columnIndex(_ name: String) throws(PostgresError) -> Int {
        guard let i = storage.columnIndex(name) else {
            throw PostgresError(kind: .client, message: "result has no column named \(name)")
        }
        return i
    }

    public func isNull(at column: Int) -> Bool { storage.isNull(row: index, column: column) }

    public func decode<T: PostgresDecodable>(_ type: T.Type, at column: Int) throws(PostgresError) -> T {
        guard column < storage.columnCount else {
            throw PostgresError(kind: .client, message: "result has no column \(column)")
        }
        if storage.isNull(row: index, column: column) {
            throw PostgresError(
                kind: .client, message: "column \(storage.columnName(column)) is NULL; decode \(T.self)? instead")
        }
        do {
            return try storage.withValue(row: index, column: column) { try T.decode(postgresText: $0) }
        } catch let error as PostgresError {
            throw PostgresError(
                kind: .client, message: "column \(storage.columnName(column)): \(error.message)")
        } catch {
            throw PostgresError(kind: .client, message: "\(error)")
        }
    }

    public func decode<T: PostgresDecodable>(_ type: T?.Type, at column: Int) throws(PostgresError) -> T? {
        if column < storage.columnCount, storage.isNull(row: index, column: column) { return nil }
        return try decode(T.self, at: column)
    }

    public func decode<T: PostgresDecodable>(_ type: T.Type, column: String) throws(PostgresError) -> T {
        try decode(type, at: try columnIndex(column))
    }

    public func decode<T: PostgresDecodable>(_ type: T?.Type, column: String) throws(PostgresError) -> T? {
        try decode(type, at: try columnIndex(column))
    }

    /// Reads a column's raw bytes in place (no copy); nil for NULL. The buffer is valid
    /// only inside `body`.
    public func withBytes<T>(at column: Int, _ body: (UnsafeBufferPointer<UInt8>) throws -> T) rethrows -> T? {
        if storage.isNull(row: index, column: column) { return nil }
        return try storage.withValue(row: index, column: column, body)
    }

    /// The length in bytes of a column's text (0 for NULL).
    public func length(at column: Int) -> Int { Int(PQgetlength(storage.result, Int32(index), Int32(column))) }

    /// The raw text of a column, or nil for NULL.
    public func text(at column: Int) -> String? {
        if storage.isNull(row: index, column: column) { return nil }
        return storage.withValue(row: index, column: column) { String(decoding: $0, as: UTF8.self) }
    }
}

/// A type that can be read from a column in PostgreSQL's text format.
public protocol PostgresDecodable {
    static func decode(postgresText: UnsafeBufferPointer<UInt8>) throws(PostgresError) -> Self
}

func decodingError(_ type: String, _ text: UnsafeBufferPointer<UInt8>) -> PostgresError {
    PostgresError(kind: .client, message: "cannot read '\(String(decoding: text, as: UTF8.self))' as \(type)")
}

extension String: PostgresDecodable {
    public static func decode(postgresText: UnsafeBufferPointer<UInt8>) throws(PostgresError) -> String {
        String(decoding: postgresText, as: UTF8.self)
    }
}

/// Parses a decimal integer without allocating.
func parseInteger(_ text: UnsafeBufferPointer<UInt8>) -> Int64? {
    guard !text.isEmpty else { return nil }
    var i = 0
    var negative = false
    if text[0] == UInt8(ascii: "-") { negative = true; i = 1 }
    guard i < text.count else { return nil }
    var value: Int64 = 0
    while i < text.count {
        let d = text[i] &- 48
        guard d < 10 else { return nil }
        let (m, o1) = value.multipliedReportingOverflow(by: 10)
        let (s, o2) = negative ? m.subtractingReportingOverflow(Int64(d)) : m.addingReportingOverflow(Int64(d))
        if o1 || o2 { return nil }
        value = s
        i += 1
    }
    return value
}

extension Int64: PostgresDecodable {
    public static func decode(postgresText: UnsafeBufferPointer<UInt8>) throws(PostgresError) -> Int64 {
        guard let v = parseInteger(postgresText) else { throw decodingError("Int64", postgresText) }
        return v
    }
}

extension Int: PostgresDecodable {
    public static func decode(postgresText: UnsafeBufferPointer<UInt8>) throws(PostgresError) -> Int {
        guard let v = parseInteger(postgresText) else { throw decodingError("Int", postgresText) }
        return Int(v)
    }
}

extension Int32: PostgresDecodable {
    public static func decode(postgresText: UnsafeBufferPointer<UInt8>) throws(PostgresError) -> Int32 {
        guard let v = parseInteger(postgresText), let n = Int32(exactly: v) else {
            throw decodingError("Int32", postgresText)
        }
        return n
    }
}

extension Bool: PostgresDecodable {
    public static func decode(postgresText: UnsafeBufferPointer<UInt8>) throws(PostgresError) -> Bool {
        guard postgresText.count == 1 else { throw decodingError("Bool", postgresText) }
        switch postgresText[0] {
        case UInt8(ascii: "t"): return true
        case UInt8(ascii: "f"): return false
        default: throw decodingError("Bool", postgresText)
        }
    }
}

/// The value of one hexadecimal digit.
@inline(__always)
func hexValue(_ c: UInt8) -> UInt8? {
    switch c {
    case 48...57: c - 48
    case 97...102: c - 87
    case 65...70: c - 55
    default: nil
    }
}

extension Bytes: PostgresDecodable {
    /// Reads `bytea` in PostgreSQL's hex output format (`\x0a1b…`).
    public static func decode(postgresText: UnsafeBufferPointer<UInt8>) throws(PostgresError) -> Bytes {
        let t = postgresText
        guard t.count >= 2, t[0] == UInt8(ascii: "\\"), t[1] == UInt8(ascii: "x"), t.count % 2 == 0 else {
            throw decodingError("bytea", t)
        }
        var valid = true
        let out = [UInt8](unsafeUninitializedCapacity: (t.count - 2) / 2) { buffer, count in
            var i = 2
            while i < t.count {
                guard let hi = hexValue(t[i]), let lo = hexValue(t[i + 1]) else {
                    valid = false
                    break
                }
                buffer[count] = hi << 4 | lo
                count += 1
                i += 2
            }
        }
        guard valid else { throw decodingError("bytea", t) }
        return Bytes(out)
    }
}

/// A `numeric` value kept as its exact decimal text: money never passes through a float.
public struct Numeric: PostgresDecodable, PostgresBindable, Hashable, CustomStringConvertible {
    public var text: String
    public init(_ text: String) { self.text = text }
    public var description: String { text }
    public var postgresText: String? { text }
    public static func decode(postgresText: UnsafeBufferPointer<UInt8>) throws(PostgresError) -> Numeric {
        Numeric(String(decoding: postgresText, as: UTF8.self))
    }
}

/// A `date` value (`YYYY-MM-DD`), without time zone.
public struct SQLDate: PostgresDecodable, PostgresBindable, Hashable, Comparable, CustomStringConvertible {
    public var year: Int
    public var month: Int
    public var day: Int
    public init(year: Int, month: Int, day: Int) {
        self.year = year
        self.month = month
        self.day = day
    }
    public var description: String {
        func pad(_ n: Int, _ width: Int) -> String {
            let s = String(n)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))"
    }
    public var postgresText: String? { description }
    public static func < (a: SQLDate, b: SQLDate) -> Bool { (a.year, a.month, a.day) < (b.year, b.month, b.day) }
    public static func decode(postgresText t: UnsafeBufferPointer<UInt8>) throws(PostgresError) -> SQLDate {
        guard t.count == 10, t[4] == UInt8(ascii: "-"), t[7] == UInt8(ascii: "-"),
            let y = parseInteger(UnsafeBufferPointer(rebasing: t[0..<4])),
            let m = parseInteger(UnsafeBufferPointer(rebasing: t[5..<7])),
            let d = parseInteger(UnsafeBufferPointer(rebasing: t[8..<10]))
        else { throw decodingError("date", t) }
        return SQLDate(year: Int(y), month: Int(m), day: Int(d))
    }
}

extension UUID: PostgresDecodable {
    /// Reads PostgreSQL's output (`xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, lower case) in
    /// place — `verify` reads one per event; anything else goes through Foundation's parser.
    public static func decode(postgresText: UnsafeBufferPointer<UInt8>) throws(PostgresError) -> UUID {
        let t = postgresText
        if t.count == 36, t[8] == 45, t[13] == 45, t[18] == 45, t[23] == 45 {
            var bytes = (UInt8(0), UInt8(0), UInt8(0), UInt8(0), UInt8(0), UInt8(0), UInt8(0), UInt8(0),
                         UInt8(0), UInt8(0), UInt8(0), UInt8(0), UInt8(0), UInt8(0), UInt8(0), UInt8(0))
            let parsed = withUnsafeMutableBytes(of: &bytes) { out -> Bool in
                var i = 0
                for k in 0..<16 {
                    if i == 8 || i == 13 || i == 18 || i == 23 { i += 1 }
                    guard let hi = hexValue(t[i]), let lo = hexValue(t[i + 1]) else { return false }
                    out[k] = hi << 4 | lo
                    i += 2
                }
                return true
            }
            if parsed { return UUID(uuid: bytes) }
        }
        guard let uuid = UUID(uuidString: String(decoding: postgresText, as: UTF8.self)) else {
            throw decodingError("uuid", postgresText)
        }
        return uuid
    }
}

extension JSON: PostgresDecodable {
    public static func decode(postgresText: UnsafeBufferPointer<UInt8>) throws(PostgresError) -> JSON {
        do {
            return try JSON.parse(postgresText)
        } catch {
            throw PostgresError(kind: .client, message: "invalid JSON from server: \(error)")
        }
    }
}

/// A `timestamptz` value. Connections run with `TimeZone=UTC` and ISO date style, so the
/// server's text is `YYYY-MM-DD HH:MM:SS[.ffffff]+00`.
public struct Timestamp: PostgresDecodable, PostgresBindable, Hashable, Comparable, CustomStringConvertible {
    /// Microseconds since 1970-01-01 00:00:00 UTC.
    public var microsecondsSinceEpoch: Int64

    public init(microsecondsSinceEpoch: Int64) { self.microsecondsSinceEpoch = microsecondsSinceEpoch }

    public static func < (a: Timestamp, b: Timestamp) -> Bool { a.microsecondsSinceEpoch < b.microsecondsSinceEpoch }

    /// RFC 3339 in UTC with microseconds: `2026-11-25T10:45:48.123456Z`.
    public var description: String {
        var seconds = microsecondsSinceEpoch / 1_000_000
        var micros = microsecondsSinceEpoch % 1_000_000
        if micros < 0 { micros += 1_000_000; seconds -= 1 }
        var days = seconds / 86_400
        var rest = seconds % 86_400
        if rest < 0 { rest += 86_400; days -= 1 }
        let (y, m, d) = civilFromDays(days)
        func pad(_ n: Int64, _ w: Int) -> String {
            let s = String(n)
            return String(repeating: "0", count: max(0, w - s.count)) + s
        }
        return "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))T\(pad(rest / 3600, 2)):\(pad(rest / 60 % 60, 2)):\(pad(rest % 60, 2)).\(pad(micros, 6))Z"
    }

    public var postgresText: String? { description }

    public static func decode(postgresText t: UnsafeBufferPointer<UInt8>) throws(PostgresError) -> Timestamp {
        func num(_ a: Int, _ b: Int) -> Int64? {
            guard b <= t.count else { return nil }
            return parseInteger(UnsafeBufferPointer(rebasing: t[a..<b]))
        }
        guard t.count >= 19, let y = num(0, 4), let mo = num(5, 7), let d = num(8, 10),
            let h = num(11, 13), let mi = num(14, 16), let s = num(17, 19)
        else { throw decodingError("timestamptz", t) }
        var i = 19
        var micros: Int64 = 0
        if i < t.count, t[i] == UInt8(ascii: ".") {
            i += 1
            var digits = 0
            while i < t.count, (48...57).contains(t[i]) {
                if digits < 6 { micros = micros * 10 + Int64(t[i] - 48); digits += 1 }
                i += 1
            }
            while digits < 6 { micros *= 10; digits += 1 }
        }
        var offsetSeconds: Int64 = 0
        if i < t.count, t[i] == UInt8(ascii: "+") || t[i] == UInt8(ascii: "-") {
            let sign: Int64 = t[i] == UInt8(ascii: "-") ? -1 : 1
            guard let oh = num(i + 1, i + 3) else { throw decodingError("timestamptz", t) }
            var om: Int64 = 0
            if i + 6 <= t.count, t[i + 3] == UInt8(ascii: ":"), let m = num(i + 4, i + 6) { om = m }
            offsetSeconds = sign * (oh * 3600 + om * 60)
        }
        let days = daysFromCivil(y, mo, d)
        let seconds = days * 86_400 + h * 3600 + mi * 60 + s - offsetSeconds
        return Timestamp(microsecondsSinceEpoch: seconds * 1_000_000 + micros)
    }
}

/// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
func daysFromCivil(_ year: Int64, _ month: Int64, _ day: Int64) -> Int64 {
    let y = month <= 2 ? year - 1 : year
    let era = (y >= 0 ? y : y - 399) / 400
    let yoe = y - era * 400
    let mp = (month + 9) % 12
    let doy = (153 * mp + 2) / 5 + day - 1
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
    return era * 146_097 + doe - 719_468
}

func civilFromDays(_ days: Int64) -> (Int64, Int64, Int64) {
    let z = days + 719_468
    let era = (z >= 0 ? z : z - 146_096) / 146_097
    let doe = z - era * 146_097
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
    let y = yoe + era * 400
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
    let mp = (5 * doy + 2) / 153
    let d = doy - (153 * mp + 2) / 5 + 1
    let m = mp < 10 ? mp + 3 : mp - 9
    return (m <= 2 ? y + 1 : y, m, d)
}
