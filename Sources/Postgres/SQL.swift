/// A statement with its parameters, written as one string: every interpolated value becomes
/// a bind (`$1`, `$2`, … numbered here, in the order they appear), so no caller counts
/// placeholders and no value is ever spliced into the text.
///
///     var sql: SQL = "SELECT * FROM \(literal: relation) WHERE position > \(after)"
///     sql += " AND stream = ANY (\(PostgresArray(streams))::text[])"
///     try connection.query(sql.text, sql.binds)
///
/// `\(literal:)` is the one escape, for constant relation names and aliases chosen by the
/// code (never for anything a user typed).
public struct SQL: ExpressibleByStringInterpolation, Sendable {
    fileprivate enum Part: Sendable {
        case text(String)
        case bind(any PostgresBindable)
    }

    private var parts: [Part] = []

    public init(stringLiteral value: String) {
        if !value.isEmpty { parts = [.text(value)] }
    }

    public init(stringInterpolation: StringInterpolation) {
        parts = stringInterpolation.parts
    }

    /// The statement with its placeholders numbered from `$1`.
    public var text: String {
        var text = ""
        var number = 0
        for part in parts {
            switch part {
            case .text(let literal): text += literal
            case .bind:
                number += 1
                text += "$\(number)"
            }
        }
        return text
    }

    /// The parameters, in the order of their placeholders.
    public var binds: [any PostgresBindable] {
        parts.compactMap { if case .bind(let value) = $0 { value } else { nil } }
    }

    /// Appends a fragment; its values are numbered after those already here.
    public static func += (lhs: inout SQL, rhs: SQL) {
        lhs.parts += rhs.parts
    }

    public struct StringInterpolation: StringInterpolationProtocol, Sendable {
        fileprivate var parts: [Part] = []

        public init(literalCapacity: Int, interpolationCount: Int) {
            parts.reserveCapacity(interpolationCount * 2 + 1)
        }

        public mutating func appendLiteral(_ literal: String) {
            if !literal.isEmpty { parts.append(.text(literal)) }
        }

        /// A value: sent as a parameter.
        public mutating func appendInterpolation(_ value: some PostgresBindable) {
            parts.append(.bind(value))
        }

        /// A fragment built elsewhere: its text and its values, renumbered in place.
        public mutating func appendInterpolation(_ fragment: SQL) {
            parts += fragment.parts
        }

        /// A constant relation name or alias, spliced as it is. Never user input.
        public mutating func appendInterpolation(literal: String) {
            parts.append(.text(literal))
        }
    }
}
