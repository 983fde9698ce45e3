/// An error from PostgreSQL or from libpq, with everything a caller needs to tell one
/// failure from another: a version conflict (unique violation on a known constraint), a
/// serialization failure worth retrying, or a lost connection.
public struct PostgresError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The server could not be reached or the connection was lost.
        case connection
        /// The server rejected a statement; see `sqlState`.
        case server
        /// The client library failed or was misused (e.g. decoding a column to a wrong type).
        case client
    }

    public var kind: Kind
    /// Five-character SQLSTATE code (`23505` unique violation, `40001` serialization failure…).
    public var sqlState: String?
    public var message: String
    public var detail: String?
    public var hint: String?
    public var constraint: String?
    /// The statement that failed, when there is one. Never contains bound values.
    public var sql: String?

    public init(
        kind: Kind, sqlState: String? = nil, message: String, detail: String? = nil, hint: String? = nil,
        constraint: String? = nil, sql: String? = nil
    ) {
        self.kind = kind
        self.sqlState = sqlState
        self.message = message
        self.detail = detail
        self.hint = hint
        self.constraint = constraint
        self.sql = sql
    }

    public var description: String {
        var text = message
        if let sqlState { text += " (SQLSTATE \(sqlState))" }
        if let detail { text += ": \(detail)" }
        return text
    }

    /// Serialization failures and deadlocks: the transaction may succeed if run again.
    public var isTransient: Bool { sqlState == "40001" || sqlState == "40P01" }

    public var isUniqueViolation: Bool { sqlState == "23505" }

    /// The relation or schema does not exist: the database has not been migrated.
    public var isUndefinedObject: Bool {
        sqlState == "42P01" || sqlState == "3F000" || sqlState == "42883"
    }
}
